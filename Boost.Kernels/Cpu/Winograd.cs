// What the Winograd convolutions share: the tile block and its panel addressing, padded input rows, block
// budgeting, the filter transforms' packed layout, and the drivers (forward and weight gradient) that run any
// variant through its interface. The variants: WinogradF2.cs (+ WinogradF2Paired.cs), WinogradF4.cs,
// WinogradStride2.cs; which one runs when: Conv2dCpu.cs.

using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Boost.Kernels.Cpu;

/// <summary>
/// The tiled fast convolutions' common machinery. A variant (<see cref="ITileAlgorithm"/>) cuts the output into
/// tiles and each tile's input patch, filter and output into transform-domain points; summed over input channels,
/// each point is one GEMM [Cout × Cin]·[Cin × tiles]. <see cref="TiledForward{TA}"/> runs a block of tile rows at a
/// time: the input transform writes straight into the GEMMs' packed B layout, the filter transform into their packed
/// A layout, and the output transform reads the products back. <see cref="TiledBackwardWeight{TW}"/> runs the
/// adjoints (<see cref="IWinogradWeightGrad"/>).
/// </summary>
internal static class Winograd
{
    /// <summary>
    /// A tiled fast convolution whose forward writes its transformed input straight into the GEMMs' panel layout
    /// (<see cref="TileBlock"/>): F(2×2, 3×3), F(4×4, 3×3) and the stride-2 polyphase F(2, 2), all run by
    /// <see cref="TiledForward{TA}"/>; each says its tile, its domain points (transformed floats per tile and channel)
    /// and its filters.
    /// </summary>
    internal interface ITileAlgorithm
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

    /// <summary>
    /// A Winograd algorithm whose weight gradient runs through <see cref="TiledBackwardWeight{TW}"/>: the input
    /// transform in plain-matrix layout (point e's [Cin × Tiles] at VOff + e·VPoint), the output transform's adjoint
    /// (point e's [Cout × Tiles] at MOff + e·MPoint), and the filter transform's adjoint.
    /// </summary>
    internal interface IWinogradWeightGrad : ITileAlgorithm
    {
        /// <summary>Tiles from one tile row to the next in the weight gradient's operands.</summary>
        static abstract int GradRowStride(int tilesW);

