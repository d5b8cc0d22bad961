using System.Diagnostics;
using System.Text.Json.Nodes;
using Boost.Kernels;
using Boost.Models.Vae;
using Boost.Train.Cli;
using Boost.Train.Pipeline;

namespace Boost.Tests.Train;

/// <summary>The command line end to end on tiny models and generated photos, including a kill -9 mid-run and resume.</summary>
[NonParallelizable]
public class CommandLineTests
{
    private static (int code, string output) Run(params string[] args) => Support.Cli.Run(args);

    /// <summary>A weights root with a tiny (untrained, seeded) autoencoder in ae/.</summary>
    private static string TinyWeights()
    {
        string root = PipelineFixtures.TempDir("weights");
        using var ae = new AutoencoderKL(PipelineFixtures.TinyAe, Device.Cpu, 4);
        WeightsDir.Save(Path.Combine(root, "ae"), ae, System.Text.Json.JsonSerializer.Serialize(ae.Config), new Dictionary<string, object?> { ["what"] = "test" });
        return root;
    }

    private static string[] TinyTrain(string weights, string photos, string run, int steps, string cache) =>
    [
        "train", "--device", "cpu", "--weights", weights, "--data", photos, "--val-data", photos, "--unet", "tiny",
        "--crop", "32", "--crops-per-image", "2", "--latent-crop", "8", "--batch", "2", "--steps", steps.ToString(),
        "--checkpoint-every", "2", "--validate-every", "0", "--run", run, "--cache", cache, "--out", Path.Combine(weights, "cfm"),
    ];

    [Test]
    public void BadCommandLines_ExitWith2AndSayWhy()
    {
        Assert.That(Run("frobnicate"), Is.EqualTo((2, "")).Using<(int, string)>((a, b) => a.Item1 == b.Item1 && a.Item2.Contains("unknown command")));
        var (code, text) = Run("boost", "--device", "cpu", "--in", "x.png", "--out", "y.png", "--solver", "dopri5", "--steps", "4");
        Assert.That(code, Is.EqualTo(2)); Assert.That(text, Does.Contain("--steps is for fixed-step solvers"));
        (code, text) = Run("boost", "--device", "cpu", "--in", "x.png", "--out", "y.png", "--temperature", "-1");
        Assert.That(code, Is.EqualTo(2)); Assert.That(text, Does.Contain("--temperature must be ≥ 0"));
        (code, text) = Run("eval", "--device", "cpu", "--back-projection", "-2");
        Assert.That(code, Is.EqualTo(2)); Assert.That(text, Does.Contain("--back-projection"));
        (code, text) = Run("eval", "--device", "cpu", "--sovlers", "euler4");
        Assert.That(code, Is.EqualTo(2)); Assert.That(text, Does.Contain("--sovlers"));
        (code, text) = Run("train", "--device", "cpu", "--steps");
        Assert.That(code, Is.EqualTo(2)); Assert.That(text, Does.Contain("--steps needs a value"));
        (code, text) = Run("train", "--device", "cpu", "--steps", "ten");
        Assert.That(code, Is.EqualTo(2)); Assert.That(text, Does.Contain("'ten'"));
        (code, text) = Run("train", "--device", "cpu", "--weights", PipelineFixtures.TempDir("empty"));
        Assert.That(code, Is.EqualTo(2)); Assert.That(text, Does.Contain("train-ae"));
        (code, text) = Run("--help");
        Assert.That(code, Is.EqualTo(0)); Assert.That(text, Does.Contain("train-ae"));
    }

