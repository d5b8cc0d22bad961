using Boost.Kernels;

namespace Boost.Autograd;

/// <summary>
/// The differentiable op set, one partial file per family: each op computes its forward with the Boost.Kernels
/// launcher, saves what its backward needs, and records the backward beside it.
/// </summary>
public static partial class Ops
{
    /// <summary>A constant input (no gradient) that takes ownership of <paramref name="value"/>: the current tape
    /// disposes it (with no tape, the returned Var does).</summary>
    public static Var Constant(Tensor value) => Tape.Output(value, requiresGrad: false);

    /// <summary>A constant input (no gradient) that borrows <paramref name="value"/>: the caller keeps it and must
    /// keep it alive until the tape (and any backward through it) is done. Use it instead of cloning into
    /// <see cref="Constant"/>.</summary>
    public static Var Borrow(Tensor value) => Tape.Output(value, requiresGrad: false, borrowed: true);

    /// <summary>a + b with broadcasting; each gradient is summed back to its operand's shape.</summary>
    public static Var Add(Var a, Var b) => Combine(a, b, 1f, 1f);

    /// <summary>a − b with broadcasting.</summary>
    public static Var Sub(Var a, Var b) => Combine(a, b, 1f, -1f);

    /// <summary>α·a + β·b with broadcasting.</summary>
    public static Var Combine(Var a, Var b, float alpha, float beta)
    {
        var y = Tape.Output(Elementwise.Axpby(alpha, a.Value, beta, b.Value), Tape.Needs(a, b));
        Tape.Record(y, g =>
        {
            if (a.RequiresGrad) a.Accumulate(ScaledSumTo(g, a.Shape, alpha));
            if (b.RequiresGrad) b.Accumulate(ScaledSumTo(g, b.Shape, beta));
        });
        return y;
    }

    /// <summary>a ⊙ b with broadcasting: da = Σ g·b, db = Σ g·a.</summary>
    public static Var Mul(Var a, Var b)
    {
        var y = Tape.Output(Elementwise.Mul(a.Value, b.Value), Tape.Needs(a, b));
        Tape.Record(y, g =>
        {
            if (a.RequiresGrad) { using var gb = Elementwise.Mul(g, b.Value); a.Accumulate(Reduce.SumTo(gb, a.Shape)); }
            if (b.RequiresGrad) { using var ga = Elementwise.Mul(g, a.Value); b.Accumulate(Reduce.SumTo(ga, b.Shape)); }
        });
        return y;
    }

    /// <summary>s·x + c.</summary>
    public static Var Affine(Var x, float s, float c = 0f)
    {
        var y = Tape.Output(Elementwise.Affine(x.Value, s, c), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(Elementwise.Affine(g, s)));
        return y;
    }

    /// <summary>x·σ(x).</summary>
    public static Var SiLU(Var x)
    {
        var y = Tape.Output(Elementwise.SiLU(x.Value), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(Elementwise.SiLUBackward(x.Value, g)));
        return y;
    }

    /// <summary>The same elements in another shape (a view; one dim may be −1).</summary>
    public static Var Reshape(Var x, params int[] shape)
    {
        var y = Tape.Output(x.Value.Reshape(shape), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(g.Reshape(x.Shape)));
        return y;
    }

    /// <summary>mean((input − target)²) → [1].</summary>
    public static Var MseLoss(Var input, Var target)
    {
        var y = Tape.Output(Reduce.MseLoss(input.Value, target.Value), Tape.Needs(input, target));
        Tape.Record(y, g =>
        {
            // g stays on the device: scaling by it is a broadcast multiply, not a host read per step.
            if (input.RequiresGrad) input.Accumulate(Reduce.MseLossBackward(input.Value, target.Value, g));
            if (target.RequiresGrad) target.Accumulate(Reduce.MseLossBackward(target.Value, input.Value, g));
        });
        return y;
    }

    /// <summary>Σ of all elements → [1].</summary>
    public static Var SumAll(Var x)
    {
        var y = Tape.Output(Reduce.SumAll(x.Value), Tape.Needs(x));
        Tape.Record(y, g =>
        {
            using var ones = Tensor.Full(x.Device, 1f, x.Shape);
            using var gb = g.Reshape(Enumerable.Repeat(1, x.Value.Rank).ToArray());
            x.Accumulate(Elementwise.Mul(ones, gb));
        });
        return y;
    }

    private static Tensor ScaledSumTo(Tensor g, int[] shape, float scale)
    {
        var s = Reduce.SumTo(g, shape);
        if (scale != 1f) Elementwise.MapInto(s, new AffineOp(scale, 0f), s);
        return s;
    }
}

public static partial class Ops
{
    /// <summary>[B, M, N] → [B, N, M]; the backward is the same transpose.</summary>
    public static Var TransposeLastTwo(Var x)
    {
        var y = Tape.Output(Transpose.LastTwo(x.Value), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(Transpose.LastTwo(g)));
        return y;
    }
}

public static partial class Ops
{
    /// <summary>Zero padding of H and W (asymmetric allowed); the backward crops.</summary>
    public static Var Pad2d(Var x, int left, int right, int top, int bottom)
    {
        var y = Tape.Output(Pad.Forward(x.Value, left, right, top, bottom), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(Pad.Backward(g, left, right, top, bottom)));
        return y;
    }
}

public static partial class Ops
{
    /// <summary>eˣ; the backward reuses the output: dx = dy·y.</summary>
    public static Var Exp(Var x)
    {
        var y = Tape.Output(Elementwise.Map(x.Value, new ExpOp()), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(Elementwise.Mul(g, y.Value)));
        return y;
    }

    /// <summary>min(max(x, lo), hi); the gradient passes where lo ≤ x ≤ hi.</summary>
    public static Var Clamp(Var x, float lo, float hi)
    {
        var y = Tape.Output(Elementwise.Map(x.Value, new ClampOp(lo, hi)), Tape.Needs(x));
        Tape.Record(y, g => x.Accumulate(Elementwise.Zip(x.Value, g, new ClampGradOp(lo, hi))));
        return y;
    }
}