        static abstract void MatrixInputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v);
        static abstract void OutputGradTransform(in TileBlock k, float[] dy, int c0, int c1, float[] m);
        /// <summary>dw[co, ci] (+ beta·dw) for co in [co0, co1) from dU = the sum of <paramref name="copies"/> arrays of
        /// point matrices (<see cref="GradStride"/> apart), <paramref name="copyStride"/> apart, added in order as read.</summary>
        static abstract void InverseFilterTransform(float[] du, int copies, int copyStride, float[] dw, int cout, int cin, float beta, int co0, int co1);
    }

    /// <summary>A Winograd filter transform of 8 filters at once (one per lane): their 3×3 taps g[0 … 8] (row-major) →
    /// the Points distinct transformed values, the e-th stored (8 lanes) at o + e·s.</summary>
    internal unsafe interface IFilterTransform
    {
        /// <summary>Distinct transformed values per filter: the GEMMs (A operands) the transform feeds.</summary>
        static abstract int Points { get; }

        static abstract void Apply(Vector256<float>* g, float* o, long s);
    }

    /// <summary>
    /// Floats added between the per-point matrices of the Winograd paths: transformed inputs and products in the
    /// scratch, transformed filters, filter gradients. Such a matrix is a multiple of 4 KiB whenever its extents are
    /// multiples of 8 (C·Tiles always, in the panel layout; Cout·Cin in most layers), so the 16–36 rows a transform
    /// writes or reads together, one per point, would all fall into one L1 set (and at 64 KiB multiples one L2 set); a
    /// line (16 floats) further apart they spread over as many sets.
    /// </summary>
    internal const int PointSkew = 16;

    /// <summary>
    /// One image's block of tile rows [I0, I0 + Rows), RowStride tiles apart, in Tiles columns, its transformed input
    /// at VOff and its products (or output-gradient transforms) at MOff of the scratch. In the forward RowStride is a
    /// multiple of 8 (whole AVX groups; 4 where tile rows pair) and Tiles is Rows·RowStride rounded up to whole GEMM
    /// panels, so every GEMM operand starts on a panel and all transform points share one panel geometry; in the
    /// weight gradient the operands are plain matrices (<see cref="IWinogradWeightGrad"/>). Where each point's
    /// operands lie is the variant's to say.
    /// </summary>
    internal readonly record struct TileBlock(ConvDims D, int N, int I0, int Rows, int TilesW, int RowStride, int Tiles, int VOff, int MOff)
    {
        /// <summary>Floats from one point's (or distinct filter's) transformed input to the next: Cin·Tiles and a skew.</summary>
        public long VPoint => (long)D.Cin * Tiles + PointSkew;

        /// <summary>Floats from one point's products to the next: Cout·Tiles and a skew.</summary>
        public long MPoint => (long)D.Cout * Tiles + PointSkew;

        /// <summary>F(2×2) on an 8-wide map: two tile rows per 8-lane group (WinogradF2Paired.cs).</summary>
        public bool Paired => RowStride == 4 && PairsTileRows(D);
    }

    /// <summary>Tile column t of one channel's row in the GEMMs' panel layout (panels of nr columns, kcur deep), from
    /// that row's start in the first panel.</summary>
    internal static long PanelColumn(int t, int kcur, int nr) => (long)(t & -nr) * kcur + (t & (nr - 1));

    /// <summary>Zeros one channel's panel columns [<paramref name="from"/>, <paramref name="tiles"/>) of the points
    /// <paramref name="s"/> apart: the columns that round a block's tiles up to whole panels.</summary>
    internal static unsafe void ZeroPanelColumns(float* channel, int from, int tiles, int kcur, int nr, int points, long s)
    {
        for (int t = from; t < tiles; t += 8)
        {
            float* o = channel + PanelColumn(t, kcur, nr);
            for (int e = 0; e < points; e++) Vector256<float>.Zero.Store(o + e * s);
        }
    }

    /// <summary>Whether a conv with these dims, in tiles of <paramref name="tileSide"/>, pairs tile rows (F(2×2) on an
    /// 8-wide map: RowStride 4).</summary>
    internal static bool PairsTileRows(in ConvDims d, int tileSide = 2) => tileSide == 2 && d.Stride == 1 && d.Wo == 8;

    /// <summary>Tile rows per block of the tiled drivers, so that a block's transforms (<paramref name="points"/>·(Cin +
    /// Cout) floats per tile, <paramref name="stride"/> tiles a row) stay near 4·<see cref="Conv2dCpu.BlockFloats"/>; even when
    /// tile rows are paired, unless one block takes the whole image.</summary>
    private static int BlockRows(in ConvDims d, int points, int stride, int tilesH, bool paired)
    {
        int rows = Math.Clamp(4 * Conv2dCpu.BlockFloats / (points * (d.Cin + d.Cout) * stride), 1, tilesH);
        return !paired || rows >= tilesH ? rows : Math.Max(2, rows & ~1);
    }

    /// <summary>Tile columns that <paramref name="rows"/> tile rows take: a paired block's odd last row takes a pair's.</summary>
    private static int BlockSpan(int rows, int stride, bool paired) => (paired ? (rows + 1) / 2 * 2 : rows) * stride;

    /// <summary>The transformed filter matrices (16 or 36) in the GEMM's packed A layout (<see cref="PackedFilterTransform{TF}"/>),
    /// kept between calls (taken, so a concurrent call makes its own); the stride-2 path uses it too.</summary>
    private static float[]? s_filters;

    /// <summary>y[n] = conv(x[n], w) + b (+ beta·y[n]) through <typeparamref name="TA"/>, in blocks of whole tile rows so
    /// that the transformed input and products (Points·(Cin + Cout) floats per tile) stay near 4·<see cref="Conv2dCpu.BlockFloats"/>;
    /// <paramref name="flipped"/> as in <see cref="Conv2dCpu.WinogradForward"/>.</summary>
    internal static void TiledForward<TA>(ConvDims d, float[] x, float[] w, float[]? b, float[] y, float beta, bool flipped) where TA : struct, ITileAlgorithm
    {
        int side = TA.TileSide, tilesH = (d.Ho + side - 1) / side, tilesW = (d.Wo + side - 1) / side;
        bool paired = PairsTileRows(d, side);
        int stride = paired ? 4 : (tilesW + 7) / 8 * 8, nr = Gemm.PanelWidth(forA: false);
        if (!BitOperations.IsPow2(nr) || nr % 8 != 0) throw new InvalidOperationException($"Winograd: panel width {nr} is not a power of two of whole AVX groups.");
        int rowsPerBlock = BlockRows(d, TA.Points, stride, tilesH, paired);
        int uStride = (int)FilterStride(d.Cout, d.Cin);
        var u = Interlocked.Exchange(ref s_filters, null);
        if (u is null || u.Length < TA.Filters * uStride) u = GC.AllocateUninitializedArray<float>(TA.Filters * uStride);
        TA.TransformFilters(w, u, d.Cout, d.Cin, flipped);
        Conv2dCpu.ForImages(d, (n, threads) =>
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
        s_filters = u;
    }

    private static void TiledInputInParallel<TA>(TileBlock k, float[] x, float[] v) where TA : struct, ITileAlgorithm
        => CpuParallel.For(k.D.Cin, 8, (s, e) => TA.InputTransform(k, x, (int)s, (int)e, v));

    private static void TiledOutputInParallel<TA>(TileBlock k, float[] m, float[] y, float[]? b, float beta) where TA : struct, ITileAlgorithm
        => CpuParallel.For(k.D.Cout, 8, (s, e) => TA.OutputTransform(k, m, (int)s, (int)e, y, b, beta));

    /// <summary>The GEMMs of points [0, points), each on one core: with one image at a time they split across the cores
    /// whole, one fork for all of them rather than one per product (a product on a few tiles is too short to pay for
    /// a fork of its own).</summary>
    internal static void PointProducts(in TileBlock k, float[] u, int uStride, float[] scratch, int threads, int points)
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

    /// <summary>Filters (Cout·Cin) from which the filter transforms and their inverses split across the cores.</summary>
    private const int ParallelFilters = 8192;

    /// <summary>Floats from one transformed filter matrix to the next (<see cref="PointSkew"/> past the packed matrix).</summary>
    private static long FilterStride(int cout, int cin) => Gemm.PackedSize(cout, cin, forA: true) + PointSkew;

    /// <summary>
    /// U[e] = the transformed filters of w [Cout, Cin, 3, 3] for the TF.Points distinct transform points, written straight
    /// into the panel layout of the GEMMs' A operands [Cout × Cin] (<see cref="Gemm.PackA"/>'s, matrix e at
    /// e·<see cref="FilterStride"/>; the rows that pad the last panel zero). Redone every call (training changes w
    /// in place), so it packs while it transforms (no second pass over U) and splits panels across the cores (at
    /// batch 1 there are no images to split).
    /// </summary>
    internal static void PackedFilterTransform<TF>(float[] w, float[] u, int cout, int cin, bool flipped = false) where TF : struct, IFilterTransform
    {
        int panels = (cout + Gemm.PanelWidth(forA: true) - 1) / Gemm.PanelWidth(forA: true);
        if (CpuParallel.Threads > 1 && (long)cout * cin >= ParallelFilters) PackedFilterTransformInParallel<TF>(w, u, cout, cin, panels, flipped);
        else PackedFilterTransform<TF>(w, u, cout, cin, 0, panels, flipped);
    }

    private static void PackedFilterTransformInParallel<TF>(float[] w, float[] u, int cout, int cin, int panels, bool flipped) where TF : struct, IFilterTransform
        => CpuParallel.For(panels, 1, (s, e) => PackedFilterTransform<TF>(w, u, cout, cin, (int)s, (int)e, flipped));

    /// <summary>Panels [panel0, panel1), one panel's rows in the lanes (gathered 9 taps at a time, rows past Cout
    /// zero); <paramref name="flipped"/>: filter (co, ci) is w[ci, co] with its 9 taps reversed (see
    /// <see cref="Conv2dCpu.WinogradForward"/>).</summary>
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

    /// <summary>The weight-gradient sums dU [Points, Cout, Cin] per core, kept between calls.</summary>
    private static float[]? s_filterGrads;

    /// <summary>Floats from one point's filter gradient dU[e] [Cout × Cin] to the next (<see cref="PointSkew"/> past it):
    /// the inverse filter transforms read all points of a filter together.</summary>
    internal static int GradStride(int cout, int cin) => cout * cin + PointSkew;

    /// <summary>
    /// dw = Gᵀ dU G + beta·dw with dU[e] = Σ over images and tiles of (A dy Aᵀ)[e]·(Bᵀ d B)[e]ᵀ: the exact gradient of
    /// the forward through <typeparamref name="TW"/> (the transforms are linear), as one GEMM [Cout × tiles]·[tiles × Cin]
    /// per point and block. With whole images per core each core sums its contiguous share of the batch into its own dU
    /// and the sums are added in core order (the order depends on the core count only).
    /// </summary>
    internal static void TiledBackwardWeight<TW>(ConvDims d, float[] dy, float[] x, float[] dw, float beta) where TW : struct, IWinogradWeightGrad
    {
        int size = TW.Points * GradStride(d.Cout, d.Cin);
        int chunks = Conv2dCpu.ImagesPerCore(d) ? Math.Min(CpuParallel.Threads, d.N) : 1;
        var sums = Interlocked.Exchange(ref s_filterGrads, null);
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
        s_filterGrads = sums;
    }

    /// <summary>
    /// acc[accOff ..] = Σ over images [n0, n1) and their tiles of (A dy Aᵀ)[e]·(Bᵀ d B)[e]ᵀ, in blocks whose transforms
    /// (Points·(Cin + Cout) floats per tile) stay near 4·<see cref="Conv2dCpu.BlockFloats"/>; both transforms as plain matrices
    /// (the GEMM packs them: the product's depth is the tiles). A block is some tile rows of one image or, where several
    /// whole images' transforms fit in <see cref="Conv2dCpu.BlockFloats"/>, those images side by side (image b's tiles b·T columns
    /// in): one image of an 8² map is only 16 tiles, too shallow a product to pay for reading and writing dU. Images go
    /// side by side only within <see cref="Conv2dCpu.BlockFloats"/>, not the 4× of a block of tile rows: a larger
    /// block falls out of L2.
    /// </summary>
    private static void TiledWeightGradImages<TW>(in ConvDims d, float[] dy, float[] x, int n0, int n1, float[] acc, int accOff, int threads)
        where TW : struct, IWinogradWeightGrad
    {
        int side = TW.TileSide, tilesH = (d.Ho + side - 1) / side, tilesW = (d.Wo + side - 1) / side, stride = TW.GradRowStride(tilesW);
        bool paired = PairsTileRows(d, side);
        int rowsPerBlock = BlockRows(d, TW.Points, stride, tilesH, paired);
        int imageTiles = BlockSpan(tilesH, stride, paired); // images side by side only while the block stays near L2's size
        int images = rowsPerBlock < tilesH ? 1 : Math.Clamp(Conv2dCpu.BlockFloats / (TW.Points * (d.Cin + d.Cout) * imageTiles), 1, n1 - n0);
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

    /// <summary>p[0] + p[s] + … (<paramref name="copies"/> terms, left to right: core order, so the sum order depends on the core count only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe float SumCopies(float* p, int copies, long s)
    {
        float sum = p[0];
        for (int c = 1; c < copies; c++) sum += p[c * s];
        return sum;
    }

    /// <summary>row[c] = input row ih's column c − pad (zero outside the image) for c &lt; padded − 8: the padded rows the
    /// tile paths gather their patches from (the 4-column paths' last 8-tile group reads up to column 4·RowStride + 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PaddedRow(in ConvDims d, float* plane, int ih, float* row, int padded)
    {
        if ((uint)ih >= (uint)d.H) { new Span<float>(row, padded).Clear(); return; }
        int lo = Math.Min(d.Pad, padded - 8), hi = Math.Clamp(d.W + d.Pad, lo, padded - 8);
        for (int c = 0; c < lo; c++) row[c] = 0f;
        Simd.Copy(plane + (long)ih * d.W, row + lo, hi - lo);
        for (int c = hi; c < padded - 8; c += 8) Vector256<float>.Zero.Store(row + c);
    }

    /// <summary>The 8 tiles' patch columns x0 … x4 from the padded row at p (columns p[4k + c], k &lt; 8), reading p[0 .. 32].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Gather5(float* p, out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2,
        out Vector256<float> c3, out Vector256<float> c4)
    {
        var (e0, o0) = Simd.Deinterleave(p);       // p0 p2 … p14, p1 p3 … p15
        var (e1, o1) = Simd.Deinterleave(p + 16);  // p16 p18 … p30, p17 … p31
        (c0, c2) = Simd.Deinterleave(e0, e1);      // p0 p4 … p28, p2 p6 … p30
        (c1, c3) = Simd.Deinterleave(o0, o1);      // p1 p5 … p29, p3 p7 … p31
        c4 = Avx.Blend(Avx2.PermuteVar8x32(c0, Vector256.Create(1, 2, 3, 4, 5, 6, 7, 7)), Vector256.Create(p[32]), 0b1000_0000);
    }

    /// <summary>dst[2k] = even[k], dst[2k + 1] = odd[k] for k &lt; 8 (+ beta·dst).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void StorePairs(float* dst, Vector256<float> even, Vector256<float> odd, float beta)
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

    /// <summary>Stores a, b, c, d at o, o + s, o + 2s, o + 3s and returns o + 4s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe float* Store4(float* o, long s, Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        a.Store(o); o += s; b.Store(o); o += s; c.Store(o); o += s; d.Store(o);
        return o + s;
    }
}
