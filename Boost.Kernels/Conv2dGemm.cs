using ILGPU;

namespace Boost.Kernels;

// The pieces the tiled GEMM kernel is built from: tile shapes as compile-time constants, and the GEMMs — the three
// of conv2d (forward, backward input, backward weight) and the dense one of MatMul — as structs that say how to fetch
// an element of A and B and where a result goes. One tiled kernel (Conv2d.ImplicitGemmKernel) runs all of them;
// ILGPU specialises it per struct.

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
/// A decoded index of an implicit GEMM: a reduction step d (decoded once per chunk into shared memory) or an output
/// column (decoded once per thread), so the element loaders do no integer division. The meaning of the four
/// numbers is each GEMM's own (see its doc comment).
/// </summary>
public struct GemmIndex
{
    public int Base, Y, X, Out;

    public GemmIndex(int @base, int y, int x, int @out) { Base = @base; Y = y; X = x; Out = @out; }
}

/// <summary>
/// An implicit GEMM: C[Rows, Cols] = A[Rows, Depth] · B[Depth, Cols], with A and B never materialised: element
/// (row, d) of A is <c>A(row, Step(d))</c>, element (d, col) of B is <c>B(Step(d), Column(col))</c>.
/// <see cref="Store"/> writes one result; <c>split</c> is the index of the reduction slice it covers.
/// </summary>
public interface IImplicitGemm
{
    int Rows { get; }
    int Cols { get; }
    int Depth { get; }
    GemmIndex Step(int d);
    GemmIndex Column(int col);
    float A(int row, GemmIndex step);
    float B(GemmIndex step, GemmIndex column);
    void Store(int row, GemmIndex column, int split, float value);
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
/// Forward: y[n, co, oh, ow] = Σ_{ci,kh,kw} w[co, ci, kh, kw] · x[n, ci, oh·s − pad + kh, ow·s − pad + kw] (+ b[co])
/// (+ e[n, co]) (+ r[n, co, oh, ow]): the epilogue adds the bias, a per-sample channel bias (a ResBlock's time
/// embedding) and a residual as it stores, so none of them costs a launch or a pass over y.
/// Rows = Cout, Cols = N·Ho·Wo (n, oh, ow), Depth = Cin·K·K (ci, kh, kw).
/// Step: Base = ci·H·W, (Y, X) = (kh, kw), Out = d. Column: Base = n·Cin·H·W, (Y, X) = top-left input position
/// (oh·s − pad, ow·s − pad), Out = offset of y[n, 0, oh, ow].
/// </summary>
public struct ConvForwardGemm : IImplicitGemm
{
    public ArrayView<float> X, Wt, Bias, Y;
    /// <summary>e [N, Cout] and r [N, Cout, Ho, Wo]; read only where <see cref="HasChannelBias"/> /
    /// <see cref="HasResidual"/> is set (else any non-empty view).</summary>
    public ArrayView<float> ChannelBias, Residual;
    public ConvDims D;
    public int HasBias, HasChannelBias, HasResidual;

    public readonly int Rows => D.Cout;
    public readonly int Cols => D.N * D.HWo;
    public readonly int Depth => D.Cin * D.KK;

    public readonly GemmIndex Step(int d)
    {
        int ci = d / D.KK, t = d - ci * D.KK, kh = t / D.K;
        return new GemmIndex(ci * D.HW, kh, t - kh * D.K, d);
    }

    public readonly GemmIndex Column(int col)
    {
        int n = col / D.HWo, r = col - n * D.HWo;
        int oh = r / D.Wo, ow = r - oh * D.Wo;
        return new GemmIndex(n * D.Cin * D.HW, oh * D.Stride - D.Pad, ow * D.Stride - D.Pad, n * D.Cout * D.HWo + r);
    }

    public readonly float A(int row, GemmIndex s) => Wt[row * Depth + s.Out];

    public readonly float B(GemmIndex s, GemmIndex c)
    {
        int ih = c.Y + s.Y, iw = c.X + s.X;
        return (uint)ih < (uint)D.H && (uint)iw < (uint)D.W ? X[c.Base + s.Base + ih * D.W + iw] : 0f;
    }

