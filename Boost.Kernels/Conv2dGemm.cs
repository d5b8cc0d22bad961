using ILGPU;

namespace Boost.Kernels;

// The pieces the conv2d kernels are built from: tile shapes as compile-time constants, and the three implicit
// GEMMs (forward, backward input, backward weight) as structs that say how to fetch an element of A and B and where
// a result goes. One tiled kernel (Conv2d.ImplicitGemmKernel) runs all of them; ILGPU specialises it per struct.

/// <summary>
/// Tile shape of the implicit-GEMM kernel, fixed at compile time (a struct's constant properties fold after
/// inlining, so shared arrays get constant sizes). A group computes BM rows × BN columns of the output, staging BK
/// steps of the reduction at a time in shared memory; each thread holds a <see cref="Conv2d.Micro"/>² register
/// block. Group size T = (BM/4)·(BN/4); the loaders need T a power of two, a multiple of BK and BN, dividing BK·BM
/// and BK·BN (see <see cref="ConvTile.Validate{TTile}"/>).
/// </summary>
public interface IConvTile
{
    int BM { get; }
    int BN { get; }
    int BK { get; }
}

/// <summary>Tiny tile for ILGPU's CPU simulator (8 threads per group): 16 channels × 8 pixels, K-chunks of 4, so
/// test shapes cross pixel-tile and K-chunk edges often and channel-tile edges at 17 channels.</summary>
public readonly struct ConvTileSim : IConvTile
{
    public int BM => 16;
    public int BN => 8;
    public int BK => 4;
}

/// <summary>CUDA tile: 64 channels × 64 pixels per group of 256 threads, K-chunks of 16 (8.3 KB of shared memory).</summary>
public readonly struct ConvTileCuda : IConvTile
{
    public int BM => 64;
    public int BN => 64;
    public int BK => 16;
}

public static class ConvTile
{
    public static int Threads<TTile>() where TTile : struct, IConvTile
    {
        var t = default(TTile);
        return t.BM / Conv2d.Micro * (t.BN / Conv2d.Micro);
    }

    /// <summary>Checks the loader constraints of a tile (host side, once per launch; cheap).</summary>
    public static void Validate<TTile>() where TTile : struct, IConvTile
    {
        var t = default(TTile);
        int threads = Threads<TTile>();
        bool ok = t.BM % Conv2d.Micro == 0 && t.BN % Conv2d.Micro == 0 && (threads & (threads - 1)) == 0
                  && threads % t.BK == 0 && threads % t.BN == 0 && t.BM * t.BK % threads == 0 && t.BK * t.BN % threads == 0;
        if (!ok) throw new InvalidOperationException($"Conv tile {typeof(TTile).Name} violates the loader constraints of IConvTile.");
    }
}

/// <summary>
/// What a thread knows about the one output column it loads B for, decoded once per group instead of once per
/// element. The meaning of the four numbers is each GEMM's own (see its doc comment).
/// </summary>
public struct GemmColumn
{
    public int Base, Y, X, Out;

    public GemmColumn(int @base, int y, int x, int @out) { Base = @base; Y = y; X = x; Out = @out; }
}

/// <summary>
/// An implicit GEMM: C[Rows, Cols] = A[Rows, Depth] · B[Depth, Cols], with A and B never materialised.
/// <see cref="Store"/> writes one result; <c>split</c> is the index of the reduction slice it covers.
/// </summary>
public interface IImplicitGemm
{
    int Rows { get; }
    int Cols { get; }
    int Depth { get; }
    float A(int row, int d);
    GemmColumn Column(int col);
    float B(int d, GemmColumn c);
    void Store(int row, GemmColumn c, int split, float value);
}

/// <summary>Shapes of one conv2d: x [N, Cin, H, W], w [Cout, Cin, K, K], y [N, Cout, Ho, Wo].</summary>
public struct ConvDims
{
    public int N, Cin, H, W, Cout, K, Stride, Pad, Ho, Wo;

    public readonly int HW => H * W;
    public readonly int HWo => Ho * Wo;
    public readonly int KK => K * K;
}

/// <summary>
/// Forward: y[n, co, p] = Σ_{ci,kh,kw} w[co, ci, kh, kw] · x[n, ci, oh·s − pad + kh, ow·s − pad + kw] (+ b[co]).
/// Rows = Cout, Cols = N·Ho·Wo (n, oh, ow), Depth = Cin·K·K (ci, kh, kw).
/// Column: Base = n·Cin·H·W, (Y, X) = top-left input position, Out = offset of y[n, 0, oh, ow].
/// </summary>
public struct ConvForwardGemm : IImplicitGemm
{
    public ArrayView<float> X, Wt, Bias, Y;
    public ConvDims D;
    public int HasBias;

    public readonly int Rows => D.Cout;
    public readonly int Cols => D.N * D.HWo;
    public readonly int Depth => D.Cin * D.KK;

    public readonly float A(int row, int d) => Wt[row * Depth + d];

    public readonly GemmColumn Column(int col)
    {
        int n = col / D.HWo, r = col - n * D.HWo;
        int oh = r / D.Wo, ow = r - oh * D.Wo;
        return new GemmColumn(n * D.Cin * D.HW, oh * D.Stride - D.Pad, ow * D.Stride - D.Pad, n * D.Cout * D.HWo + r);
    }

