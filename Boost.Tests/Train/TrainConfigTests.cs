using System.Globalization;
using Boost.Kernels;
using Boost.Train.Cli;
using Boost.Train.Pipeline;
using Boost.Train.Sampling;

namespace Boost.Tests.Train;

/// <summary>Typed training and sampling options: their names on the command line and in config.json, the one defaults
/// table behind the parser and --help, the precision gate, the LR schedule and the adaptive solvers' end rule.</summary>
[NonParallelizable]
public class TrainConfigTests
{
    private static (int code, string output) Run(params string[] args) => Support.Cli.Run(args);

    private static Args Parse(string command, params string[] options)
        => new([.. command == "" ? Array.Empty<string>() : [command], .. options], [.. Commands.CommandOptions[command], .. Commands.GlobalOptions]);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    // ------------------------------------------------------------------ names

    [Test]
    public void ChoiceNames_AreLowercaseKebab_AndRoundTrip()
    {
        Assert.That(Choice<Objective>.Names, Is.EqualTo("cfm|regression"));
        Assert.That(Choice<LrPath>.Names, Is.EqualTo("psu|latent"));
        Assert.That(Choice<Precision>.Names, Is.EqualTo("fp32|tf32|bf16"));
        Assert.That(Choice<ErrorNorm>.Names, Is.EqualTo("batch|worst-sample"));
        Assert.That(Choice<EndRule>.Names, Is.EqualTo("clip|interpolate"));
        Assert.That(Choice<LrScheduleKind>.Names, Is.EqualTo("constant|cosine"));
        Assert.That(Choice<SolverMethod>.Names, Is.EqualTo(SolverRegistry.Names), "the registry's names are the enum's");
        foreach (var m in Choice<SolverMethod>.Values)
        {
            Assert.That(Choice<SolverMethod>.Parse(Choice<SolverMethod>.Name(m), "solver"), Is.EqualTo(m));
            Assert.That(SolverRegistry.Get(m).Name, Is.EqualTo(Choice<SolverMethod>.Name(m)));
        }
        var e = Assert.Throws<ArgumentException>(() => Choice<LrPath>.Parse("pixel", "lr_path"))!;
        Assert.That(e.Message, Is.EqualTo("lr_path must be one of psu|latent, got 'pixel'."));
    }

    [TestCase("boost", "--norm", "per-batch", "batch|worst-sample")]
    [TestCase("boost", "--end-rule", "extrapolate", "clip|interpolate")]
    [TestCase("boost", "--precision", "fp16", "fp32|tf32|bf16")]
    [TestCase("eval", "--precision", "int8", "fp32|tf32|bf16")]
    [TestCase("train", "--lr-schedule", "linear", "constant|cosine")]
    [TestCase("train-ae", "--lr-schedule", "step", "constant|cosine")]
    public void ABadEnumValue_IsOneLineListingTheAcceptedOnes(string command, string option, string value, string accepted)
    {
        string[] rest = command switch
        {
            "boost" => ["--in", "missing.png", "--out", "missing-out.png"],
            "eval" => [],
            _ => ["--run", PipelineFixtures.TempDir("bad-enum")],
        };
        var (code, text) = Run([command, "--device", "cpu", option, value, .. rest]);
        Assert.That(code, Is.EqualTo(2), text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("device:", StringComparison.Ordinal)).ToList();
        Assert.That(lines, Has.Count.EqualTo(1), text);
        Assert.That(lines[0], Is.EqualTo($"error: {option} must be one of {accepted}, got '{value}'."));
    }

    [Test]
    public void ObjectiveAndLrPath_ParseTyped_AndRejectOtherSpellings()
    {
        var c = Commands.ReadCfmConfig(Parse("train", "--objective", "regression", "--lr-path", "latent"), 4);
        Assert.That((c.Objective, c.LrPath), Is.EqualTo((Objective.Regression, LrPath.Latent)));
        var e = Assert.Throws<UsageException>(() => Commands.ReadCfmConfig(Parse("train", "--objective", "flow"), 4))!;
        Assert.That(e.Message, Is.EqualTo("--objective must be one of cfm|regression, got 'flow'."));
        e = Assert.Throws<UsageException>(() => Commands.ReadCfmConfig(Parse("", "--lr-path", "Latent"), 4))!;
        Assert.That(e.Message, Does.Contain("psu|latent").And.Not.Contain("\n"));
    }

