namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed backend: every op of <see cref="IBackend"/> as a loop over the tensors' <c>float[]</c>s, split across
/// the cores by <see cref="CpuParallel"/>. One implementation class per op family (ElementwiseCpu, Conv2dCpu, …);
/// this table only unwraps the arrays.
/// </summary>
internal sealed class CpuBackend : IBackend
{
    public static readonly CpuBackend Instance = new();

    private CpuBackend() { }

    /// <summary>The tensor's array. Every loop here indexes from element 0, so a <see cref="Tensor.Slice"/> view at an
    /// offset is refused rather than read from the array's start.</summary>
    private static float[] A(Tensor t) => t.Offset == 0 ? t.Storage.Array!
        : throw new NotSupportedException($"The managed CPU backend does not take offset views ({t.ShapeString} at element {t.Offset}); copy it with Clone().");

    public void Fill(Tensor y, float value) => A(y).AsSpan(0, checked((int)y.Length)).Fill(value);

    public void Map<TOp>(Tensor x, TOp op, Tensor y) where TOp : struct, IUnaryOp => ElementwiseCpu.Map(A(x), A(y), x.Length, op);

    public void Zip<TOp>(Tensor a, Tensor b, TOp op, Tensor y) where TOp : struct, IBinaryOp => ElementwiseCpu.Zip(A(a), A(b), A(y), y.Length, op);

    public void ZipBroadcast<TOp>(Tensor a, Tensor b, TOp op, BroadcastLayout m, Tensor y) where TOp : struct, IBinaryOp
        => ElementwiseCpu.ZipBroadcast(A(a), a.ShapeSpan, A(b), b.ShapeSpan, A(y), y.Length, m, op);

    public void MapReduce<TMap>(Tensor a, Tensor b, TMap map, ReduceLayout layout, float scale, Tensor y) where TMap : struct, IBinaryOp
        => ReduceCpu.Run(map, layout, A(a), A(b), A(y), scale);

    public void ConvForward(ConvDims d, Tensor x, Tensor w, Tensor? b, Tensor y, ConvEpilogue e)
    {
        using var rx = Operand(x); using var rw = Operand(w);
        if (e.IsEmpty) { Conv2dCpu.Forward(d, rx.Array, rw.Array, b is null ? null : A(b), A(y)); return; }
        // y first holds the epilogue's sum (one pass), then the conv accumulates onto it (beta 1).
        if (e.ChannelBias is null) Array.Copy(A(e.Residual!), A(y), y.Length);
        else
        {
            int[] perChannel = [d.N, d.Cout, 1, 1];
            var (m, _) = BroadcastLayout.Create(perChannel, y.ShapeSpan, "Conv2d.Forward");
            if (e.Residual is { } r) ElementwiseCpu.ZipBroadcast(A(e.ChannelBias), perChannel, A(r), r.ShapeSpan, A(y), y.Length, m, new LinearCombOp(1f, 1f));
            else ElementwiseCpu.ZipBroadcast(A(e.ChannelBias), perChannel, A(y), y.ShapeSpan, A(y), y.Length, m, new FirstOp());
        }
        Conv2dCpu.Forward(d, rx.Array, rw.Array, b is null ? null : A(b), A(y), beta: 1f);
    }

    public void ConvBackwardInput(ConvDims d, Tensor dy, Tensor w, Tensor dx, float beta)
    {
        using var rdy = Operand(dy); using var rw = Operand(w);
        Conv2dCpu.BackwardInput(d, rdy.Array, rw.Array, A(dx), beta);
    }

    public void ConvBackwardWeight(ConvDims d, Tensor dy, Tensor x, Tensor dw, float beta)
    {
        using var rdy = Operand(dy); using var rx = Operand(x);
        Conv2dCpu.BackwardWeight(d, rdy.Array, rx.Array, A(dw), beta);
    }

    public void ConvBackwardBias(int n, int c, int hw, Tensor dy, Tensor db, float beta) => Conv2dCpu.BackwardBias(n, c, hw, A(dy), A(db), beta);

    public void Gemm(Tensor a, Tensor b, Tensor c, GemmLayout p, int batch)
    {
        using var ra = Operand(a); using var rb = Operand(b);
        Cpu.Gemm.SgemmBatched(batch, p.TransA != 0, p.TransB != 0, p.M, p.N, p.K, p.Alpha,
            ra.Array, 0, p.Lda, p.StrideA, rb.Array, 0, p.Ldb, p.StrideB, p.Beta, A(c), 0, p.Ldc, p.StrideC);
    }

    /// <summary>A GEMM operand as <see cref="Device.Precision"/> makes the tensor cores see it: the tensor's own array
    /// at FP32 (or where <paramref name="round"/> is false: an op the tensor cores do not take), else a pooled copy
    /// rounded to TF32 or BF16 (returned on dispose).</summary>
    private static RoundedOperand Operand(Tensor t, bool round = true)
    {
        var precision = t.Device.Precision;
        if (precision == MatmulPrecision.Fp32 || !round) return new RoundedOperand(A(t), pooled: false);
        var src = A(t);
        int n = checked((int)t.Length);
        var copy = System.Buffers.ArrayPool<float>.Shared.Rent(n);
        bool bf16 = precision == MatmulPrecision.Bf16;
        CpuParallel.For(n, 1 << 15, (s, e) =>
        {
            if (bf16) for (long i = s; i < e; i++) copy[i] = Bf16.RoundToFloat(src[i]);
            else for (long i = s; i < e; i++) copy[i] = Tf32.RoundToFloat(src[i]);
        });
        return new RoundedOperand(copy, pooled: true);
    }

