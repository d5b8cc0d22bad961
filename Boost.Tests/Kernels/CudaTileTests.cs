using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

/// <summary>
/// The production tile specialisations — <see cref="ConvTileCuda"/>, the dense GEMM on <see cref="ConvTileCuda"/>,
/// <see cref="AttentionTileD64"/>/<see cref="AttentionTileD128"/>/<see cref="AttentionTileD256"/> and the 32×32
/// transpose tile — on ILGPU's CPU simulator shaped like an NVIDIA GPU (warp 32, 256-thread groups, see
/// <see cref="IlgpuDevice.CreateNvidiaSimulator"/>), against the double twins, inputs seeded in [-2, 2], outputs
/// poisoned. Shapes cross every tile edge: sizes one past a tile and short of one in every GEMM dimension, plus one
/// exact multiple, batch 1.
/// </summary>
/// <remarks>
/// Each simulated GPU thread is an OS thread and every barrier wakes all 256 of a group, so these shapes stay a few
/// tiles big (the CI subset runs in about 1½ minutes on 2 cores); the larger cases are <c>[Explicit]</c>, category
/// <c>NvidiaSimFull</c>: <c>dotnet test --filter "TestCategory=NvidiaSimFull"</c>.
/// </remarks>
[Category("NvidiaSim")]
public class CudaTileTests
{
    private const string Full = "NvidiaSimFull";
    private const string Slow = "several minutes on ILGPU's NVIDIA-shaped CPU simulator: run on demand (TestCategory=NvidiaSimFull)";

    private static IlgpuDevice Dev => (IlgpuDevice)Backends.Get(Backends.NvidiaSim);

    [Test]
    public void NvidiaSim_IsShapedLikeAGpu_AndUsesTheCudaTiles()
    {
        var dev = Dev;
        Assert.That(dev.Tiles, Is.EqualTo(TileSet.Cuda));
        Assert.That(dev.Kind, Is.EqualTo(DeviceKind.IlgpuCpu), "slow like the small simulator (Backends.IsSlow)");
        Assert.That(dev.Accelerator.WarpSize, Is.EqualTo(32));
        int largest = new[]
        {
            ConvTile.Threads<ConvTileCuda>(), 256,
            Attention.Footprint<AttentionTileD64>().threadsQ, Attention.Footprint<AttentionTileD128>().threadsQ, Attention.Footprint<AttentionTileD256>().threadsQ,
        }.Max();
        Assert.That(dev.Accelerator.MaxNumThreadsPerGroup, Is.GreaterThanOrEqualTo(largest), "the largest group a CUDA tile launches");
        Assert.That(((IlgpuDevice)Backends.Get(Backends.Sim)).Tiles, Is.EqualTo(TileSet.Small));
        using var byName = Device.Create("ilgpu-cpu-nvidia");
        Assert.That(byName is IlgpuDevice { Tiles: TileSet.Cuda }, Is.True, byName.Name);
        Assert.That(byName.Name, Does.StartWith("ilgpu-cpu-nvidia"));
    }

    // ---------------------------------------------------------------- conv (ConvTileCuda: 64 rows × 64 columns, K-chunks of 16)

    /// <summary>(n, cin, h, w, cout, k, stride, pad), as GEMMs rows × columns × depth. 0: forward 65 (Cout) × 72
    /// (pixels) × 72 (Cin·9: chunks of 16 then 8), dx 8 × 72 × 585, dw 65 × 72 × 72, db 65 channels of 72 pixels
    /// (fewer than the 256 threads). 1: dx rows past a tile (Cin 65): forward 8 × 20 × 585, dx 65 × 20 × 72, dw
    /// 8 × 585 × 20. 2: stride 2, odd sizes, four stride phases of different widths. 3: exact multiples (forward
    /// 64 × 64 × 16, dx 64 × 64 × 64, dw 64 × 16 × 64). 4: dw over 529 pixels in two reduction slices (asserted),
    /// db over more pixels than threads. 5: batch 2 inside one column tile (the epilogue's per-sample channel bias:
    /// forward 66 × 84 × 45).</summary>
    private static readonly (int n, int cin, int h, int w, int cout, int k, int stride, int pad)[] ConvCases =
    [
        (1, 8, 9, 8, 65, 3, 1, 1),
        (1, 65, 5, 4, 8, 3, 1, 1),
        (1, 5, 11, 9, 17, 3, 2, 1),
        (1, 64, 8, 8, 64, 1, 1, 0),
        (1, 8, 23, 23, 8, 3, 1, 1),
        (2, 5, 7, 6, 66, 3, 1, 1),
    ];

