using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using Device = Boost.Kernels.Device;

namespace Boost.Tests.Kernels;

/// <summary>
/// The TF32 and BF16 tensor-core paths (<see cref="MmaGemm"/>) on the NVIDIA-shaped simulator, where
/// <see cref="MmaEmulated"/> and <see cref="MmaEmulatedBf16"/> stand in for the instructions: the rounding, one warp
/// step against the fragment layout the PTX ISA documents, and the tiled GEMM and convolutions against double twins
/// of rounded inputs (tight: only FP32 accumulation differs), which also must differ from the full-precision twin (the
/// rounding really happened). The instructions themselves (<see cref="MmaPtx"/>, <see cref="MmaPtxBf16"/>) are in the
/// PTX audit and run on a GPU in the device script.
/// </summary>
[Category("NvidiaSim")]
public class MmaTests
{
    private static IlgpuDevice Dev => (IlgpuDevice)Backends.Get(Backends.NvidiaSim);

    /// <summary>x as the tensor cores read it at precision <paramref name="p"/>, in double.</summary>
    internal static double[] Rounded(MatmulPrecision p, float[] x)
        => Array.ConvertAll(x, v => (double)(p == MatmulPrecision.Bf16 ? Bf16.RoundToFloat(v) : p == MatmulPrecision.Tf32 ? Tf32.RoundToFloat(v) : v));