    public readonly void Store(int row, GemmIndex c, int split, float value)
    {
        int at = c.Out + row * D.HWo;
        if (HasBias != 0) value += Bias[row];
        if (HasChannelBias != 0) value += ChannelBias[c.Out / (D.Cout * D.HWo) * D.Cout + row];
        if (HasResidual != 0) value += Residual[at];
        Y[at] = value;
    }
}

/// <summary>
/// Backward input as a transposed convolution, one launch per stride phase (rh, rw): the input pixels with
/// (ih + pad) ≡ rh (mod s) receive exactly the taps kh ≡ rh (mod s), so each phase is a dense GEMM with no
/// zero-stuffing. dx[n, ci, ih, iw] = Σ_{co,th,tw} w[co, ci, rh + s·th, rw + s·tw] · dy[n, co, oh₀ − th, ow₀ − tw]
/// with oh₀ = (ih + pad − rh)/s (exact). Rows = Cin, Cols = N·Hc·Wc (the phase's pixels), Depth = Cout·KHc·KWc.
/// Step: Base = co·Ho·Wo, (Y, X) = (th, tw), Out = offset of w[co, 0, rh + s·th, rw + s·tw].
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

    public readonly GemmIndex Step(int d)
    {
        int taps = KHc * KWc, co = d / taps, t = d - co * taps;
        int th = t / KWc, tw = t - th * KWc;
        return new GemmIndex(co * D.HWo, th, tw, co * D.Cin * D.KK + (Rh + D.Stride * th) * D.K + Rw + D.Stride * tw);
    }

    public readonly GemmIndex Column(int col)
    {
        int hw = Hc * Wc, n = col / hw, r = col - n * hw;
        int i = r / Wc, j = r - i * Wc;
        int ih = Ih0 + D.Stride * i, iw = Iw0 + D.Stride * j;
        return new GemmIndex(n * D.Cout * D.HWo, (ih + D.Pad - Rh) / D.Stride, (iw + D.Pad - Rw) / D.Stride,
            n * D.Cin * D.HW + ih * D.W + iw);
    }

    public readonly float A(int row, GemmIndex s) => Wt[s.Out + row * D.KK];

    public readonly float B(GemmIndex s, GemmIndex c)
    {
        int oh = c.Y - s.Y, ow = c.X - s.X;
        return (uint)oh < (uint)D.Ho && (uint)ow < (uint)D.Wo ? Dy[c.Base + s.Base + oh * D.Wo + ow] : 0f;
    }

    public readonly void Store(int row, GemmIndex c, int split, float value)
    {
        int i = c.Out + row * D.HW;
        Dx[i] = Beta == 0f ? value : value + Beta * Dx[i];
    }
}

/// <summary>
/// Backward weight: dw[co, (ci, kh, kw)] = Σ_{n,oh,ow} dy[n, co, oh, ow] · x[n, ci, oh·s − pad + kh, ow·s − pad + kw].
/// Rows = Cout, Cols = Cin·K·K, Depth = N·Ho·Wo, split into slices (grid z) written to separate planes of
/// <see cref="Out"/> ([splits, Cout, Cin·K·K]) and summed afterwards, so the result is deterministic.
/// Step: Base = n·Cin·H·W, (Y, X) = (oh·s, ow·s), Out = offset of dy[n, 0, oh, ow].
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

    public readonly GemmIndex Step(int d)
    {
        int n = d / D.HWo, r = d - n * D.HWo;
        int oh = r / D.Wo, ow = r - oh * D.Wo;
        return new GemmIndex(n * D.Cin * D.HW, oh * D.Stride, ow * D.Stride, n * D.Cout * D.HWo + r);
    }

    public readonly GemmIndex Column(int col)
    {
        int ci = col / D.KK, t = col - ci * D.KK;
        int kh = t / D.K, kw = t - kh * D.K;
        return new GemmIndex(ci * D.HW, kh - D.Pad, kw - D.Pad, col);
    }

    public readonly float A(int row, GemmIndex s) => Dy[s.Out + row * D.HWo];

    public readonly float B(GemmIndex s, GemmIndex c)
    {
        int ih = s.Y + c.Y, iw = s.X + c.X;
        return (uint)ih < (uint)D.H && (uint)iw < (uint)D.W ? X[s.Base + c.Base + ih * D.W + iw] : 0f;
    }

    public readonly void Store(int row, GemmIndex c, int split, float value)
    {
        int i = (split * D.Cout + row) * Cols + c.Out;
        Out[i] = Beta == 0f ? value : value + Beta * Out[i];
    }
}