    /// <summary>Several tiles in every dimension and batch 2, stride 1 and 2, a 5×5 kernel.</summary>
    private static readonly (int n, int cin, int h, int w, int cout, int k, int stride, int pad)[] ConvFullCases =
    [
        (2, 72, 17, 15, 130, 3, 1, 1),
        (2, 70, 33, 31, 67, 3, 2, 1),
        (1, 20, 21, 19, 129, 5, 1, 2),
        (2, 3, 37, 41, 64, 3, 1, 1),
    ];

    [Test]
    public void Conv_CudaTile_MatchesTwin([Range(0, 5)] int c) => ConvMatchesTwin(ConvCases[c], seed: 10 + c);

    [Test, Category(Full), Explicit(Slow)]
    public void Conv_CudaTile_Full_MatchesTwin([Range(0, 3)] int c) => ConvMatchesTwin(ConvFullCases[c], seed: 20 + c);

    private static void ConvMatchesTwin((int n, int cin, int h, int w, int cout, int k, int stride, int pad) c, int seed)
    {
        var dev = Dev;
        var (n, cin, h, w, cout, k, s, p) = c;
        int ho = Conv2d.OutputSize(h, k, s, p), wo = Conv2d.OutputSize(w, k, s, p);
        int[] xs = [n, cin, h, w], ws = [cout, cin, k, k], ys = [n, cout, ho, wo];
        var xd = Seeded.Floats(seed, Tensor.Count(xs)); var wd = Seeded.Floats(seed + 1, Tensor.Count(ws));
        var bd = Seeded.Floats(seed + 2, cout); var gd = Seeded.Floats(seed + 3, Tensor.Count(ys));
        var oldX = Seeded.Floats(seed + 4, Tensor.Count(xs)); var oldW = Seeded.Floats(seed + 5, Tensor.Count(ws));
        double[] X = Seeded.ToDouble(xd), W = Seeded.ToDouble(wd), G = Seeded.ToDouble(gd);
        string at = $"x {Tensor.Format(xs)} w {Tensor.Format(ws)} stride {s} pad {p}";
        if (c == ConvCases[4])
        {
            var t = default(ConvTileCuda);
            int tiles = (cin * k * k + t.BN - 1) / t.BN * ((cout + t.BM - 1) / t.BM);
            Assert.That(Conv2d.WeightGradSlices(dev, tiles, n * ho * wo, t.BK, ConvTile.Threads<ConvTileCuda>(), out _), Is.GreaterThan(1), "dw slices");
        }
        using var x = Seeded.Tensor(dev, xd, xs);
        using var wt = Seeded.Tensor(dev, wd, ws);
        using var b = Seeded.Tensor(dev, bd, cout);
        using var dy = Seeded.Tensor(dev, gd, ys);
        using (var y = Conv2d.Forward(x, wt, b, s, p))
            Compare.Close(y.ToArray(), Conv2dReference.Forward(X, xs, W, ws, Seeded.ToDouble(bd), s, p, out _), atol: ConvAtol(cin * k * k), what: $"forward {at}");
        // The epilogue at partial tiles: a channel bias and a residual added in the store.
        var ed = Seeded.Floats(seed + 6, n * cout);
        using (var e = Seeded.Tensor(dev, ed, n, cout))
        using (var y = Conv2d.Forward(x, wt, b, s, p, new ConvEpilogue(e, dy)))
            Compare.Close(y.ToArray(), Conv2dReference.Forward(X, xs, W, ws, Seeded.ToDouble(bd), Seeded.ToDouble(ed), G, s, p, out _),
                atol: ConvAtol(cin * k * k), what: $"forward + epilogue {at}");
        var wantDx = Conv2dReference.BackwardInput(G, W, xs, ws, s, p);
        using (var dx = Conv2d.BackwardInput(dy, wt, xs, s, p))
            Compare.Close(dx.ToArray(), wantDx, atol: ConvAtol(cout * k * k), what: $"dx {at}");
        using (var dx = Seeded.Tensor(dev, oldX, xs))
        {
            Conv2d.BackwardInputInto(dy, wt, s, p, dx, 1f);
            Compare.Close(dx.ToArray(), wantDx.Select((v, i) => v + oldX[i]).ToArray(), atol: ConvAtol(cout * k * k), what: $"dx += {at}");
        }
        var wantDw = Conv2dReference.BackwardWeight(G, X, xs, ws, s, p);
        using (var dw = Conv2d.BackwardWeight(dy, x, k, s, p))
            Compare.Close(dw.ToArray(), wantDw, atol: ConvAtol(n * ho * wo), what: $"dw {at}");
        using (var dw = Seeded.Tensor(dev, oldW, ws))
        {
            Conv2d.BackwardWeightInto(dy, x, s, p, dw, 1f);
            Compare.Close(dw.ToArray(), wantDw.Select((v, i) => v + oldW[i]).ToArray(), atol: ConvAtol(n * ho * wo), what: $"dw += {at}");
        }
        using (var db = Conv2d.BackwardBias(dy))
            Compare.Close(db.ToArray(), Conv2dReference.BackwardBias(G, ys), atol: ConvAtol(n * ho * wo), what: $"db {at}");
    }

