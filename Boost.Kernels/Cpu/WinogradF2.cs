// F(2×2, 3×3) Winograd convolution: its tile algorithm, filter transform, input and output transforms and their
// adjoints for the weight gradient. The layout for 8-wide maps (two tile rows per vector) is in WinogradF2Paired.cs.

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

using static Boost.Kernels.Cpu.Winograd;

namespace Boost.Kernels.Cpu;

/// <summary>
/// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin &amp; Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2015). Each 2×2 output tile is Aᵀ[U ⊙ V]A with U = G g Gᵀ (the 3×3 filter taken to
/// 4×4) and V = Bᵀ d B (the tile's 4×4 input patch d): 16 products for 4 outputs instead of 36. Summed over input
/// channels this is, for each of the 16 points of the transform domain, one GEMM [Cout × Cin]·[Cin × tiles], so
/// the multiply-adds drop 2.25× and still run in the one GEMM. The transforms only add, subtract and halve, so the
/// result matches direct convolution to float rounding. The input transform runs 8 tiles per AVX vector (a tile row's
/// patch columns are every other input column: the deinterleave shuffle), as does the output transform. Maps 32 and
/// more wide take the larger F(4×4, 3×3) instead (<see cref="WinogradF4"/>).
/// </summary>
internal static partial class WinogradF2
{
    /// <summary>F(2×2, 3×3) as a <see cref="IWinogradWeightGrad"/>: 2×2 output tiles, 16 points, one GEMM each; its
    /// weight gradient's tile rows unpadded (the transforms finish a row's last tiles one by one).</summary>
    internal readonly struct Tiles : IWinogradWeightGrad
    {
        public static int TileSide => 2;
        public static int Points => 16;
        public static int Filters => 16;
        public static int GradRowStride(int tilesW) => tilesW;
        public static void TransformFilters(float[] w, float[] u, int cout, int cin, bool flipped) => PackedFilterTransform<F2x3>(w, u, cout, cin, flipped);
        public static void InputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v) => WinogradF2.InputTransform(k, x, c0, c1, v, panels: true);
        public static void MatrixInputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v) => WinogradF2.InputTransform(k, x, c0, c1, v, panels: false);
        public static void Products(in TileBlock k, float[] u, int uStride, float[] scratch, int threads) => PointProducts(k, u, uStride, scratch, threads, 16);
        public static void OutputTransform(in TileBlock k, float[] m, int c0, int c1, float[] y, float[]? b, float beta) => WinogradF2.OutputTransform(k, m, c0, c1, y, b, beta);
        public static void OutputGradTransform(in TileBlock k, float[] dy, int c0, int c1, float[] m) => WinogradF2.OutputGradTransform(k, dy, c0, c1, m);
        public static void InverseFilterTransform(float[] du, int copies, int copyStride, float[] dw, int cout, int cin, float beta, int co0, int co1)
            => WinogradF2.InverseFilterTransform(du, copies, copyStride, dw, cout, cin, beta, co0, co1);
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
}
