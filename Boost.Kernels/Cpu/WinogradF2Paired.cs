// F(2×2, 3×3) on maps 8 wide: the input, output and output-gradient transforms with two tile rows per vector.

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

using static Boost.Kernels.Cpu.Winograd;

namespace Boost.Kernels.Cpu;

/// <summary>
/// F(2×2, 3×3) on maps 8 wide (the UNet's lowest level at 32² latents): a tile row holds only 4 tiles, so the 8 lanes
/// of a vector take two tile rows, lanes 0–3 row r's tiles and 4–7 row r + 1's (<see cref="TileBlock.Paired"/>:
/// RowStride 4, tile t = 4·row + column, so a pair's 8 tiles are 8 consecutive columns in either layout). Patch
/// columns of 4 tiles are every other input column from a padded row; the two rows' halves are loaded as the two
/// 128-bit lanes of one vector, where one in-lane shuffle deinterleaves both. The GEMMs, filter transforms and
/// drivers are those of <see cref="TiledForward{TA}"/> and <see cref="TiledBackwardWeight{TW}"/>; a block's rows
/// are even but for the image's last, whose missing partner reads zeros or finite input and is never written out
/// (its output gradient is zero, so it adds nothing to the weight gradient).
/// </summary>
internal static partial class WinogradF2
{
    /// <summary><see cref="InputTransform"/> for a paired block: the 6 input rows of a tile-row pair are copied padded,
    /// then each patch row a of both tile rows (padded rows a and a + 2) is gathered at once.</summary>
    private static unsafe void PairedInputTransform(in TileBlock k, float[] x, int c0, int c1, float[] v, bool panels)
    {
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tiles = k.Tiles;
        const int padded = 24; // patch columns 2j … 2j + 3 for j < 4 (reads up to column 9), PaddedRow's slack
        float* rowBuf = stackalloc float[6 * padded];
        long eStride = k.VPoint;
        int nr = Gemm.PanelWidth(forA: false), kc = Gemm.SlabDepth(d.Cin);
        fixed (float* x0 = x, v0 = v)
            for (int ci = c0; ci < c1; ci++)
            {
                float* plane = x0 + ((long)n * d.Cin + ci) * d.HW;
                int pc = ci / kc * kc, kcur = Math.Min(kc, d.Cin - pc);
                float* channel = panels ? v0 + k.VOff + (long)pc * tiles + (ci - pc) * nr : v0 + k.VOff + (long)ci * tiles;
                for (int r = 0; r < rows; r += 2)
                {
                    for (int a = 0; a < 6; a++) PaddedRow(d, plane, 2 * (i0 + r) - d.Pad + a, rowBuf + a * padded, padded);
                    PairPatchRow(rowBuf, rowBuf + 2 * padded, out var d00, out var d01, out var d02, out var d03);
                    PairPatchRow(rowBuf + padded, rowBuf + 3 * padded, out var d10, out var d11, out var d12, out var d13);
                    PairPatchRow(rowBuf + 2 * padded, rowBuf + 4 * padded, out var d20, out var d21, out var d22, out var d23);
                    PairPatchRow(rowBuf + 3 * padded, rowBuf + 5 * padded, out var d30, out var d31, out var d32, out var d33);
                    int t = 4 * r;
                    float* o = channel + (panels ? PanelColumn(t, kcur, nr) : t);
                    BtTile(d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33, o, eStride);
                }
                if (panels) ZeroPanelColumns(channel, (rows + 1) / 2 * 8, tiles, kcur, nr, 16, eStride);
            }
    }

