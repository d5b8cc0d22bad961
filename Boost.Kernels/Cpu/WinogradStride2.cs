// 3×3 stride-2 convolution by polyphase F(2, 2): its tile algorithm (16 distinct filters over 25 domain points),
// filter transform, and input and output transforms. Forward only: the stride-2 gradients run on im2col.

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

using static Boost.Kernels.Cpu.Winograd;

namespace Boost.Kernels.Cpu;

/// <summary>
/// 3×3 stride-2 convolution through its polyphase parts and Winograd's F(2, 2). Along one axis, two outputs of a 3-tap
/// stride-2 filter, y0 = w0x0 + w1x1 + w2x2 and y1 = w0x2 + w1x3 + w2x4, are the even inputs (x0, x2, x4) filtered by
/// (w0, w2), F(2, 2) in 3 products, plus the odd inputs (x1, x3) times w1, 2 products: with d = (x0 − x2, x2, x4 − x2,
/// x1, x3), g = (w0, w0 + w2, w2, w1, w1) and m = d ⊙ g, y0 = m0 + m1 + m3 and y1 = m1 + m2 + m4. Along both axes a
/// 2×2 output tile takes 25 products instead of 36 (1.44× fewer multiply-adds), and the transforms only add and
/// subtract, so the result matches direct convolution to float rounding. Summed over input channels each point of the
/// 5×5 domain is a GEMM [Cout × Cin]·[Cin × tiles]; the last two points of g hold the same filter value, so the 25
/// points have 16 distinct transformed filters U[e], e = 4a + b (a, b &lt; 4, 3 standing for points 3 and 4), and the
/// points sharing one run as a single GEMM [Cout × Cin]·[Cin × copies·tiles], copies = 1, 2 or 4.
/// </summary>
internal static class WinogradStride2
{
    /// <summary>Domain points sharing the distinct filter e: 2 along an axis whose index is 3, else 1.</summary>
    private static int Copies(int e) => (e >> 2 == 3 ? 2 : 1) * ((e & 3) == 3 ? 2 : 1);

    /// <summary>Domain point p = 5a + b (a, b &lt; 5) → its distinct filter e and its column offset, in tiles, inside
    /// e's GEMM: copies are laid side by side, point (4, ·) after (3, ·) and (·, 4) after (·, 3).</summary>
    private static (int e, int copy) Point(int p)
    {
        int a = p / 5, b = p % 5, e = 4 * Math.Min(a, 3) + Math.Min(b, 3);
        return (e, (a == 4 ? ((e & 3) == 3 ? 2 : 1) : 0) + (b == 4 ? 1 : 0));
    }

    /// <summary>Σ copies of the distinct filters before e: e's GEMM starts that many tile columns into the block's
    /// transformed input (× Cin) and products (× Cout).</summary>
    private static int ColumnsBefore(int e)
    {
        int sum = 0;
        for (int f = 0; f < e; f++) sum += Copies(f);
        return sum;
    }

    /// <summary>The stride-2 path as a <see cref="ITileAlgorithm"/>: 2×2 output tiles, 25 domain points per tile, 16
    /// distinct filters whose GEMMs take 1, 2 or 4 points' columns side by side.</summary>
    internal readonly struct Tiles : ITileAlgorithm
    {
        public static int TileSide => 2;
        public static int Points => 25;
        public static int Filters => 16;
        public static void TransformFilters(float[] w, float[] u, int cout, int cin, bool flipped) => PackedFilterTransform<F2x2>(w, u, cout, cin, flipped);
        public static void InputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v) => WinogradStride2.InputTransform(k, x, c0, c1, v);
        public static void OutputTransform(in TileBlock k, float[] m, int c0, int c1, float[] y, float[]? b, float beta) => WinogradStride2.OutputTransform(k, m, c0, c1, y, b, beta);