    private readonly struct RoundedOperand(float[] array, bool pooled) : IDisposable
    {
        public float[] Array { get; } = array;
        public void Dispose() { if (pooled) System.Buffers.ArrayPool<float>.Shared.Return(Array); }
    }

    public void FillRows(Tensor bias, Tensor y, int m, int n) => LinearCpu.FillRows(A(bias), A(y), m, n);

    public void ColumnSum(Tensor x, Tensor sum, int rows, int n, float beta) => LinearCpu.ColumnSum(A(x), A(sum), rows, n, beta);

    public void GroupNormForward(Tensor x, Tensor? weight, Tensor? bias, Tensor y, Tensor mean, Tensor rstd, int n, int c, int hw, int groups, float eps, bool silu)
        => GroupNormCpu.Forward(A(x), weight is null ? null : A(weight), bias is null ? null : A(bias), A(y), A(mean), A(rstd), n, c, hw, groups, eps, silu);

    public void GroupNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor? weight, Tensor? bias, Tensor dx, Tensor? dweight, Tensor? dbias,
        int n, int c, int hw, int groups, bool silu)
    {
        float[]? w = weight is null ? null : A(weight), dw = dweight is null ? null : A(dweight), db = dbias is null ? null : A(dbias);
        if (!silu)
        {
            GroupNormCpu.Backward(A(dy), A(x), A(mean), A(rstd), w, A(dx), dw, db, n, c, hw, groups);
            return;
        }
        // The activation's gradient first (one pass), then the plain backward's pipelined pass over it.
        var g = System.Buffers.ArrayPool<float>.Shared.Rent(checked((int)dy.Length));
        try
        {
            GroupNormCpu.SiLUGrad(A(dy), A(x), A(mean), A(rstd), w, bias is null ? null : A(bias), g, n, c, hw, groups);
            GroupNormCpu.Backward(g, A(x), A(mean), A(rstd), w, A(dx), dw, db, n, c, hw, groups);
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(g); }
    }

    /// <summary>As on CUDA, where TF32/BF16 attention with D ≤ <see cref="MmaAttention.MaxD"/> runs on the tensor
    /// cores, Q, K and V are rounded (the rounding of P on its way into P·V is not emulated).</summary>
    public void AttentionForward(AttentionDims d, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse)
    {
        bool tensorCores = d.D <= MmaAttention.MaxD;
        using var rq = Operand(q, tensorCores); using var rk = Operand(k, tensorCores); using var rv = Operand(v, tensorCores);
        AttentionCpu.Forward(rq.Array, rk.Array, rv.Array, A(o), A(lse), d.Heads, d.Tq, d.Tk, d.D, d.Scale);
    }

    /// <summary>Q, K, V and dO rounded where CUDA's backward runs on the tensor cores (P and dS are not).</summary>
    public void AttentionBackward(AttentionDims d, Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor dq, Tensor dk, Tensor dv)
    {
        bool tensorCores = d.D <= MmaAttention.MaxD;
        using var rg = Operand(dO, tensorCores);
        using var rq = Operand(q, tensorCores); using var rk = Operand(k, tensorCores); using var rv = Operand(v, tensorCores);
        AttentionCpu.Backward(rg.Array, rq.Array, rk.Array, rv.Array, A(o), A(lse), A(dq), A(dk), A(dv), d.Heads, d.Tq, d.Tk, d.D, d.Scale);
    }

    public void Nearest(Tensor x, Tensor y, int planes, int h, int w, int factor) => UpsampleCpu.Nearest(A(x), A(y), planes, h, w, factor);

    public void NearestBackward(Tensor dy, Tensor dx, int planes, int h, int w, int factor) => UpsampleCpu.NearestBackward(A(dy), A(dx), planes, h, w, factor);

    public void Bilinear(Tensor x, Tensor y, int planes, int h, int w, int outH, int outW, float sh, float sw)
        => UpsampleCpu.Bilinear(A(x), A(y), planes, h, w, outH, outW, sh, sw);

    public void BilinearBackward(Tensor dy, Tensor dx, int planes, int inH, int inW, int outH, int outW, float sh, float sw)
        => UpsampleCpu.BilinearBackward(A(dy), A(dx), planes, inH, inW, outH, outW, sh, sw);

    public void CopyChannels(Tensor src, int srcStart, Tensor dst, int dstStart, int n, int count, int hw, bool accumulate)
        => ChannelsCpu.Copy(A(src), src.Dim(1), srcStart, A(dst), dst.Dim(1), dstStart, n, count, hw, accumulate);

    public void Pad(Tensor x, Tensor y, int planes, int h, int w, int top, int left) => PadCpu.Pad(A(x), A(y), planes, h, w, top, left, y.Dim(2), y.Dim(3));

    public void Crop(Tensor dy, Tensor dx, int planes, int h, int w, int top, int left) => PadCpu.Crop(A(dy), A(dx), planes, h, w, top, left, dy.Dim(2), dy.Dim(3));

    public void TransposeLastTwo(Tensor x, Tensor y, int batch, int m, int n) => TransposeCpu.LastTwo(A(x), A(y), batch, m, n);

    public void Uniform(Tensor y, ulong seed, ulong stream, float lo, float hi) => RandomCpu.Uniform(A(y), y.Length, seed, stream, lo, hi);

    public void Normal(Tensor y, ulong seed, ulong stream, float mean, float std) => RandomCpu.Normal(A(y), y.Length, seed, stream, mean, std);

    public void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, AdamWParams h) => OptimCpu.AdamW(A(p), A(g), A(m), A(v), p.Length, h);

    public void Ema(Tensor ema, Tensor p, float decay) => OptimCpu.Ema(A(ema), A(p), p.Length, decay);
}
