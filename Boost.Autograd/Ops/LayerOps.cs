using Boost.Kernels;

namespace Boost.Autograd;

public static partial class Ops
{
    /// <summary>conv2d (zero padding, square odd kernel).</summary>
    /// <param name="x">[N, Cin, H, W]</param>
    /// <param name="w">[Cout, Cin, k, k]</param>
    /// <param name="b">[Cout] or null</param>
    /// <param name="channelBias">[N, Cout] or null: added to every pixel of y[n, co] in the conv's store</param>
    /// <param name="residual">[N, Cout, Ho, Wo] or null: added in the conv's store (a skip connection)</param>
    public static Var Conv2d(Var x, Var w, Var? b, int stride, int padding, Var? channelBias = null, Var? residual = null)
    {
        var epilogue = new ConvEpilogue(channelBias?.Value, residual?.Value);
        var y = Tape.Output(Boost.Kernels.Conv2d.Forward(x.Value, w.Value, b?.Value, stride, padding, epilogue),
                            Tape.Needs(x, w, b, channelBias, residual));
        int[] xShape = x.Shape; int k = w.Dim(2);
        Tape.Record(y, g =>
        {
            if (x.RequiresGrad) x.Accumulate(Boost.Kernels.Conv2d.BackwardInput(g, w.Value, xShape, stride, padding));
            if (w.RequiresGrad) w.Accumulate(Boost.Kernels.Conv2d.BackwardWeight(g, x.Value, k, stride, padding));
            if (b is { RequiresGrad: true }) b.Accumulate(Boost.Kernels.Conv2d.BackwardBias(g));
            if (channelBias is { RequiresGrad: true }) channelBias.Accumulate(Reduce.Sum(g, [2, 3]));
            if (residual is { RequiresGrad: true }) residual.Accumulate(g.Clone());
        });
        return y;
    }

    /// <summary>y = x·Wᵀ + b.</summary>
    /// <param name="x">[M, in]</param>
    /// <param name="w">[out, in]</param>
    public static Var Linear(Var x, Var w, Var? b)
    {
        var y = Tape.Output(MatMul.Linear(x.Value, w.Value, b?.Value), Tape.Needs(x, w, b));
        Tape.Record(y, g =>
        {
            if (x.RequiresGrad) x.Accumulate(MatMul.Gemm(g, w.Value));                       // [M,out]·[out,in]
            if (w.RequiresGrad) w.Accumulate(MatMul.Gemm(g, x.Value, transA: true));         // [out,M]·[M,in]
            if (b is { RequiresGrad: true }) b.Accumulate(Reduce.Sum(g, [0]));
        });
        return y;
    }

    /// <summary>GroupNorm, or SiLU(GroupNorm) in one op with <paramref name="silu"/>; the forward saves mean and rstd
    /// for the backward (the fused one recomputes the activation's input from them, so it is never stored).</summary>
    /// <param name="x">[N, C, H, W]</param>
    public static Var GroupNorm(Var x, int groups, Var? weight, Var? bias, float eps, bool silu = false)
    {
        var value = Boost.Kernels.GroupNorm.Forward(x.Value, groups, weight?.Value, bias?.Value, eps, out var mean, out var rstd, silu);
        var y = Tape.Output(value, Tape.Needs(x, weight, bias));
        if (!y.RequiresGrad) { mean.Dispose(); rstd.Dispose(); return y; }
        Tape.Save(mean); Tape.Save(rstd);
        Tape.Record(y, g =>
        {
            var (dx, dw, db) = Boost.Kernels.GroupNorm.Backward(g, x.Value, mean, rstd, weight?.Value, groups, bias?.Value, silu);
            Give(x, dx); Give(weight, dw); Give(bias, db);
        });
        return y;
    }

    /// <summary>softmax(q·kᵀ·scale)·v per head; the forward saves the log-sum-exp rows.</summary>
    /// <param name="q">[B, H, T, D]</param>
    public static Var Attention(Var q, Var k, Var v, float scale)
    {
        var value = Boost.Kernels.Attention.Forward(q.Value, k.Value, v.Value, scale, out var lse);
        var y = Tape.Output(value, Tape.Needs(q, k, v));
        if (!y.RequiresGrad) { lse.Dispose(); return y; }
        Tape.Save(lse);
        Tape.Record(y, g =>
        {
            var (dq, dk, dv) = Boost.Kernels.Attention.Backward(g, q.Value, k.Value, v.Value, y.Value, lse, scale);
            Give(q, dq); Give(k, dk); Give(v, dv);
        });
        return y;
    }

    /// <summary>Nearest-neighbour upsampling by an integer factor.</summary>
    /// <param name="x">[N, C, H, W]</param>
    public static Var UpsampleNearest(Var x, int factor)
    {
        var y = Tape.Output(Upsample.Nearest(x.Value, factor), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(Upsample.NearestBackward(g, factor)));
        return y;
    }

    /// <summary>Bilinear upsampling (align_corners = false) by an integer factor.</summary>
    public static Var UpsampleBilinear(Var x, int factor)
    {
        var y = Tape.Output(Upsample.Bilinear(x.Value, factor), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(Upsample.BilinearBackward(g, factor)));
        return y;
    }

    /// <summary>Channel concat [N,Ca,H,W] ++ [N,Cb,H,W].</summary>
    public static Var Concat(Var a, Var b)
    {
        var y = Tape.Output(Channels.Concat(a.Value, b.Value), Tape.Needs(a, b));
        int ca = a.Dim(1), cb = b.Dim(1);
        Tape.Record(y, g =>
        {
            if (a.RequiresGrad) a.Accumulate(Channels.Slice(g, 0, ca));
            if (b.RequiresGrad) b.Accumulate(Channels.Slice(g, ca, cb));
        });
        return y;
    }

    /// <summary>Channels [start, start + count) of x.</summary>
    public static Var Slice(Var x, int start, int count)
    {
        var y = Tape.Output(Channels.Slice(x.Value, start, count), Tape.Needs(x));
        Tape.Record(y, g =>
        {
            var dx = Tensor.Zeros(x.Device, x.Shape);
            Channels.CopyChannels(g, 0, dx, start, count, accumulate: false);
            x.Accumulate(dx);
        });
        return y;
    }

    /// <summary>Inverted dropout: zero with probability p, scale the rest by 1/(1 − p); identity when p = 0.</summary>
    public static Var Dropout(Var x, float p, ulong seed, ulong stream)
    {
        if (p <= 0f) return x;
        if (p >= 1f) throw new ArgumentOutOfRangeException(nameof(p), "Dropout probability must be below 1.");
        var mask = Rng.Uniform(x.Device, seed, stream, x.Shape);
        Elementwise.MapInto(mask, new DropoutMaskOp(p), mask);
        var y = Tape.Output(Elementwise.Mul(x.Value, mask), Tape.Needs(x));
        if (!y.RequiresGrad) { mask.Dispose(); return y; }
        Tape.Save(mask);
        Tape.Record(y, g => x.Accumulate(Elementwise.Mul(g, mask)));
        return y;
    }

    /// <summary>Hands a freshly computed gradient to its Var, or frees it when nobody wants it.</summary>
    private static void Give(Var? v, Tensor? g)
    {
        if (g is null) return;
        if (v is { RequiresGrad: true }) v.Accumulate(g);
        else g.Dispose();
    }
}
