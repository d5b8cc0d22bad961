using System.Runtime.Intrinsics.X86;
using Boost.Kernels;
using Boost.Kernels.Cpu;
using Boost.Kernels.Reference;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class Conv2dTests
{
    /// <summary>Awkward cases: H ≠ W, Cin ≠ Cout (so a transposed index fails), channels off the tile (the small
    /// simulator's <see cref="ConvTileSim"/> is 16 channels × 8 pixels with K-chunks of 4: 17 channels cross a channel
    /// tile, every output map crosses pixel tiles), odd sizes under stride 2, k = 1 with stride 2 (stride phases that
    /// get no taps).</summary>
    private static readonly (int n, int cin, int h, int w, int cout, int k, int stride, int pad)[] Cases =
    [
        (1, 3, 5, 7, 5, 3, 1, 1),
        (2, 5, 9, 6, 3, 3, 2, 1),
        (2, 17, 5, 7, 6, 1, 1, 0),
        (1, 4, 7, 5, 17, 3, 2, 0),
        (1, 2, 8, 7, 3, 5, 1, 2),
        (2, 3, 6, 5, 2, 1, 2, 0),
        (1, 3, 5, 6, 2, 1, 1, 1),
    ];

    private sealed record Data(int[] XShape, int[] WShape, int[] YShape, float[] X, float[] W, float[] B, float[] Dy, int Stride, int Pad)
    {
        public double[] Xd => Seeded.ToDouble(X);
        public double[] Wd => Seeded.ToDouble(W);
        public double[] Bd => Seeded.ToDouble(B);
        public double[] Dyd => Seeded.ToDouble(Dy);
    }

    private static Data Make(int c)
    {
        var (n, cin, h, w, cout, k, s, p) = Cases[c];
        int ho = Conv2d.OutputSize(h, k, s, p), wo = Conv2d.OutputSize(w, k, s, p);
        int[] xs = [n, cin, h, w], ws = [cout, cin, k, k], ys = [n, cout, ho, wo];
        return new Data(xs, ws, ys, Seeded.Floats(100 + c, Tensor.Count(xs)), Seeded.Floats(200 + c, Tensor.Count(ws)),
            Seeded.Floats(300 + c, cout), Seeded.Floats(400 + c, Tensor.Count(ys)), s, p);
    }

    /// <summary>Float32 sums of <paramref name="terms"/> products of values in [-2, 2]: an absolute tolerance far
    /// above rounding (≈ terms·4·6e-8) and far below the O(1) error of any wrong tap.</summary>
    private static double Atol(int terms) => 1e-6 * 4 * Math.Max(terms, 4);

    [Test]
    public void ForwardAndGradients_MatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Range(0, 6)] int c)
    {
        var dev = Backends.Get(backend);
        var t = Make(c);
        int k = t.WShape[2];
        using var x = Seeded.Tensor(dev, t.X, t.XShape);
        using var w = Seeded.Tensor(dev, t.W, t.WShape);
        using var b = Seeded.Tensor(dev, t.B, t.WShape[0]);
        using var dy = Seeded.Tensor(dev, t.Dy, t.YShape);

        using (var y = Conv2d.Forward(x, w, b, t.Stride, t.Pad))
        {
            Assert.That(y.Shape, Is.EqualTo(t.YShape), "forward shape");
            var want = Conv2dReference.Forward(t.Xd, t.XShape, t.Wd, t.WShape, t.Bd, t.Stride, t.Pad, out _);
            Compare.Close(y.ToArray(), want, atol: Atol(t.XShape[1] * k * k), what: $"{backend} forward");
        }
        using (var y = Conv2d.Forward(x, w, null, t.Stride, t.Pad))
        {
            var want = Conv2dReference.Forward(t.Xd, t.XShape, t.Wd, t.WShape, null, t.Stride, t.Pad, out _);
            Compare.Close(y.ToArray(), want, atol: Atol(t.XShape[1] * k * k), what: $"{backend} forward without bias");
        }
        using (var dx = Conv2d.BackwardInput(dy, w, t.XShape, t.Stride, t.Pad))
        {
            Assert.That(dx.Shape, Is.EqualTo(t.XShape), "dx shape");
            var want = Conv2dReference.BackwardInput(t.Dyd, t.Wd, t.XShape, t.WShape, t.Stride, t.Pad);
            Compare.Close(dx.ToArray(), want, atol: Atol(t.WShape[0] * k * k), what: $"{backend} dx");
        }
        using (var dw = Conv2d.BackwardWeight(dy, x, k, t.Stride, t.Pad))
        {
            Assert.That(dw.Shape, Is.EqualTo(t.WShape), "dw shape");
            var want = Conv2dReference.BackwardWeight(t.Dyd, t.Xd, t.XShape, t.WShape, t.Stride, t.Pad);
            Compare.Close(dw.ToArray(), want, atol: Atol(t.YShape[0] * t.YShape[2] * t.YShape[3]), what: $"{backend} dw");
        }
        using (var db = Conv2d.BackwardBias(dy))
        {
            var want = Conv2dReference.BackwardBias(t.Dyd, t.YShape);
            Compare.Close(db.ToArray(), want, atol: Atol(t.YShape[0] * t.YShape[2] * t.YShape[3]), what: $"{backend} db");
        }
    }

    /// <summary>The epilogue (a per-sample channel bias, a residual, both, with and without the bias) against the
    /// twin, into poisoned outputs; and an aliased residual refused in one line.</summary>
    [Test]
    public void Epilogue_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Range(0, 6)] int c)
    {
        var dev = Backends.Get(backend);
        var t = Make(c);
        int k = t.WShape[2], n = t.YShape[0], cout = t.YShape[1];
        var e = Seeded.Floats(600 + c, n * cout);
        var r = Seeded.Floats(700 + c, Tensor.Count(t.YShape));
        using var x = Seeded.Tensor(dev, t.X, t.XShape);
        using var w = Seeded.Tensor(dev, t.W, t.WShape);
        using var b = Seeded.Tensor(dev, t.B, cout);
        using var et = Seeded.Tensor(dev, e, n, cout);
        using var rt = Seeded.Tensor(dev, r, t.YShape);
        foreach (var (withB, withE, withR) in new[] { (true, true, true), (false, true, false), (true, false, true), (false, true, true) })
        {
            using var y = Tensor.Full(dev, float.NaN, t.YShape);
            Conv2d.ForwardInto(x, w, withB ? b : null, t.Stride, t.Pad, y, new ConvEpilogue(withE ? et : null, withR ? rt : null));
            var want = Conv2dReference.Forward(t.Xd, t.XShape, t.Wd, t.WShape, withB ? t.Bd : null,
                withE ? Seeded.ToDouble(e) : null, withR ? Seeded.ToDouble(r) : null, t.Stride, t.Pad, out _);
            Compare.Close(y.ToArray(), want, atol: Atol(t.XShape[1] * k * k), what: $"{backend} forward b={withB} e={withE} r={withR}");
        }
        using var same = Tensor.Full(dev, 1f, t.YShape);
        var ex = Assert.Throws<ArgumentException>(() => Conv2d.ForwardInto(x, w, b, t.Stride, t.Pad, same, new ConvEpilogue(null, same)));
        Assert.That(ex!.Message, Does.Contain("residual").And.Not.Contain("\n"));
        using var wrongE = Tensor.Full(dev, 1f, n, cout + 1);
        Assert.Throws<ArgumentException>(() => Conv2d.Forward(x, w, b, t.Stride, t.Pad, new ConvEpilogue(wrongE, null)));
    }

    /// <summary>The Into variants: grad = result + beta·grad, with beta 1 (accumulate) on seeded old gradients.</summary>
    [Test]
    public void IntoVariants_Accumulate([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        var t = Make(1);
        int k = t.WShape[2];
        var oldX = Seeded.Floats(501, Tensor.Count(t.XShape));
        var oldW = Seeded.Floats(502, Tensor.Count(t.WShape));
        var oldB = Seeded.Floats(503, t.WShape[0]);
        using var x = Seeded.Tensor(dev, t.X, t.XShape);
        using var w = Seeded.Tensor(dev, t.W, t.WShape);
        using var dy = Seeded.Tensor(dev, t.Dy, t.YShape);
        using var dx = Seeded.Tensor(dev, oldX, t.XShape);
        using var dw = Seeded.Tensor(dev, oldW, t.WShape);
        using var db = Seeded.Tensor(dev, oldB, t.WShape[0]);
        Conv2d.BackwardInputInto(dy, w, t.Stride, t.Pad, dx, 1f);
        Conv2d.BackwardWeightInto(dy, x, t.Stride, t.Pad, dw, 1f);
        Conv2d.BackwardBiasInto(dy, db, 1f);
        static double[] Plus(double[] a, float[] old) => a.Select((v, i) => v + old[i]).ToArray();
        Compare.Close(dx.ToArray(), Plus(Conv2dReference.BackwardInput(t.Dyd, t.Wd, t.XShape, t.WShape, t.Stride, t.Pad), oldX),
            atol: Atol(t.WShape[0] * k * k), what: $"{backend} dx += ");
        Compare.Close(dw.ToArray(), Plus(Conv2dReference.BackwardWeight(t.Dyd, t.Xd, t.XShape, t.WShape, t.Stride, t.Pad), oldW),
            atol: Atol(t.YShape[0] * t.YShape[2] * t.YShape[3]), what: $"{backend} dw += ");
        Compare.Close(db.ToArray(), Plus(Conv2dReference.BackwardBias(t.Dyd, t.YShape), oldB),
            atol: Atol(t.YShape[0] * t.YShape[2] * t.YShape[3]), what: $"{backend} db += ");
    }

    /// <summary>A weight gradient whose reduction (N·Ho·Wo) is long against few output tiles, so the ILGPU path
    /// splits it into slices summed by a second kernel (asserted, so the test cannot silently skip that path).</summary>
    [Test]
    public void WeightGradient_SplitReduction_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        int[] xs = [2, 2, 9, 7], ws = [3, 2, 3, 3];
        int ho = Conv2d.OutputSize(9, 3, 1, 1), wo = Conv2d.OutputSize(7, 3, 1, 1);
        int[] ys = [2, 3, ho, wo];
        if (dev is IlgpuDevice { Tiles: TileSet.Small } sim)
        {
            var tile = default(ConvTileSim);
            int tiles = (2 * 9 + tile.BN - 1) / tile.BN * ((3 + tile.BM - 1) / tile.BM);
            Assert.That(Conv2d.WeightGradSlices(sim, tiles, 2 * ho * wo, tile.BK, ConvTile.Threads<ConvTileSim>(), out _), Is.GreaterThan(1), "slices");
        }
        var xd = Seeded.Floats(601, Tensor.Count(xs)); var gd = Seeded.Floats(602, Tensor.Count(ys));
        using var x = Seeded.Tensor(dev, xd, xs);
        using var dy = Seeded.Tensor(dev, gd, ys);
        using var dw = Conv2d.BackwardWeight(dy, x, 3, 1, 1);
        var want = Conv2dReference.BackwardWeight(Seeded.ToDouble(gd), Seeded.ToDouble(xd), xs, ws, 1, 1);
        Compare.Close(dw.ToArray(), want, atol: Atol(2 * ho * wo), what: $"{backend} dw (split)");
    }

    /// <summary>The managed im2col path unfolds about 2¹⁸ values at a time: these images need several pixel blocks,
    /// the later ones starting mid-row (CPU only: the blocks are its own, and the simulator would be slow here). 3×3
    /// stride 1 takes the Winograd path instead, so the stride-1 cases here are 5×5. Batch 1 runs image by image with
    /// parallel GEMMs; batch 3 gives the cores whole images and sums uneven weight-gradient partials.</summary>
    [TestCase(32, 31, 33, 1, 1, 5)]
    [TestCase(64, 61, 63, 2, 1, 3)]
    [TestCase(32, 31, 33, 1, 3, 5)]
    [TestCase(3, 61, 59, 1, 2, 5)]   // few channels (an RGB input conv): one block of 3599 pixels, wider than the GEMM's 3072-column block
    public void Cpu_ImagesSpanningSeveralPixelBlocks_MatchTwin(int cin, int h, int w, int stride, int n, int k)
    {
        var dev = Device.Cpu;
        int pad = k / 2;
        int[] xs = [n, cin, h, w], ws = [3, cin, k, k];
        int ho = Conv2d.OutputSize(h, k, stride, pad), wo = Conv2d.OutputSize(w, k, stride, pad);
        int[] ys = [n, 3, ho, wo];
        Assert.That(ho * wo, Is.GreaterThan(Math.Min((1 << 18) / (cin * k * k) * 5 / 4, 3072)), "the image must need more than one pixel block or GEMM column block");
        var xd = Seeded.Floats(801, Tensor.Count(xs)); var wd = Seeded.Floats(802, Tensor.Count(ws)); var gd = Seeded.Floats(803, Tensor.Count(ys));
        using var x = Seeded.Tensor(dev, xd, xs);
        using var wt = Seeded.Tensor(dev, wd, ws);
        using var dy = Seeded.Tensor(dev, gd, ys);
        using var y = Conv2d.Forward(x, wt, null, stride, pad);
        using var dx = Conv2d.BackwardInput(dy, wt, xs, stride, pad);
        using var dw = Conv2d.BackwardWeight(dy, x, k, stride, pad);
        double[] X = Seeded.ToDouble(xd), W = Seeded.ToDouble(wd), G = Seeded.ToDouble(gd);
        Compare.Close(y.ToArray(), Conv2dReference.Forward(X, xs, W, ws, null, stride, pad, out _), atol: Atol(cin * k * k), what: "forward");
        Compare.Close(dx.ToArray(), Conv2dReference.BackwardInput(G, W, xs, ws, stride, pad), atol: Atol(3 * k * k), what: "dx");
        Compare.Close(dw.ToArray(), Conv2dReference.BackwardWeight(G, X, xs, ws, stride, pad), atol: Atol(n * ho * wo), what: "dw");
    }

    /// <summary>
    /// The managed 3×3 stride-1 path (Winograd F(2×2, 3×3); the forwards of the 16-wide, 35-wide and 37-wide maps
    /// here stay on it, the others take F(4×4), tested on its own below): tile rows of 8-tile AVX groups plus a scalar remainder,
    /// odd output sizes (a tile half outside the image), pads 0, 1 and 2, batch 1 (transforms split across the cores)
    /// and batches that give each core whole images, several blocks of tile rows per image; forward with bias, the
    /// input gradient (a flipped-kernel forward conv through the same path, pad 2 − pad) and the weight gradient (the
    /// transforms' adjoints: per-core sums over the batch, several small images side by side in one product), each
    /// alone and accumulating.
    /// </summary>
    [TestCase(1, 16, 17, 33, 35, 1)]
    [TestCase(3, 16, 17, 16, 16, 1)]
    [TestCase(2, 17, 16, 15, 31, 0)]
    [TestCase(2, 16, 18, 9, 35, 2)]
    [TestCase(1, 32, 32, 40, 130, 1)]
    [TestCase(2, 32, 16, 50, 130, 1)]
    [TestCase(2, 96, 88, 12, 20, 1)]  // enough filters (Cout·Cin ≥ 8192) for their transform to split across the cores
    [TestCase(1, 16, 16, 3, 8200, 1)] // rows too wide for the padded-row buffers on the stack, and a GEMM wider than one column block
    [TestCase(5, 112, 16, 16, 16, 1)] // two whole images to a weight-gradient block: the cores' shares of 2 and 3 images
    public void Cpu_Winograd3x3_MatchTwin(int n, int cin, int cout, int h, int w, int pad)
    {
        var (forward, inputGrad) = Stride1Dims(n, cin, cout, h, w, pad);
        if (Avx2.IsSupported && CpuParallel.Threads > 1) // CI's machines; elsewhere the same checks cover im2col
            Assert.That(Conv2dCpu.WinogradApplies(forward) && Conv2dCpu.WinogradApplies(inputGrad), Is.True,
                "the case must take the Winograd path (forward, weight and input gradients)");
        Stride1ConvMatchesTwin(forward, seed: 821);
    }

    /// <summary>
    /// F(2×2, 3×3) on maps 8 wide, two tile rows per 8-lane group (Cpu/WinogradF2Paired.cs): batches that give each
    /// core whole images, odd output heights (a tile row half outside, and an odd count: the last pair's second row
    /// outside the image), pads 0, 1 and 2 (the input gradient is paired only at pad 1, where its map is 8 wide too;
    /// elsewhere it runs im2col), odd channel counts, two K slabs (300 channels), and blocks of tile rows (699 channels in
    /// all: 23 rows a block, rounded to 22, then a block of 3); forward with bias, input and weight gradients alone and
    /// accumulating.
    /// </summary>
    [TestCase(2, 16, 17, 8, 8, 1)]
    [TestCase(3, 17, 16, 7, 8, 1)]
    [TestCase(2, 16, 18, 5, 8, 1)]
    [TestCase(2, 16, 16, 9, 10, 0)]
    [TestCase(2, 19, 16, 6, 6, 2)]
    [TestCase(2, 300, 20, 8, 8, 1)]
    [TestCase(2, 683, 16, 49, 8, 1)]
    public void Cpu_WinogradPaired_MatchTwin(int n, int cin, int cout, int h, int w, int pad)
    {
        var (forward, inputGrad) = Stride1Dims(n, cin, cout, h, w, pad);
        Assert.That(forward.Wo, Is.EqualTo(8));
        if (Avx2.IsSupported && CpuParallel.Threads > 1) // CI's machines; elsewhere the same checks cover im2col
            Assert.That(Conv2dCpu.WinogradApplies(forward) && !Conv2dCpu.WinogradF4Applies(forward)
                && Conv2dCpu.WinogradApplies(inputGrad) == (pad == 1), Is.True, "the paired path for the forward and weight gradient (and the input gradient at pad 1)");
        Stride1ConvMatchesTwin(forward, seed: 877);
    }

    /// <summary>A 3×3 stride-1 conv's dims and those of the forward conv its input gradient runs as (pad 2 − pad).</summary>
    private static (ConvDims forward, ConvDims inputGrad) Stride1Dims(int n, int cin, int cout, int h, int w, int pad)
    {
        int ho = Conv2d.OutputSize(h, 3, 1, pad), wo = Conv2d.OutputSize(w, 3, 1, pad);
        return (new ConvDims { N = n, Cin = cin, H = h, W = w, Cout = cout, K = 3, Stride = 1, Pad = pad, Ho = ho, Wo = wo },
                new ConvDims { N = n, Cin = cout, H = ho, W = wo, Cout = cin, K = 3, Stride = 1, Pad = 2 - pad, Ho = h, Wo = w });
    }

    /// <summary>The managed 3×3 stride-1 conv against the twin: forward with bias into a poisoned output, the input
    /// gradient alone and accumulating, the weight gradient alone and accumulating.</summary>
    private static void Stride1ConvMatchesTwin(ConvDims d, int seed)
    {
        var dev = Device.Cpu;
        int[] xs = [d.N, d.Cin, d.H, d.W], ws = [d.Cout, d.Cin, 3, 3], ys = [d.N, d.Cout, d.Ho, d.Wo];
        var xd = Seeded.Floats(seed, Tensor.Count(xs)); var wd = Seeded.Floats(seed + 1, Tensor.Count(ws));
        var bd = Seeded.Floats(seed + 2, d.Cout); var gd = Seeded.Floats(seed + 3, Tensor.Count(ys)); var old = Seeded.Floats(seed + 4, Tensor.Count(xs));
        using var x = Seeded.Tensor(dev, xd, xs);
        using var wt = Seeded.Tensor(dev, wd, ws);
        using var b = Seeded.Tensor(dev, bd, d.Cout);
        using var dy = Seeded.Tensor(dev, gd, ys);
        using var y = Seeded.Tensor(dev, Seeded.Floats(seed + 5, Tensor.Count(ys)), ys); // poisoned: every value must be written
        Conv2d.ForwardInto(x, wt, b, 1, d.Pad, y);
        using var dx = Conv2d.BackwardInput(dy, wt, xs, 1, d.Pad);
        using var acc = Seeded.Tensor(dev, old, xs);
        Conv2d.BackwardInputInto(dy, wt, 1, d.Pad, acc, 1f);
        using var dw = Conv2d.BackwardWeight(dy, x, 3, 1, d.Pad);
        using var dwAcc = Seeded.Tensor(dev, wd, ws);
        Conv2d.BackwardWeightInto(dy, x, 1, d.Pad, dwAcc, 1f);
        double[] X = Seeded.ToDouble(xd), W = Seeded.ToDouble(wd), G = Seeded.ToDouble(gd);
        Compare.Close(y.ToArray(), Conv2dReference.Forward(X, xs, W, ws, Seeded.ToDouble(bd), 1, d.Pad, out _), atol: Atol(d.Cin * 9), what: "forward");
        var wantDx = Conv2dReference.BackwardInput(G, W, xs, ws, 1, d.Pad);
        Compare.Close(dx.ToArray(), wantDx, atol: Atol(d.Cout * 9), what: "dx");
        Compare.Close(acc.ToArray(), wantDx.Select((v, i) => v + old[i]).ToArray(), atol: Atol(d.Cout * 9), what: "dx += ");
        var wantDw = Conv2dReference.BackwardWeight(G, X, xs, ws, 1, d.Pad);
        Compare.Close(dw.ToArray(), wantDw, atol: Atol(d.N * d.Ho * d.Wo), what: "dw");
        Compare.Close(dwAcc.ToArray(), wantDw.Select((v, i) => v + wd[i]).ToArray(), atol: Atol(d.N * d.Ho * d.Wo), what: "dw += ");
    }

    /// <summary>
    /// The F(4×4, 3×3) forward (maps 32 and more wide), the input gradient through it and its weight gradient (the
    /// transforms' adjoints: per-core sums over the batch, alone and accumulating): 8-tile groups that run past
    /// the image (outputs through a buffer), odd sizes, pads 0, 1 and 2, batch 1 (transforms split across the cores),
    /// per-core batches, several blocks of tile rows, two K slabs of the panel layout (300 channels), rows too wide for
    /// the stack; forward with bias, and the input gradient alone and accumulating.
    /// </summary>
    [TestCase(1, 16, 17, 64, 66, 1)]
    [TestCase(3, 16, 17, 31, 31, 1)]
    [TestCase(2, 17, 16, 34, 66, 0)]
    [TestCase(2, 16, 18, 30, 62, 2)]
    [TestCase(2, 96, 88, 40, 130, 1)]
    [TestCase(2, 300, 20, 32, 32, 1)]
    [TestCase(1, 16, 16, 8, 3000, 1)]
    public void Cpu_WinogradF4_MatchTwin(int n, int cin, int cout, int h, int w, int pad)
    {
        var (forward, inputGrad) = Stride1Dims(n, cin, cout, h, w, pad);
        if (Avx2.IsSupported && Fma.IsSupported && CpuParallel.Threads > 1)
            Assert.That(Conv2dCpu.WinogradF4Applies(forward) && Conv2dCpu.WinogradF4Applies(inputGrad), Is.True,
                "the case must take the F(4×4) path (forward, input and weight gradients)");
        Stride1ConvMatchesTwin(forward, seed: 841);
    }

    /// <summary>
    /// Which path a 3×3 conv takes on the managed backend (each where interleaved timings showed it faster). Stride 1:
    /// im2col for 8² maps, few channels, one 16² image split across the cores; F(2×2) on 16-wide maps (F(4×4) would
    /// pad half of each 8-tile group); F(4×4) from 32 wide. Stride 2: im2col for 8² outputs (the bench UNet's
    /// 128-channel downsampling), few channels, a lone image of 64 tiles; else the polyphase F(2, 2).
    /// </summary>
    [TestCase(8, 128, 128, 8, 1, "F2x2")]
    [TestCase(1, 128, 128, 8, 1, "im2col")]
    [TestCase(8, 128, 128, 4, 1, "im2col")]
    [TestCase(8, 8, 64, 16, 1, "im2col")]
    [TestCase(8, 64, 4, 16, 1, "im2col")]
    [TestCase(1, 128, 128, 16, 1, "im2col")]
    [TestCase(8, 64, 64, 16, 1, "F2x2")]
    [TestCase(8, 128, 128, 32, 1, "F4x4")]
    [TestCase(1, 128, 128, 32, 1, "F4x4")]
    [TestCase(1, 64, 64, 128, 1, "F4x4")]
    [TestCase(8, 128, 128, 16, 2, "im2col")]
    [TestCase(8, 8, 64, 32, 2, "im2col")]
    [TestCase(1, 128, 128, 32, 2, "im2col")]
    [TestCase(8, 64, 64, 32, 2, "polyphase")]
    [TestCase(2, 64, 64, 32, 2, "polyphase")]
    [TestCase(1, 16, 16, 64, 2, "polyphase")]
    public void Cpu_ConvPathChoice(int n, int cin, int cout, int hw, int stride, string expected)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported || CpuParallel.Threads < 2) Assert.Ignore("the choice is made for AVX2 machines with several cores");
        int ho = Conv2d.OutputSize(hw, 3, stride, 1);
        var d = new ConvDims { N = n, Cin = cin, H = hw, W = hw, Cout = cout, K = 3, Stride = stride, Pad = 1, Ho = ho, Wo = ho };
        string path = Conv2dCpu.WinogradF4Applies(d) ? "F4x4" : Conv2dCpu.WinogradApplies(d) ? "F2x2"
            : Conv2dCpu.Stride2WinogradApplies(d) ? "polyphase" : "im2col";
        Assert.That(path, Is.EqualTo(expected), $"n {n}, {cin} → {cout} channels, {hw}², stride {stride}");
    }

    /// <summary>
    /// The managed 3×3 stride-2 path (polyphase F(2, 2), 25 products per 2×2 tile): 8-tile AVX groups plus a scalar
    /// remainder in the output transform, odd output sizes, pads 0, 1 and 2, batch 1 (transforms split across the
    /// cores) and batches that give each core whole images, several blocks of tile rows per image, two K slabs of the
    /// panel layout (300 input channels), rows too wide for the stack and a GEMM wider than one column block; forward
    /// with bias against the twin.
    /// </summary>
    [TestCase(1, 16, 17, 64, 66, 1)]
    [TestCase(3, 16, 17, 33, 35, 1)]
    [TestCase(2, 17, 16, 31, 40, 0)]
    [TestCase(2, 16, 18, 30, 37, 2)]
    [TestCase(2, 96, 88, 50, 130, 1)]
    [TestCase(2, 300, 20, 33, 33, 1)]
    [TestCase(1, 16, 16, 3, 3400, 1)]
    public void Cpu_WinogradStride2_MatchTwin(int n, int cin, int cout, int h, int w, int pad)
    {
        var dev = Device.Cpu;
        int[] xs = [n, cin, h, w], ws = [cout, cin, 3, 3];
        int ho = Conv2d.OutputSize(h, 3, 2, pad), wo = Conv2d.OutputSize(w, 3, 2, pad);
        var forward = new ConvDims { N = n, Cin = cin, H = h, W = w, Cout = cout, K = 3, Stride = 2, Pad = pad, Ho = ho, Wo = wo };
        if (Avx2.IsSupported && CpuParallel.Threads > 1)
            Assert.That(Conv2dCpu.Stride2WinogradApplies(forward), Is.True, "the case must take the stride-2 Winograd path");
        var xd = Seeded.Floats(831, Tensor.Count(xs)); var wd = Seeded.Floats(832, Tensor.Count(ws)); var bd = Seeded.Floats(833, cout);
        using var x = Seeded.Tensor(dev, xd, xs);
        using var wt = Seeded.Tensor(dev, wd, ws);
        using var b = Seeded.Tensor(dev, bd, cout);
        using var y = Seeded.Tensor(dev, Seeded.Floats(834, n * cout * ho * wo), n, cout, ho, wo); // poisoned: every value must be written
        Conv2d.ForwardInto(x, wt, b, 2, pad, y);
        Compare.Close(y.ToArray(), Conv2dReference.Forward(Seeded.ToDouble(xd), xs, Seeded.ToDouble(wd), ws, Seeded.ToDouble(bd), 2, pad, out _),
            atol: Atol(cin * 9), what: "forward");
    }

    /// <summary>The managed stride-2 unfolding takes every other value of a row in AVX blocks of 8 outputs between
    /// the zeros of the padding: rows one short of a block, exactly past it and with a tail, odd and even widths,
    /// kernels 1, 3 and 5 with their pads (and a pad of 0 under k = 3, so the row's last column goes unread).</summary>
    [TestCase(17, 3, 1)]
    [TestCase(18, 3, 1)]
    [TestCase(37, 3, 1)]
    [TestCase(36, 3, 0)]
    [TestCase(40, 5, 2)]
    [TestCase(33, 1, 0)]
    public void Cpu_Stride2WideRows_MatchTwin(int w, int k, int pad)
    {
        var dev = Device.Cpu;
        int[] xs = [2, 3, 5, w], ws = [4, 3, k, k];
        int ho = Conv2d.OutputSize(5, k, 2, pad), wo = Conv2d.OutputSize(w, k, 2, pad);
        int[] ys = [2, 4, ho, wo];
        var xd = Seeded.Floats(811, Tensor.Count(xs)); var wd = Seeded.Floats(812, Tensor.Count(ws)); var gd = Seeded.Floats(813, Tensor.Count(ys));
        using var x = Seeded.Tensor(dev, xd, xs);
        using var wt = Seeded.Tensor(dev, wd, ws);
        using var dy = Seeded.Tensor(dev, gd, ys);
        using var y = Conv2d.Forward(x, wt, null, 2, pad);
        using var dw = Conv2d.BackwardWeight(dy, x, k, 2, pad);
        double[] X = Seeded.ToDouble(xd), W = Seeded.ToDouble(wd), G = Seeded.ToDouble(gd);
        Compare.Close(y.ToArray(), Conv2dReference.Forward(X, xs, W, ws, null, 2, pad, out _), atol: Atol(3 * k * k), what: "forward");
        Compare.Close(dw.ToArray(), Conv2dReference.BackwardWeight(G, X, xs, ws, 2, pad), atol: Atol(2 * ho * wo), what: "dw");
    }

    [Test]
    public void TwinBackward_MatchesFiniteDifferences([Range(0, 6)] int c)
    {
        var t = Make(c);
        var probe = FiniteDiff.Weights(700 + c, (int)Tensor.Count(t.YShape));
        double[][] inputs = [t.Xd, t.Wd, t.Bd];
        double[][] analytic =
        [
            Conv2dReference.BackwardInput(probe, t.Wd, t.XShape, t.WShape, t.Stride, t.Pad),
            Conv2dReference.BackwardWeight(probe, t.Xd, t.XShape, t.WShape, t.Stride, t.Pad),
            Conv2dReference.BackwardBias(probe, t.YShape),
        ];
        FiniteDiff.Check(inp => Conv2dReference.Forward(inp[0], t.XShape, inp[1], t.WShape, inp[2], t.Stride, t.Pad, out _),
            inputs, probe, analytic, what: $"conv2d twin case {c}");
    }

    [Test]
    public void BadShapes_GiveClearErrors()
    {
        var d = Device.Cpu;
        using var x = Tensor.Zeros(d, 1, 3, 5, 7);
        using var w = Tensor.Zeros(d, 4, 3, 3, 3);
        using var wBadCin = Tensor.Zeros(d, 4, 2, 3, 3);
        using var wEven = Tensor.Zeros(d, 4, 3, 2, 2);
        using var wRect = Tensor.Zeros(d, 4, 3, 3, 1);
        using var bBad = Tensor.Zeros(d, 5);
        using var x3 = Tensor.Zeros(d, 3, 5, 7);
        using var wBig = Tensor.Zeros(d, 1, 3, 7, 7);
        using var dyBad = Tensor.Zeros(d, 1, 4, 5, 6);

        void Throws(Action f, params string[] parts)
        {
            var e = Assert.Throws<ArgumentException>(() => f());
            foreach (var p in parts) Assert.That(e!.Message, Does.Contain(p));
        }
        Throws(() => Conv2d.Forward(x, wBadCin, null, 1, 1).Dispose(), "Conv2d.Forward", "[1, 3, 5, 7]", "[4, 2, 3, 3]");
        Throws(() => Conv2d.Forward(x, wEven, null, 1, 1).Dispose(), "odd", "[4, 3, 2, 2]");
        Throws(() => Conv2d.Forward(x, wRect, null, 1, 1).Dispose(), "square", "[4, 3, 3, 1]");
        Throws(() => Conv2d.Forward(x, w, bBad, 1, 1).Dispose(), "bias", "[4]", "[5]");
        Throws(() => Conv2d.Forward(x3, w, null, 1, 1).Dispose(), "[3, 5, 7]");
        Throws(() => Conv2d.Forward(x, w, null, 0, 1).Dispose(), "stride 0");
        Throws(() => Conv2d.Forward(x, wBig, null, 1, 0).Dispose(), "does not fit", "[1, 3, 5, 7]");
        Throws(() => Conv2d.BackwardInput(dyBad, w, [1, 3, 5, 7], 1, 1).Dispose(), "Conv2d.BackwardInput", "dy", "[1, 4, 5, 7]", "[1, 4, 5, 6]");
        Throws(() => Conv2d.BackwardWeight(dyBad, x, 3, 1, 1).Dispose(), "Conv2d.BackwardWeight", "[1, 4, 5, 7]", "[1, 4, 5, 6]");
        Throws(() => Conv2d.BackwardWeight(dyBad, x, -1, 1, 1).Dispose(), "Conv2d.BackwardWeight", "kernel size -1");
        Throws(() => Conv2d.BackwardBias(x3).Dispose(), "Conv2d.BackwardBias", "[3, 5, 7]");
    }
}