    /// <summary>Runs <paramref name="body"/> with <paramref name="dev"/>'s GEMMs at precision <paramref name="p"/>.</summary>
    internal static void With<TDevice>(TDevice dev, MatmulPrecision p, Action<TDevice> body) where TDevice : Device
    {
        dev.Precision = p;
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

    [Test]
    public void Bf16Round_KeepsSevenMantissaBits_TiesToEven()
    {
        float ulp = MathF.Pow(2, -7);
        Assert.That(Bf16.RoundToFloat(1f + ulp), Is.EqualTo(1f + ulp), "representable");
        Assert.That(Bf16.RoundToFloat(1f + ulp / 2), Is.EqualTo(1f), "a tie rounds to the even neighbour (down)");
        Assert.That(Bf16.RoundToFloat(1f + 3 * ulp / 2), Is.EqualTo(1f + 2 * ulp), "a tie rounds to the even neighbour (up)");
        Assert.That(Bf16.RoundToFloat(-(1f + 3 * ulp / 2)), Is.EqualTo(-(1f + 2 * ulp)), "symmetric");
        Assert.That(Bf16.RoundToFloat(1f + ulp / 2 + MathF.Pow(2, -23)), Is.EqualTo(1f + ulp), "above the tie");
        Assert.That(float.IsPositiveInfinity(Bf16.RoundToFloat(float.MaxValue)), Is.True, "past the largest BF16");
        Assert.That(float.IsNegativeInfinity(Bf16.RoundToFloat(float.NegativeInfinity)), Is.True);
        Assert.That(float.IsNaN(Bf16.RoundToFloat(float.NaN)), Is.True);
        Assert.That(float.IsNaN(Bf16.RoundToFloat(BitConverter.UInt32BitsToSingle(0x7F800001u))), Is.True, "a NaN whose payload sits in the low half");
        Assert.That(Bf16.Pack(1f, -2f), Is.EqualTo(0xC000_3F80u), "the first value in the low half");
        Assert.That((Bf16.Half(0xC000_3F80u, 0), Bf16.Half(0xC000_3F80u, 1)), Is.EqualTo((1f, -2f)));
        foreach (float v in Seeded.Floats(4, 1000))
        {
            float r = Bf16.RoundToFloat(v);
            Assert.That(BitConverter.SingleToUInt32Bits(r) & 0xFFFFu, Is.Zero, "low 16 bits clear");
            Assert.That(Math.Abs(r - v), Is.LessThanOrEqualTo(Math.Abs(v) * MathF.Pow(2, -8) * 1.0001), $"{v} → {r}");
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
    public void EmulatedStep_OneWarp_MatchesTheTf32Twin() => OneWarpMatchesTwin(OneStepKernel, MatmulPrecision.Tf32, depth: 8, seed: 31);

    /// <summary>One warp, BF16: A [16, 16], B [16, 8] (column-major) and C [16, 8] in the m16n8k16 fragments.</summary>
    private static void OneStepBf16Kernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3, k = 2 * t;
        float d0 = c[g * 8 + 2 * t], d1 = c[g * 8 + 2 * t + 1], d2 = c[(g + 8) * 8 + 2 * t], d3 = c[(g + 8) * 8 + 2 * t + 1];
        default(MmaEmulatedBf16).Step(ref d0, ref d1, ref d2, ref d3,
            Bf16.Pack(a[g * 16 + k], a[g * 16 + k + 1]), Bf16.Pack(a[(g + 8) * 16 + k], a[(g + 8) * 16 + k + 1]),
            Bf16.Pack(a[g * 16 + k + 8], a[g * 16 + k + 9]), Bf16.Pack(a[(g + 8) * 16 + k + 8], a[(g + 8) * 16 + k + 9]),
            Bf16.Pack(b[k * 8 + g], b[(k + 1) * 8 + g]), Bf16.Pack(b[(k + 8) * 8 + g], b[(k + 9) * 8 + g]));
        d[g * 8 + 2 * t] = d0; d[g * 8 + 2 * t + 1] = d1; d[(g + 8) * 8 + 2 * t] = d2; d[(g + 8) * 8 + 2 * t + 1] = d3;
    }

    [Test]
    public void EmulatedStep_Bf16_OneWarp_MatchesTheBf16Twin() => OneWarpMatchesTwin(OneStepBf16Kernel, MatmulPrecision.Bf16, depth: 16, seed: 34);

    /// <summary>One 32-lane launch of <paramref name="kernel"/> on seeded A [16, depth], B [depth, 8], C [16, 8] into a
    /// poisoned D, against D = C + A·B in double over A and B rounded as <paramref name="p"/> rounds them.</summary>
    private static void OneWarpMatchesTwin(Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> kernel,
        MatmulPrecision p, int depth, int seed)
    {
        var dev = Dev;
        float[] a = Seeded.Floats(seed, 16 * depth), b = Seeded.Floats(seed + 1, depth * 8), c = Seeded.Floats(seed + 2, 128);
        using var ta = Tensor.FromArray(dev, a, 16, depth);
        using var tb = Tensor.FromArray(dev, b, depth, 8);
        using var tc = Tensor.FromArray(dev, c, 16, 8);
        using var td = Tensor.Full(dev, float.NaN, 16, 8);
        var k = dev.Accelerator.LoadStreamKernel(kernel);
        k(new KernelConfig(1, 32), ta.View, tb.View, tc.View, td.View);
        double[] ra = Rounded(p, a), rb = Rounded(p, b);
        var want = new double[128];
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
            {
                double s = c[i * 8 + j];
                for (int q = 0; q < depth; q++) s += ra[i * depth + q] * rb[q * 8 + j];
                want[i * 8 + j] = s;
            }
        Compare.Close(td.ToArray(), want, rtol: 0, atol: 1e-5, what: $"D = C + A·B ({p})");
    }

    private const string Full = "NvidiaSimFull";
    private const string Slow = "minutes on ILGPU's NVIDIA-shaped CPU simulator, where every emulated warp shuffle is an OS-thread barrier: run on demand (TestCategory=NvidiaSimFull)";

    /// <summary>CI's case: two column tiles (the second one column wide), a short row tile, two K chunks (the second
    /// partial).</summary>
    [Test]
    public void Gemm_Tf32_MatchesTf32Twin() => GemmMatchesRoundedTwin(Dev, MatmulPrecision.Tf32, 20, 65, 21, transA: false, transB: true);

    [Test]
    public void Gemm_Bf16_MatchesBf16Twin() => GemmMatchesRoundedTwin(Dev, MatmulPrecision.Bf16, 20, 65, 21, transA: true, transB: false);

    [Test, Category(Full), Explicit(Slow)]
    public void Gemm_Full_MatchesRoundedTwin([Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p,
        [Values(false, true)] bool transA, [Values(false, true)] bool transB)
        => GemmMatchesRoundedTwin(Dev, p, 70, 65, 37, transA, transB); // one past a 64 tile, K not a multiple of 8 or 16

    /// <summary>Also the CPU backend's emulation (<see cref="CpuPrecisionTests"/>): the same twin, any device.</summary>
    internal static void GemmMatchesRoundedTwin(Device device, MatmulPrecision p, int M, int N, int K, bool transA, bool transB)
        => With(device, p, dev =>
        {
            int[] aShape = transA ? [K, M] : [M, K], bShape = transB ? [N, K] : [K, N];
            var ad = Seeded.Floats(41, M * K); var bd = Seeded.Floats(42, K * N);
            using var a = Seeded.Tensor(dev, ad, aShape);
            using var b = Seeded.Tensor(dev, bd, bShape);
            using var y = MatMul.Gemm(a, b, transA, transB, alpha: 0.75f);
            var got = y.ToArray();
            var want = MatMulReference.Gemm(Rounded(p, ad), aShape, Rounded(p, bd), bShape, transA, transB, out _, alpha: 0.75);
            Compare.Close(got, want, rtol: 0, atol: 1e-5 * K * 4, what: $"{p} GEMM");
            var exact = MatMulReference.Gemm(Seeded.ToDouble(ad), aShape, Seeded.ToDouble(bd), bShape, transA, transB, out _, alpha: 0.75);
            double worst = got.Select((v, i) => Math.Abs(v - exact[i])).Max();
            Assert.That(worst, Is.GreaterThan(p == MatmulPrecision.Bf16 ? 1e-2 : 1e-4), $"the products must see {p} inputs, not FP32 ones");
        });

    [Test, Category(Full), Explicit(Slow)]
    public void Conv_ForwardAndGradients_MatchRoundedTwins([Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p)
        => ConvMatchesRoundedTwins(Dev, p);

    internal static void ConvMatchesRoundedTwins(Device device, MatmulPrecision precision)
        => With(device, precision, dev =>
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
            double[] X = Rounded(precision, xd), W = Rounded(precision, wd), G = Rounded(precision, gd);
            using (var y = Conv2d.Forward(x, wt, b, s, p))
            {
                var got = y.ToArray();
                Compare.Close(got, Conv2dReference.Forward(X, xs, W, ws, Seeded.ToDouble(bd), s, p, out _), rtol: 0, atol: 4e-5 * cin * k * k, what: "forward");
                var exact = Conv2dReference.Forward(Seeded.ToDouble(xd), xs, Seeded.ToDouble(wd), ws, Seeded.ToDouble(bd), s, p, out _);
                Assert.That(got.Select((v, i) => Math.Abs(v - exact[i])).Max(), Is.GreaterThan(precision == MatmulPrecision.Bf16 ? 1e-2 : 1e-4),
                    $"the products must see {precision} inputs, not FP32 ones");
            }
            using (var dx = Conv2d.BackwardInput(dy, wt, xs, s, p))
                Compare.Close(dx.ToArray(), Conv2dReference.BackwardInput(G, W, xs, ws, s, p), rtol: 0, atol: 4e-5 * cout * k * k, what: "dx");
            using (var dw = Conv2d.BackwardWeight(dy, x, k, s, p))
                Compare.Close(dw.ToArray(), Conv2dReference.BackwardWeight(G, X, xs, ws, s, p), rtol: 0, atol: 4e-5 * n * ho * wo, what: "dw");
        });

    /// <summary>CI's attention case, forward and backward: one partial query tile forward, two backward (the second
    /// 5 rows); two key tiles (the second 13 keys, ending inside the second score fragment); D = 24 (BF16 pads it to
    /// 32; 5 of the 8 output fragments skipped).</summary>
    [Test]
    public void Attention_MatchesRoundedTwins([Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p)
        => AttentionMatchesRoundedTwin(Dev, p, heads: 1, tq: 37, tk: 45, d: 24, seed: 61);

    [Test, Category(Full), Explicit(Slow)]
    public void Attention_Full_MatchesRoundedTwins([Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p,
        [Values(0, 1, 2, 3)] int c)
    {
        var (heads, tq, tk, d) = new[] { (2, 70, 59, 40), (1, 130, 65, 64), (3, 1, 1, 8), (1, 64, 96, 17) }[c];
        AttentionMatchesRoundedTwin(Dev, p, heads, tq, tk, d, seed: 62 + c);
    }

    /// <summary>
    /// <see cref="MmaAttention"/>, forward and backward, against the double twins over Q, K, V (and dO) rounded as
    /// <paramref name="p"/> rounds them. P
    /// is rounded too on its way into P·V (relative error ≤ half an ulp, 2⁻⁸ in BF16, 2⁻¹¹ in TF32), so O may differ
    /// by that much of max |V|; LSE comes from FP32 sums of the rounded products and stays tight. The result must also
    /// differ from the unrounded twin by more than FP32 alone would (the rounding really happened).
    /// </summary>
    internal static void AttentionMatchesRoundedTwin(Device device, MatmulPrecision p, int heads, int tq, int tk, int d, int seed)
        => With(device, p, dev =>
        {
            if (dev is IlgpuDevice gpu)
                Assert.That(((IlgpuBackend)gpu.Backend).UsesTensorCoreAttention(d), Is.True, "the case must run the tensor-core kernel");
            float scale = 1f / MathF.Sqrt(d);
            var qd = Seeded.Floats(seed, heads * tq * d); var kd = Seeded.Floats(seed + 1, heads * tk * d); var vd = Seeded.Floats(seed + 2, heads * tk * d);
            using var q = Seeded.Tensor(dev, qd, 1, heads, tq, d);
            using var k = Seeded.Tensor(dev, kd, 1, heads, tk, d);
            using var v = Seeded.Tensor(dev, vd, 1, heads, tk, d);
            using var o = Attention.Forward(q, k, v, scale, out var lseT);
            using var lse = lseT;
            var got = o.ToArray();
            var want = AttentionReference.Forward(Rounded(p, qd), Rounded(p, kd), Rounded(p, vd), heads, tq, tk, d, scale, out var wantLse);
            double halfUlp = p == MatmulPrecision.Bf16 ? Math.Pow(2, -8) : Math.Pow(2, -11), maxV = vd.Max(x => Math.Abs(x));
            string at = $"{p} attention [{heads}, {tq}, {tk}, {d}]";
            Compare.Close(got, want, rtol: 0, atol: halfUlp * maxV + 1e-5, what: $"{at} O");
            Compare.Close(lse.ToArray(), wantLse, rtol: 0, atol: 2e-5 * d, what: $"{at} LSE");
            var exact = AttentionReference.Forward(Seeded.ToDouble(qd), Seeded.ToDouble(kd), Seeded.ToDouble(vd), heads, tq, tk, d, scale, out _);
            Assert.That(got.Select((x, i) => Math.Abs(x - exact[i])).Max(), Is.GreaterThan(halfUlp / 16),
                $"{at}: the products must see {p} inputs, not FP32 ones");

            var gd = Seeded.Floats(seed + 3, heads * tq * d);
            using var dO = Seeded.Tensor(dev, gd, 1, heads, tq, d);
            var (dq, dk, dv) = Attention.Backward(dO, q, k, v, o, lse, scale);
            using (dq) using (dk) using (dv)
            {
                var (wantDq, wantDk, wantDv) = AttentionReference.Backward(Rounded(p, gd), Rounded(p, qd), Rounded(p, kd), Rounded(p, vd), heads, tq, tk, d, scale);
                // P and dS are rounded on their way into the second products: each gradient may be off by that much
                // of its largest element (measured 0.45–0.64 of it; unrounded Q, K, V, dO alone give 1.2–1.5), plus
                // FP32 sums where it cancels to 0 (one key: dS = P∘(dP − Δ) is 0 when Δ sees the same rounded dO).
                foreach (var (name, g, w) in new[] { ("dq", dq.ToArray(), wantDq), ("dk", dk.ToArray(), wantDk), ("dv", dv.ToArray(), wantDv) })
                    Compare.Close(g, w, rtol: 0, atol: halfUlp * w.Max(Math.Abs) + 1e-5, what: $"{at} {name}");
            }
        });

    /// <summary>
    /// The same twins on the instructions themselves (<see cref="MmaPtx"/>, <see cref="MmaPtxBf16"/>): every shape
    /// above, CI's and the on-demand ones, plus the bench's attention shape. Runs where a CUDA GPU is (the device
    /// script's unit-test stage selects the cases that name the "cuda" backend); ignored, with the reason, elsewhere.
    /// </summary>
    [Test]
    public void Instructions_MatchRoundedTwins([Values(Backends.Cuda)] string backend,
        [Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p, [Values("gemm", "conv", "attention")] string op)
    {
        var dev = Backends.Get(backend);
        switch (op)
        {
            case "gemm":
                GemmMatchesRoundedTwin(dev, p, 20, 65, 21, transA: false, transB: true);
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                        GemmMatchesRoundedTwin(dev, p, 70, 65, 37, ta, tb);
                break;
            case "conv":
                ConvMatchesRoundedTwins(dev, p);
                break;
            default:
                foreach (var (c, (heads, tq, tk, d)) in new[] { (2, 70, 59, 40), (1, 130, 65, 64), (3, 1, 1, 8), (1, 64, 96, 17), (32, 256, 256, 64) }.Index())
                    AttentionMatchesRoundedTwin(dev, p, heads, tq, tk, d, seed: 80 + c);
                break;
        }
    }

    [Test]
    public void TensorCorePrecisions_AreRefusedWithoutTheCudaTiles([Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p)
    {
        var small = (IlgpuDevice)Backends.Get(Backends.Sim);
        var e = Assert.Throws<InvalidOperationException>(() => small.Precision = p);
        Assert.That(e!.Message, Does.Contain(p.ToString().ToUpperInvariant()));
        Assert.That(small.Precision, Is.EqualTo(MatmulPrecision.Fp32));
    }
}