/// <summary>
/// The dense GEMM of one batch item, C = α·op(A)·op(B) + β·C (<see cref="MatMul.Gemm"/>), with A, B and C the
/// item's views and the layout's leading dimensions: A(row, d) = op(A)[row, d], B(d, col) = op(B)[d, col].
/// Step and Column carry the index itself in Out. β = 0 never reads C.
/// </summary>
public struct DenseGemm : IImplicitGemm
{
    public ArrayView<float> Am, Bm, Cm;
    public GemmLayout P;

    public readonly int Rows => P.M;
    public readonly int Cols => P.N;
    public readonly int Depth => P.K;

    public readonly GemmIndex Step(int d) => new(0, 0, 0, d);
    public readonly GemmIndex Column(int col) => new(0, 0, 0, col);

    public readonly float A(int row, GemmIndex s) => Am[P.TransA != 0 ? s.Out * P.Lda + row : row * P.Lda + s.Out];
    public readonly float B(GemmIndex s, GemmIndex c) => Bm[P.TransB != 0 ? c.Out * P.Ldb + s.Out : s.Out * P.Ldb + c.Out];

    public readonly void Store(int row, GemmIndex c, int split, float value)
    {
        int i = row * P.Ldc + c.Out;
        Cm[i] = P.Beta == 0f ? P.Alpha * value : P.Alpha * value + P.Beta * Cm[i];
    }
}

/// <summary>
/// The loaders both tiled GEMM kernels share (<see cref="Conv2d.ImplicitGemmKernel{TTile, TGemm}"/> and
/// <see cref="MmaGemm.Kernel{TGemm, TMma}"/>): each thread always fetches A at chunk offset <c>aD</c> for rows aRow,
/// aRow + aStep, … and B for column <c>bCol</c> at offsets bD, bD + bStep, …; the first BK threads decode the
/// reduction steps of the next chunk into the other half of a double-buffered array (last read two barriers earlier).
/// The shared arrays are the kernel's, allocated at its top.
/// </summary>
public struct ChunkLoader
{
    private int _bm, _bn, _bk, _tid, _aD, _aRow, _aStep, _bCol, _bD, _bStep, _row0, _rows, _aStride;
    private bool _colOk;
    private GemmIndex _column;

    /// <summary>The loads of thread <paramref name="tid"/> of <paramref name="threads"/> for the BM×BN tile at
    /// (row0, col0), A staged transposed with rows padded to BM + 1.</summary>
    public static ChunkLoader Create<TGemm>(TGemm g, int tid, int threads, int bm, int bn, int bk, int row0, int col0)
        where TGemm : struct, IImplicitGemm
    {
        var l = new ChunkLoader
        {
            _bm = bm, _bn = bn, _bk = bk, _tid = tid, _row0 = row0, _rows = g.Rows, _aStride = bm + 1,
            _aD = tid % bk, _aRow = tid / bk, _aStep = threads / bk,
            _bCol = tid % bn, _bD = tid / bn, _bStep = threads / bn,
        };
        l._colOk = col0 + l._bCol < g.Cols;
        l._column = g.Column(l._colOk ? col0 + l._bCol : 0);
        return l;
    }

    /// <summary>Decodes the steps of the slice's first chunk (before the first barrier).</summary>
    public readonly void FirstSteps<TGemm>(TGemm g, ArrayView<GemmIndex> steps, int dBegin, int dEnd) where TGemm : struct, IImplicitGemm
    {
        if (_tid < _bk && dBegin + _tid < dEnd) steps[_tid] = g.Step(dBegin + _tid);
    }

    /// <summary>Stages the chunk at <paramref name="d0"/> (zeros past the edges and past <paramref name="dEnd"/>) and
    /// decodes the next chunk's steps into the other half, which <paramref name="half"/> then names.</summary>
    public readonly void Load<TGemm>(TGemm g, ArrayView<float> sa, ArrayView<float> sb, ArrayView<GemmIndex> steps, int d0, int dEnd, ref int half)
        where TGemm : struct, IImplicitGemm
    {
        bool aOk = d0 + _aD < dEnd;
        for (int r = _aRow; r < _bm; r += _aStep)
            sa[_aD * _aStride + r] = _row0 + r < _rows && aOk ? g.A(_row0 + r, steps[half + _aD]) : 0f;
        for (int dd = _bD; dd < _bk; dd += _bStep)
            sb[dd * _bn + _bCol] = _colOk && d0 + dd < dEnd ? g.B(steps[half + dd], _column) : 0f;
        half = _bk - half;
        if (_tid < _bk && d0 + _bk + _tid < dEnd) steps[half + _tid] = g.Step(d0 + _bk + _tid);
    }
}