    // ------------------------------------------------------------------ precision

    [Test]
    public void Precision_IsReadByName_AndAnythingElseIsRefusedInOneLine()
    {
        var e = Assert.Throws<UsageException>(() => Commands.ReadTrainOptions(Parse("train", "--precision", "fp16"), "train", TrainDefaults.Cfm(true)))!;
        Assert.That(e.Message, Does.Contain("fp32").And.Contain("tf32").And.Contain("bf16").And.Not.Contain("\n"));
        Assert.That(() => new TrainOptions { RunDir = "x", Precision = (Precision)7 }.Validate(), Throws.ArgumentException);
        Assert.That(Commands.ReadTrainOptions(Parse("train", "--precision", "fp32"), "train", TrainDefaults.Cfm(true)).Precision, Is.EqualTo(Precision.Fp32));
        Assert.That(Commands.ReadTrainOptions(Parse("train", "--precision", "bf16"), "train", TrainDefaults.Cfm(true)).Precision, Is.EqualTo(Precision.Bf16));
    }

    /// <summary>tf32 and bf16 parse everywhere and set the device's GEMM precision: the NVIDIA-shaped simulator switches
    /// to the (emulated) tensor-core kernels, the CPU backend to its rounding emulation, and the small simulator, which
    /// has no tensor-core tile, refuses in one line. A later command without --precision is back at fp32 (the CPU
    /// device is process-wide).</summary>
    [Test]
    public void Precision_SetsTheDevices_AndIsRefusedWithoutATensorCoreTile([Values(Precision.Tf32, Precision.Bf16)] Precision p)
    {
        string name = Choice<Precision>.Name(p);
        Assert.That(Commands.ReadTrainOptions(Parse("train", "--precision", name), "train", TrainDefaults.Cfm(true)).Precision, Is.EqualTo(p));
        var (code, text) = Run("boost", "--device", "cpu", "--in", "missing.png", "--out", "out.png", "--precision", name);
        Assert.That(code, Is.Not.Zero, text); // the missing image, after the device line
        Assert.That(text, Does.Contain($"device: {Device.Cpu.Name}, {name.ToUpperInvariant()} emulated"));
        Assert.That(Device.Cpu.Precision, Is.Not.EqualTo(MatmulPrecision.Fp32), "the run applied it");
        Run("boost", "--device", "cpu", "--in", "missing.png", "--out", "out.png");
        Assert.That(Device.Cpu.Precision, Is.EqualTo(MatmulPrecision.Fp32), "reset by the next command");

        var sim = (IlgpuDevice)Boost.Tests.Support.Backends.Get(Boost.Tests.Support.Backends.NvidiaSim);
        PrecisionCheck.Apply(p, sim);
        Assert.That(sim.Precision, Is.EqualTo(p == Precision.Tf32 ? MatmulPrecision.Tf32 : MatmulPrecision.Bf16));
        PrecisionCheck.Apply(Precision.Fp32, sim);
        Assert.That(sim.Precision, Is.EqualTo(MatmulPrecision.Fp32));

        var small = Boost.Tests.Support.Backends.Get(Boost.Tests.Support.Backends.Sim);
        var e = Assert.Throws<ArgumentException>(() => PrecisionCheck.Apply(p, small));
        Assert.That(e!.Message, Does.StartWith($"--precision {name}: ").And.Not.Contain("\n"));
        Assert.That(small.Precision, Is.EqualTo(MatmulPrecision.Fp32));
    }

    // ------------------------------------------------------------------ config.json

    [Test]
    public void CfmConfigJson_WritesTheSameStrings_AndRoundTrips()
    {
        var c = PipelineFixtures.Cfm(Objective.Regression, LrPath.Latent, 0);
        string json = c.ToJson();
        Assert.That(json, Does.Contain("\"objective\": \"regression\"").And.Contain("\"lr_path\": \"latent\""));
        var back = CfmConfig.FromJson(json, "test");
        Assert.That((back.Objective, back.LrPath, back.NoiseStep), Is.EqualTo((Objective.Regression, LrPath.Latent, 0)));
        Assert.That(back.ToJson(), Is.EqualTo(json));
        Assert.That(PipelineFixtures.Cfm().ToJson(), Does.Contain("\"objective\": \"cfm\"").And.Contain("\"lr_path\": \"psu\""));
    }