    /// <summary>Patch columns 0–3 of 8 tiles: lanes 0–3 from the padded row at <paramref name="first"/> (tile j's
    /// columns 2j … 2j + 3), lanes 4–7 from <paramref name="second"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PairPatchRow(float* first, float* second, out Vector256<float> c0, out Vector256<float> c1,
        out Vector256<float> c2, out Vector256<float> c3)
    {
        (c0, c1) = PairDeinterleave(first, second);
        (c2, c3) = PairDeinterleave(first + 2, second + 2);
    }

    /// <summary>(p0, p2, p4, p6 | q0, q2, q4, q6) and (p1, p3, p5, p7 | q1, q3, q5, q7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector256<float> even, Vector256<float> odd) PairDeinterleave(float* p, float* q)
    {
        var lo = Vector256.Create(Vector128.Load(p), Vector128.Load(q));         // p0 … p3 | q0 … q3
        var hi = Vector256.Create(Vector128.Load(p + 4), Vector128.Load(q + 4)); // p4 … p7 | q4 … q7
        return (Avx.Shuffle(lo, hi, 0b10_00_10_00), Avx.Shuffle(lo, hi, 0b11_01_11_01));
    }

    /// <summary><see cref="OutputTransform"/> for a paired block: each pair's 8 tiles give 2 output rows of each tile
    /// row, 8 columns each (rows past the image are not written).</summary>
    private static unsafe void PairedOutputTransform(in TileBlock k, float[] scratch, int c0, int c1, float[] y, float[]? b, float beta)
    {
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tiles = k.Tiles;
        long eStride = k.MPoint;
        fixed (float* s0 = scratch, y0 = y)
            for (int co = c0; co < c1; co++)
            {
                var vb = Vector256.Create(b is null ? 0f : b[co]);
                float* plane = y0 + ((long)n * d.Cout + co) * d.HWo;
                for (int r = 0; r < rows; r += 2)
                {
                    var (y00, y01, y10, y11) = AtTile(s0 + k.MOff + (long)co * tiles + 4 * r, eStride, vb);
                    int oh = 2 * (i0 + r); // tile row r's outputs rows oh, oh + 1; row r + 1's oh + 2, oh + 3
                    StoreRowPair(plane, oh, d.Ho, y00, y01, beta);
                    StoreRowPair(plane, oh + 1, d.Ho, y10, y11, beta);
                }
            }
    }

    /// <summary>Rows <paramref name="row"/> (lanes 0–3) and row + 2 (lanes 4–7) of an 8-wide plane: columns 2j, 2j + 1
    /// = even[j], odd[j] (+ beta·y), each row only if it lies above <paramref name="height"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRowPair(float* plane, int row, int height, Vector256<float> even, Vector256<float> odd, float beta)
    {
        var lo = Avx.UnpackLow(even, odd);   // e0 o0 e1 o1 | e4 o4 e5 o5
        var hi = Avx.UnpackHigh(even, odd);  // e2 o2 e3 o3 | e6 o6 e7 o7
        if (row < height) StoreRow(plane + 8L * row, Avx.Permute2x128(lo, hi, 0x20), beta);
        if (row + 2 < height) StoreRow(plane + 8L * (row + 2), Avx.Permute2x128(lo, hi, 0x31), beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRow(float* dst, Vector256<float> v, float beta)
        => (beta == 0f ? v : v + Vector256.Create(beta) * Vector256.Load(dst)).Store(dst);

    /// <summary><see cref="OutputGradTransform"/> for a paired block: gradient rows oh, oh + 1 (tile row r) and oh + 2,
    /// oh + 3 (row r + 1) read as the two halves of each vector, zero past the image.</summary>
    private static unsafe void PairedOutputGradTransform(in TileBlock k, float[] dy, int c0, int c1, float[] scratch)
    {
        var d = k.D;
        int n = k.N, i0 = k.I0, rows = k.Rows, tiles = k.Tiles;
        long eStride = k.MPoint;
        float* zeros = stackalloc float[8];
        Vector256<float>.Zero.Store(zeros);
        fixed (float* g0 = dy, s0 = scratch)
            for (int co = c0; co < c1; co++)
            {
                float* plane = g0 + ((long)n * d.Cout + co) * d.HWo;
                for (int r = 0; r < rows; r += 2)
                {
                    int oh = 2 * (i0 + r), ho = d.Ho;
                    float* r0 = oh < ho ? plane + 8L * oh : zeros, r1 = oh + 1 < ho ? plane + 8L * (oh + 1) : zeros;
                    float* r2 = oh + 2 < ho ? plane + 8L * (oh + 2) : zeros, r3 = oh + 3 < ho ? plane + 8L * (oh + 3) : zeros;
                    var (a0, a1) = PairDeinterleave(r0, r2); // tile row 0 of both tiles' rows: columns 0, 1
                    var (b0, b1) = PairDeinterleave(r1, r3); // tile row 1
                    GradTile(a0, a1, b0, b1, s0 + k.MOff + (long)co * tiles + 4 * r, eStride);
                }
            }
    }
}