        public static void Products(in TileBlock k, float[] u, int uStride, float[] scratch, int threads)
        {
            var d = k.D;
            for (int e = 0; e < 16; e++)
            {
                int columns = Copies(e) * k.Tiles, before = ColumnsBefore(e) * k.Tiles;
                Gemm.SgemmPacked(threads, d.Cout, columns, d.Cin, u, e * uStride,
                    scratch, k.VOff + before * d.Cin + e * PointSkew, 0f, scratch, k.MOff + before * d.Cout + e * PointSkew, columns);
            }
        }
    }

    /// <summary>o[(4r + c)·s] = (G g Gᵀ)[r, c], G = [[1, 0, 0], [1, 0, 1], [0, 0, 1], [0, 1, 0]]: the distinct rows
    /// of the 5×3 filter transform (its last row repeats the fourth).</summary>
    private readonly unsafe struct F2x2 : IFilterTransform
    {
        public static int Points => 16;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(Vector256<float>* g, float* o, long s)
        {
            o = Row(o, s, g[0], g[1], g[2]);                         // rows g0, g0 + g2, g2, g1 of G g
            o = Row(o, s, g[0] + g[6], g[1] + g[7], g[2] + g[8]);
            o = Row(o, s, g[6], g[7], g[8]);
            Row(o, s, g[3], g[4], g[5]);
        }

        /// <summary>One row (a0, a1, a2) of G g times Gᵀ: a0, a0 + a2, a2, a1.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static float* Row(float* o, long s, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2)
            => Store4(o, s, a0, a0 + a2, a2, a1);
    }

    /// <summary>
    /// The transformed input Bᵀ d B of the block's tiles for channels [c0, c1), written straight into the panel layout
    /// of the 16 GEMMs' B operands; Bᵀ = [[1, 0, −1, 0, 0], [0, 0, 1, 0, 0], [0, 0, −1, 0, 1], [0, 1, 0, 0, 0], [0, 0,
    /// 0, 1, 0]] and d the tile's 5×5 patch (input rows and columns 4·tile − pad …). The five input rows of a tile row
    /// are first copied into padded rows (zeros outside the image, and past it up to the 8-tile group), so every patch
    /// reads in bounds; a patch's columns are every fourth input column, two rounds of the deinterleave shuffle.
    /// Columns past the block's tile rows (padding to whole panels) are zeroed.
    /// </summary>
    private static unsafe void InputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v)
    {
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tiles = k.Tiles, stride = k.RowStride;
        int padded = 4 * stride + 16; // patch columns 4j … 4j + 4 for j < stride, and room for the zeros' last vector
        var heapRows = 5 * padded > 16384 ? new float[5 * padded] : null;
        float* stackRows = stackalloc float[heapRows is null ? 5 * padded : 0];
        int nr = Gemm.PanelWidth(forA: false), kc = Gemm.SlabDepth(d.Cin);
        // Channel ci, tile column t of domain point p lies at v + VOff + (ci − pc)·nr + (t − t mod nr)·kcur + t mod nr
        // + delta[p] (every copy starts on a panel, so one offset per point and K slab).
        long* delta = stackalloc long[25];
        fixed (float* x0 = x, v0 = v, heap = heapRows)
            for (int ci = c0; ci < c1; ci++)
            {
                float* rowBuf = heap != null ? heap : stackRows;
                float* plane = x0 + ((long)n * d.Cin + ci) * d.HW;
                int pc = ci / kc * kc, kcur = Math.Min(kc, d.Cin - pc);
                if (ci == c0 || ci == pc)
                    for (int p = 0; p < 25; p++)
                    {
                        var (e, copy) = Point(p);
                        // e's B operand starts ColumnsBefore(e)·Tiles·Cin in; its slab pc at pc·copies·Tiles, and copy's
                        // panels copy·Tiles·kcur into the slab
                        delta[p] = (long)ColumnsBefore(e) * tiles * d.Cin + e * PointSkew + (long)pc * Copies(e) * tiles + (long)copy * tiles * kcur;
                    }
                float* channel = v0 + k.VOff + (ci - pc) * nr;
                for (int r = 0; r < rows; r++)
                {
                    for (int a = 0; a < 5; a++) PaddedRow(d, plane, 4 * (i0 + r) - d.Pad + a, rowBuf + a * padded, padded);
                    for (int j = 0; j < stride; j += 8)
                    {
                        // Rows of Bᵀ d: x0 − x2, x2, x4 − x2, x1, x3 over the patch rows, each as its 5 patch columns.
                        Gather5(rowBuf + 4 * j, out var a00, out var a01, out var a02, out var a03, out var a04);
                        Gather5(rowBuf + padded + 4 * j, out var a10, out var a11, out var a12, out var a13, out var a14);
                        Gather5(rowBuf + 2 * padded + 4 * j, out var a20, out var a21, out var a22, out var a23, out var a24);
                        Gather5(rowBuf + 3 * padded + 4 * j, out var a30, out var a31, out var a32, out var a33, out var a34);
                        Gather5(rowBuf + 4 * padded + 4 * j, out var a40, out var a41, out var a42, out var a43, out var a44);
                        int t = r * stride + j;
                        float* o = channel + PanelColumn(t, kcur, nr);
                        TransformRow(a00 - a20, a01 - a21, a02 - a22, a03 - a23, a04 - a24, o, delta);
                        TransformRow(a20, a21, a22, a23, a24, o, delta + 5);
                        TransformRow(a40 - a20, a41 - a21, a42 - a22, a43 - a23, a44 - a24, o, delta + 10);
                        TransformRow(a10, a11, a12, a13, a14, o, delta + 15);
                        TransformRow(a30, a31, a32, a33, a34, o, delta + 20);
                    }
                }
                for (int t = rows * stride; t < tiles; t += 8)
                {
                    float* o = channel + PanelColumn(t, kcur, nr);
                    for (int p = 0; p < 25; p++) Vector256<float>.Zero.Store(o + delta[p]);
                }
            }
    }

    /// <summary>One row of Bᵀ d (its patch columns x0 … x4, 8 tiles each) times B: x0 − x2, x2, x4 − x2, x1, x3, stored
    /// at o + delta[0 … 4].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void TransformRow(Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, Vector256<float> x3,
        Vector256<float> x4, float* o, long* delta)
    {
        (x0 - x2).Store(o + delta[0]);
        x2.Store(o + delta[1]);
        (x4 - x2).Store(o + delta[2]);
        x1.Store(o + delta[3]);
        x3.Store(o + delta[4]);
    }

    /// <summary>
    /// y[n, co] tile by tile = Aᵀ m A (+ b[co], + beta·y) for channels [c0, c1), m the tile's 5×5 products, Aᵀ = [[1, 1,
    /// 0, 1, 0], [0, 1, 1, 0, 1]]; 8 tiles at a time where their 16 outputs per row lie inside the image, else one by one.
    /// </summary>
    private static unsafe void OutputTransform(in TileBlock k, float[] scratch, int c0, int c1, float[] y, float[]? b, float beta)
    {
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tilesW = k.TilesW, tiles = k.Tiles, stride = k.RowStride;
        // Per domain point: its product row for output channel 0 and the row length (copies·tiles).
        long* pBase = stackalloc long[25], pRow = stackalloc long[25];
        for (int p = 0; p < 25; p++)
        {
            var (e, copy) = Point(p);
            pRow[p] = (long)Copies(e) * tiles;
            pBase[p] = k.MOff + (long)ColumnsBefore(e) * tiles * d.Cout + e * PointSkew + (long)copy * tiles;
        }
        float** m = stackalloc float*[25];
        float* mm = stackalloc float[25];
        fixed (float* s0 = scratch, y0 = y)
            for (int co = c0; co < c1; co++)
            {
                float bias = b is null ? 0f : b[co];
                var vb = Vector256.Create(bias);
                float* plane = y0 + ((long)n * d.Cout + co) * d.HWo;
                for (int p = 0; p < 25; p++) m[p] = s0 + pBase[p] + co * pRow[p];
                for (int r = 0; r < rows; r++)
                {
                    int oh = 2 * (i0 + r), t0 = r * stride;
                    bool second = oh + 1 < d.Ho;
                    int j = 0;
                    for (; j + 8 <= tilesW && 2 * j + 16 <= d.Wo; j += 8)
                    {
                        int t = t0 + j;
                        // Aᵀ m: rows m0 + m1 + m3 and m1 + m2 + m4 of the 5×5 (each 5 columns × 8 tiles), then times A.
                        Vector256<float> At(int p) => Vector256.Load(m[p] + t);
                        var s00 = At(0) + At(5) + At(15); var s01 = At(1) + At(6) + At(16); var s02 = At(2) + At(7) + At(17);
                        var s03 = At(3) + At(8) + At(18); var s04 = At(4) + At(9) + At(19);
                        StorePairs(plane + (long)oh * d.Wo + 2 * j, s00 + s01 + s03 + vb, s01 + s02 + s04 + vb, beta);
                        if (!second) continue;
                        var s10 = At(5) + At(10) + At(20); var s11 = At(6) + At(11) + At(21); var s12 = At(7) + At(12) + At(22);
                        var s13 = At(8) + At(13) + At(23); var s14 = At(9) + At(14) + At(24);
                        StorePairs(plane + (long)(oh + 1) * d.Wo + 2 * j, s10 + s11 + s13 + vb, s11 + s12 + s14 + vb, beta);
                    }
                    for (; j < tilesW; j++)
                    {
                        for (int p = 0; p < 25; p++) mm[p] = m[p][t0 + j];
                        for (int a = 0; a < 2 && oh + a < d.Ho; a++)
                        {
                            // row a of Aᵀ m: points (0, 1, 3) or (1, 2, 4) of each column
                            int r0 = a == 0 ? 0 : 5, r1 = a == 0 ? 5 : 10, r2 = a == 0 ? 15 : 20;
                            float q0 = mm[r0] + mm[r1] + mm[r2], q1 = mm[r0 + 1] + mm[r1 + 1] + mm[r2 + 1];
                            float q2 = mm[r0 + 2] + mm[r1 + 2] + mm[r2 + 2], q3 = mm[r0 + 3] + mm[r1 + 3] + mm[r2 + 3];
                            float q4 = mm[r0 + 4] + mm[r1 + 4] + mm[r2 + 4];
                            float* o = plane + (long)(oh + a) * d.Wo + 2 * j;
                            float v0 = q0 + q1 + q3 + bias;
                            o[0] = beta == 0f ? v0 : v0 + beta * o[0];
                            if (2 * j + 1 < d.Wo)
                            {
                                float v1 = q1 + q2 + q4 + bias;
                                o[1] = beta == 0f ? v1 : v1 + beta * o[1];
                            }
                        }
                    }
                }
            }
    }
}
