using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Boost.Kernels.Cpu;

/// <summary>
/// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin &amp; Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2015). Each 2×2 output tile is Aᵀ[U ⊙ V]A with U = G g Gᵀ (the 3×3 filter taken to
/// 4×4) and V = Bᵀ d B (the tile's 4×4 input patch d): 16 products for 4 outputs instead of 36. Summed over input
/// channels this is, for each of the 16 points of the transform domain, one GEMM [Cout × Cin]·[Cin × tiles], so
/// the multiply-adds drop 2.25× and still run in the one GEMM. The transforms only add, subtract and halve, so the
/// result matches direct convolution to float rounding. The input transform runs 8 tiles per AVX vector (a tile row's
/// patch columns are every other input column: the deinterleave shuffle), as does the output transform. Maps 32 and
/// more wide take the larger F(4×4, 3×3) instead (Conv2dCpu.Winograd4x4.cs); this file also holds what the Winograd
/// paths share: the filter transforms into the packed layout and the tiled-forward driver.
/// </summary>
internal static partial class Conv2dCpu
{
    /// <summary>
    /// Convs that take a Winograd path, F(2×2) or F(4×4) (forward and weight gradient by their own dims, the stride-1
    /// input gradient by those of the forward conv it runs as). Measured against im2col on the 2-core VM: 1.2–1.6×
    /// faster from 16 output columns and 16 channels up (interleaved best-of runs); on maps exactly 8 wide, with two
    /// tile rows per vector (Conv2dCpu.WinogradPaired.cs), forward and input gradient 2.2–3× and weight gradient
    /// 1.0–1.4× (batch 8, 128–256 channels; medians of alternating builds). Slower on other narrow maps (0.3–0.7×: the
    /// transforms go tile by tile), with 4 or 8 input or output channels (0.4–0.7×: transforms cost like the GEMM), and
    /// for one image of 64 tiles split across the cores (0.7×: each core's GEMM is too narrow).
    /// </summary>
    internal static bool WinogradApplies(in ConvDims d)
        => d.K == 3 && d.Stride == 1 && d.Pad <= 2 && Avx2.IsSupported && (d.Wo >= 16 || PairsTileRows(d)) && d.Cin >= 16 && d.Cout >= 16
           && (ImagesPerCore(d) || (d.Ho + 1) / 2 * ((d.Wo + 1) / 2) >= 256);

    /// <summary>Filters (Cout·Cin) from which the filter transforms and their inverses split across the cores.</summary>
    private const int ParallelFilters = 8192;

    /// <summary>The transformed filter matrices (16 or 36) in the GEMM's packed A layout (<see cref="PackedFilterTransform{TF}"/>),
    /// kept between calls (taken, so a concurrent call makes its own); the stride-2 path uses it too.</summary>
    private static float[]? s_winogradFilters;

    /// <summary>y[n] = conv3×3(x[n], w) + b (+ beta·y[n]) through F(2×2, 3×3), in blocks of whole tile rows so that the
    /// transformed input and products (16·(Cin + Cout) floats per tile) stay near <see cref="BlockFloats"/>.</summary>
    /// <param name="flipped">w holds the filters of the conv whose input gradient this forward computes, [Cin, Cout,
    /// 3, 3] of this conv's channels with the taps to be reversed (<see cref="BackwardInput"/>): read as such, so no
    /// flipped copy is made.</param>
    private static void WinogradForward(ConvDims d, float[] x, float[] w, float[]? b, float[] y, float beta, bool flipped = false)
    {
        if (WinogradF4Applies(d)) TiledForward<F4Tiles>(d, x, w, b, y, beta, flipped);
        else TiledForward<F2Tiles>(d, x, w, b, y, beta, flipped);
    }