    /// <summary>The shipped weights' config.json files load and write back byte for byte.</summary>
    [TestCase("cfm")]
    [TestCase("regression")]
    public void ShippedConfigs_LoadAndWriteBackByteForByte(string model)
    {
        string file = Path.Combine(Paths.Weights, model, WeightsDir.ConfigFile);
        string text = File.ReadAllText(file);
        var c = CfmConfig.FromJson(text, file);
        Assert.That(c.ObjectiveName, Is.EqualTo(model));
        Assert.That(c.ToJson(), Is.EqualTo(text));
    }

    [TestCase("\"sharpen\"", "objective must be one of cfm|regression, got 'sharpen'.")]
    [TestCase("\"CFM\"", "objective must be one of cfm|regression, got 'CFM'.")]
    [TestCase("1", "objective must be one of cfm|regression, got number.")]
    public void ABadObjectiveInConfigJson_IsOneLineNamingTheFieldAndTheValues(string value, string want)
    {
        string json = PipelineFixtures.Cfm().ToJson().Replace("\"objective\": \"cfm\"", $"\"objective\": {value}", StringComparison.Ordinal);
        var e = Assert.Throws<InvalidDataException>(() => CfmConfig.FromJson(json, "x/config.json"))!;
        Assert.That(e.Message, Does.StartWith("x/config.json: not a valid upsampler config (").And.Contain(want).And.Not.Contain("\n"));
    }

    // ------------------------------------------------------------------ one defaults table

    private static string HelpLine(string command, string option)
        => Commands.Help(command).Split('\n').Single(l => l.TrimStart().StartsWith($"--{option} ", StringComparison.Ordinal));

    private static void ShowsDefault(string command, string option, object parsed)
    {
        string v = parsed switch
        {
            Enum e => e.ToString().Length > 0 ? ToName(e) : "",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => parsed.ToString()!,
        };
        string line = HelpLine(command, option);
        Assert.That(line, Does.Contain($"(default: {v})").Or.Contain($"(default: {v} (CPU)"), $"'{command}' --{option}: the parser's default is {v}");
    }

    private static string ToName(Enum e) => e switch
    {
        Objective o => Choice<Objective>.Name(o), LrPath p => Choice<LrPath>.Name(p), Precision p => Choice<Precision>.Name(p),
        LrScheduleKind k => Choice<LrScheduleKind>.Name(k), ErrorNorm n => Choice<ErrorNorm>.Name(n), EndRule r => Choice<EndRule>.Name(r),
        SolverMethod m => Choice<SolverMethod>.Name(m), _ => throw new ArgumentException(e.GetType().Name),
    };

