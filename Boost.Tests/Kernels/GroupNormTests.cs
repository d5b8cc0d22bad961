using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class GroupNormTests
{
    /// <summary>(N, C, H, W, G): batch 1, odd H·W, C = 32 with G = 32 / 8 / 1, C = 6 with G = 3, 1×1 images.</summary>
    private static readonly int[][] Cases =
    [
        [1, 32, 5, 7, 32],
        [2, 32, 3, 5, 8],
        [1, 32, 5, 7, 1],
        [2, 6, 5, 7, 3],
        [1, 6, 1, 1, 3],
        [2, 32, 1, 1, 32],
    ];

    private const float Eps = 1e-5f;

    private sealed record Inputs(float[] X, float[] W, float[] B, float[] Dy, int N, int C, int H, int W_, int G)
    {
        public int HW => H * W_;
        public int[] Shape => [N, C, H, W_];
    }

    private static Inputs Make(int[] cs, int seed, float offset = 0f)
    {
        int n = cs[0], c = cs[1], h = cs[2], w = cs[3], g = cs[4];
        var x = Seeded.Floats(seed, n * c * h * w);
        for (int i = 0; i < x.Length; i++) x[i] += offset;
        return new Inputs(x, Seeded.Floats(seed + 1, c), Seeded.Floats(seed + 2, c), Seeded.Floats(seed + 3, n * c * h * w), n, c, h, w, g);
    }

    private static void CheckForward(Device dev, Inputs p, bool affine, double atol, string what, bool silu = false)
    {
        using var x = Seeded.Tensor(dev, p.X, p.Shape);
        using var w = affine ? Seeded.Tensor(dev, p.W, p.C) : null;
        using var b = affine ? Seeded.Tensor(dev, p.B, p.C) : null;
        using var y = GroupNorm.Forward(x, p.G, w, b, Eps, out var mean, out var rstd, silu);
        using var _m = mean; using var _r = rstd;
        var want = GroupNormReference.Forward(Seeded.ToDouble(p.X), p.N, p.C, p.HW, p.G,
            affine ? Seeded.ToDouble(p.W) : null, affine ? Seeded.ToDouble(p.B) : null, Eps, out var wantMean, out var wantRstd, silu);
        Assert.That(mean.Shape, Is.EqualTo(new[] { p.N, p.G }), "mean shape");
        Assert.That(rstd.Shape, Is.EqualTo(new[] { p.N, p.G }), "rstd shape");
        Compare.Close(mean.ToArray(), wantMean, atol: atol, what: $"{what} mean");
        Compare.Close(rstd.ToArray(), wantRstd, what: $"{what} rstd");
        Compare.Close(y.ToArray(), want, atol: atol, what: $"{what} y");
    }

    [Test]
    public void Forward_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Range(0, 5)] int s, [Values] bool affine, [Values] bool silu)
    {
        CheckForward(Backends.Get(backend), Make(Cases[s], 10 + s), affine, 1e-5, $"groupnorm{(silu ? "+silu" : "")} {Tensor.Format(Cases[s])}", silu);
    }

    /// <summary>Inputs offset by +50: a one-pass Σx² − (Σx)²/n variance would lose most of its digits here.</summary>
    [Test]
    public void Forward_LargeOffset_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend, [Values(1, 2)] int s)
    {
        CheckForward(Backends.Get(backend), Make(Cases[s], 30 + s, offset: 50f), affine: true, 2e-5, "groupnorm offset +50");
    }

    [Test]
    public void Backward_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Range(0, 5)] int s, [Values] bool affine, [Values] bool silu) => CheckBackward(Backends.Get(backend), s, affine, silu);

    /// <summary>The fused activation on the NVIDIA-shaped simulator (256-thread groups, warp 32): forward and backward.</summary>
    [Test, Category("NvidiaSim")]
    public void Silu_NvidiaSim_MatchesTwin([Values(1, 3)] int s)
    {
        var dev = Backends.Get(Backends.NvidiaSim);
        CheckForward(dev, Make(Cases[s], 50 + s), affine: true, 1e-5, "groupnorm+silu nvidia-sim", silu: true);
        CheckBackward(dev, s, affine: true, silu: true);
    }

    private static void CheckBackward(Device dev, int s, bool affine, bool silu)
    {
        var p = Make(Cases[s], 20 + s);
        using var x = Seeded.Tensor(dev, p.X, p.Shape);
        using var dy = Seeded.Tensor(dev, p.Dy, p.Shape);
        using var w = affine ? Seeded.Tensor(dev, p.W, p.C) : null;
        using var b = affine ? Seeded.Tensor(dev, p.B, p.C) : null;
        using var y = GroupNorm.Forward(x, p.G, w, b, Eps, out var mean, out var rstd, silu);
        using var _m = mean; using var _r = rstd;
        var (dx, dw, db) = GroupNorm.Backward(dy, x, mean, rstd, w, p.G, b, silu);
        using var _dx = dx; using var _dw = dw; using var _db = db;

        var wd = affine ? Seeded.ToDouble(p.W) : null;
        var bd = affine ? Seeded.ToDouble(p.B) : null;
        GroupNormReference.Forward(Seeded.ToDouble(p.X), p.N, p.C, p.HW, p.G, wd, bd, Eps, out var rm, out var rr);
        var (wantDx, wantDw, wantDb) = GroupNormReference.Backward(Seeded.ToDouble(p.Dy), Seeded.ToDouble(p.X), p.N, p.C, p.HW, p.G, rm, rr, wd, bd, silu);
        Compare.Close(dx.ToArray(), wantDx, atol: 1e-4, what: "groupnorm dx");
        if (!affine)
        {
            Assert.That(dw, Is.Null, "dweight without affine");
            Assert.That(db, Is.Null, "dbias without affine");
            return;
        }
        // Sums over N·H·W terms: tolerance scaled to the terms' magnitude.
        Compare.Close(dw!.ToArray(), wantDw, atol: 1e-5 * p.N * p.HW * 4, what: "groupnorm dweight");
        Compare.Close(db!.ToArray(), wantDb, atol: 1e-5 * p.N * p.HW * 2, what: "groupnorm dbias");
    }

    /// <summary>The managed backend at planes long enough for its SIMD runs (float lanes flushed to double every 512
    /// values), odd tails, offset inputs and several groups per thread: forward and backward against the twin.</summary>
    [TestCase(3, 12, 37, 41, 4, 0f)]
    [TestCase(1, 8, 33, 33, 2, 20f)]
    public void Cpu_LargePlanes_MatchTwin(int n, int c, int h, int w, int g, float offset)
    {
        var p = Make([n, c, h, w, g], 60, offset);
        var dev = Device.Cpu;
        CheckForward(dev, p, affine: true, 2e-5, $"groupnorm cpu [{n}, {c}, {h}, {w}] / {g}");
        using var x = Seeded.Tensor(dev, p.X, p.Shape);
        using var dy = Seeded.Tensor(dev, p.Dy, p.Shape);
        using var wt = Seeded.Tensor(dev, p.W, p.C);
        using var b = Seeded.Tensor(dev, p.B, p.C);
        using var y = GroupNorm.Forward(x, p.G, wt, b, Eps, out var mean, out var rstd);
        using var _m = mean; using var _r = rstd;
        var (dx, dw, db) = GroupNorm.Backward(dy, x, mean, rstd, wt, p.G);
        using var _dx = dx; using var _dw = dw; using var _db = db;
        var wd = Seeded.ToDouble(p.W);
        GroupNormReference.Forward(Seeded.ToDouble(p.X), p.N, p.C, p.HW, p.G, wd, null, Eps, out var rm, out var rr);
        var (wantDx, wantDw, wantDb) = GroupNormReference.Backward(Seeded.ToDouble(p.Dy), Seeded.ToDouble(p.X), p.N, p.C, p.HW, p.G, rm, rr, wd);
        Compare.Close(dx.ToArray(), wantDx, atol: 1e-4, what: "groupnorm cpu dx");
        Compare.Close(dw!.ToArray(), wantDw, atol: 2e-6 * p.N * p.HW, what: "groupnorm cpu dweight");
        Compare.Close(db!.ToArray(), wantDb, atol: 2e-6 * p.N * p.HW, what: "groupnorm cpu dbias");
    }

    [TestCase(2, 6, 3, 2, 3, true, false)]
    [TestCase(1, 4, 3, 1, 1, true, false)]
    [TestCase(2, 4, 2, 3, 4, false, false)]
    [TestCase(2, 6, 3, 2, 3, true, true)]
    [TestCase(2, 4, 2, 3, 4, false, true)]
    public void TwinBackward_MatchesFiniteDifferences(int n, int c, int h, int w, int g, bool affine, bool silu)
    {
        var p = Make([n, c, h, w, g], 40);
        double[] X = Seeded.ToDouble(p.X), W = Seeded.ToDouble(p.W), B = Seeded.ToDouble(p.B), Dy = Seeded.ToDouble(p.Dy);
        double eps = 1e-5;
        GroupNormReference.Forward(X, n, c, h * w, g, affine ? W : null, affine ? B : null, eps, out var mean, out var rstd);
        var (dx, dw, db) = GroupNormReference.Backward(Dy, X, n, c, h * w, g, mean, rstd, affine ? W : null, affine ? B : null, silu);
        if (affine)
            FiniteDiff.Check(inp => GroupNormReference.Forward(inp[0], n, c, h * w, g, inp[1], inp[2], eps, out _, out _, silu),
                [X, W, B], Dy, [dx, dw, db], atol: 1e-6, what: $"groupnorm twin{(silu ? " + silu" : "")}");
        else
            FiniteDiff.Check(inp => GroupNormReference.Forward(inp[0], n, c, h * w, g, null, null, eps, out _, out _, silu),
                [X], Dy, [dx], atol: 1e-6, what: $"groupnorm twin (no affine){(silu ? " + silu" : "")}");
    }

    [Test]
    public void BadShapes_GiveClearErrors()
    {
        var dev = Device.Cpu;
        using var x = Seeded.Tensor(dev, 1, 2, 6, 3, 3);
        using var w = Seeded.Tensor(dev, 2, 6);
        using var b = Seeded.Tensor(dev, 3, 6);
        using var w5 = Seeded.Tensor(dev, 4, 5);
        using var x3 = Seeded.Tensor(dev, 5, 6, 3, 3);

        void Throws(Action act, params string[] parts)
        {
            var e = Assert.Throws<ArgumentException>(() => act())!;
            foreach (var s in parts) Assert.That(e.Message, Does.Contain(s));
        }
        Throws(() => GroupNorm.Forward(x, 4, w, b, Eps, out _, out _).Dispose(), "GroupNorm.Forward", "groups", "[2, 6, 3, 3]", "4");
        Throws(() => GroupNorm.Forward(x, 0, w, b, Eps, out _, out _).Dispose(), "GroupNorm.Forward", "groups");
        Throws(() => GroupNorm.Forward(x3, 3, w, b, Eps, out _, out _).Dispose(), "GroupNorm.Forward", "rank 4", "[6, 3, 3]");
        Throws(() => GroupNorm.Forward(x, 3, w5, b, Eps, out _, out _).Dispose(), "GroupNorm.Forward", "weight", "[5]", "[6]");
        Throws(() => GroupNorm.Forward(x, 3, w, null, Eps, out _, out _).Dispose(), "GroupNorm.Forward", "bias");

        using var y = GroupNorm.Forward(x, 3, w, b, Eps, out var mean, out var rstd);
        using var _m = mean; using var _r = rstd;
        using var dyBad = Seeded.Tensor(dev, 6, 2, 6, 3, 2);
        Throws(() => GroupNorm.Backward(dyBad, x, mean, rstd, w, 3), "GroupNorm.Backward", "dy", "[2, 6, 3, 2]", "[2, 6, 3, 3]");
        Throws(() => GroupNorm.Backward(x, x, mean, rstd, w, 2), "GroupNorm.Backward", "mean", "[2, 2]", "[2, 3]");
    }
}
