// F(4×4, 3×3) Winograd convolution: its tile algorithm, filter transform, input and output transforms and their
// adjoints for the weight gradient.

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

using static Boost.Kernels.Cpu.Winograd;

namespace Boost.Kernels.Cpu;

/// <summary>
/// 3×3 stride-1 convolution by Winograd's F(4×4, 3×3) (Lavin &amp; Gray 2015, interpolation points 0, ±1, ±2, ∞): a
/// 4×4 output tile is Aᵀ[U ⊙ V]A with U = G g Gᵀ and V = Bᵀ d B over the tile's 6×6 input patch, 36 products for 16
/// outputs instead of 144 — 4× fewer multiply-adds, against F(2×2, 3×3)'s 2.25×. Its transforms scale by up to 8 and
/// the filters by 1/24, so it rounds worse than F(2×2) (about 15× the error), still well inside the tests' float
/// tolerance. Convs on maps 32 and more wide take it (<see cref="Conv2dCpu.WinogradF4Applies"/>): forward, input
/// gradient (which runs as a forward conv) and weight gradient (the transforms' adjoints, 1.78× fewer multiply-adds
/// than F(2×2)'s).
/// <code>
/// Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0], [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]
/// G  = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]]
/// Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]
/// </code>
/// Point e = 6a + b's GEMM [Cout × Cin]·[Cin × Tiles]: its B operand (panel layout) at VOff + e·VPoint, its
/// product at MOff + e·MPoint (TileBlock: a point's size plus a skew).
/// </summary>
internal static class WinogradF4
{
    /// <summary>o[(6r + c)·s] = (G g Gᵀ)[r, c].</summary>
    private readonly unsafe struct F4x3 : IFilterTransform
    {
        public static int Points => 36;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(Vector256<float>* g, float* o, long s)
        {
            for (int r = 0; r < 6; r++)
            {
                // row r of G g: G's row r applied to each column of g
                Vector256<float> a0 = GRow(r, g[0], g[3], g[6]), a1 = GRow(r, g[1], g[4], g[7]), a2 = GRow(r, g[2], g[5], g[8]);
                for (int c = 0; c < 6; c++) { GRow(c, a0, a1, a2).Store(o); o += s; }
            }
        }

        /// <summary>Row r of G times (v0, v1, v2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> GRow(int r, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2) => r switch
        {
            // times reciprocals, not divisions (several times the cost in lanes): the filters round once more
            0 => Vector256.Create(0.25f) * v0,
            1 => (v0 + v1 + v2) * Vector256.Create(-1f / 6),
            2 => (v0 - v1 + v2) * Vector256.Create(-1f / 6),
            3 => v0 * Vector256.Create(1f / 24) + v1 * Vector256.Create(1f / 12) + v2 * Vector256.Create(1f / 6),
            4 => v0 * Vector256.Create(1f / 24) - v1 * Vector256.Create(1f / 12) + v2 * Vector256.Create(1f / 6),
            _ => v2,
        };
    }

