namespace Boost.Kernels;

/// <summary>
/// Every op's implementation on one kind of device: the one dispatch point. A public op (<see cref="Conv2d"/>,
/// <see cref="MatMul"/>, …) checks its arguments, allocates its outputs, then calls
/// <c>x.Device.Backend.Op(…)</c>; the device answers with <c>CpuBackend</c> (the managed SIMD loops under
/// <c>Cpu/</c>) or <see cref="IlgpuBackend"/> (the op's kernel launcher, specialised with the device's tile set).
/// No op asks which device it runs on (only storage does, to move bytes between host and device).
/// Invariants on entry: every tensor is on this backend's device, shapes agree with the dims passed, outputs are
/// allocated (and may be poisoned: an implementation writes every output element), and sizes fit 32-bit indexing.
/// <c>beta</c> arguments blend into the output: out = new + beta·out (0 overwrites, even NaN; 1 accumulates).
/// </summary>
internal interface IBackend
{
    // ---------------------------------------------------------------- Elementwise

    /// <summary>y[i] = value.</summary>
    void Fill(Tensor y, float value);

    /// <summary>y = op(x); x and y of one shape (y may be x).</summary>
    void Map<TOp>(Tensor x, TOp op, Tensor y) where TOp : struct, IUnaryOp;

    /// <summary>y = op(a, b); a, b and y of one shape (y may alias a or b).</summary>
    void Zip<TOp>(Tensor a, Tensor b, TOp op, Tensor y) where TOp : struct, IBinaryOp;

    /// <summary>y = op(a, b) with numpy broadcasting; <paramref name="m"/> maps y's flat index to a's and b's.</summary>
    void ZipBroadcast<TOp>(Tensor a, Tensor b, TOp op, BroadcastLayout m, Tensor y) where TOp : struct, IBinaryOp;

    // ---------------------------------------------------------------- Reduce

    /// <summary>y[o] = scale·Σ_r map(a[o, r], b[o, r]) over <paramref name="layout"/>'s reduced axes; a and b of one shape.</summary>
    void MapReduce<TMap>(Tensor a, Tensor b, TMap map, ReduceLayout layout, float scale, Tensor y) where TMap : struct, IBinaryOp;

    // ---------------------------------------------------------------- Conv2d

    /// <summary>y = conv2d(x, w) + b (+ e[n, co]) (+ r): x [N, Cin, H, W], w [Cout, Cin, k, k], b [Cout] or null,
    /// y [N, Cout, Ho, Wo]; the epilogue's tensors checked, r not aliasing y.</summary>
    void ConvForward(ConvDims d, Tensor x, Tensor w, Tensor? b, Tensor y, ConvEpilogue e);

    /// <summary>dx = conv2d_input_grad(dy, w) + beta·dx: dy [N, Cout, Ho, Wo], dx [N, Cin, H, W].</summary>
    void ConvBackwardInput(ConvDims d, Tensor dy, Tensor w, Tensor dx, float beta);

    /// <summary>dw = conv2d_weight_grad(dy, x) + beta·dw: dw [Cout, Cin, k, k].</summary>
    void ConvBackwardWeight(ConvDims d, Tensor dy, Tensor x, Tensor dw, float beta);

    /// <summary>db = Σ_{n,h,w} dy + beta·db: dy [N, C, HW], db [C]; C ≥ 1.</summary>
    void ConvBackwardBias(int n, int c, int hw, Tensor dy, Tensor db, float beta);

    // ---------------------------------------------------------------- MatMul

    /// <summary>C = α·op(A)·op(B) + β·C over <paramref name="batch"/> products (α, β, transposes and strides in
    /// <paramref name="p"/>); M, N and batch ≥ 1.</summary>
    void Gemm(Tensor a, Tensor b, Tensor c, GemmLayout p, int batch);

    /// <summary>Every row of y [M, N] = bias [N].</summary>
    void FillRows(Tensor bias, Tensor y, int m, int n);

    /// <summary>sum[j] = Σ_r x[r, j] + beta·sum[j]: x [rows, N], sum [N]; N ≥ 1.</summary>
    void ColumnSum(Tensor x, Tensor sum, int rows, int n, float beta);

