using Boost.Kernels;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Imaging;
using Boost.Train.Pipeline;
using Boost.Train.Sampling;

namespace Boost.Tests.Train;

/// <summary>boost of any size in overlapping tiles (<see cref="Upsampler.BoostTiled"/>), on tiny random models.</summary>
public class TiledBoostTests
{
    private static Upsampler Tiny() => PipelineFixtures.TinyUpsampler();

    private static ChwImage RandomImage(int h, int w, int seed) => new(Support.Seeded.Floats(seed, 3 * h * w, -1f, 1f), 3, h, w);

    [TestCase(100, 32, 8)]
    [TestCase(33, 32, 8)]
    [TestCase(32, 32, 8)]
    [TestCase(64, 32, 0)]
    public void Origins_CoverTheSide_StepByTileMinusOverlap_LastFlush(int size, int tile, int overlap)
    {
        var o = Upsampler.Origins(size, tile, overlap);
        Assert.That(o[0], Is.Zero);
        Assert.That(o[^1] + Math.Min(tile, size), Is.EqualTo(size), "the last tile ends at the side's end");
        for (int i = 1; i < o.Length; i++)
        {
            Assert.That(o[i] - o[i - 1], Is.LessThanOrEqualTo(tile - overlap), "neighbours overlap by at least the overlap");
            Assert.That(o[i], Is.GreaterThan(o[i - 1]));
        }
    }

    /// <summary>Constant tiles blend to the constant (the weights normalise, any overlap), and across a seam between two
    /// different constants the value moves monotonically from one to the other.</summary>
    [Test]
    public void Blend_NormalisesAndCrossFades()
    {
        const int h = 8, w = 40, tile = 24, ramp = 8;
        var sum = new ChwImage(3, h, w);
        var weight = new float[h * w];
        var a = new ChwImage(Enumerable.Repeat(1f, 3 * h * tile).ToArray(), 3, h, tile);
        var b = new ChwImage(Enumerable.Repeat(-1f, 3 * h * tile).ToArray(), 3, h, tile);
        Upsampler.Blend(sum, weight, a, 0, 0, ramp, false, false, false, true);
        Upsampler.Blend(sum, weight, b, 0, w - tile, ramp, false, false, true, false);
        var row = Enumerable.Range(0, w).Select(j => sum[0, 3, j] / weight[3 * w + j]).ToArray();
        Assert.That(row.Take(w - tile), Is.All.EqualTo(1f).Within(1e-6), "only the left tile");
        Assert.That(row.Skip(tile), Is.All.EqualTo(-1f).Within(1e-6), "only the right tile");
        for (int j = 1; j < w; j++) Assert.That(row[j], Is.LessThanOrEqualTo(row[j - 1] + 1e-6), $"monotone at {j}");
        Assert.That(weight.All(v => v > 0), "every pixel covered with a positive weight");
    }

    [Test]
    public void OneTile_IsExactlyTheWholeImageBoost()
    {
        var up = Tiny();
        int m = up.LrMultiple;
        var lr = RandomImage(2 * m - 1, 2 * m, 5);
        var solver = SolverOptions.Fixed(SolverMethod.Euler, 2);
        var (whole, _) = up.Boost(lr, solver, seed: 4, temperature: 0.75f);
        int calls = 0;
        var (tiled, _) = up.BoostTiled(lr, solver, 4, 0.75f, 0, tile: 2 * m, overlap: 0, progress: (_, _) => calls++);
        Assert.That(tiled.Data, Is.EqualTo(whole.Data));
        Assert.That(calls, Is.EqualTo(1));
    }

