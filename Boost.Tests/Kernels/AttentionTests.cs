using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Boost.Kernels.Cpu;
using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class AttentionTests
{
    /// <summary>(B, H, Tq, Tk, D): one head, three heads, rows that are not multiples of any tile, Tq ≠ Tk.</summary>
    private static readonly int[][] SmallCases =
    [
        [1, 1, 1, 1, 3],
        [1, 3, 5, 5, 8],
        [3, 1, 13, 13, 17],
        [1, 1, 5, 13, 8],
        [1, 2, 13, 1, 3],
    ];

    /// <summary>UNet-like shapes (8×8 and a ragged 257 tokens) for the backends that are not the simulator.</summary>
    private static readonly int[][] LargeCases =
    [
        [1, 2, 64, 64, 64],
        [2, 1, 257, 257, 64],
        [1, 1, 100, 257, 128],
    ];

    private static readonly string[] FastBackends = [Backends.Cpu, Backends.Cuda];

    [Test]
    public void SmallShapes_MatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend, [Values(0, 1, 2, 3, 4)] int c)
        => RunAndCompare(Backends.Get(backend), SmallCases[c], seed: 10 + c, magnitude: 1f, scale: 1f / MathF.Sqrt(SmallCases[c][4]));

    [Test]
    public void LargeShapes_MatchTwin([ValueSource(nameof(FastBackends))] string backend, [Values(0, 1, 2)] int c)
        => RunAndCompare(Backends.Get(backend), LargeCases[c], seed: 20 + c, magnitude: 1f, scale: 1f / MathF.Sqrt(LargeCases[c][4]));

    /// <summary>Inputs in [-8, 8] and scale 1: scores reach past 88, where exp overflows in float, so only a
    /// max-subtracted (online, on the GPU) softmax survives; the key tiles change the running max as they stream.</summary>
    [Test]
    public void LargeMagnitudes_StayFinite_AndMatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
        => RunAndCompare(Backends.Get(backend), [1, 2, 13, 13, 17], seed: 30, magnitude: 4f, scale: 1f, minMaxScore: 88);

    [Test]
    public void TwinBackward_MatchesFiniteDifferences()
    {
        const int heads = 2, tq = 3, tk = 4, d = 3;
        const double scale = 0.7;
        var q = Seeded.ToDouble(Seeded.Floats(1, heads * tq * d));
        var k = Seeded.ToDouble(Seeded.Floats(2, heads * tk * d));
        var v = Seeded.ToDouble(Seeded.Floats(3, heads * tk * d));
        var w = FiniteDiff.Weights(4, heads * tq * d);
        var (dq, dk, dv) = AttentionReference.Backward(w, q, k, v, heads, tq, tk, d, scale);
        FiniteDiff.Check(x => AttentionReference.Forward(x[0], x[1], x[2], heads, tq, tk, d, scale, out _), [q, k, v], w, [dq, dk, dv],
            what: "attention twin");
    }

    /// <summary>The managed softmax's exp (x ≤ 0, float polynomial) against double exp: 200,000 values over [−100, 0]
    /// (each with a margin of the scaling), the edges of its range, −0, −∞ and NaN.</summary>
    [Test]
    public void Cpu_ExpNonPositive_MatchesDoubleExp()
    {
        if (!Fma.IsSupported) Assert.Ignore("the polynomial exp runs on FMA machines; elsewhere the softmax calls MathF.Exp");
        var rng = new Random(5);
        var xs = Enumerable.Range(0, 200_000).Select(_ => (float)(-100 * rng.NextDouble()))
            .Concat([0f, -0f, -1e-30f, -0.34657359f, -0.34657360f, -87.29f, -87.3f, -87.31f, float.NegativeInfinity, -1e30f]).ToList();
        while (xs.Count % 8 != 0) xs.Add(-1f);
        double worst = 0;
        for (int i = 0; i < xs.Count; i += 8)
        {
            var got = AttentionCpu.ExpNonPositive(Vector256.Create(xs.GetRange(i, 8).ToArray()));
            for (int l = 0; l < 8; l++)
            {
                float x = xs[i + l], e = got[l];
                double want = Math.Exp(x);
                if (x < -87.3f) { Assert.That(e, Is.EqualTo(0f), $"exp({x}) below the normal range"); continue; }
                double rel = Math.Abs(e - want) / want;
                worst = Math.Max(worst, rel);
                Assert.That(rel, Is.LessThan(3e-7), $"exp({x:R}) = {e:R}, want {want:R}");
            }
        }
        Assert.That(float.IsNaN(AttentionCpu.ExpNonPositive(Vector256.Create(float.NaN))[3]), Is.True, "NaN in, NaN out");
        TestContext.Out.WriteLine($"worst relative error {worst:E2}");
    }

    [Test]
    public void BadShapes_GiveClearErrors()
    {
        var cpu = Device.Cpu;
        using var q = Tensor.Full(cpu, 0.5f, 1, 2, 5, 8);
        using var k = Tensor.Full(cpu, 0.5f, 1, 2, 7, 8);
        using var kWrongD = Tensor.Full(cpu, 0.5f, 1, 2, 7, 4);
        using var kWrongH = Tensor.Full(cpu, 0.5f, 1, 3, 7, 8);
        using var q3 = Tensor.Full(cpu, 0.5f, 2, 5, 8);
        using var lseBad = Tensor.Full(cpu, 0.5f, 1, 2, 7);

        Assert.That(Assert.Throws<ArgumentException>(() => Attention.Forward(q3, k, k, 1f, out _).Dispose())!.Message,
            Does.Contain("Attention.Forward").And.Contain("[2, 5, 8]"));
        Assert.That(Assert.Throws<ArgumentException>(() => Attention.Forward(q, kWrongD, kWrongD, 1f, out _).Dispose())!.Message,
            Does.Contain("[1, 2, 5, 8]").And.Contain("[1, 2, 7, 4]"));
        Assert.That(Assert.Throws<ArgumentException>(() => Attention.Forward(q, kWrongH, kWrongH, 1f, out _).Dispose())!.Message,
            Does.Contain("[1, 3, 7, 8]"));
        Assert.That(Assert.Throws<ArgumentException>(() => Attention.Forward(q, k, kWrongD, 1f, out _).Dispose())!.Message,
            Does.Contain("v").And.Contain("[1, 2, 7, 4]"));
        Assert.That(Assert.Throws<ArgumentException>(() => Attention.Backward(q, q, k, k, q, lseBad, 1f))!.Message,
            Does.Contain("Attention.Backward").And.Contain("lse").And.Contain("[1, 2, 7]"));
        Assert.That(Assert.Throws<ArgumentException>(() => Attention.Backward(k, q, k, k, q, lseBad, 1f))!.Message,
            Does.Contain("dO"));

        var sim = Backends.Get(Backends.Sim);
        using var qBig = Tensor.Full(sim, 0.5f, 1, 1, 2, 300);
        Assert.That(Assert.Throws<ArgumentException>(() => Attention.Forward(qBig, qBig, qBig, 1f, out _).Dispose())!.Message,
            Does.Contain("D = 300"));
    }

    /// <summary>Every GPU tile must fit CUDA's 48 KiB of static shared memory and use whole warps; the simulator's
    /// tile must stay within its 16 threads per group.</summary>
    [Test]
    public void Tiles_FitTheirDevices()
    {
        foreach (var (name, f) in new[]
        {
            ("D64", Attention.Footprint<AttentionTileD64>()),
            ("D128", Attention.Footprint<AttentionTileD128>()),
            ("D256", Attention.Footprint<AttentionTileD256>()),
        })
        {
            Assert.That(Math.Max(f.forward, Math.Max(f.backwardKV, f.backwardQ)) * sizeof(float), Is.LessThanOrEqualTo(48 * 1024), $"{name} shared memory");
            Assert.That(f.threadsQ % 32, Is.Zero, $"{name} query-group threads"); Assert.That(f.threadsK % 32, Is.Zero, $"{name} key-group threads");
            Assert.That(Math.Max(f.threadsQ, f.threadsK), Is.LessThanOrEqualTo(1024), $"{name} threads");
        }
        var sim = Attention.Footprint<AttentionTileSim>();
        var dev = (IlgpuDevice)Backends.Get(Backends.Sim);
        Assert.That(Math.Max(sim.threadsQ, sim.threadsK), Is.LessThanOrEqualTo(dev.Accelerator.MaxNumThreadsPerGroup), "simulator threads");
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Forward (O, LSE) and backward (dq, dk, dv) on <paramref name="dev"/> against the double twin.</summary>
    internal static void RunAndCompare(Device dev, int[] c, int seed, float magnitude, float scale, double minMaxScore = double.NegativeInfinity)
    {
        int B = c[0], H = c[1], tq = c[2], tk = c[3], d = c[4], heads = B * H;
        float[] Gen(int s, int n) => Array.ConvertAll(Seeded.Floats(s, n), x => x * magnitude);
        var qd = Gen(seed, heads * tq * d); var kd = Gen(seed + 100, heads * tk * d); var vd = Gen(seed + 200, heads * tk * d);
        var gd = Seeded.Floats(seed + 300, heads * tq * d);
        using var q = Seeded.Tensor(dev, qd, B, H, tq, d);
        using var k = Seeded.Tensor(dev, kd, B, H, tk, d);
        using var v = Seeded.Tensor(dev, vd, B, H, tk, d);
        using var dO = Seeded.Tensor(dev, gd, B, H, tq, d);

        var Q = Seeded.ToDouble(qd); var K = Seeded.ToDouble(kd); var V = Seeded.ToDouble(vd); var G = Seeded.ToDouble(gd);
        var wantO = AttentionReference.Forward(Q, K, V, heads, tq, tk, d, scale, out var wantLse);
        var (wantDq, wantDk, wantDv) = AttentionReference.Backward(G, Q, K, V, heads, tq, tk, d, scale);
        Assert.That(wantLse.Max(), Is.GreaterThan(minMaxScore), "test data: scores not large enough to overflow a naive softmax");

        using var o = Attention.Forward(q, k, v, scale, out var lseT);
        using var lse = lseT;
        Assert.That(o.Shape, Is.EqualTo(new[] { B, H, tq, d }));
        Assert.That(lse.Shape, Is.EqualTo(new[] { B, H, tq }));
        string at = $"{dev.Kind} {Tensor.Format(c)}";
        // Float scores carry an absolute error ~ 1e-7·|s|; it becomes a relative error of P, hence the score-scaled atol.
        double scoreScale = Math.Max(1, magnitude * magnitude * d * scale);
        Compare.Close(o.ToArray(), wantO, rtol: 1e-4, atol: 1e-5 * scoreScale * magnitude, what: $"{at} O");
        Compare.Close(lse.ToArray(), wantLse, rtol: 1e-4, atol: 1e-5 * scoreScale, what: $"{at} LSE");

        var (dq, dk, dv) = Attention.Backward(dO, q, k, v, o, lse, scale);
        using (dq) using (dk) using (dv)
        {
            Compare.Close(dq.ToArray(), wantDq, rtol: 1e-4, atol: GradAtol(wantDq, scoreScale, magnitude), what: $"{at} dq");
            Compare.Close(dk.ToArray(), wantDk, rtol: 1e-4, atol: GradAtol(wantDk, scoreScale, magnitude), what: $"{at} dk");
            Compare.Close(dv.ToArray(), wantDv, rtol: 1e-4, atol: GradAtol(wantDv, scoreScale, magnitude), what: $"{at} dv");
        }
    }

    /// <summary>Gradients sum many signed terms and can cancel to ~0: the absolute slack scales with the largest one.</summary>
    /// <summary>
    /// The rounding of a gradient scales with the products it sums (|dO|·|V|·|K|·scale), not with its own size: with a
    /// single key dq cancels to exactly 0 while its float terms do not. Hence the floor at the input magnitude.
    /// </summary>
    private static double GradAtol(double[] want, double scoreScale, float magnitude)
    {
        double max = 0; foreach (var x in want) max = Math.Max(max, Math.Abs(x));
        return 1e-5 * scoreScale * Math.Max(max, magnitude);
    }
}