    /// <summary>With no options, each command's parser yields exactly the defaults its --help prints (on a CPU).</summary>
    [TestCase("train")]
    [TestCase("train-ae")]
    [TestCase("")]
    public void HelpDefaults_AreWhatTheParserUses(string command)
    {
        var defaults = command switch { "train" => TrainDefaults.Cfm(cpu: true), "train-ae" => TrainDefaults.Ae, _ => TrainDefaults.MainJob(cpu: true) };
        var o = Commands.ReadTrainOptions(Parse(command), command == "" ? "main" : command, defaults);
        ShowsDefault(command, "steps", o.Steps);
        ShowsDefault(command, "batch", o.Batch);
        ShowsDefault(command, "lr", o.Lr);
        ShowsDefault(command, "warmup", o.Warmup);
        ShowsDefault(command, "weight-decay", o.WeightDecay);
        ShowsDefault(command, "ema", o.EmaDecay);
        ShowsDefault(command, "clip", o.ClipNorm);
        ShowsDefault(command, "seed", o.Seed);
        ShowsDefault(command, "checkpoint-every", o.CheckpointEvery);
        ShowsDefault(command, "checkpoint-minutes", o.CheckpointMinutes);
        ShowsDefault(command, "validate-every", o.ValidateEvery);
        ShowsDefault(command, "lr-schedule", o.LrSchedule);
        ShowsDefault(command, "precision", o.Precision);
        if (o.Minutes > 0) ShowsDefault(command, "minutes", o.Minutes);
        if (command != "train-ae")
        {
            var c = Commands.ReadCfmConfig(Parse(command), 4);
            ShowsDefault(command, "objective", c.Objective);
            ShowsDefault(command, "lr-path", c.LrPath);
            ShowsDefault(command, "noise-step", c.NoiseStep);
            Assert.That(c, Is.EqualTo(new CfmConfig { UNet = c.UNet }), "the parser's config is the record's default");
        }
        if (command == "")
        {
            Assert.That(HelpLine("", "steps"), Does.Contain(Inv($"(default: {TrainDefaults.MainJob(true).Steps} (CPU), {TrainDefaults.MainJob(false).Steps} (GPU))")));
            Assert.That(HelpLine("", "crops-per-image"), Does.Contain(Inv($"(default: {TrainDefaults.MainJobCropsPerImage(true)} (CPU), {TrainDefaults.MainJobCropsPerImage(false)} (GPU))")));
        }
        if (command == "train")
        {
            var opts = new CfmTrainOptions();
            ShowsDefault("train", "crop", opts.Crop);
            ShowsDefault("train", "crops-per-image", opts.CropsPerImage);
            ShowsDefault("train", "latent-crop", opts.LatentCrop);
        }
        if (command == "train-ae")
        {
            var ae = new AeOptions();
            ShowsDefault("train-ae", "crop", ae.Crop);
            ShowsDefault("train-ae", "kl", ae.KlWeight);
            ShowsDefault("train-ae", "edge", ae.EdgeWeight);
        }
    }

    [Test]
    public void BoostHelpDefaults_AreWhatTheSolverParserUses()
    {
        var d = Commands.ReadSolver(Parse("boost"));
        ShowsDefault("boost", "solver", d.Method);
        Assert.That(d, Is.EqualTo(SolverOptions.Fixed(TrainDefaults.Solver, TrainDefaults.SolverSteps)), "the default solver takes the default's step count");
        Assert.That(HelpLine("boost", "steps"), Does.Contain($"{TrainDefaults.SolverSteps} with the default solver"));
        // The adaptive options' defaults, on the adaptive solver.
        var s = Commands.ReadSolver(Parse("boost", "--solver", "dopri5"));
        ShowsDefault("boost", "rtol", s.Rtol);
        ShowsDefault("boost", "atol", s.Atol);
        ShowsDefault("boost", "norm", s.Norm);
        ShowsDefault("boost", "end-rule", s.EndRule);
        ShowsDefault("boost", "temperature", Commands.DefaultTemperature);
        ShowsDefault("boost", "back-projection", Commands.DefaultBackProjection);
    }

    // ------------------------------------------------------------------ --norm and its --per-sample alias

    [Test]
    public void PerSample_IsAnAliasOfNormWorstSample()
    {
        const string solver = "--solver", dopri5 = "dopri5"; // --norm and --end-rule belong to the adaptive solver
        Assert.That(Commands.ReadSolver(Parse("boost", solver, dopri5)).Norm, Is.EqualTo(ErrorNorm.Batch));
        Assert.That(Commands.ReadSolver(Parse("boost", solver, dopri5, "--norm", "worst-sample")).Norm, Is.EqualTo(ErrorNorm.WorstSample));
        Assert.That(Commands.ReadSolver(Parse("boost", solver, dopri5, "--per-sample")), Is.EqualTo(Commands.ReadSolver(Parse("boost", solver, dopri5, "--norm", "worst-sample"))));
        Assert.That(Commands.ReadSolver(Parse("boost", solver, dopri5, "--per-sample", "--norm", "worst-sample")).Norm, Is.EqualTo(ErrorNorm.WorstSample));
        Assert.Throws<UsageException>(() => Commands.ReadSolver(Parse("boost", "--per-sample", "--norm", "batch")));
        Assert.That(Commands.ReadSolver(Parse("boost", solver, dopri5, "--end-rule", "interpolate")).EndRule, Is.EqualTo(EndRule.Interpolate));
        Assert.That(HelpLine("boost", "per-sample"), Does.Contain("--norm worst-sample"));
        Assert.That(HelpLine("boost", "norm"), Does.Contain("one shared step").And.Contain("worst sample"));
    }