    /// <summary>F(2×2, 3×3) as a <see cref="IWinogradWeightGrad"/>: 2×2 output tiles, 16 points, one GEMM each; its
    /// weight gradient's tile rows unpadded (the transforms finish a row's last tiles one by one).</summary>
    private readonly struct F2Tiles : IWinogradWeightGrad
    {
        public static int TileSide => 2;
        public static int Points => 16;
        public static int Filters => 16;
        public static int GradRowStride(int tilesW) => tilesW;
        public static void TransformFilters(float[] w, float[] u, int cout, int cin, bool flipped) => PackedFilterTransform<F2x3>(w, u, cout, cin, flipped);
        public static void InputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v) => Conv2dCpu.InputTransform(k, x, c0, c1, v, panels: true);
        public static void MatrixInputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v) => Conv2dCpu.InputTransform(k, x, c0, c1, v, panels: false);
        public static void Products(in TileBlock k, float[] u, int uStride, float[] scratch, int threads) => PointProducts(k, u, uStride, scratch, threads, 16);
        public static void OutputTransform(in TileBlock k, float[] m, int c0, int c1, float[] y, float[]? b, float beta) => Conv2dCpu.OutputTransform(k, m, c0, c1, y, b, beta);
        public static void OutputGradTransform(in TileBlock k, float[] dy, int c0, int c1, float[] m) => Conv2dCpu.OutputGradTransform(k, dy, c0, c1, m);
        public static void InverseFilterTransform(float[] du, int copies, int copyStride, float[] dw, int cout, int cin, float beta, int co0, int co1)
            => Conv2dCpu.InverseFilterTransform(du, copies, copyStride, dw, cout, cin, beta, co0, co1);
    }

    /// <summary>
    /// A tiled fast convolution whose forward writes its transformed input straight into the GEMMs' panel layout
    /// (<see cref="TileBlock"/>): F(4×4, 3×3) and the stride-2 polyphase F(2, 2). <see cref="TiledForward{TA}"/> runs
    /// either; each says its tile, its domain points (transformed floats per tile and channel) and its filters.
    /// </summary>
    private interface ITileAlgorithm
    {
        /// <summary>Output rows (and columns) per tile.</summary>
        static abstract int TileSide { get; }

        /// <summary>Transform-domain points per tile: floats per tile and channel of the transformed input and products.</summary>
        static abstract int Points { get; }

        /// <summary>Distinct transformed filters: packed A operands.</summary>
        static abstract int Filters { get; }

        static abstract void TransformFilters(float[] w, float[] u, int cout, int cin, bool flipped);
        static abstract void InputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v);
        static abstract void Products(in TileBlock k, float[] u, int uStride, float[] scratch, int threads);
        static abstract void OutputTransform(in TileBlock k, float[] m, int c0, int c1, float[] y, float[]? b, float beta);
    }

    /// <summary>y[n] = conv(x[n], w) + b (+ beta·y[n]) through <typeparamref name="TA"/>, in blocks of whole tile rows so
    /// that the transformed input and products (Points·(Cin + Cout) floats per tile) stay near 4·<see cref="BlockFloats"/>;
    /// <paramref name="flipped"/> as in <see cref="WinogradForward"/>.</summary>
    private static void TiledForward<TA>(ConvDims d, float[] x, float[] w, float[]? b, float[] y, float beta, bool flipped) where TA : struct, ITileAlgorithm
    {
        int side = TA.TileSide, tilesH = (d.Ho + side - 1) / side, tilesW = (d.Wo + side - 1) / side;
        bool paired = PairsTileRows(d, side);
        int stride = paired ? 4 : (tilesW + 7) / 8 * 8, nr = Gemm.PanelWidth(forA: false);
        if (!BitOperations.IsPow2(nr) || nr % 8 != 0) throw new InvalidOperationException($"Winograd: panel width {nr} is not a power of two of whole AVX groups.");
        int rowsPerBlock = BlockRows(d, TA.Points, stride, tilesH, paired);
        int uStride = (int)FilterStride(d.Cout, d.Cin);
        var u = Interlocked.Exchange(ref s_winogradFilters, null);
        if (u is null || u.Length < TA.Filters * uStride) u = GC.AllocateUninitializedArray<float>(TA.Filters * uStride);
        TA.TransformFilters(w, u, d.Cout, d.Cin, flipped);
        ForImages(d, (n, threads) =>
        {
            int maxTiles = (BlockSpan(rowsPerBlock, stride, paired) + nr - 1) / nr * nr;
            var scratch = Scratch.Floats(16 + TA.Points * (maxTiles * (d.Cin + d.Cout) + 2 * PointSkew));
            int vOff = Scratch.AlignedOffset(scratch), mOff = vOff + TA.Points * (maxTiles * d.Cin + PointSkew);
            for (int i0 = 0; i0 < tilesH; i0 += rowsPerBlock)
            {
                int rows = Math.Min(rowsPerBlock, tilesH - i0), tiles = (BlockSpan(rows, stride, paired) + nr - 1) / nr * nr;
                var block = new TileBlock(d, n, i0, rows, tilesW, stride, tiles, vOff, mOff);
                if (threads <= 1) TA.InputTransform(block, x, 0, d.Cin, scratch);
                else TiledInputInParallel<TA>(block, x, scratch);
                TA.Products(block, u, uStride, scratch, threads);
                if (threads <= 1) TA.OutputTransform(block, scratch, 0, d.Cout, y, b, beta);
                else TiledOutputInParallel<TA>(block, scratch, y, b, beta);
            }
        });
        s_winogradFilters = u;
    }

    private static void TiledInputInParallel<TA>(TileBlock k, float[] x, float[] v) where TA : struct, ITileAlgorithm
        => CpuParallel.For(k.D.Cin, 8, (s, e) => TA.InputTransform(k, x, (int)s, (int)e, v));

    private static void TiledOutputInParallel<TA>(TileBlock k, float[] m, float[] y, float[]? b, float beta) where TA : struct, ITileAlgorithm
        => CpuParallel.For(k.D.Cout, 8, (s, e) => TA.OutputTransform(k, m, (int)s, (int)e, y, b, beta));

    /// <summary>The GEMMs of points [0, points), each on one core: with one image at a time they split across the cores
    /// whole, one fork for all of them rather than one per product (a fork per product had made batch 1 slower).</summary>
    private static void PointProducts(in TileBlock k, float[] u, int uStride, float[] scratch, int threads, int points)
    {
        if (threads <= 1) PointProductRange(k, u, uStride, scratch, 0, points);
        else PointProductsInParallel(k, u, uStride, scratch, points);
    }

    private static void PointProductRange(in TileBlock k, float[] u, int uStride, float[] scratch, int e0, int e1)
    {
        var d = k.D;
        for (int e = e0; e < e1; e++)
            Gemm.SgemmPacked(1, d.Cout, k.Tiles, d.Cin, u, e * uStride,
                scratch, (int)(k.VOff + e * k.VPoint), 0f, scratch, (int)(k.MOff + e * k.MPoint), k.Tiles);
    }

    private static void PointProductsInParallel(TileBlock k, float[] u, int uStride, float[] scratch, int points)
        => CpuParallel.For(points, 1, (s, e) => PointProductRange(k, u, uStride, scratch, (int)s, (int)e));

    /// <summary>
    /// A Winograd algorithm whose weight gradient runs through <see cref="TiledBackwardWeight{TW}"/>: the input
    /// transform in plain-matrix layout (point e's [Cin × Tiles] at VOff + e·VPoint), the output transform's adjoint
    /// (point e's [Cout × Tiles] at MOff + e·MPoint), and the filter transform's adjoint.
    /// </summary>
    private interface IWinogradWeightGrad : ITileAlgorithm
    {
        /// <summary>Tiles from one tile row to the next in the weight gradient's operands.</summary>
        static abstract int GradRowStride(int tilesW);

        static abstract void MatrixInputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v);
        static abstract void OutputGradTransform(in TileBlock k, float[] dy, int c0, int c1, float[] m);
        /// <summary>dw[co, ci] (+ beta·dw) for co in [co0, co1) from dU = the sum of <paramref name="copies"/> arrays of
        /// point matrices (<see cref="GradStride"/> apart), <paramref name="copyStride"/> apart, added in order as read.</summary>
        static abstract void InverseFilterTransform(float[] du, int copies, int copyStride, float[] dw, int cout, int cin, float beta, int co0, int co1);
    }

    /// <summary>The weight-gradient sums dU [Points, Cout, Cin] per core, kept between calls.</summary>
    private static float[]? s_winogradGrads;

    /// <summary>Floats from one point's filter gradient dU[e] [Cout × Cin] to the next (<see cref="PointSkew"/> past it):
    /// the inverse filter transforms read all points of a filter together.</summary>
    private static int GradStride(int cout, int cin) => cout * cin + PointSkew;

    /// <summary>
    /// dw = Gᵀ dU G + beta·dw with dU[e] = Σ over images and tiles of (A dy Aᵀ)[e]·(Bᵀ d B)[e]ᵀ: the exact gradient of
    /// the forward through <typeparamref name="TW"/> (the transforms are linear), as one GEMM [Cout × tiles]·[tiles × Cin]
    /// per point and block. With whole images per core each core sums its contiguous share of the batch into its own dU
    /// and the sums are added in core order (the order depends on the core count only).
    /// </summary>
    private static void TiledBackwardWeight<TW>(ConvDims d, float[] dy, float[] x, float[] dw, float beta) where TW : struct, IWinogradWeightGrad
    {
        int size = TW.Points * GradStride(d.Cout, d.Cin);
        int chunks = ImagesPerCore(d) ? Math.Min(CpuParallel.Threads, d.N) : 1;
        var sums = Interlocked.Exchange(ref s_winogradGrads, null);
        if (sums is null || sums.Length < chunks * size) sums = GC.AllocateUninitializedArray<float>(chunks * size);
        if (chunks == 1) TiledWeightGradImages<TW>(d, dy, x, 0, d.N, sums, 0, CpuParallel.Threads);
        else
            CpuParallel.For(chunks, 1, (s, e) =>
            {
                for (long c = s; c < e; c++)
                    TiledWeightGradImages<TW>(d, dy, x, (int)(d.N * c / chunks), (int)(d.N * (c + 1) / chunks), sums, (int)c * size, 1);
            });
        // The cores' sums are added while the inverse transform reads them (in core order), split by output channel.
        if (CpuParallel.Threads > 1 && (long)d.Cout * d.Cin >= ParallelFilters)
            CpuParallel.For(d.Cout, 1, (s, e) => TW.InverseFilterTransform(sums, chunks, size, dw, d.Cout, d.Cin, beta, (int)s, (int)e));
        else TW.InverseFilterTransform(sums, chunks, size, dw, d.Cout, d.Cin, beta, 0, d.Cout);
        s_winogradGrads = sums;
    }

    /// <summary>
    /// acc[accOff ..] = Σ over images [n0, n1) and their tiles of (A dy Aᵀ)[e]·(Bᵀ d B)[e]ᵀ, in blocks whose transforms
    /// (Points·(Cin + Cout) floats per tile) stay near 4·<see cref="BlockFloats"/>; both transforms as plain matrices
    /// (the GEMM packs them: the product's depth is the tiles). A block is some tile rows of one image or, where several
    /// whole images' transforms fit in <see cref="BlockFloats"/>, those images side by side (image b's tiles b·T columns
    /// in): one image of an 8² map is only 16 tiles, too shallow a product to pay for reading and writing dU. (Larger
    /// blocks of several 32² images had made the F(4×4) weight gradient 1.25× slower.)
    /// </summary>
    private static void TiledWeightGradImages<TW>(in ConvDims d, float[] dy, float[] x, int n0, int n1, float[] acc, int accOff, int threads)
        where TW : struct, IWinogradWeightGrad
    {
        int side = TW.TileSide, tilesH = (d.Ho + side - 1) / side, tilesW = (d.Wo + side - 1) / side, stride = TW.GradRowStride(tilesW);
        bool paired = PairsTileRows(d, side);
        int rowsPerBlock = BlockRows(d, TW.Points, stride, tilesH, paired);
        int imageTiles = BlockSpan(tilesH, stride, paired); // images side by side only while the block stays near L2's size
        int images = rowsPerBlock < tilesH ? 1 : Math.Clamp(BlockFloats / (TW.Points * (d.Cin + d.Cout) * imageTiles), 1, n1 - n0);
        int blockTiles = images > 1 ? images * imageTiles : BlockSpan(rowsPerBlock, stride, paired), mOff = TW.Points * (blockTiles * d.Cin + PointSkew);
        var scratch = Scratch.Floats(TW.Points * (blockTiles * (d.Cin + d.Cout) + 2 * PointSkew));
        float beta = 0f;
        for (int g = n0; g < n1; g += images)
        {
            int count = Math.Min(images, n1 - g);
            for (int i0 = 0; i0 < tilesH; i0 += rowsPerBlock)
            {
                int rows = Math.Min(rowsPerBlock, tilesH - i0), tiles = count > 1 ? count * imageTiles : BlockSpan(rows, stride, paired);
                for (int b = 0; b < count; b++)
                {
                    var block = new TileBlock(d, g + b, i0, rows, tilesW, stride, tiles, b * imageTiles, mOff + b * imageTiles);
                    if (threads <= 1)
                    {
                        TW.MatrixInputTransform(block, x, 0, d.Cin, scratch);
                        TW.OutputGradTransform(block, dy, 0, d.Cout, scratch);
                    }
                    else WeightGradTransformsInParallel<TW>(block, x, dy, scratch);
                }
                var all = new TileBlock(d, g, i0, rows, tilesW, stride, tiles, 0, mOff);
                if (threads <= 1) WeightGradProducts(all, scratch, acc, accOff, beta, 0, TW.Points);
                else WeightGradProductsInParallel(all, scratch, acc, accOff, beta, TW.Points);
                beta = 1f;
            }
        }
    }

    private static void WeightGradTransformsInParallel<TW>(TileBlock k, float[] x, float[] dy, float[] scratch) where TW : struct, IWinogradWeightGrad
    {
        CpuParallel.For(k.D.Cin, 8, (s, e) => TW.MatrixInputTransform(k, x, (int)s, (int)e, scratch));
        CpuParallel.For(k.D.Cout, 8, (s, e) => TW.OutputGradTransform(k, dy, (int)s, (int)e, scratch));
    }

    /// <summary>acc[e] = dM[e]·V[e]ᵀ + beta·acc[e] for points [e0, e1), each on one core.</summary>
    private static void WeightGradProducts(in TileBlock k, float[] scratch, float[] acc, int accOff, float beta, int e0, int e1)
    {
        var d = k.D;
        for (int e = e0; e < e1; e++)
            Gemm.Sgemm(Gemm.Best, 1, false, true, d.Cout, d.Cin, k.Tiles, 1f, scratch, (int)(k.MOff + e * k.MPoint), k.Tiles,
                scratch, (int)(k.VOff + e * k.VPoint), k.Tiles, beta, acc, accOff + e * GradStride(d.Cout, d.Cin), d.Cin);
    }

    private static void WeightGradProductsInParallel(TileBlock k, float[] scratch, float[] acc, int accOff, float beta, int points)
        => CpuParallel.For(points, 1, (s, e) => WeightGradProducts(k, scratch, acc, accOff, beta, (int)s, (int)e));

    /// <summary>
    /// dM[e, co, t] = (A g Aᵀ)[e] for the block's 2×2 output-gradient tiles g (zero past the image's edge), A = [[1, 0],
    /// [1, 1], [1, −1], [0, −1]]: the adjoint of the output transform. 8 tiles per AVX vector where a tile row's 16
    /// gradient columns lie inside, else one by one.
    /// </summary>
    private static unsafe void OutputGradTransform(in TileBlock k, float[] dy, int c0, int c1, float[] scratch)
    {
        if (k.Paired) { PairedOutputGradTransform(k, dy, c0, c1, scratch); return; }
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tilesW = k.TilesW, tiles = k.Tiles, stride = k.RowStride;
        long eStride = k.MPoint;
        fixed (float* g0 = dy, s0 = scratch)
            for (int co = c0; co < c1; co++)
            {
                float* plane = g0 + ((long)n * d.Cout + co) * d.HWo;
                for (int r = 0; r < rows; r++)
                {
                    int oh = 2 * (i0 + r);
                    bool second = oh + 1 < d.Ho;
                    float* o = s0 + k.MOff + (long)co * tiles + r * stride;
                    int j = 0;
                    for (; j + 8 <= tilesW && 2 * j + 16 <= d.Wo; j += 8)
                    {
                        var (a0, a1) = Simd.Deinterleave(plane + (long)oh * d.Wo + 2 * j);   // row 0: columns 0, 1 of 8 tiles
                        var (b0, b1) = second ? Simd.Deinterleave(plane + (long)(oh + 1) * d.Wo + 2 * j) : (Vector256<float>.Zero, Vector256<float>.Zero);
                        GradTile(a0, a1, b0, b1, o + j, eStride);
                    }
                    for (; j < tilesW; j++)
                    {
                        int ow = 2 * j;
                        float* row0 = plane + (long)oh * d.Wo + ow, row1 = row0 + d.Wo;
                        bool right = ow + 1 < d.Wo;
                        float p0 = row0[0], p1 = right ? row0[1] : 0f;
                        float q0 = second ? row1[0] : 0f, q1 = second && right ? row1[1] : 0f;
                        float* q = o + j;
                        ScalarGradRow(p0, p1, q, eStride);
                        ScalarGradRow(p0 + q0, p1 + q1, q + 4 * eStride, eStride);
                        ScalarGradRow(p0 - q0, p1 - q1, q + 8 * eStride, eStride);
                        ScalarGradRow(-q0, -q1, q + 12 * eStride, eStride);
                    }
                }
            }
    }

    /// <summary>A g Aᵀ for 8 tiles' 2×2 gradient tiles g = [[a0, a1], [b0, b1]], the 16 points stored at q + e·s:
    /// rows of A g are g0, g0 + g1, g0 − g1, −g1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void GradTile(Vector256<float> a0, Vector256<float> a1, Vector256<float> b0, Vector256<float> b1, float* q, long s)
    {
        GradRow(a0, a1, q, s);
        GradRow(a0 + b0, a1 + b1, q + 4 * s, s);
        GradRow(a0 - b0, a1 - b1, q + 8 * s, s);
        GradRow(-b0, -b1, q + 12 * s, s);
    }

    /// <summary>One row (a, b) of A g, times Aᵀ: (a, a + b, a − b, −b) at o, o + s, o + 2s, o + 3s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void GradRow(Vector256<float> a, Vector256<float> b, float* o, long s)
    {
        a.Store(o);
        (a + b).Store(o + s);
        (a - b).Store(o + 2 * s);
        (-b).Store(o + 3 * s);
    }

    private static unsafe void ScalarGradRow(float a, float b, float* o, long s)
    {
        o[0] = a; o[s] = a + b; o[2 * s] = a - b; o[3 * s] = -b;
    }

    /// <summary>dw[co, ci] = Gᵀ dU[·, co, ci] G (+ beta·dw), Gᵀ = [[1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]]; dU summed
    /// over its copies as read (<see cref="IWinogradWeightGrad.InverseFilterTransform"/>).</summary>
    private static unsafe void InverseFilterTransform(float[] du, int copies, int copyStride, float[] dw, int cout, int cin, float beta, int co0, int co1)
    {
        float* q = stackalloc float[12];
        long step = GradStride(cout, cin);
        fixed (float* u0 = du, w0 = dw)
            for (int co = co0; co < co1; co++)
                for (int ci = 0; ci < cin; ci++)
                {
                    float* u = u0 + (long)co * cin + ci;
                    for (int c = 0; c < 4; c++) // Gᵀ dU: 3 rows × 4 columns
                    {
                        float a0 = SumCopies(u + c * step, copies, copyStride), a1 = SumCopies(u + (4 + c) * step, copies, copyStride);
                        float a2 = SumCopies(u + (8 + c) * step, copies, copyStride), a3 = SumCopies(u + (12 + c) * step, copies, copyStride);
                        q[c] = a0 + 0.5f * (a1 + a2); q[4 + c] = 0.5f * (a1 - a2); q[8 + c] = 0.5f * (a1 + a2) + a3;
                    }
                    float* g = w0 + ((long)co * cin + ci) * 9;
                    for (int r = 0; r < 3; r++) // (Gᵀ dU) G
                    {
                        float a0 = q[4 * r], a1 = q[4 * r + 1], a2 = q[4 * r + 2], a3 = q[4 * r + 3];
                        float v0 = a0 + 0.5f * (a1 + a2), v1 = 0.5f * (a1 - a2), v2 = 0.5f * (a1 + a2) + a3;
                        if (beta == 0f) { g[3 * r] = v0; g[3 * r + 1] = v1; g[3 * r + 2] = v2; }
                        else { g[3 * r] = v0 + beta * g[3 * r]; g[3 * r + 1] = v1 + beta * g[3 * r + 1]; g[3 * r + 2] = v2 + beta * g[3 * r + 2]; }
                    }
                }
    }

    /// <summary>p[0] + p[s] + … (<paramref name="copies"/> terms, left to right: the order the cores' sums had been added in).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float SumCopies(float* p, int copies, long s)
    {
        float sum = p[0];
        for (int c = 1; c < copies; c++) sum += p[c * s];
        return sum;
    }

    /// <summary>A Winograd filter transform of 8 filters at once (one per lane): their 3×3 taps g[0 … 8] (row-major) →
    /// the Points distinct transformed values, the e-th stored (8 lanes) at o + e·s.</summary>
    private unsafe interface IFilterTransform
    {
        /// <summary>Distinct transformed values per filter: the GEMMs (A operands) the transform feeds.</summary>
        static abstract int Points { get; }

        static abstract void Apply(Vector256<float>* g, float* o, long s);
    }

    /// <summary>Stores a, b, c, d at o, o + s, o + 2s, o + 3s and returns o + 4s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float* Store4(float* o, long s, Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        a.Store(o); o += s; b.Store(o); o += s; c.Store(o); o += s; d.Store(o);
        return o + s;
    }

    /// <summary>F(2×2, 3×3): o[(4r + c)·s] = (G g Gᵀ)[r, c], G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].</summary>
    private readonly unsafe struct F2x3 : IFilterTransform
    {
        public static int Points => 16;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(Vector256<float>* g, float* o, long s)
        {
            var half = Vector256.Create(0.5f);
            o = Row(o, s, g[0], g[1], g[2]);                                              // rows of G g
            o = Row(o, s, half * (g[0] + g[3] + g[6]), half * (g[1] + g[4] + g[7]), half * (g[2] + g[5] + g[8]));
            o = Row(o, s, half * (g[0] - g[3] + g[6]), half * (g[1] - g[4] + g[7]), half * (g[2] - g[5] + g[8]));
            Row(o, s, g[6], g[7], g[8]);
        }

        /// <summary>One row (a0, a1, a2) of G g times Gᵀ.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static float* Row(float* o, long s, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2)
        {
            var half = Vector256.Create(0.5f);
            return Store4(o, s, a0, half * (a0 + a1 + a2), half * (a0 - a1 + a2), a2);
        }
    }

    /// <summary>
    /// U[e] = the transformed filters of w [Cout, Cin, 3, 3] for the TF.Points distinct transform points, written straight
    /// into the panel layout of the GEMMs' A operands [Cout × Cin] (<see cref="Gemm.PackA"/>'s, matrix e at
    /// e·<see cref="FilterStride"/>; the rows that pad the last panel zero). Redone every call (training changes w
    /// in place), so it packs while it transforms and splits panels across the cores: at batch 1 (sampling) the
    /// transform and a separate packing pass had cost ~10 % of a 128-channel conv.
    /// </summary>
    /// <summary>Floats from one transformed filter matrix to the next (<see cref="PointSkew"/> past the packed matrix).</summary>
    private static long FilterStride(int cout, int cin) => Gemm.PackedSize(cout, cin, forA: true) + PointSkew;

    private static void PackedFilterTransform<TF>(float[] w, float[] u, int cout, int cin, bool flipped = false) where TF : struct, IFilterTransform
    {
        int panels = (cout + Gemm.PanelWidth(forA: true) - 1) / Gemm.PanelWidth(forA: true);
        if (CpuParallel.Threads > 1 && (long)cout * cin >= ParallelFilters) PackedFilterTransformInParallel<TF>(w, u, cout, cin, panels, flipped);
        else PackedFilterTransform<TF>(w, u, cout, cin, 0, panels, flipped);
    }

    private static void PackedFilterTransformInParallel<TF>(float[] w, float[] u, int cout, int cin, int panels, bool flipped) where TF : struct, IFilterTransform
        => CpuParallel.For(panels, 1, (s, e) => PackedFilterTransform<TF>(w, u, cout, cin, (int)s, (int)e, flipped));

    /// <summary>Panels [panel0, panel1), one panel's rows in the lanes (gathered 9 taps at a time, rows past Cout
    /// zero); <paramref name="flipped"/>: filter (co, ci) is w[ci, co] with its 9 taps reversed (see
    /// <see cref="WinogradForward"/>).</summary>
    private static unsafe void PackedFilterTransform<TF>(float[] w, float[] u, int cout, int cin, int panel0, int panel1, bool flipped) where TF : struct, IFilterTransform
    {
        int mr = Gemm.PanelWidth(forA: true), kc = Gemm.SlabDepth(cin);
        if (mr > 8) throw new InvalidOperationException($"Winograd: panel width {mr} is wider than an AVX vector.");
        long mPad = (cout + mr - 1) / mr * mr, eStride = FilterStride(cout, cin);
        if (u.Length < TF.Points * eStride) throw new ArgumentException($"Winograd: {u.Length} floats cannot hold {TF.Points} packed {cout}×{cin} filter matrices.");
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var index = lane * (flipped ? 9 : 9 * cin);                 // lane r: filter (co0 + r, ci)
        Vector256<float>* g = stackalloc Vector256<float>[9];
        float* stage = stackalloc float[8 * TF.Points];
        fixed (float* w0 = w, u0 = u)
            for (int panel = panel0; panel < panel1; panel++)
            {
                int co0 = panel * mr;
                var rows = Vector256.LessThan(lane, Vector256.Create(cout - co0)).AsSingle(); // rows past Cout gather as zero
                for (int pc = 0; pc < cin; pc += kc)
                {
                    int kcur = Math.Min(kc, cin - pc);
                    float* slab = u0 + pc * mPad + (long)panel * mr * kcur; // element (co, ci) at (ci − pc)·mr + co mod mr
                    for (int ci = pc; ci < pc + kcur; ci++)
                    {
                        float* src = flipped ? w0 + ((long)ci * cout + co0) * 9 : w0 + ((long)co0 * cin + ci) * 9;
                        for (int t = 0; t < 9; t++)
                            g[t] = Avx2.GatherMaskVector256(Vector256<float>.Zero, src + (flipped ? 8 - t : t), index, rows, 4);
                        // 8 lanes stored over a panel of mr ≤ 8 rows spill into the next filter's slot, which the next
                        // ci overwrites; the slab's last one goes through a buffer (masked stores are slow on AMD).
                        if (ci + 1 < pc + kcur || mr == 8) { TF.Apply(g, slab + (ci - pc) * mr, eStride); continue; }
                        TF.Apply(g, stage, 8);
                        for (int e = 0; e < TF.Points; e++)
                            for (int r = 0; r < mr; r++) slab[(ci - pc) * mr + e * eStride + r] = stage[8 * e + r];
                    }
                }
            }
    }

    /// <summary>
    /// V[e, ci, t] = (Bᵀ d B)[e] for the block's tiles t (tile rows i0 …) and channels [c0, c1), Bᵀ = [[1, 0, −1, 0],
    /// [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]. The four input rows of a tile row are first copied into padded rows
    /// (zeros outside the image), so every patch reads in bounds with no tests.
    /// </summary>
    private static unsafe void InputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v, bool panels)
    {
        if (k.Paired) { PairedInputTransform(k, x, c0, c1, v, panels); return; }
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tilesW = k.TilesW, tiles = k.Tiles, stride = k.RowStride;
        int groupsEnd = panels ? stride : tilesW; // panel rows are padded to whole 8-tile groups (zeros past the image)
        int padded = 2 * groupsEnd + 10;          // patch columns 2j … 2j + 3 for j < groupsEnd, and PaddedRow's slack
        var heapRows = 4 * padded > 16384 ? new float[4 * padded] : null; // past 64 KiB of stack (images ~8k wide)
        float* stackRows = stackalloc float[heapRows is null ? 4 * padded : 0];
        long eStride = k.VPoint;                  // panel layout too: Tiles is whole panels there (TiledForward)
        int nr = Gemm.PanelWidth(forA: false), kc = Gemm.SlabDepth(d.Cin);
        fixed (float* x0 = x, v0 = v, heap = heapRows)
            for (int ci = c0; ci < c1; ci++)
            {
                float* rowBuf = heap != null ? heap : stackRows;
                float* plane = x0 + ((long)n * d.Cin + ci) * d.HW;
                int pc = ci / kc * kc, kcur = Math.Min(kc, d.Cin - pc);
                float* channel = v0 + k.VOff + (long)pc * tiles + (ci - pc) * nr; // panel layout: this channel's row
                for (int r = 0; r < rows; r++)
                {
                    for (int a = 0; a < 4; a++) PaddedRow(d, plane, 2 * (i0 + r) - d.Pad + a, rowBuf + a * padded, padded);
                    float* rowStart = v0 + k.VOff + (long)ci * tiles + r * stride; // matrix layout
                    int j = 0;
                    for (; j + 8 <= groupsEnd; j += 8)
                    {
                        // d[a][c] for 8 tiles: padded row a, columns 2(j + k) + c.
                        var (d00, d01) = Simd.Deinterleave(rowBuf + 2 * j); var (d02, d03) = Simd.Deinterleave(rowBuf + 2 * j + 2);
                        var (d10, d11) = Simd.Deinterleave(rowBuf + padded + 2 * j); var (d12, d13) = Simd.Deinterleave(rowBuf + padded + 2 * j + 2);
                        var (d20, d21) = Simd.Deinterleave(rowBuf + 2 * padded + 2 * j); var (d22, d23) = Simd.Deinterleave(rowBuf + 2 * padded + 2 * j + 2);
                        var (d30, d31) = Simd.Deinterleave(rowBuf + 3 * padded + 2 * j); var (d32, d33) = Simd.Deinterleave(rowBuf + 3 * padded + 2 * j + 2);
                        int t = r * stride + j;
                        float* o = panels ? channel + PanelColumn(t, kcur, nr) : rowStart + j;
                        BtTile(d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33, o, eStride);
                    }
                    for (; j < tilesW; j++)
                    {
                        float* p = rowBuf + 2 * j;
                        float* o = rowStart + j; // matrix layout only: panel rows have no remainder
                        for (int r4 = 0; r4 < 4; r4++)
                        {
                            // row r4 of Bᵀ d, then times B along the columns
                            float t0, t1, t2, t3;
                            float* a0 = p, a1 = p + padded, a2 = p + 2 * padded, a3 = p + 3 * padded;
                            (t0, t1, t2, t3) = r4 switch
                            {
                                0 => (a0[0] - a2[0], a0[1] - a2[1], a0[2] - a2[2], a0[3] - a2[3]),
                                1 => (a1[0] + a2[0], a1[1] + a2[1], a1[2] + a2[2], a1[3] + a2[3]),
                                2 => (a2[0] - a1[0], a2[1] - a1[1], a2[2] - a1[2], a2[3] - a1[3]),
                                _ => (a1[0] - a3[0], a1[1] - a3[1], a1[2] - a3[2], a1[3] - a3[3]),
                            };
                            float* q = o + 4 * r4 * eStride;
                            q[0] = t0 - t2; q[eStride] = t1 + t2; q[2 * eStride] = t2 - t1; q[3 * eStride] = t1 - t3;
                        }
                    }
                }
                if (panels) ZeroPanelColumns(channel, rows * stride, tiles, kcur, nr, 16, eStride);
            }
    }

    /// <summary>Bᵀ d B for 8 tiles' 4×4 patches d (dac: patch row a, column c, 8 tiles each), the 16 points stored
    /// at o + e·s: rows of Bᵀ d are d0 − d2, d1 + d2, d2 − d1, d1 − d3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void BtTile(Vector256<float> d00, Vector256<float> d01, Vector256<float> d02, Vector256<float> d03,
        Vector256<float> d10, Vector256<float> d11, Vector256<float> d12, Vector256<float> d13,
        Vector256<float> d20, Vector256<float> d21, Vector256<float> d22, Vector256<float> d23,
        Vector256<float> d30, Vector256<float> d31, Vector256<float> d32, Vector256<float> d33, float* o, long s)
    {
        TransformRow(d00 - d20, d01 - d21, d02 - d22, d03 - d23, o, s);
        TransformRow(d10 + d20, d11 + d21, d12 + d22, d13 + d23, o + 4 * s, s);
        TransformRow(d20 - d10, d21 - d11, d22 - d12, d23 - d13, o + 8 * s, s);
        TransformRow(d10 - d30, d11 - d31, d12 - d32, d13 - d33, o + 12 * s, s);
    }

    /// <summary>One row of Bᵀ d (its four columns, 8 tiles each) times B, stored at o, o + s, o + 2s, o + 3s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void TransformRow(Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3, float* o, long s)
    {
        (t0 - t2).Store(o);
        (t1 + t2).Store(o + s);
        (t2 - t1).Store(o + 2 * s);
        (t1 - t3).Store(o + 3 * s);
    }

    /// <summary>
    /// y[n, co] tile by tile = Aᵀ m A (+ b[co], + beta·y) for channels [c0, c1), m[e] = M[e, co, t], Aᵀ = [[1, 1, 1, 0],
    /// [0, 1, −1, −1]]; 8 tiles at a time where their 16 outputs per row lie inside the image, else one by one.
    /// </summary>
    private static unsafe void OutputTransform(in TileBlock k, float[] scratch, int c0, int c1, float[] y, float[]? b, float beta)
    {
        if (k.Paired) { PairedOutputTransform(k, scratch, c0, c1, y, b, beta); return; }
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tilesW = k.TilesW, tiles = k.Tiles, mOff = k.MOff, stride = k.RowStride;
        long eStride = k.MPoint;
        Span<float> mm = stackalloc float[16];
        fixed (float* s0 = scratch, y0 = y)
            for (int co = c0; co < c1; co++)
            {
                float bias = b is null ? 0f : b[co];
                var vb = Vector256.Create(bias);
                float* plane = y0 + ((long)n * d.Cout + co) * d.HWo;
                for (int r = 0; r < rows; r++)
                {
                    int oh = 2 * (i0 + r);
                    bool second = oh + 1 < d.Ho;
                    float* m = s0 + mOff + (long)co * tiles + r * stride;
                    int j = 0;
                    for (; j + 8 <= tilesW && 2 * j + 16 <= d.Wo; j += 8)
                    {
                        var (y00, y01, y10, y11) = AtTile(m + j, eStride, vb);
                        StorePairs(plane + (long)oh * d.Wo + 2 * j, y00, y01, beta);
                        if (second) StorePairs(plane + (long)(oh + 1) * d.Wo + 2 * j, y10, y11, beta);
                    }
                    for (; j < tilesW; j++)
                    {
                        float* p = m + j;
                        for (int e = 0; e < 16; e++) mm[e] = p[e * eStride];
                        for (int a = 0; a < 2; a++)
                        {
                            int yy = oh + a;
                            if (yy >= d.Ho) break;
                            // row a of Aᵀ m
                            float t0 = a == 0 ? mm[0] + mm[4] + mm[8] : mm[4] - mm[8] - mm[12];
                            float t1 = a == 0 ? mm[1] + mm[5] + mm[9] : mm[5] - mm[9] - mm[13];
                            float t2 = a == 0 ? mm[2] + mm[6] + mm[10] : mm[6] - mm[10] - mm[14];
                            float t3 = a == 0 ? mm[3] + mm[7] + mm[11] : mm[7] - mm[11] - mm[15];
                            float* dst = plane + (long)yy * d.Wo + 2 * j;
                            float v0 = t0 + t1 + t2 + bias;
                            dst[0] = beta == 0f ? v0 : v0 + beta * dst[0];
                            if (2 * j + 1 < d.Wo)
                            {
                                float v1 = t1 - t2 - t3 + bias;
                                dst[1] = beta == 0f ? v1 : v1 + beta * dst[1];
                            }
                        }
                    }
                }
            }
    }

    /// <summary>Aᵀ m A + b for 8 tiles whose 16 products lie at p + e·s: output row 0 (y00, y01) and row 1 (y10, y11)
    /// of each tile. Rows of Aᵀ m: m0 + m1 + m2 and m1 − m2 − m3 (each 4 columns × 8 tiles), then the same along them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector256<float> y00, Vector256<float> y01, Vector256<float> y10, Vector256<float> y11) AtTile(float* p, long s, Vector256<float> b)
    {
        var (s00, s01, s02, s03) = SumRows(p, s, 0);
        var (s10, s11, s12, s13) = SumRows(p, s, 1);
        return (s00 + s01 + s02 + b, s01 - s02 - s03 + b, s10 + s11 + s12 + b, s11 - s12 - s13 + b);
    }

    /// <summary>Row <paramref name="which"/> of Aᵀ m for 8 tiles: its four columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) SumRows(float* p, long s, int which)
    {
        Vector256<float> Row(int r, int c) => Vector256.Load(p + (4 * r + c) * s);
        return which == 0
            ? (Row(0, 0) + Row(1, 0) + Row(2, 0), Row(0, 1) + Row(1, 1) + Row(2, 1), Row(0, 2) + Row(1, 2) + Row(2, 2), Row(0, 3) + Row(1, 3) + Row(2, 3))
            : (Row(1, 0) - Row(2, 0) - Row(3, 0), Row(1, 1) - Row(2, 1) - Row(3, 1), Row(1, 2) - Row(2, 2) - Row(3, 2), Row(1, 3) - Row(2, 3) - Row(3, 3));
    }

    /// <summary>dst[2k] = even[k], dst[2k + 1] = odd[k] for k &lt; 8 (+ beta·dst).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StorePairs(float* dst, Vector256<float> even, Vector256<float> odd, float beta)
    {
        var (first, second) = Simd.Interleave(even, odd);
        if (beta != 0f)
        {
            var vb = Vector256.Create(beta);
            first += vb * Vector256.Load(dst);
            second += vb * Vector256.Load(dst + 8);
        }
        first.Store(dst);
        second.Store(dst + 8);
    }
}
