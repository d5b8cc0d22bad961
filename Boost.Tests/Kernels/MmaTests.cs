using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;
using ILGPU;
using ILGPU.Runtime;

namespace Boost.Tests.Kernels;

/// <summary>
/// The TF32 tensor-core path (<see cref="MmaGemm"/>) on the NVIDIA-shaped simulator, where <see cref="MmaEmulated"/>
/// stands in for the instruction: the rounding, one warp step against the fragment layout the PTX ISA documents, and
/// the tiled GEMM and convolutions against double twins of TF32-rounded inputs (tight: only FP32 accumulation
/// differs), which also must differ from the full-precision twin (the rounding really happened). The instruction
/// itself (<see cref="MmaPtx"/>) is in the PTX audit and runs on a GPU in the device script.
/// </summary>
[Category("NvidiaSim")]
public class MmaTests
{
    private static IlgpuDevice Dev => (IlgpuDevice)Backends.Get(Backends.NvidiaSim);

    private static double[] RoundTf32(float[] x) => Array.ConvertAll(x, v => (double)Tf32.RoundToFloat(v));

    /// <summary>Runs <paramref name="body"/> with the simulator's GEMMs on the emulated tensor cores.</summary>
    private static void WithTf32(Action<IlgpuDevice> body)
    {
        var dev = Dev;
        dev.Precision = MatmulPrecision.Tf32;
        try { body(dev); }
        finally { dev.Precision = MatmulPrecision.Fp32; }
    }

    [Test]
    public void Tf32Round_KeepsTenMantissaBits_TiesAwayFromZero()
    {
        float ulp = MathF.Pow(2, -10);
        Assert.That(Tf32.RoundToFloat(1f + ulp), Is.EqualTo(1f + ulp), "representable");
        Assert.That(Tf32.RoundToFloat(1f + ulp / 2), Is.EqualTo(1f + ulp), "a tie rounds away from zero");
        Assert.That(Tf32.RoundToFloat(-(1f + ulp / 2)), Is.EqualTo(-(1f + ulp)), "symmetric");
        Assert.That(Tf32.RoundToFloat(1f + ulp / 2 - MathF.Pow(2, -23)), Is.EqualTo(1f), "below the tie");
        Assert.That(Tf32.RoundToFloat(1f + 3 * ulp / 4), Is.EqualTo(1f + ulp));
        Assert.That(float.IsPositiveInfinity(Tf32.RoundToFloat(float.PositiveInfinity)), Is.True);
        Assert.That(float.IsNaN(Tf32.RoundToFloat(float.NaN)), Is.True);
        foreach (float v in Seeded.Floats(3, 1000))
        {
            float r = Tf32.RoundToFloat(v);
            Assert.That(BitConverter.SingleToUInt32Bits(r) & 0x1FFFu, Is.Zero, "low 13 bits clear");
            Assert.That(Math.Abs(r - v), Is.LessThanOrEqualTo(Math.Abs(v) * MathF.Pow(2, -11) * 1.0001), $"{v} → {r}");
        }
    }