    // ------------------------------------------------------------------ LR schedule

    [Test]
    public void LrSchedule_ConstantByDefault_CosineDecaysToZeroAtTheStepBudget()
    {
        Assert.That(TrainDefaults.Cfm(true).LrSchedule, Is.EqualTo(LrScheduleKind.Constant));
        var o = Commands.ReadTrainOptions(Parse("train", "--lr-schedule", "cosine", "--steps", "100", "--warmup", "10"), "train", TrainDefaults.Cfm(true));
        Assert.That(o.LrSchedule, Is.EqualTo(LrScheduleKind.Cosine));

        string dir = PipelineFixtures.TempDir("cosine");
        using var unet = new Boost.Models.UNet.UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 3);
        var options = new TrainOptions { RunDir = dir, Steps = 6, Batch = 2, Lr = 1e-3f, Warmup = 2, LrSchedule = LrScheduleKind.Cosine, ValidateEvery = 0, CheckpointEvery = 100 };
        var trainer = new CfmTrainer(PipelineFixtures.SyntheticCache(4, 4, 8, 4, 2), PipelineFixtures.Cfm());
        using (var session = new TrainSession(unet, options, "cfm", "{}", TextWriter.Null))
            session.Run(step => trainer.Loss(unet, Device.Cpu, options.Batch, 8, options.Seed, step));
        var lrs = File.ReadAllLines(Path.Combine(dir, "metrics.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!["lr"]).Where(n => n is not null).Select(n => (double)n!).ToArray();
        Assert.That(lrs, Has.Length.EqualTo(6));
        // Warm-up 1/2, 2/2 of the peak, then cos decay over steps 2..6: ½(1 + cos(π·k/4)), k = 0..3.
        double[] want = [0.5e-3, 1e-3, .. Enumerable.Range(0, 4).Select(k => 1e-3 * 0.5 * (1 + Math.Cos(Math.PI * k / 4)))];
        Assert.That(lrs, Is.EqualTo(want).Within(1e-8));
    }

    // ------------------------------------------------------------------ end rule

    private static Func<double, Tensor, Tensor> Decay(double rate = 1) => (_, x) => Elementwise.Affine(x, (float)-rate);

    [Test]
    public void DenseOutput_IsTheQuarticThroughTheStepsEndsAndMidpoint()
    {
        // x(t) = t⁴ on [0.2, 0.9]: the interpolant is exact for a quartic.
        double ta = 0.2, tb = 0.9, tm = (ta + tb) / 2;
        Tensor V(double v) => Tensor.FromArray(Device.Cpu, [(float)v], 1);
        using var xa = V(Math.Pow(ta, 4)); using var xb = V(Math.Pow(tb, 4)); using var xm = V(Math.Pow(tm, 4));
        using var fa = V(4 * Math.Pow(ta, 3)); using var fb = V(4 * Math.Pow(tb, 3));
        foreach (double t in new[] { ta, 0.37, tm, 0.8, tb })
        {
            using var y = Samplers.DenseOutput(xa, xb, xm, fa, fb, ta, tb, t);
            Assert.That(y.ToArray()[0], Is.EqualTo(Math.Pow(t, 4)).Within(1e-6), $"t = {t}");
        }
    }

    /// <summary>
    /// dx/dt = −x + k·max(0, t − 1)² on [0, 1]: the forcing starts only after t1. Clip shortens its last step to end
    /// on t1 and never sees the forcing; interpolate takes that step at full length past t1, where the forcing makes
    /// its error too large, so it is rejected once and retried: NFE differs (32 vs 38 at rtol = atol = 1e-6). Both
    /// end with x(1) = e⁻¹ (interpolate's interpolant spans the kink at t1, hence the looser bound).
    /// </summary>
    [Test]
    public void EndRule_InterpolateStepsPastT1AndLandsOnIt_ClipShortensTheLastStep()
    {
        Func<double, Tensor, Tensor> f = (t, x) => Elementwise.Affine(x, -1f, (float)(10 * Math.Pow(Math.Max(0, t - 1), 2)));
        using var x0 = Tensor.FromArray(Device.Cpu, [1f], 1);
        using var clip = Samplers.Solve(f, x0, 0, 1, SolverOptions.Adaptive(1e-6, 1e-6));
        using var interp = Samplers.Solve(f, x0, 0, 1, SolverOptions.Adaptive(1e-6, 1e-6, endRule: EndRule.Interpolate));
        TestContext.Out.WriteLine($"clip {clip}; grid {string.Join(", ", clip.Times.Select(t => t.ToString("G6")))}\n" +
                                  $"interpolate {interp}; grid {string.Join(", ", interp.Times.Select(t => t.ToString("G6")))}");
        Assert.That(clip.Times[^1], Is.EqualTo(1.0), "clip ends on t1");
        double lastClip = clip.Times[^1] - clip.Times[^2], previous = clip.Times[^2] - clip.Times[^3];
        Assert.That(lastClip, Is.LessThan(previous), "clip shortened its last step");
        Assert.That(interp.Times[^1], Is.GreaterThan(1.0), "interpolate's last step ends past t1");
        Assert.That(interp.Times.Take(interp.Times.Count - 1).All(t => t < 1.0));
        Assert.That(interp.RejectedSteps, Is.GreaterThan(clip.RejectedSteps), "the full-length last step is rejected");
        Assert.That(interp.Evaluations, Is.Not.EqualTo(clip.Evaluations), "the end rule changes the NFE here");
        Assert.That(interp.Evaluations, Is.EqualTo(2 + 6 * (interp.AcceptedSteps + interp.RejectedSteps)), "NFE bookkeeping");
        Assert.That(clip.X.ToArray()[0], Is.EqualTo(Math.Exp(-1)).Within(1e-6), "clip: x(1)");
        Assert.That(interp.X.ToArray()[0], Is.EqualTo(Math.Exp(-1)).Within(1e-5), "interpolate: x(1)");
    }

    [Test]
    public void EndRule_Interpolate_GivesTheStateAtExactlyT1_ForwardAndBackward()
    {
        // dx/dt = 4t³: x(t) = t⁴ + x0, integrated exactly by dopri5 and interpolated exactly by the quartic.
        Func<double, Tensor, Tensor> f = (t, x) => Tensor.Full(x.Device, (float)(4 * t * t * t), x.Shape);
        using var x0 = Tensor.FromArray(Device.Cpu, [1f, -1f], 2, 1);
        foreach (var (ta, tb) in new[] { (0.0, 0.7), (0.7, 0.1) })
        {
            using var res = Samplers.Solve(f, x0, ta, tb, SolverOptions.Adaptive(1e-6, 1e-6, endRule: EndRule.Interpolate));
            double shift = Math.Pow(tb, 4) - Math.Pow(ta, 4);
            Assert.That(res.X.ToArray(), Is.EqualTo(new[] { 1 + shift, -1 + shift }).Within(2e-6), $"{ta} → {tb}: {res}");
            Assert.That(Math.Sign(res.Times[^1] - tb), Is.Not.EqualTo(-Math.Sign(tb - ta)), "the last step reaches t1 or passes it");
        }
        using var decay = Samplers.Solve(Decay(), Tensor.FromArray(Device.Cpu, [1f], 1), 0, 1, SolverOptions.Adaptive(1e-6, 1e-6, endRule: EndRule.Interpolate));
        Assert.That(decay.X.ToArray()[0], Is.EqualTo(Math.Exp(-1)).Within(1e-6));
    }

    [Test]
    public void EndRule_Interpolate_NeedsDenseOutput()
    {
        Assert.That(ButcherTableau.DormandPrince5.HasDenseOutput);
        Assert.That(ButcherTableau.Rk4.HasDenseOutput, Is.False);
        using var x0 = Tensor.FromArray(Device.Cpu, [1f], 1);
        // A fixed-step solver ignores the rule (it has no last step to shorten).
        using var rk4 = Samplers.Solve(Decay(), x0, 0, 1, SolverOptions.Fixed(SolverMethod.Rk4, 4) with { EndRule = EndRule.Interpolate });
        Assert.That(rk4.Times[^1], Is.EqualTo(1.0));
        Assert.That(() => Samplers.Solve(Decay(), x0, 0, 1, SolverOptions.Adaptive(1e-3, 1e-3) with { EndRule = (EndRule)7 }), Throws.InstanceOf<ArgumentException>());
    }
}