    [Test]
    public void TrainThenBoostThenEval_OnTinyModels()
    {
        string weights = TinyWeights(), photos = PipelineFixtures.PhotoFolder("cli", 3, 40, 8), run = Path.Combine(PipelineFixtures.TempDir("run"), "r");
        var (code, text) = Run(TinyTrain(weights, photos, run, 3, Path.Combine(run, "..", "cache")));
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(File.Exists(Path.Combine(weights, "cfm", "model.safetensors")), text);
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(weights, "cfm", "record.json")))!;
        Assert.That((int)record["steps"]!, Is.EqualTo(3));

        string png = Path.Combine(photos, "photo1.png"), outPng = Path.Combine(run, "boosted.png");
        (code, text) = Run("boost", "--device", "cpu", "--weights", weights, "--in", png, "--out", outPng, "--solver", "euler", "--steps", "2");
        Assert.That(code, Is.EqualTo(0), text);
        var info = SixLabors.ImageSharp.Image.Identify(outPng);
        Assert.That((info.Width, info.Height), Is.EqualTo((41 * 4, 42 * 4)), "exactly 4× the LR size");
        Assert.That(text, Does.Contain($"temperature {Commands.DefaultTemperature:G3}, back-projection {Commands.DefaultBackProjection}"));
        string rawPng = Path.Combine(run, "raw.png");
        (code, text) = Run("boost", "--device", "cpu", "--weights", weights, "--in", png, "--out", rawPng, "--solver", "euler", "--steps", "2", "--temperature", "1", "--back-projection", "0");
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(File.ReadAllBytes(rawPng), Is.Not.EqualTo(File.ReadAllBytes(outPng)), "temperature and back-projection reach the image");

        // A latent in, a latent and an image out.
        string latIn = Path.Combine(run, "lr.safetensors"), latOut = Path.Combine(run, "hr.safetensors");
        Boost.Models.SafeTensors.SafeTensorsFile.Write(latIn, [("z", [4, 4, 4], Support.Seeded.Floats(3, 64))]);
        (code, text) = Run("boost", "--device", "cpu", "--weights", weights, "--latent-in", latIn, "--latent-out", latOut, "--out", outPng, "--solver", "rk4", "--steps", "1");
        Assert.That(code, Is.EqualTo(0), text);
        using (var f = Boost.Models.SafeTensors.SafeTensorsFile.Read(latOut)) Assert.That(f.Info("latent").Shape, Is.EqualTo(new[] { 1, 4, 16, 16 }));

        string json = Path.Combine(run, "eval", "eval.json");
        (code, text) = Run("eval", "--device", "cpu", "--weights", weights, "--data", photos, "--json", json, "--size", "32", "--solvers", "euler2,dopri5,euler2@0", "--rtol", "1e-2", "--atol", "1e-2", "--back-projection", "2");
        Assert.That(code, Is.EqualTo(0), text);
        var e = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.That((int)e["images"]!, Is.EqualTo(3));
        Assert.That((int)e["scale"]!, Is.EqualTo(4));
        var methods = e["methods"]!.AsObject();
        Assert.That(methods.Select(kv => kv.Key), Is.SupersetOf(new[] { "bicubic", "latent_bilinear", "cfm_dopri5", "cfm_euler2", "cfm_euler2_bp", "cfm_euler2_t0", "cfm_euler2_t0_bp" }));
        Assert.That(methods.Select(kv => kv.Key), Has.None.EqualTo("bicubic_bp"));
        Assert.That((double)methods["cfm_euler2"]!["nfe"]!, Is.EqualTo(2));
        Assert.That((double)methods["cfm_dopri5"]!["nfe"]!, Is.GreaterThan(2));
        Assert.That((double)methods["bicubic"]!["psnr"]!, Is.GreaterThan(10).And.LessThan(60));
        Assert.That(text, Does.Contain("no model in").And.Contain("regression"), "a missing model is said, not silently skipped");
        Assert.That(File.Exists(Path.ChangeExtension(json, ".png")));
    }

    [Test]
    public void KilledTraining_ResumesFromItsLastCheckpoint()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Boost.Train.dll");
        Assume.That(File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")), "Boost.Train's runtimeconfig is not next to the tests; cannot start it as a process");
        string weights = TinyWeights(), photos = PipelineFixtures.PhotoFolder("kill", 2, 40, 9), run = Path.Combine(PipelineFixtures.TempDir("killrun"), "r");
        string cache = Path.Combine(run, "..", "cache");
        int steps = 400;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in TinyTrain(weights, photos, run, steps, cache)) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            p.OutputDataReceived += (_, _) => { }; p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine(); p.BeginErrorReadLine();
            var sw = Stopwatch.StartNew();
            string metrics = Path.Combine(run, "metrics.jsonl");
            // Wait until a few checkpoints have been written, then kill without warning, mid-step.
            while (sw.Elapsed.TotalSeconds < 120 && !p.HasExited && (!File.Exists(metrics) || File.ReadAllLines(metrics).Length < 9)) Thread.Sleep(20);
            Assert.That(p.HasExited, Is.False, "the run ended before it could be killed");
            p.Kill(entireProcessTree: true); // SIGKILL on Unix
            p.WaitForExit();
        }
        var before = new MetricsLog(run).ReadAll();
        Assert.That(before.Count, Is.GreaterThanOrEqualTo(9));
        Assert.That(before.Max(o => (int)o["step"]!), Is.LessThan(steps));

        var args = TinyTrain(weights, photos, run, steps, cache).Append("--resume").ToArray();
        var (code, text) = Run(args);
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(text, Does.Match(@"resumed cfm from .* at step [1-9]"));
        var after = new MetricsLog(run).ReadAll().Where(o => o["loss"] is not null).Select(o => (int)o["step"]!).ToArray();
        Assert.That(after, Is.EqualTo(Enumerable.Range(1, steps).ToArray()), "one loss per step, no gap and no repeat across the kill");
    }
}
