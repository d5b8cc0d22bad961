// The managed conv2d's entry points and which algorithm runs each conv: the Winograd paths (Winograd*.cs) for 3×3
// convs with enough channels and columns, im2col + GEMM (Conv2dCpu.Im2Col.cs) for the rest; and the split of a
// batch across the cores that both use.

using System.Runtime.Intrinsics.X86;

namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed conv2d. 3×3 convs with 16 or more channels in and out on wide enough maps run through Winograd
/// transforms: stride 1 by F(2×2, 3×3) (<see cref="WinogradF2"/>) or, on maps 32 and more wide, F(4×4, 3×3)
/// (<see cref="WinogradF4"/>); stride 2 by its polyphase parts and F(2, 2) (<see cref="WinogradStride2"/>); the
/// drivers they share are in <see cref="Winograd"/>. Every other conv unfolds blocks of output pixels (im2col, at
/// most <see cref="BlockFloats"/> values a block, so the scratch stays cache-sized however large the image) into
/// <see cref="Gemm.Sgemm"/>. The stride-1 input gradient runs as a forward conv, so it takes the same paths.
/// Threading: when the batch has at least as many images as there are cores, each core takes whole images and runs
/// single-threaded GEMMs on them (no nested fork/join per block, each core's unfolded block stays in its own cache);
/// a smaller batch goes image by image with the GEMM parallel inside.
/// </summary>
internal static partial class Conv2dCpu
{
    /// <summary>Floats per block of unfolded (im2col) values (1 MiB): wide enough blocks for an efficient GEMM, small
    /// enough to stay in cache; the Winograd blocks' transforms are budgeted from it too.</summary>
    internal const int BlockFloats = 1 << 18;

    /// <summary>y[n] = conv(x[n], w) + b (+ beta·y[n]).</summary>
    public static void Forward(ConvDims d, float[] x, float[] w, float[]? b, float[] y, float beta = 0f)
    {
        if (WinogradApplies(d)) { WinogradForward(d, x, w, b, y, beta); return; }
        if (Stride2WinogradApplies(d)) { Winograd.TiledForward<WinogradStride2.Tiles>(d, x, w, b, y, beta, flipped: false); return; }
        Im2ColForward(d, x, w, b, y, beta);
    }

    /// <summary>dx[n] = col2im(wᵀ · dy[n]) + beta·dx[n]. Stride 1 (not pointwise) instead runs as the forward conv of
    /// dy with the kernel flipped and its channel axes swapped, padded by k − 1 − pad: a GEMM of depth Cout·k² rather
    /// than Cout, and an unfolding instead of a scatter-add.</summary>
    public static void BackwardInput(ConvDims d, float[] dy, float[] w, float[] dx, float beta)
    {
        if (d.Stride == 1 && !IsPointwise(d) && d.Pad <= d.K - 1)
        {
            var back = new ConvDims { N = d.N, Cin = d.Cout, H = d.Ho, W = d.Wo, Cout = d.Cin, K = d.K, Stride = 1, Pad = d.K - 1 - d.Pad, Ho = d.H, Wo = d.W };
            // Winograd reads w flipped as it transforms it; im2col needs the flipped copy.
            if (WinogradApplies(back)) { WinogradForward(back, dy, w, null, dx, beta, flipped: true); return; }
            var flipped = Interlocked.Exchange(ref s_flipped, null);
            int size = d.Cout * d.Cin * d.KK;
            if (flipped is null || flipped.Length < size) flipped = GC.AllocateUninitializedArray<float>(size);
            for (int co = 0; co < d.Cout; co++)
                for (int ci = 0; ci < d.Cin; ci++)
                    for (int t = 0; t < d.KK; t++)
                        flipped[(ci * d.Cout + co) * d.KK + d.KK - 1 - t] = w[(co * d.Cin + ci) * d.KK + t];
            Forward(back, dy, flipped, null, dx, beta);
            s_flipped = flipped;
            return;
        }
        Im2ColBackwardInput(d, dy, w, dx, beta);
    }

    /// <summary>dw = Σ_n dy[n] ⋆ x[n] + beta·dw, summed in an order that depends on the core count only.</summary>
    public static void BackwardWeight(ConvDims d, float[] dy, float[] x, float[] dw, float beta)
    {
        if (WinogradF4Applies(d)) { Winograd.TiledBackwardWeight<WinogradF4.Tiles>(d, dy, x, dw, beta); return; }
        if (WinogradApplies(d)) { Winograd.TiledBackwardWeight<WinogradF2.Tiles>(d, dy, x, dw, beta); return; }
        Im2ColBackwardWeight(d, dy, x, dw, beta);
    }

    /// <summary>The kernel flipped for the stride-1 input gradient on the im2col path, kept between calls.</summary>
    private static float[]? s_flipped;