    /// <summary>As Conv2dTests.Atol: far above float rounding of <paramref name="terms"/> products, far below a wrong tap.</summary>
    private static double ConvAtol(int terms) => 1e-6 * 4 * Math.Max(terms, 4);

    // ---------------------------------------------------------------- GEMM (DenseGemm on ConvTileCuda: 64×64 tiles, K steps of 16)

    /// <summary>(M, N, K): one past a tile in M and N and two K steps plus one (65 × 70 × 33), exact multiples
    /// (64 × 128 × 32), a single element.</summary>
    private static readonly (int M, int N, int K)[] GemmCases = [(65, 70, 33), (64, 128, 32), (1, 1, 1)];

    private static readonly (int M, int N, int K)[] GemmFullCases = [(130, 200, 300), (257, 129, 70), (63, 1, 200)];

    [Test]
    public void Gemm_CudaTile_MatchesTwin([Range(0, 2)] int c, [Values(false, true)] bool transA, [Values(false, true)] bool transB)
        => GemmMatchesTwin(GemmCases[c], transA, transB);

    [Test, Category(Full), Explicit(Slow)]
    public void Gemm_CudaTile_Full_MatchesTwin([Range(0, 2)] int c, [Values(false, true)] bool transA, [Values(false, true)] bool transB)
        => GemmMatchesTwin(GemmFullCases[c], transA, transB);

    private static void GemmMatchesTwin((int M, int N, int K) c, bool transA, bool transB)
    {
        var dev = Dev;
        var (M, N, K) = c;
        int[] aShape = transA ? [K, M] : [M, K], bShape = transB ? [N, K] : [K, N];
        var ad = Seeded.Floats(M + 7 * N + 31 * K, M * K); var bd = Seeded.Floats(1 + M * N + K, K * N);
        using var a = Seeded.Tensor(dev, ad, aShape);
        using var b = Seeded.Tensor(dev, bd, bShape);
        using var y = MatMul.Gemm(a, b, transA, transB, alpha: 0.75f);
        var want = MatMulReference.Gemm(Seeded.ToDouble(ad), aShape, Seeded.ToDouble(bd), bShape, transA, transB, out var shape, alpha: 0.75);
        Assert.That(y.Shape, Is.EqualTo(shape));
        Compare.Close(y.ToArray(), want, atol: GemmAtol(K), what: $"gemm {M}×{N}×{K} {(transA ? "T" : "N")}{(transB ? "T" : "N")}");
    }

    /// <summary>Batched: both operands batched, B shared (one tall product when A is untransposed), A shared, batch 1;
    /// into a C with β = 1 so the β path runs on the CUDA tile too.</summary>
    [Test]
    public void Gemm_CudaTile_Batched_MatchesTwin([Values(false, true)] bool transA, [Values(false, true)] bool transB)
    {
        var dev = Dev;
        foreach (var (ba, bb, M, N, K) in new[] { (3, 3, 5, 67, 17), (3, 0, 65, 9, 17), (0, 2, 17, 65, 9), (1, 1, 1, 1, 1) })
        {
            int[] aShape = Stored(ba, M, K, transA), bShape = Stored(bb, K, N, transB);
            var ad = Seeded.Floats(ba + M, Tensor.Count(aShape)); var bd = Seeded.Floats(bb + N + 100, Tensor.Count(bShape));
            using var a = Seeded.Tensor(dev, ad, aShape);
            using var b = Seeded.Tensor(dev, bd, bShape);
            var want = MatMulReference.Gemm(Seeded.ToDouble(ad), aShape, Seeded.ToDouble(bd), bShape, transA, transB, out var shape);
            var cd = Seeded.Floats(M * N + K, Tensor.Count(shape));
            using var y = Seeded.Tensor(dev, cd, shape);
            MatMul.GemmInto(a, b, y, transA, transB, alpha: 1f, beta: 1f);
            Compare.Close(y.ToArray(), want.Select((v, i) => v + cd[i]).ToArray(), atol: GemmAtol(K),
                what: $"batched a {Tensor.Format(aShape)} b {Tensor.Format(bShape)}, β = 1");
        }
    }

