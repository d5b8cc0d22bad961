using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class ReduceTests
{
    private static readonly object[] Cases =
    [
        new object[] { new[] { 2, 3, 5, 7 }, new[] { 0, 2, 3 } },   // bias gradient: over N, H, W
        new object[] { new[] { 2, 3, 5, 7 }, new[] { 2, 3 } },      // over H, W
        new object[] { new[] { 1, 5, 9 }, new[] { 1 } },            // a middle axis
        new object[] { new[] { 3, 4, 5, 6 }, new[] { 0, 1, 2, 3 } },// everything
        new object[] { new[] { 37 }, new[] { 0 } },
        new object[] { new[] { 1, 70000 }, new[] { 1 } },           // long: the two-pass path
        new object[] { new[] { 37, 41, 7, 7 }, new[] { 0, 1, 2, 3 } }, // long and contiguous, short last dim: split by elements
        new object[] { new[] { 2, 3, 29, 37 }, new[] { 2, 3 } },    // contiguous runs of 1073: SIMD lanes, flushed every 512, tails
        new object[] { new[] { 5, 3, 1 }, new[] { 1, 2 } },         // runs of 3: shorter than a SIMD vector
        new object[] { new[] { 3, 4, 29, 37 }, new[] { 0, 2, 3 } }, // over N, H, W: contiguous runs of 1073 at strides of 4·1073
    ];

    [Category("EveryBackend")] // loops over the backends itself (CUDA where present): the GPU runner selects it by this
    [TestCaseSource(nameof(Cases))]
    public void Sum_MatchesTwin(int[] shape, int[] axes)
    {
        foreach (var backend in Backends.All.Where(b => b != Backends.Cuda || Device.CudaDeviceCount() > 0))
        {
            var dev = Backends.Get(backend);
            var xd = Seeded.Floats(7, Tensor.Count(shape));
            using var x = Seeded.Tensor(dev, xd, shape);
            using var y = Reduce.Sum(x, axes);
            var want = MiscReference.Sum(Seeded.ToDouble(xd), shape, axes);
            Compare.Close(y.ToArray(), want, rtol: 1e-4, atol: 1e-5 * Math.Sqrt(Tensor.Count(shape)), what: $"{backend} sum");
            using var mean = Reduce.Mean(x, axes, keepDims: true);
            Assert.That(mean.Rank, Is.EqualTo(shape.Length), "keepDims");
            double count = axes.Aggregate(1.0, (c, ax) => c * shape[ax]);
            Compare.Close(mean.ToArray(), want.Select(v => v / count).ToArray(), rtol: 1e-4, atol: 1e-5, what: $"{backend} mean");
        }
    }

    [Test]
    public void SumTo_IsTheBroadcastGradient([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        int[] shape = [2, 3, 5, 7];
        var gd = Seeded.Floats(8, Tensor.Count(shape));
        using var g = Seeded.Tensor(dev, gd, shape);
        foreach (var target in new[] { new[] { 2, 3, 1, 1 }, new[] { 3, 1, 1 }, new[] { 7 }, new[] { 1, 3, 5, 1 }, shape })
        {
            using var s = Reduce.SumTo(g, target);
            Assert.That(s.Shape, Is.EqualTo(target));
            Compare.Close(s.ToArray(), ElementwiseReference.SumToShape(Seeded.ToDouble(gd), shape, target), atol: 1e-4, what: $"sumTo {Tensor.Format(target)}");
        }
        Assert.Throws<ArgumentException>(() => Reduce.SumTo(g, [4, 1, 1]).Dispose());
    }

    [Test]
    public void MseLoss_AndBackward_MatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        int[] shape = [3, 4, 5, 7];
        var ad = Seeded.Floats(9, Tensor.Count(shape)); var bd = Seeded.Floats(10, Tensor.Count(shape));
        using var a = Seeded.Tensor(dev, ad, shape);
        using var b = Seeded.Tensor(dev, bd, shape);
        using var loss = Reduce.MseLoss(a, b);
        var A = Seeded.ToDouble(ad); var B = Seeded.ToDouble(bd);
        Compare.Close(loss.ToArray(), [MiscReference.Mse(A, B)], what: "mse");
        using var ga = Reduce.MseLossBackward(a, b, 1f);
        var want = MiscReference.MseGrad(A, B);
        Compare.Close(ga.ToArray(), want, what: "mse grad");
        FiniteDiff.Check(inp => [MiscReference.Mse(inp[0], inp[1])], [A, B], [1.0], [want, want.Select(v => -v).ToArray()], what: "mse twin");
        Assert.Throws<ArgumentException>(() => Reduce.MseLoss(a, Tensor.Zeros(dev, 3, 4, 5)).Dispose());
    }

    [Test]
    public void SumOfSquares_AndDot([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        var xd = Seeded.Floats(11, 1001); var zd = Seeded.Floats(12, 1001);
        using var x = Seeded.Tensor(dev, xd, 7, 11, 13);
        using var z = Seeded.Tensor(dev, zd, 7, 11, 13);
        using var ss = Reduce.SumOfSquares(x);
        using var dot = Reduce.Dot(x, z);
        Compare.Close(ss.ToArray(), [xd.Sum(v => (double)v * v)], what: "sum of squares");
        Compare.Close(dot.ToArray(), [xd.Zip(zd, (p, q) => (double)p * q).Sum()], atol: 1e-4, what: "dot");
    }
}

public class RngTests
{
    /// <summary>Uniform words are exact on every device: the same bits as the double twin.</summary>
    [Test]
    public void Uniform_IsTheSameOnEveryDevice([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        using var u = Rng.Uniform(dev, seed: 0x1234_5678_9ABCUL, stream: 7, [3, 5, 7]);
        var want = MiscReference.Uniform(0x1234_5678_9ABCUL, 7, 105);
        Assert.That(u.ToArray().Select(v => (double)v), Is.EqualTo(want), "uniform values differ from the twin");
        Assert.That(want.Min(), Is.GreaterThan(0)); Assert.That(want.Max(), Is.LessThan(1));
    }

    [Test]
    public void Normal_MatchesTwin_AndHasTheRightMoments([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        int n = Backends.IsSlow(dev) ? 4099 : 200_003;
        using var z = Rng.Normal(dev, 42, 3, [n]);
        var got = z.ToArray();
        var want = MiscReference.Normal(42, 3, n);
        Compare.Close(got, want, rtol: 1e-4, atol: 2e-5, what: "normal vs twin");
        double mean = got.Average(v => (double)v), var = got.Average(v => (double)v * v) - mean * mean;
        Assert.That(mean, Is.EqualTo(0).Within(5 / Math.Sqrt(n)));
        Assert.That(var, Is.EqualTo(1).Within(8 / Math.Sqrt(n)));
        using var other = Rng.Normal(dev, 42, 4, [n]);
        Assert.That(other.ToArray(), Is.Not.EqualTo(got), "another stream must give other numbers");
    }

    /// <summary>Box–Muller's ln u over every uniform the generator can give near 1 (the last 2^16 grid points,
    /// where ln u → 0 and an approximate log loses all relative accuracy) and a spread below: within 4e-7 relative
    /// of double.</summary>
    [Test]
    public void LnUnit_IsAccurateRelativeToDouble_NearOneToo()
    {
        double worst = 0; float worstAt = 0;
        void Check(uint word)
        {
            float u = Rng.ToUnit(word);
            double want = Math.Log(u), got = Rng.LnUnit(u), rel = Math.Abs(got - want) / Math.Abs(want);
            if (!(rel <= worst)) { worst = rel; worstAt = u; }
        }
        for (uint k = 0; k < 1 << 16; k++) Check(uint.MaxValue - (k << 9));
        var rng = new Random(5);
        for (int i = 0; i < 200_000; i++) Check((uint)rng.NextInt64(0, 1L << 32));
        Assert.That(worst, Is.LessThan(4e-7), $"worst relative error at u = {worstAt:R}");
    }
}

public class OptimTests
{
    [Test]
    public void AdamW_ThreeSteps_MatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        int n = 257;
        var pd = Seeded.Floats(1, n); var md = Seeded.Floats(2, n, 0f, 0f);
        using var p = Seeded.Tensor(dev, pd, n);
        using var m = Tensor.Zeros(dev, n); using var v = Tensor.Zeros(dev, n);
        double[] P = Seeded.ToDouble(pd), M = new double[n], V = new double[n];
        for (int step = 1; step <= 3; step++)
        {
            var gd = Seeded.Floats(10 + step, n);
            using var g = Seeded.Tensor(dev, gd, n);
            Optim.AdamW(p, g, m, v, AdamWParams.At(step, lr: 1e-2f, weightDecay: 0.1f, gradScale: 0.5f));
            MiscReference.AdamW(P, Seeded.ToDouble(gd), M, V, step, 1e-2, 0.9, 0.999, 1e-8, 0.1, 0.5);
        }
        Compare.Close(p.ToArray(), P, rtol: 1e-5, atol: 1e-6, what: "param");
        Compare.Close(m.ToArray(), M, rtol: 1e-5, atol: 1e-6, what: "exp_avg");
        Compare.Close(v.ToArray(), V, rtol: 1e-5, atol: 1e-7, what: "exp_avg_sq");
    }

    /// <summary>The managed AdamW runs the scalar update in SIMD lanes, split across the cores: over a length with
    /// two chunks and ragged tails it must give exactly the scalar update's bits (no fused multiply-adds).</summary>
    [Test]
    public void AdamW_Cpu_LanesMatchScalarBitForBit()
    {
        int n = 70001;
        var pd = Seeded.Floats(21, n); var gd = Seeded.Floats(22, n); var md = Seeded.Floats(23, n, -0.1f, 0.1f); var vd = Seeded.Floats(24, n, 0f, 0.1f);
        using var p = Seeded.Tensor(Device.Cpu, pd, n); using var g = Seeded.Tensor(Device.Cpu, gd, n);
        using var m = Seeded.Tensor(Device.Cpu, md, n); using var v = Seeded.Tensor(Device.Cpu, vd, n);
        var h = AdamWParams.At(7, lr: 3e-3f, weightDecay: 0.05f, gradScale: 0.7f);
        Optim.AdamW(p, g, m, v, h);
        float[] P = (float[])pd.Clone(), M = (float[])md.Clone(), V = (float[])vd.Clone();
        for (int i = 0; i < n; i++) Optim.AdamWUpdate(ref P[i], gd[i], ref M[i], ref V[i], h);
        Assert.That(p.ToArray(), Is.EqualTo(P), "param");
        Assert.That(m.ToArray(), Is.EqualTo(M), "exp_avg");
        Assert.That(v.ToArray(), Is.EqualTo(V), "exp_avg_sq");
        Assert.That(P, Is.Not.EqualTo(pd), "the step must move the parameters");
    }

    [Test]
    public void Ema_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        var ed = Seeded.Floats(3, 99); var pd = Seeded.Floats(4, 99);
        using var e = Seeded.Tensor(dev, ed, 9, 11);
        using var p = Seeded.Tensor(dev, pd, 9, 11);
        Optim.Ema(e, p, 0.999f);
        var E = Seeded.ToDouble(ed); MiscReference.Ema(E, Seeded.ToDouble(pd), 0.999);
        Compare.Close(e.ToArray(), E, rtol: 1e-6, atol: 1e-7, what: "ema");
        Assert.Throws<ArgumentException>(() => Optim.Ema(e, Tensor.Zeros(dev, 99), 0.9f));
    }
}