    /// <summary>
    /// Convs that take a stride-1 Winograd path, F(2×2) or F(4×4) (forward and weight gradient by their own dims, the
    /// input gradient by those of the forward conv it runs as): where it beats im2col. That is from 16 output columns
    /// and 16 channels in and out, and on maps exactly 8 wide, whose tile rows pair up to fill a vector
    /// (WinogradF2Paired.cs). Not on other narrow maps (their transforms go tile by tile), not with fewer channels (the
    /// transforms cost as much as the GEMM), and not for one image of few tiles split across the cores (each core's
    /// GEMM is too narrow).
    /// </summary>
    internal static bool WinogradApplies(in ConvDims d)
        => d.K == 3 && d.Stride == 1 && d.Pad <= 2 && Avx2.IsSupported && (d.Wo >= 16 || Winograd.PairsTileRows(d)) && d.Cin >= 16 && d.Cout >= 16
           && (ImagesPerCore(d) || (d.Ho + 1) / 2 * ((d.Wo + 1) / 2) >= 256);

    /// <summary>
    /// Among the convs <see cref="WinogradApplies"/> takes, those that run F(4×4) (forward and weight gradient; the
    /// input gradient by the dims of the forward conv it runs as): where its GEMM columns
    /// (36 per tile, tile rows padded to 8-tile groups) come to under ¾ of F(2×2)'s (16 per tile) — so not on 16-wide
    /// maps, where half of each 8-tile group would be padding.
    /// </summary>
    internal static bool WinogradF4Applies(in ConvDims d)
    {
        if (!WinogradApplies(d) || !Fma.IsSupported) return false;
        long f4 = 36L * ((d.Wo + 3) / 4 + 7) / 8 * 8 * ((d.Ho + 3) / 4);
        long f2 = 16L * ((d.Wo + 1) / 2 + 7) / 8 * 8 * ((d.Ho + 1) / 2);
        return 4 * f4 < 3 * f2;
    }

    /// <summary>Convs that take the stride-2 polyphase path (WinogradStride2.cs); the thresholds mirror
    /// <see cref="WinogradApplies"/>'s, and for the same reasons.</summary>
    internal static bool Stride2WinogradApplies(in ConvDims d)
        => d.K == 3 && d.Stride == 2 && d.Pad <= 2 && Avx2.IsSupported && d.Wo >= 16 && d.Cin >= 16 && d.Cout >= 16
           && (ImagesPerCore(d) || (d.Ho + 1) / 2 * ((d.Wo + 1) / 2) >= 256);

    /// <summary>y[n] = conv3×3(x[n], w) + b (+ beta·y[n]) through F(4×4, 3×3) where <see cref="WinogradF4Applies"/>,
    /// else F(2×2, 3×3) (<see cref="Winograd.TiledForward{TA}"/>).</summary>
    /// <param name="flipped">w holds the filters of the conv whose input gradient this forward computes, [Cin, Cout,
    /// 3, 3] of this conv's channels with the taps to be reversed (<see cref="BackwardInput"/>): read as such, so no
    /// flipped copy is made.</param>
    private static void WinogradForward(ConvDims d, float[] x, float[] w, float[]? b, float[] y, float beta, bool flipped = false)
    {
        if (WinogradF4Applies(d)) Winograd.TiledForward<WinogradF4.Tiles>(d, x, w, b, y, beta, flipped);
        else Winograd.TiledForward<WinogradF2.Tiles>(d, x, w, b, y, beta, flipped);
    }

    /// <summary>Whole images per core (single-threaded GEMMs) or one image at a time (parallel GEMMs).</summary>
    internal static bool ImagesPerCore(in ConvDims d) => d.N >= CpuParallel.Threads && CpuParallel.Threads > 1;

    /// <summary>Runs <paramref name="image"/>(n, gemmThreads) for every image, split as <see cref="ImagesPerCore"/> says.</summary>
    internal static void ForImages(ConvDims d, Action<int, int> image)
    {
        if (ImagesPerCore(d)) CpuParallel.For(d.N, 1, (s, e) => { for (long n = s; n < e; n++) image((int)n, 1); });
        else for (int n = 0; n < d.N; n++) image(n, CpuParallel.Threads);
    }

    /// <summary>db[c] = Σ_{n,p} dy[n, c, p] + beta·db[c], in parallel over channels.</summary>
    public static void BackwardBias(int batch, int channels, int hw, float[] dy, float[] db, float beta)
    {
        CpuParallel.For(channels, Math.Max(1, (1 << 14) / Math.Max(1, batch * hw)), (s, e) =>
        {
            for (int c = (int)s; c < e; c++)
            {
                float sum = 0f;
                for (int n = 0; n < batch; n++) sum += Sum(dy.AsSpan((n * channels + c) * hw, hw));
                db[c] = beta == 0f ? sum : sum + beta * db[c];
            }
        });
    }

    private static float Sum(ReadOnlySpan<float> v)
    {
        var acc = System.Numerics.Vector<float>.Zero;
        int i = 0, w = System.Numerics.Vector<float>.Count;
        for (; i <= v.Length - w; i += w) acc += new System.Numerics.Vector<float>(v.Slice(i, w));
        float s = System.Numerics.Vector.Sum(acc);
        for (; i < v.Length; i++) s += v[i];
        return s;
    }
}