    public readonly float B(int d, GemmColumn c)
    {
        int ci = d / D.KK, t = d - ci * D.KK;
        int kh = t / D.K, kw = t - kh * D.K;
        int ih = c.Y + kh, iw = c.X + kw;
        return (uint)ih < (uint)D.H && (uint)iw < (uint)D.W ? X[c.Base + (ci * D.H + ih) * D.W + iw] : 0f;
    }

    public readonly void Store(int row, GemmColumn c, int split, float value)
        => Y[c.Out + row * D.HWo] = HasBias != 0 ? value + Bias[row] : value;
}

/// <summary>
/// Backward input as a transposed convolution, one launch per stride phase (rh, rw): the input pixels with
/// (ih + pad) ≡ rh (mod s) receive exactly the taps kh ≡ rh (mod s), so each phase is a dense GEMM with no
/// zero-stuffing. dx[n, ci, ih, iw] = Σ_{co,th,tw} w[co, ci, rh + s·th, rw + s·tw] · dy[n, co, oh₀ − th, ow₀ − tw]
/// with oh₀ = (ih + pad − rh)/s (exact). Rows = Cin, Cols = N·Hc·Wc (the phase's pixels), Depth = Cout·KHc·KWc.
/// Column: Base = n·Cout·Ho·Wo, (Y, X) = (oh₀, ow₀), Out = offset of dx[n, 0, ih, iw].
/// dx = result + Beta·dx (Beta = 0 never reads dx).
/// </summary>
public struct ConvInputGradGemm : IImplicitGemm
{
    public ArrayView<float> Dy, Wt, Dx;
    public ConvDims D;
    public int Rh, Rw, Ih0, Iw0, Hc, Wc, KHc, KWc;
    public float Beta;

    public readonly int Rows => D.Cin;
    public readonly int Cols => D.N * Hc * Wc;
    public readonly int Depth => D.Cout * KHc * KWc;

    public readonly float A(int row, int d)
    {
        int taps = KHc * KWc, co = d / taps, t = d - co * taps;
        int th = t / KWc, tw = t - th * KWc;
        return Wt[((co * D.Cin + row) * D.K + Rh + D.Stride * th) * D.K + Rw + D.Stride * tw];
    }

    public readonly GemmColumn Column(int col)
    {
        int hw = Hc * Wc, n = col / hw, r = col - n * hw;
        int i = r / Wc, j = r - i * Wc;
        int ih = Ih0 + D.Stride * i, iw = Iw0 + D.Stride * j;
        return new GemmColumn(n * D.Cout * D.HWo, (ih + D.Pad - Rh) / D.Stride, (iw + D.Pad - Rw) / D.Stride,
            n * D.Cin * D.HW + ih * D.W + iw);
    }

    public readonly float B(int d, GemmColumn c)
    {
        int taps = KHc * KWc, co = d / taps, t = d - co * taps;
        int th = t / KWc, tw = t - th * KWc;
        int oh = c.Y - th, ow = c.X - tw;
        return (uint)oh < (uint)D.Ho && (uint)ow < (uint)D.Wo ? Dy[c.Base + (co * D.Ho + oh) * D.Wo + ow] : 0f;
    }

    public readonly void Store(int row, GemmColumn c, int split, float value)
    {
        int i = c.Out + row * D.HW;
        Dx[i] = Beta == 0f ? value : value + Beta * Dx[i];
    }
}

/// <summary>
/// Backward weight: dw[co, (ci, kh, kw)] = Σ_{n,oh,ow} dy[n, co, oh, ow] · x[n, ci, oh·s − pad + kh, ow·s − pad + kw].
/// Rows = Cout, Cols = Cin·K·K, Depth = N·Ho·Wo, split into slices (grid z) written to separate planes of
/// <see cref="Out"/> ([splits, Cout, Cin·K·K]) and summed afterwards, so the result is deterministic.
/// Column: Base = ci·H·W, (Y, X) = (kh − pad, kw − pad), Out = col. Out = result + Beta·Out (Beta = 0 never reads).
/// </summary>
public struct ConvWeightGradGemm : IImplicitGemm
{
    public ArrayView<float> Dy, X, Out;
    public ConvDims D;
    public float Beta;

    public readonly int Rows => D.Cout;
    public readonly int Cols => D.Cin * D.KK;
    public readonly int Depth => D.N * D.HWo;

    public readonly float A(int row, int d)
    {
        int n = d / D.HWo, r = d - n * D.HWo;
        return Dy[(n * D.Cout + row) * D.HWo + r];
    }

    public readonly GemmColumn Column(int col)
    {
        int ci = col / D.KK, t = col - ci * D.KK;
        int kh = t / D.K, kw = t - kh * D.K;
        return new GemmColumn(ci * D.HW, kh - D.Pad, kw - D.Pad, col);
    }

    public readonly float B(int d, GemmColumn c)
    {
        int n = d / D.HWo, r = d - n * D.HWo;
        int oh = r / D.Wo, ow = r - oh * D.Wo;
        int ih = oh * D.Stride + c.Y, iw = ow * D.Stride + c.X;
        return (uint)ih < (uint)D.H && (uint)iw < (uint)D.W ? X[n * D.Cin * D.HW + c.Base + ih * D.W + iw] : 0f;
    }

    public readonly void Store(int row, GemmColumn c, int split, float value)
    {
        int i = (split * D.Cout + row) * Cols + c.Out;
        Out[i] = Beta == 0f ? value : value + Beta * Out[i];
    }
}