    /// <summary>3×2 tiles with overlap on an awkward size: exact output size, every tile reported, values in range, and
    /// the tiles agree with the whole-image result far better than an unrelated sample does (same noise field, same
    /// condition), so the blend is not hiding misplaced tiles.</summary>
    [Test]
    public void ManyTiles_PlaceEachTileWhereItBelongs()
    {
        var up = Tiny();
        int m = up.LrMultiple, tile = 8 * m, overlap = 2 * m;
        var lr = RandomImage(13 * m + 1, 19 * m + 3, 6);
        var solver = SolverOptions.Fixed(SolverMethod.Euler, 2);
        var seen = new List<(int, int)>();
        var (tiled, nfe) = up.BoostTiled(lr, solver, 7, 0.75f, 0, tile, overlap, (d, t) => seen.Add((d, t)));
        int r = up.Config.Scale;
        Assert.That(tiled.Shape, Is.EqualTo(new[] { 3, lr.Height * r, lr.Width * r }));
        int tiles = Upsampler.Origins((lr.Height + m - 1) / m * m, tile, overlap).Length * Upsampler.Origins((lr.Width + m - 1) / m * m, tile, overlap).Length;
        Assert.That(seen, Is.EqualTo(Enumerable.Range(1, tiles).Select(d => (d, tiles))));
        Assert.That(tiled.Data.All(v => v is >= -1f and <= 1f), "in range, no NaN");
        Assert.That(nfe, Is.EqualTo(2));
        var (whole, _) = up.Boost(lr, solver, 7, 0.75f);
        var (other, _) = up.Boost(RandomImage(lr.Height, lr.Width, 99), solver, 8, 0.75f);
        double Mse(ChwImage x, ChwImage y) => x.Data.Zip(y.Data, (p, q) => (double)(p - q) * (p - q)).Average();
        TestContext.Out.WriteLine($"MSE tiled vs whole {Mse(tiled, whole):G4}, unrelated vs whole {Mse(other, whole):G4}");
        Assert.That(Mse(tiled, whole), Is.LessThan(Mse(other, whole) / 4), "tiles in the right places");
    }

    [Test]
    public void BadTilesAndHugeOutputs_AreRefusedBeforeAnyWork()
    {
        var up = Tiny();
        int m = up.LrMultiple;
        var lr = RandomImage(m, m, 1);
        var solver = SolverOptions.Fixed(SolverMethod.Euler, 1);
        Assert.That(() => up.BoostTiled(lr, solver, 0, 1f, 0, tile: m, overlap: 0), Throws.ArgumentException.With.Message.Contains("--tile"));
        Assert.That(() => up.BoostTiled(lr, solver, 0, 1f, 0, tile: 2 * m, overlap: 2 * m), Throws.ArgumentException.With.Message.Contains("--overlap"));
        var e = Assert.Throws<ArgumentException>(() => up.CheckOutputSize(100_000, 80_000))!;
        Assert.That(e.Message, Does.Contain("100000x80000").And.Not.Contain("\n"));
        Assert.That(() => up.CheckOutputSize(1024, 768), Throws.Nothing);
    }
}

/// <summary>eval's curves against NFE (<see cref="Evaluator"/>): one PNG beside eval.json, and LR consistency per row.</summary>
public class EvalCurveTests
{
    [Test]
    public void Eval_WithSeveralStepCounts_WritesTheNfePlot_AndLrConsistency()
    {
        var ae = new AutoencoderKL(PipelineFixtures.TinyAe, Device.Cpu, 1);
        var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 2);
        var up = new Upsampler(ae, unet, PipelineFixtures.Cfm());
        string data = PipelineFixtures.PhotoFolder("eval-curve", 2, 40, 3);
        string json = Path.Combine(PipelineFixtures.TempDir("eval-curve-out"), "eval.json");
        using var images = Boost.Train.Data.ImageFolder.Load(data);
        var solvers = new[] { "euler1", "euler2", "euler3" }.Select(s => SolverRegistry.ParseSpec(s, 1e-3, 1e-3)).ToList();
        var log = new StringWriter();
        var doc = Evaluator.Run(images, 16, 4, up.HrMultiple, Evaluator.Methods(up, null, solvers, 4), json, null, log, backProjection: 1);
        string plot = Evaluator.NfePlotPath(json);
        Assert.That(plot, Is.EqualTo(Path.Combine(Path.GetDirectoryName(json)!, "eval-nfe.png")));
        using (var image = SixLabors.ImageSharp.Image.Load(plot))
            Assert.That((image.Width, image.Height), Is.EqualTo((1280, 800)), "four panels");
        Assert.That(log.ToString(), Does.Contain("2 curves against NFE"), "euler at T 1, with and without back-projection");
        foreach (var (name, row) in doc["methods"]!.AsObject())
            Assert.That((double)row!["lr_psnr"]!, Is.GreaterThan(5).And.LessThan(200), name);
        Assert.That((double)doc["methods"]!["cfm_euler1_bp"]!["lr_psnr"]!, Is.GreaterThan((double)doc["methods"]!["cfm_euler1"]!["lr_psnr"]!),
            "back-projection pulls the output's ↓4 onto the input");
    }
}
