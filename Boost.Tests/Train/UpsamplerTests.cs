using Boost.Kernels;
using Boost.Models;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Data;
using Boost.Train.Imaging;
using Boost.Train.Pipeline;
using Boost.Train.Sampling;

namespace Boost.Tests.Train;

/// <summary>Inference plumbing on tiny random models: shapes, padding, NFE, weights folders, the latent cache.</summary>
public class UpsamplerTests
{
    private static Upsampler Tiny(Objective objective = Objective.Cfm, LrPath lrPath = LrPath.Psu) => PipelineFixtures.TinyUpsampler(objective, lrPath);

    private static ChwImage RandomImage(int h, int w, int seed) => new(Support.Seeded.Floats(seed, 3 * h * w, -1f, 1f), 3, h, w);

    [TestCase(Objective.Cfm, LrPath.Psu)]
    [TestCase(Objective.Cfm, LrPath.Latent)]
    [TestCase(Objective.Regression, LrPath.Psu)]
    public void Boost_ReturnsExactlyScaleTimesAnAwkwardSize(Objective objective, LrPath lrPath)
    {
        var up = Tiny(objective, lrPath);
        var lr = RandomImage(5, 7, 3);
        var (hr, nfe) = up.Boost(lr, SolverOptions.Fixed(SolverMethod.Euler, 3));
        Assert.That(hr.Shape, Is.EqualTo(new[] { 3, 20, 28 }));
        Assert.That(hr.Data.All(v => v is >= -1f and <= 1f), "clamped");
        Assert.That(hr.Data.Distinct().Count(), Is.GreaterThan(50), "not constant");
        Assert.That(nfe, Is.EqualTo(objective == Objective.Regression ? 1 : 3));
    }

    [Test]
    public void Generate_IsSeededAndTheSeedMatters()
    {
        var up = Tiny();
        using var c = Support.Seeded.Tensor(Device.Cpu, 4, 1, 4, 8, 8);
        var (a, _) = up.Generate(c, SolverOptions.Fixed(SolverMethod.Rk4, 2), 1);
        var (b, _) = up.Generate(c, SolverOptions.Fixed(SolverMethod.Rk4, 2), 1);
        var (d, _) = up.Generate(c, SolverOptions.Fixed(SolverMethod.Rk4, 2), 2);
        Assert.That(b.ToArray(), Is.EqualTo(a.ToArray()));
        Assert.That(d.ToArray(), Is.Not.EqualTo(a.ToArray()));
        a.Dispose(); b.Dispose(); d.Dispose();
    }

    [Test]
    public void Source_IsNoisedCondition()
    {
        var up = Tiny();
        using var c = Support.Seeded.Tensor(Device.Cpu, 5, 2, 4, 16, 16);
        using var x0 = up.Source(c, 9);
        double abar = up.Config.AlphaBar, s = 0, s2 = 0;
        var cv = c.ToArray(); var xv = x0.ToArray();
        for (int i = 0; i < cv.Length; i++) { double e = (xv[i] - Math.Sqrt(abar) * cv[i]) / Math.Sqrt(1 - abar); s += e; s2 += e * e; }
        Assert.That(s / cv.Length, Is.EqualTo(0).Within(0.08));
        Assert.That(Math.Sqrt(s2 / cv.Length), Is.EqualTo(1).Within(0.08));
    }