    private static int[] Stored(int batch, int rows, int cols, bool trans)
        => batch == 0 ? (trans ? [cols, rows] : [rows, cols]) : (trans ? [batch, cols, rows] : [batch, rows, cols]);

    private static double GemmAtol(int k) => 1e-5 + 1e-6 * k;

    // ---------------------------------------------------------------- attention (D64: 16 × 16 rows, D128: 16 × 8, D256: 8 × 4)

    /// <summary>(B, H, Tq, Tk, D), two per tile: query and key counts one past a block (Tq ≠ Tk) with a head dim
    /// that is not a multiple of the 16 threads per row (D64: 40, two heads; D128 and D256: one past the previous
    /// tile's MaxD, where the choice of tile changes), then exactly one block of each and D = MaxD.</summary>
    private static readonly int[][] AttentionCases =
    [
        [1, 2, 17, 19, 40], [1, 1, 16, 16, 64],     // AttentionTileD64: BlockQ 16, BlockK 16
        [1, 1, 17, 9, 65], [1, 1, 16, 8, 128],      // AttentionTileD128: BlockQ 16, BlockK 8
        [1, 1, 9, 5, 129], [1, 1, 8, 4, 256],       // AttentionTileD256: BlockQ 8, BlockK 4
    ];

    private static readonly int[][] AttentionFullCases =
    [
        [2, 2, 65, 70, 64], [1, 1, 257, 257, 64], [1, 2, 33, 40, 128], [2, 1, 20, 17, 256],
    ];

    [Test]
    public void Attention_CudaTiles_MatchTwin([Range(0, 5)] int c)
    {
        var shape = AttentionCases[c];
        AttentionTests.RunAndCompare(Dev, shape, seed: 40 + c, magnitude: 1f, scale: 1f / MathF.Sqrt(shape[4]));
        var tile = new[] { typeof(AttentionTileD64), typeof(AttentionTileD128), typeof(AttentionTileD256) }[c / 2];
        Assert.That(((IlgpuBackend)Dev.Backend).AttentionTile(shape[4], "test"), Is.EqualTo(tile), "the case must run the tile it is listed under");
    }

    [Test, Category(Full), Explicit(Slow)]
    public void Attention_CudaTiles_Full_MatchTwin([Range(0, 3)] int c)
        => AttentionTests.RunAndCompare(Dev, AttentionFullCases[c], seed: 50 + c, magnitude: 1f, scale: 1f / MathF.Sqrt(AttentionFullCases[c][4]));

    // ---------------------------------------------------------------- transpose (32×32 tiles, 256 threads)

    [TestCase(1, 1, 1)]
    [TestCase(2, 33, 65)]
    [TestCase(1, 64, 32)]
    public void Transpose_CudaTile_MatchesTwin(int b, int m, int n) => TransposeMatchesTwin(b, m, n);

    [Test, Category(Full), Explicit(Slow)]
    public void Transpose_CudaTile_Full_MatchesTwin() => TransposeMatchesTwin(3, 100, 130);

    private static void TransposeMatchesTwin(int b, int m, int n)
    {
        var xd = Seeded.Floats(b * 100 + m, (long)b * m * n);
        using var x = Seeded.Tensor(Dev, xd, b, m, n);
        using var y = Transpose.LastTwo(x);
        var want = new double[xd.Length];
        for (int q = 0; q < b; q++) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++)
            want[q * m * n + j * m + i] = xd[q * m * n + i * n + j];
        Compare.Close(y.ToArray(), want, rtol: 0, atol: 0, what: $"transpose [{b}, {m}, {n}]");
    }
}