    /// <summary>One warp: lane l loads its fragments of A [16, 8], B [8, 8] (column-major) and C [16, 8] by the PTX
    /// ISA's formulas, steps once, and stores D by the same formulas.</summary>
    private static void OneStepKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
        float d0 = c[g * 8 + 2 * t], d1 = c[g * 8 + 2 * t + 1], d2 = c[(g + 8) * 8 + 2 * t], d3 = c[(g + 8) * 8 + 2 * t + 1];
        default(MmaEmulated).Step(ref d0, ref d1, ref d2, ref d3,
            Tf32.Round(a[g * 8 + t]), Tf32.Round(a[(g + 8) * 8 + t]), Tf32.Round(a[g * 8 + t + 4]), Tf32.Round(a[(g + 8) * 8 + t + 4]),
            Tf32.Round(b[t * 8 + g]), Tf32.Round(b[(t + 4) * 8 + g]));
        d[g * 8 + 2 * t] = d0; d[g * 8 + 2 * t + 1] = d1; d[(g + 8) * 8 + 2 * t] = d2; d[(g + 8) * 8 + 2 * t + 1] = d3;
    }

    [Test]
    public void EmulatedStep_OneWarp_MatchesTheTf32Twin()
    {
        var dev = Dev;
        float[] a = Seeded.Floats(31, 128), b = Seeded.Floats(32, 64), c = Seeded.Floats(33, 128);
        using var ta = Tensor.FromArray(dev, a, 16, 8);
        using var tb = Tensor.FromArray(dev, b, 8, 8);
        using var tc = Tensor.FromArray(dev, c, 16, 8);
        using var td = Tensor.Full(dev, float.NaN, 16, 8);
        var k = dev.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OneStepKernel);
        k(new KernelConfig(1, 32), ta.View, tb.View, tc.View, td.View);
        double[] ra = RoundTf32(a), rb = RoundTf32(b);
        var want = new double[128];
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
            {
                double s = c[i * 8 + j];
                for (int q = 0; q < 8; q++) s += ra[i * 8 + q] * rb[q * 8 + j];
                want[i * 8 + j] = s;
            }
        Compare.Close(td.ToArray(), want, rtol: 0, atol: 1e-5, what: "D = C + A·B");
    }

    private const string Full = "NvidiaSimFull";
    private const string Slow = "minutes on ILGPU's NVIDIA-shaped CPU simulator, where every emulated warp shuffle is an OS-thread barrier: run on demand (TestCategory=NvidiaSimFull)";

    /// <summary>CI's case: two column tiles (the second one column wide), a short row tile, two K chunks (the second
    /// partial).</summary>
    [Test]
    public void Gemm_Tf32_MatchesTf32Twin() => GemmMatchesTf32Twin(20, 65, 21, transA: false, transB: true);

    [Test, Category(Full), Explicit(Slow)]
    public void Gemm_Tf32_Full_MatchesTf32Twin([Values(false, true)] bool transA, [Values(false, true)] bool transB)
        => GemmMatchesTf32Twin(70, 65, 37, transA, transB); // one past a 64 tile, K not a multiple of 8 or 16

    private static void GemmMatchesTf32Twin(int M, int N, int K, bool transA, bool transB)
        => WithTf32(dev =>
        {
            int[] aShape = transA ? [K, M] : [M, K], bShape = transB ? [N, K] : [K, N];
            var ad = Seeded.Floats(41, M * K); var bd = Seeded.Floats(42, K * N);
            using var a = Seeded.Tensor(dev, ad, aShape);
            using var b = Seeded.Tensor(dev, bd, bShape);
            using var y = MatMul.Gemm(a, b, transA, transB, alpha: 0.75f);
            var got = y.ToArray();
            var want = MatMulReference.Gemm(RoundTf32(ad), aShape, RoundTf32(bd), bShape, transA, transB, out _, alpha: 0.75);
            Compare.Close(got, want, rtol: 0, atol: 1e-5 * K * 4, what: "TF32 GEMM");
            var exact = MatMulReference.Gemm(Seeded.ToDouble(ad), aShape, Seeded.ToDouble(bd), bShape, transA, transB, out _, alpha: 0.75);
            double worst = got.Select((v, i) => Math.Abs(v - exact[i])).Max();
            Assert.That(worst, Is.GreaterThan(1e-4), "the products must see TF32 inputs, not FP32 ones");
        });

    [Test, Category(Full), Explicit(Slow)]
    public void Conv_Tf32_ForwardAndGradients_MatchTf32Twins()
        => WithTf32(dev =>
        {
            // conv_in's shape class: 8 input channels (72 GEMM columns for dW), an odd map, 3×3, batch 2 (dW slices).
            int n = 2, cin = 8, h = 9, w = 11, cout = 67, k = 3, s = 1, p = 1;
            int ho = Conv2d.OutputSize(h, k, s, p), wo = Conv2d.OutputSize(w, k, s, p);
            int[] xs = [n, cin, h, w], ws = [cout, cin, k, k], ys = [n, cout, ho, wo];
            var xd = Seeded.Floats(51, Tensor.Count(xs)); var wd = Seeded.Floats(52, Tensor.Count(ws));
            var bd = Seeded.Floats(53, cout); var gd = Seeded.Floats(54, Tensor.Count(ys));
            using var x = Seeded.Tensor(dev, xd, xs);
            using var wt = Seeded.Tensor(dev, wd, ws);
            using var b = Seeded.Tensor(dev, bd, cout);
            using var dy = Seeded.Tensor(dev, gd, ys);
            double[] X = RoundTf32(xd), W = RoundTf32(wd), G = RoundTf32(gd);
            using (var y = Conv2d.Forward(x, wt, b, s, p))
                Compare.Close(y.ToArray(), Conv2dReference.Forward(X, xs, W, ws, Seeded.ToDouble(bd), s, p, out _), rtol: 0, atol: 4e-5 * cin * k * k, what: "forward");
            using (var dx = Conv2d.BackwardInput(dy, wt, xs, s, p))
                Compare.Close(dx.ToArray(), Conv2dReference.BackwardInput(G, W, xs, ws, s, p), rtol: 0, atol: 4e-5 * cout * k * k, what: "dx");
            using (var dw = Conv2d.BackwardWeight(dy, x, k, s, p))
                Compare.Close(dw.ToArray(), Conv2dReference.BackwardWeight(G, X, xs, ws, s, p), rtol: 0, atol: 4e-5 * n * ho * wo, what: "dw");
        });

    [Test]
    public void Tf32_IsRefusedWithoutTheCudaTiles()
    {
        var small = (IlgpuDevice)Backends.Get(Backends.Sim);
        var e = Assert.Throws<InvalidOperationException>(() => small.Precision = MatmulPrecision.Tf32);
        Assert.That(e!.Message, Does.Contain("TF32"));
        Assert.That(small.Precision, Is.EqualTo(MatmulPrecision.Fp32));
    }
}