    /// <summary>F(4×4, 3×3) as a <see cref="IWinogradWeightGrad"/>: 4×4 output tiles, 36 points, one GEMM each; tile
    /// rows padded to 8-tile groups in the weight gradient too (its transforms go 8 tiles at a time throughout).</summary>
    internal readonly struct Tiles : IWinogradWeightGrad
    {
        public static int TileSide => 4;
        public static int Points => 36;
        public static int Filters => 36;
        public static int GradRowStride(int tilesW) => (tilesW + 7) / 8 * 8;
        public static void TransformFilters(float[] w, float[] u, int cout, int cin, bool flipped) => PackedFilterTransform<F4x3>(w, u, cout, cin, flipped);
        public static void InputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v) => WinogradF4.InputTransform(k, x, c0, c1, v, panels: true);
        public static void MatrixInputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v) => WinogradF4.InputTransform(k, x, c0, c1, v, panels: false);
        public static void Products(in TileBlock k, float[] u, int uStride, float[] scratch, int threads) => PointProducts(k, u, uStride, scratch, threads, 36);
        public static void OutputTransform(in TileBlock k, float[] m, int c0, int c1, float[] y, float[]? b, float beta) => WinogradF4.OutputTransform(k, m, c0, c1, y, b, beta);
        public static void OutputGradTransform(in TileBlock k, float[] dy, int c0, int c1, float[] m) => WinogradF4.OutputGradTransform(k, dy, c0, c1, m);
        public static void InverseFilterTransform(float[] du, int copies, int copyStride, float[] dw, int cout, int cin, float beta, int co0, int co1)
            => WinogradF4.InverseFilterTransform(du, copies, copyStride, dw, cout, cin, beta, co0, co1);
    }

    /// <summary>
    /// V = Bᵀ d B for the block's tiles and channels [c0, c1), 8 tiles per AVX vector, written straight into the panel
    /// layout: each of the six patch rows (from padded copies of the input rows) is gathered as its six patch columns
    /// (every fourth input column) and transformed along the columns into a small buffer, then each column of that
    /// along the rows. Columns past the block's tile rows (padding to whole panels) are zeroed. Without
    /// <paramref name="panels"/> (the weight gradient's operands) point e is the plain matrix [Cin × Tiles] at VOff +
    /// e·VPoint.
    /// </summary>
    private static unsafe void InputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v, bool panels)
    {
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tiles = k.Tiles, stride = k.RowStride;
        int padded = 4 * stride + 16;
        var heapRows = 6 * padded > 16384 ? new float[6 * padded] : null;
        float* stackRows = stackalloc float[heapRows is null ? 6 * padded : 0];
        float* h = stackalloc float[36 * 8]; // (B-transformed columns of) patch row a, point column c: h + (6a + c)·8
        int nr = Gemm.PanelWidth(forA: false), kc = Gemm.SlabDepth(d.Cin);
        long eStride = k.VPoint;
        fixed (float* x0 = x, v0 = v, heap = heapRows)
            for (int ci = c0; ci < c1; ci++)
            {
                float* rowBuf = heap != null ? heap : stackRows;
                float* plane = x0 + ((long)n * d.Cin + ci) * d.HW;
                int pc = ci / kc * kc, kcur = Math.Min(kc, d.Cin - pc);
                float* channel = panels
                    ? v0 + k.VOff + (long)pc * tiles + (ci - pc) * nr // point 0's slab, this channel's row in its panels
                    : v0 + k.VOff + (long)ci * tiles;
                for (int r = 0; r < rows; r++)
                {
                    for (int a = 0; a < 6; a++) PaddedRow(d, plane, 4 * (i0 + r) - d.Pad + a, rowBuf + a * padded, padded);
                    for (int j = 0; j < stride; j += 8)
                    {
                        for (int a = 0; a < 6; a++)
                        {
                            Gather6(rowBuf + a * padded + 4 * j, out var z0, out var z1, out var z2, out var z3, out var z4, out var z5);
                            BtStore(z0, z1, z2, z3, z4, z5, h + 6 * 8 * a, 8);
                        }
                        int t = r * stride + j;
                        float* o = panels ? channel + PanelColumn(t, kcur, nr) : channel + t;
                        for (int c = 0; c < 6; c++)
                        {
                            float* q = h + 8 * c;
                            BtStore(Vector256.Load(q), Vector256.Load(q + 48), Vector256.Load(q + 96), Vector256.Load(q + 144),
                                Vector256.Load(q + 192), Vector256.Load(q + 240), o + c * eStride, 6 * eStride);
                        }
                    }
                }
                if (panels) // (a plain matrix may hold other images' tiles past this one's)
                    ZeroPanelColumns(channel, rows * stride, tiles, kcur, nr, 36, eStride);
            }
    }

    /// <summary>
    /// dM[e, co, t] = (A g Aᵀ)[e] for the block's 4×4 output-gradient tiles g (zero past the image), the adjoint of
    /// the output transform, A = (Aᵀ)ᵀ: along the columns of each of the four gradient rows (padded copies, gathered
    /// 8 tiles per vector) into a small buffer, then along the rows.
    /// </summary>
    private static unsafe void OutputGradTransform(in TileBlock k, float[] dy, int c0, int c1, float[] scratch)
    {
        var d = k.D;
        var grad = new ConvDims { H = d.Ho, W = d.Wo, Pad = 0 }; // the gradient rows, padded on the right only
        int n = k.N, i0 = k.I0, rows = k.Rows, tiles = k.Tiles, stride = k.RowStride;
        int padded = 4 * stride + 16;
        var heapRows = 4 * padded > 16384 ? new float[4 * padded] : null;
        float* stackRows = stackalloc float[heapRows is null ? 4 * padded : 0];
        float* h = stackalloc float[24 * 8]; // gradient row a, point column c: h + (6a + c)·8
        long eStride = k.MPoint;
        fixed (float* g0 = dy, s0 = scratch, heap = heapRows)
            for (int co = c0; co < c1; co++)
            {
                float* rowBuf = heap != null ? heap : stackRows;
                float* plane = g0 + ((long)n * d.Cout + co) * d.HWo;
                float* channel = s0 + k.MOff + (long)co * tiles;
                for (int r = 0; r < rows; r++)
                {
                    for (int a = 0; a < 4; a++) PaddedRow(grad, plane, 4 * (i0 + r) + a, rowBuf + a * padded, padded);
                    for (int j = 0; j < stride; j += 8)
                    {
                        for (int a = 0; a < 4; a++)
                        {
                            Gather5(rowBuf + a * padded + 4 * j, out var z0, out var z1, out var z2, out var z3, out _);
                            AStore(z0, z1, z2, z3, h + 48 * a, 8);
                        }
                        float* o = channel + r * stride + j;
                        for (int c = 0; c < 6; c++)
                        {
                            float* q = h + 8 * c;
                            AStore(Vector256.Load(q), Vector256.Load(q + 48), Vector256.Load(q + 96), Vector256.Load(q + 144), o + c * eStride, 6 * eStride);
                        }
                    }
                }
            }
    }

    /// <summary>A·(g0 … g3) = (g0, g0 + g1 + g2 + g3, g0 − g1 + g2 − g3, g0 + 2g1 + 4g2 + 8g3, g0 − 2g1 + 4g2 − 8g3, g3),
    /// stored at o, o + s, …, o + 5s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AStore(Vector256<float> g0, Vector256<float> g1, Vector256<float> g2, Vector256<float> g3, float* o, long s)
    {
        Vector256<float> s02 = g0 + g2, s13 = g1 + g3;
        var t02 = Fma.MultiplyAdd(Vector256.Create(4f), g2, g0);                   // g0 + 4g2
        var t13 = Fma.MultiplyAdd(Vector256.Create(8f), g3, g1 + g1);              // 2g1 + 8g3
        g0.Store(o); (s02 + s13).Store(o + s); (s02 - s13).Store(o + 2 * s);
        (t02 + t13).Store(o + 3 * s); (t02 - t13).Store(o + 4 * s); g3.Store(o + 5 * s);
    }

    /// <summary>dw[co, ci] = Gᵀ dU[·, co, ci] G (+ beta·dw): the adjoint of <see cref="F4x3"/>; dU summed over its
    /// copies as read (<see cref="IWinogradWeightGrad.InverseFilterTransform"/>).</summary>
    private static unsafe void InverseFilterTransform(float[] du, int copies, int copyStride, float[] dw, int cout, int cin, float beta, int co0, int co1)
    {
        long step = GradStride(cout, cin);
        float* q = stackalloc float[18]; // Gᵀ dU: 3 rows × 6 columns
        fixed (float* u0 = du, w0 = dw)
            for (int co = co0; co < co1; co++)
                for (int ci = 0; ci < cin; ci++)
                {
                    float* u = u0 + (long)co * cin + ci;
                    for (int c = 0; c < 6; c++)
                    {
                        float* col = u + c * step; // column c of dU: rows at 6·step apart
                        GtColumn(SumCopies(col, copies, copyStride), SumCopies(col + 6 * step, copies, copyStride),
                            SumCopies(col + 12 * step, copies, copyStride), SumCopies(col + 18 * step, copies, copyStride),
                            SumCopies(col + 24 * step, copies, copyStride), SumCopies(col + 30 * step, copies, copyStride),
                            out q[c], out q[6 + c], out q[12 + c]);
                    }
                    float* g = w0 + ((long)co * cin + ci) * 9;
                    for (int i = 0; i < 3; i++)
                    {
                        float* row = q + 6 * i;
                        GtColumn(row[0], row[1], row[2], row[3], row[4], row[5], out float v0, out float v1, out float v2);
                        if (beta == 0f) { g[3 * i] = v0; g[3 * i + 1] = v1; g[3 * i + 2] = v2; }
                        else { g[3 * i] = v0 + beta * g[3 * i]; g[3 * i + 1] = v1 + beta * g[3 * i + 1]; g[3 * i + 2] = v2 + beta * g[3 * i + 2]; }
                    }
                }
    }

    /// <summary>Gᵀ·(u0 … u5): the three rows of Gᵀ, G = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙],
    /// [1/24, −1/12, ⅙], [0, 0, 1]].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GtColumn(float u0, float u1, float u2, float u3, float u4, float u5, out float r0, out float r1, out float r2)
    {
        float s12 = u1 + u2, s34 = u3 + u4;
        r0 = 0.25f * u0 - s12 / 6f + s34 / 24f;
        r1 = (u2 - u1) / 6f + (u3 - u4) / 12f;
        r2 = -s12 / 6f + s34 / 6f + u5;
    }

    /// <summary>The 8 tiles' patch columns z0 … z5 from the padded row at p (p[4k + c], k &lt; 8), reading p[0 .. 33].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Gather6(float* p, out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2,
        out Vector256<float> c3, out Vector256<float> c4, out Vector256<float> c5)
    {
        Gather5(p, out c0, out c1, out c2, out c3, out c4);
        c5 = Avx.Blend(Avx2.PermuteVar8x32(c1, Vector256.Create(1, 2, 3, 4, 5, 6, 7, 7)), Vector256.Create(p[33]), 0b1000_0000);
    }

    /// <summary>Bᵀ·(z0 … z5), its six rows stored at o, o + s, …, o + 5s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void BtStore(Vector256<float> z0, Vector256<float> z1, Vector256<float> z2, Vector256<float> z3,
        Vector256<float> z4, Vector256<float> z5, float* o, long s)
    {
        var four = Vector256.Create(4f);
        var t1 = Fma.MultiplyAddNegated(four, z2, z4); // z4 − 4z2
        var t2 = Fma.MultiplyAddNegated(four, z1, z3); // z3 − 4z1
        var t3 = z4 - z2;
        var t4 = (z3 - z1) + (z3 - z1);
        Fma.MultiplyAdd(four, z0, Fma.MultiplyAdd(Vector256.Create(-5f), z2, z4)).Store(o);   // 4z0 − 5z2 + z4
        (t1 + t2).Store(o + s);                                                            // −4z1 − 4z2 + z3 + z4
        (t1 - t2).Store(o + 2 * s);                                                        // 4z1 − 4z2 − z3 + z4
        (t3 + t4).Store(o + 3 * s);                                                        // −2z1 − z2 + 2z3 + z4
        (t3 - t4).Store(o + 4 * s);                                                        // 2z1 − z2 − 2z3 + z4
        Fma.MultiplyAdd(four, z1, Fma.MultiplyAdd(Vector256.Create(-5f), z3, z5)).Store(o + 5 * s); // 4z1 − 5z3 + z5
    }

    /// <summary>
    /// y[n, co] = Aᵀ m A (+ b[co], + beta·y) for channels [c0, c1), m the tiles' 6×6 products, 8 tiles at a time: rows
    /// of Aᵀ m into a small buffer, then each times A, the four columns interleaved into 32 outputs (through a buffer
    /// where the group runs past the image's right edge).
    /// </summary>
    private static unsafe void OutputTransform(in TileBlock k, float[] scratch, int c0, int c1, float[] y, float[]? b, float beta)
    {
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tilesW = k.TilesW, tiles = k.Tiles, stride = k.RowStride;
        long eStride = k.MPoint;
        float* q = stackalloc float[24 * 8]; // row i of Aᵀ m, point column c: q + (6i + c)·8
        float* edge = stackalloc float[32];
        fixed (float* s0 = scratch, y0 = y)
            for (int co = c0; co < c1; co++)
            {
                float bias = b is null ? 0f : b[co];
                var vb = Vector256.Create(bias);
                float* plane = y0 + ((long)n * d.Cout + co) * d.HWo;
                float* m0 = s0 + k.MOff + (long)co * tiles;
                for (int r = 0; r < rows; r++)
                {
                    int oh = 4 * (i0 + r);
                    for (int j = 0; j < tilesW; j += 8)
                    {
                        float* m = m0 + r * stride + j;
                        for (int c = 0; c < 6; c++)
                        {
                            float* p = m + c * eStride;
                            AtStore(Vector256.Load(p), Vector256.Load(p + 6 * eStride), Vector256.Load(p + 12 * eStride),
                                Vector256.Load(p + 18 * eStride), Vector256.Load(p + 24 * eStride), Vector256.Load(p + 30 * eStride), q + 8 * c, 48);
                        }
                        int width = Math.Min(32, d.Wo - 4 * j); // the last group may run past the image: through a buffer
                        for (int i = 0; i < 4 && oh + i < d.Ho; i++)
                        {
                            float* p = q + 48 * i;
                            At(Vector256.Load(p), Vector256.Load(p + 8), Vector256.Load(p + 16), Vector256.Load(p + 24),
                                Vector256.Load(p + 32), Vector256.Load(p + 40), out var y0v, out var y1v, out var y2v, out var y3v);
                            float* dst = plane + (long)(oh + i) * d.Wo + 4 * j;
                            if (width == 32) { StoreQuads(dst, y0v + vb, y1v + vb, y2v + vb, y3v + vb, beta); continue; }
                            StoreQuads(edge, y0v + vb, y1v + vb, y2v + vb, y3v + vb, 0f);
                            for (int c = 0; c < width; c++) dst[c] = beta == 0f ? edge[c] : edge[c] + beta * dst[c];
                        }
                    }
                }
            }
    }

    /// <summary>Aᵀ·(m0 … m5): its four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void At(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4,
        Vector256<float> m5, out Vector256<float> r0, out Vector256<float> r1, out Vector256<float> r2, out Vector256<float> r3)
    {
        Vector256<float> s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
        r0 = m0 + s12 + s34;
        r1 = Fma.MultiplyAdd(Vector256.Create(2f), d34, d12);
        r2 = Fma.MultiplyAdd(Vector256.Create(4f), s34, s12);
        r3 = Fma.MultiplyAdd(Vector256.Create(8f), d34, d12) + m5;
    }

    /// <summary>Aᵀ·(m0 … m5), its four rows stored at o, o + s, o + 2s, o + 3s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AtStore(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3,
        Vector256<float> m4, Vector256<float> m5, float* o, long s)
    {
        At(m0, m1, m2, m3, m4, m5, out var r0, out var r1, out var r2, out var r3);
        r0.Store(o); r1.Store(o + s); r2.Store(o + 2 * s); r3.Store(o + 3 * s);
    }

    /// <summary>dst[4k + c] = v_c[k] for k &lt; 8 (+ beta·dst): the inverse of the patch gather's four columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreQuads(float* dst, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3, float beta)
    {
        var (a0, a1) = Simd.Interleave(v0, v2); // v0[0] v2[0] v0[1] v2[1] …
        var (b0, b1) = Simd.Interleave(v1, v3);
        var (f0, f1) = Simd.Interleave(a0, b0); // v0[0] v1[0] v2[0] v3[0] v0[1] …
        var (f2, f3) = Simd.Interleave(a1, b1);
        if (beta != 0f)
        {
            var vb = Vector256.Create(beta);
            f0 = Fma.MultiplyAdd(vb, Vector256.Load(dst), f0); f1 = Fma.MultiplyAdd(vb, Vector256.Load(dst + 8), f1);
            f2 = Fma.MultiplyAdd(vb, Vector256.Load(dst + 16), f2); f3 = Fma.MultiplyAdd(vb, Vector256.Load(dst + 24), f3);
        }
        f0.Store(dst); f1.Store(dst + 8); f2.Store(dst + 16); f3.Store(dst + 24);
    }
}