    [TestCase(0.5f)]
    [TestCase(0f)]
    public void Source_TemperatureScalesOnlyTheNoise(float temperature)
    {
        var up = Tiny();
        using var c = Support.Seeded.Tensor(Device.Cpu, 6, 1, 4, 8, 8);
        using var full = up.Source(c, 3);
        using var cooled = up.Source(c, 3, temperature);
        float a = MathF.Sqrt(up.Config.AlphaBar);
        var cv = c.ToArray(); var fv = full.ToArray(); var tv = cooled.ToArray();
        for (int i = 0; i < cv.Length; i++)
            Assert.That(tv[i] - a * cv[i], Is.EqualTo(temperature * (fv[i] - a * cv[i])).Within(1e-5f), $"element {i}");
        Assert.That(() => up.Source(c, 3, -0.1f), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    /// <summary>train-ae --logvar-init: the posterior's log-variance starts near the value (the mean half untouched).</summary>
    [Test]
    public void SetLogvarBias_StartsThePosteriorNarrow()
    {
        using var ae = new AutoencoderKL(PipelineFixtures.TinyAe, Device.Cpu, 1);
        var bias = ae.NamedParameters().Single(p => p.key == "quant_conv.bias").param.Value;
        var before = bias.ToArray();
        AeTrainer.SetLogvarBias(ae, -6f);
        var after = bias.ToArray();
        int lc = ae.Config.LatentChannels;
        Assert.That(after[..lc], Is.EqualTo(before[..lc]), "mean half");
        Assert.That(after[lc..], Is.All.EqualTo(-6f), "log-variance half");
        using var x = Support.Seeded.Tensor(Device.Cpu, 8, 1, 3, 16, 16);
        using var tape = Boost.Autograd.Tape.NoGrad();
        var (_, logvar) = ae.Encode(Boost.Autograd.Ops.Constant(x.Clone()));
        Assert.That(logvar.Value.ToArray().Average(), Is.EqualTo(-6).Within(1.0));
    }

    [Test]
    public void PadReplicate_RepeatsTheLastRowAndColumn()
    {
        var x = RandomImage(2, 3, 1);
        var y = Upsampler.PadReplicate(x, 4, 5);
        Assert.That(y[1, 3, 4], Is.EqualTo(x[1, 1, 2]));
        Assert.That(y[2, 0, 4], Is.EqualTo(x[2, 0, 2]));
        Assert.That(y[0, 1, 1], Is.EqualTo(x[0, 1, 1]));
    }

    [Test]
    public void WeightsFolder_RoundTripsThroughLoad()
    {
        var up = Tiny();
        string root = PipelineFixtures.TempDir("weights");
        WeightsDir.Save(Path.Combine(root, "ae"), up.Autoencoder, System.Text.Json.JsonSerializer.Serialize(up.Autoencoder.Config), new Dictionary<string, object?> { ["x"] = 1 });
        WeightsDir.Save(Path.Combine(root, "cfm"), up.UNet, up.Config.ToJson(), new Dictionary<string, object?> { ["x"] = 1 });
        var loaded = Upsampler.Load(Path.Combine(root, "cfm"), Path.Combine(root, "ae"), Device.Cpu);
        Assert.That(loaded.Config, Is.EqualTo(up.Config).Using<CfmConfig>((a, b) => a.ToJson() == b.ToJson()));
        var lr = RandomImage(4, 4, 7);
        var (a, _) = up.Boost(lr, SolverOptions.Fixed(SolverMethod.Euler, 2));
        var (b, _) = loaded.Boost(lr, SolverOptions.Fixed(SolverMethod.Euler, 2));
        // fp16 storage: outputs agree to half precision, not bit for bit.
        Assert.That(a.Data.Zip(b.Data).Max(p => Math.Abs(p.First - p.Second)), Is.LessThan(0.02f));
        File.WriteAllText(Path.Combine(root, "cfm", "config.json"), "{\"objective\": \"sharpen\"}");
        Assert.That(() => Upsampler.Load(Path.Combine(root, "cfm"), Path.Combine(root, "ae"), Device.Cpu), Throws.TypeOf<InvalidDataException>().With.Message.Contains("objective"));
        Assert.That(() => Upsampler.Load(Path.Combine(root, "none"), Path.Combine(root, "ae"), Device.Cpu), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("not a weights folder"));
    }

    [Test]
    public void LatentCache_IsBuiltOnceThenReadAndRebuiltWhenCorrupt()
    {
        var up = Tiny();
        string root = PipelineFixtures.TempDir("cache");
        string aeFile = Path.Combine(root, "ae.safetensors");
        Checkpoint.Save(up.Autoencoder, aeFile);
        using var photos = ImageFolder.Load(PipelineFixtures.PhotoFolder("cachephotos", 2, 40, 3));
        var log = new StringWriter();
        var a = LatentCache.Build(up.Autoencoder, aeFile, photos, 32, 3, 4, 1, root, log);
        Assert.That(a.Count, Is.EqualTo(6));
        Assert.That(a.Size, Is.EqualTo(16));
        Assert.That(a.LrLatent.Length, Is.EqualTo(6 * 4 * 4 * 4));
        var b = LatentCache.Build(up.Autoencoder, aeFile, photos, 32, 3, 4, 1, root, log);
        Assert.That(log.ToString(), Does.Contain("from "));
        Assert.That(b.Hr, Is.EqualTo(a.Hr));
        Assert.That(b.LrPsu, Is.EqualTo(a.LrPsu));
        string file = Directory.GetFiles(root, "latents-*.safetensors").Single();
        File.WriteAllBytes(file, File.ReadAllBytes(file)[..100]);
        var c = LatentCache.Build(up.Autoencoder, aeFile, photos, 32, 3, 4, 1, root, log);
        Assert.That(log.ToString(), Does.Contain("rebuilding"));
        Assert.That(c.Hr, Is.EqualTo(a.Hr));
        // HR latents are E(x)·scaling_factor of the crops: check one against a direct encoding of the same crop plan.
        Assert.That(a.Hr.Distinct().Count(), Is.GreaterThan(100));
    }

    [Test]
    public void ParseSolver_ReadsNamesAndStepCounts()
    {
        Assert.That(Evaluator.ParseSolver("euler40", 1e-3, 1e-3).solver, Is.EqualTo(SolverOptions.Fixed(SolverMethod.Euler, 40)));
        Assert.That(Evaluator.ParseSolver("rk4_10", 1e-3, 1e-3).name, Is.EqualTo("rk4_10"));
        Assert.That(Evaluator.ParseSolver("dopri5", 1e-4, 2e-4).solver.Atol, Is.EqualTo(2e-4));
        // A bare fixed-step name takes the registry's default step count (the same as boost's).
        var bare = Evaluator.ParseSolver("euler", 1, 1);
        Assert.That(bare.solver.Method, Is.EqualTo(SolverMethod.Euler));
        Assert.That(bare.solver.Steps, Is.GreaterThan(0));
        Assert.That(() => Evaluator.ParseSolver("euler0", 1, 1), Throws.ArgumentException);
        Assert.That(() => Evaluator.ParseSolver("heun3", 1, 1), Throws.ArgumentException);
        Assert.That(Evaluator.ParseSolver("dopri5", 1, 1).temperature, Is.EqualTo(1f));
        var cooled = Evaluator.ParseSolver("euler40@0.5", 1, 1);
        Assert.That((cooled.name, cooled.solver, cooled.temperature), Is.EqualTo(("euler40_t0.5", SolverOptions.Fixed(SolverMethod.Euler, 40), 0.5f)));
        Assert.That(Evaluator.ParseSolver("dopri5@0", 1, 1).name, Is.EqualTo("dopri5_t0"));
        Assert.That(() => Evaluator.ParseSolver("dopri5@-1", 1, 1), Throws.ArgumentException);
        Assert.That(() => Evaluator.ParseSolver("dopri5@warm", 1, 1), Throws.ArgumentException);
    }

    /// <summary>With back-projection asked for, each costed row gets a "_bp" twin computed from that row's own
    /// output (the model runs once), with its NFE; rows without a cost (bicubic) get none.</summary>
    [Test]
    public void Eval_BackProjectionAddsATwinOfEachModelRow()
    {
        string dir = PipelineFixtures.PhotoFolder("evalbp", 2, 24, 33);
        using var images = ImageFolder.Load(dir);
        int calls = 0;
        var bicubic = new EvalMethod("bicubic", lr => { var y = Resample.UpscaleBicubic(lr, 3); return (y, 0); });
        // A "model" whose colours are off: its low frequencies are wrong, which back-projection should mend.
        var model = new EvalMethod("model", lr =>
        {
            calls++;
            var y = Resample.UpscaleBicubic(lr, 3);
            for (int i = 0; i < y.Data.Length; i++) y.Data[i] = 0.6f * y.Data[i] + 0.2f;
            return (y, 7);
        }, ReportCost: true);
        var json = Evaluator.Run(images, 24, 3, 3, [bicubic, model], Path.Combine(dir, "eval.json"), null, new StringWriter(), backProjection: 3);
        var methods = json["methods"]!.AsObject();
        Assert.That(methods.Select(m => m.Key), Is.EqualTo(new[] { "bicubic", "model", "model_bp" }));
        Assert.That(calls, Is.EqualTo(2), "the model runs once per image");
        Assert.That((double)methods["model_bp"]!["nfe"]!, Is.EqualTo(7));
        Assert.That((double)methods["model_bp"]!["psnr"]!, Is.GreaterThan((double)methods["model"]!["psnr"]! + 3));
    }

    /// <summary>An image too small for the method's multiple gives no crop; the per-image log must still name the
    /// photo each crop came from (it used to name the one at the crop's own index).</summary>
    [Test]
    public void Eval_LogNamesEachCropsOwnPhoto_WhenASmallImageIsSkipped()
    {
        string dir = PipelineFixtures.PhotoFolder("evalnames", 3, 20, 31);
        // photo0 is 20×20, photo1 21×22, photo2 22×24; a multiple of 21 leaves photo0 without a crop.
        using var images = ImageFolder.Load(dir);
        var log = new StringWriter();
        var bicubic = new EvalMethod("bicubic", lr => { var y = Resample.UpscaleBicubic(lr, 3); return (y, 0); });
        var json = Evaluator.Run(images, 21, 3, 21, [bicubic], Path.Combine(dir, "eval.json"), null, log);
        Assert.That((int)json["images"]!, Is.EqualTo(2), "photo0 is below the multiple");
        Assert.That(log.ToString(), Does.Contain("image 1/2 (photo1.png)").And.Contain("image 2/2 (photo2.png)"), log.ToString());
    }
}