    // ---------------------------------------------------------------- GroupNorm

    /// <summary>Group normalisation of x [N, C, HW] into y, saving mean and rstd [N, G]; weight and bias [C] both
    /// given or both null; with silu, y = SiLU of the normalised value.</summary>
    void GroupNormForward(Tensor x, Tensor? weight, Tensor? bias, Tensor y, Tensor mean, Tensor rstd, int n, int c, int hw, int groups, float eps, bool silu);

    /// <summary>dx [N, C, HW], and dweight, dbias [C] when weight is given (else all three weight arguments null); with
    /// silu, dy is the activation's gradient and bias (given with weight) enters SiLU′.</summary>
    void GroupNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor? weight, Tensor? bias, Tensor dx, Tensor? dweight, Tensor? dbias,
        int n, int c, int hw, int groups, bool silu);

    // ---------------------------------------------------------------- Attention

    /// <summary>o = softmax(scale·q·kᵀ)·v per head, and lse [Heads, Tq]: q, o [Heads, Tq, D], k, v [Heads, Tk, D].</summary>
    void AttentionForward(AttentionDims d, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse);

    /// <summary>dq, dk, dv from dO and the forward's o and lse (shapes as in <see cref="AttentionForward"/>).</summary>
    void AttentionBackward(AttentionDims d, Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor dq, Tensor dk, Tensor dv);

    // ---------------------------------------------------------------- Upsample

    /// <summary>y [planes, h·f, w·f] = x [planes, h, w] repeated f×f.</summary>
    void Nearest(Tensor x, Tensor y, int planes, int h, int w, int factor);

    /// <summary>dx [planes, h, w] = Σ of each f×f block of dy.</summary>
    void NearestBackward(Tensor dy, Tensor dx, int planes, int h, int w, int factor);

    /// <summary>y [planes, outH, outW] = bilinear(x [planes, h, w]), align_corners = False; sh = h/outH, sw = w/outW.</summary>
    void Bilinear(Tensor x, Tensor y, int planes, int h, int w, int outH, int outW, float sh, float sw);

    /// <summary>dx [planes, inH, inW] from dy [planes, outH, outW]; sh = inH/outH, sw = inW/outW.</summary>
    void BilinearBackward(Tensor dy, Tensor dx, int planes, int inH, int inW, int outH, int outW, float sh, float sw);

    // ---------------------------------------------------------------- Channels, Pad, Transpose

    /// <summary>dst[:, dstStart + j] = src[:, srcStart + j] (+= when accumulating) for j &lt; count; src [N, Cs, HW],
    /// dst [N, Cd, HW], distinct storages; N·count·HW ≥ 1.</summary>
    void CopyChannels(Tensor src, int srcStart, Tensor dst, int dstStart, int n, int count, int hw, bool accumulate);

    /// <summary>y [planes, h + top + bottom, w + left + right] = x [planes, h, w] placed at (top, left), zeros around.</summary>
    void Pad(Tensor x, Tensor y, int planes, int h, int w, int top, int left);

    /// <summary>dx [planes, h, w] = the window of dy [planes, ho, wo] at (top, left).</summary>
    void Crop(Tensor dy, Tensor dx, int planes, int h, int w, int top, int left);

    /// <summary>y [B, N, M] = x [B, M, N] with its last two axes swapped.</summary>
    void TransposeLastTwo(Tensor x, Tensor y, int batch, int m, int n);

    // ---------------------------------------------------------------- Random (counter-based: the same numbers on every backend)

    /// <summary>y = uniforms in (lo, hi) from Philox(seed, stream, i / 4).</summary>
    void Uniform(Tensor y, ulong seed, ulong stream, float lo, float hi);

    /// <summary>y = mean + std·N(0, 1) from Philox(seed, stream, i / 4), Box–Muller.</summary>
    void Normal(Tensor y, ulong seed, ulong stream, float mean, float std);

    // ---------------------------------------------------------------- Optim

    /// <summary>One AdamW step in place on p, m, v with gradient g (all one shape).</summary>
    void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, AdamWParams h);

    /// <summary>ema ← ema + (1 − decay)·(p − ema).</summary>
    void Ema(Tensor ema, Tensor p, float decay);
}
