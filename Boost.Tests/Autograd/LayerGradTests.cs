using Boost.Autograd;
using Boost.Kernels;
using Boost.Tests.Support;

namespace Boost.Tests.Autograd;

/// <summary>Every differentiable op of the tape, checked by directional central differences on the CPU backend.</summary>
public class LayerGradTests
{
    private static Parameter P(int seed, params int[] shape) => new(Seeded.Tensor(Device.Cpu, seed, shape));

    /// <summary>L = Σ w ⊙ f(inputs) with fixed random weights w, so every output element matters.</summary>
    private static void CheckOp(Func<Var> f, params Var[] inputs)
    {
        int[] shape;
        using (Tape.NoGrad()) shape = f().Shape;
        using var w = Seeded.Tensor(Device.Cpu, 999, shape);
        var results = GradCheck.Directional(() => Ops.SumAll(Ops.Mul(f(), Ops.Constant(w.Clone()))), inputs, directions: 3, eps: 1e-2f);
        foreach (var r in results) Assert.That(r.RelativeError, Is.LessThan(1e-2), $"analytic {r.Analytic}, numeric {r.Numeric}");
    }

    [Test] public void Conv2d_Stride1And2()
    {
        using var x = P(1, 2, 3, 7, 6); using var w = P(2, 4, 3, 3, 3); using var b = P(3, 4);
        CheckOp(() => Ops.Conv2d(x, w, b, 1, 1), x, w, b);
        CheckOp(() => Ops.Conv2d(x, w, b, 2, 1), x, w, b);
    }

    [Test] public void Conv2d_WithChannelBiasAndResidual()
    {
        using var x = P(1, 2, 3, 7, 6); using var w = P(2, 4, 3, 3, 3); using var b = P(3, 4);
        using var e = P(14, 2, 4); using var r = P(15, 2, 4, 7, 6); using var r2 = P(16, 2, 4, 4, 3);
        CheckOp(() => Ops.Conv2d(x, w, b, 1, 1, e, r), x, w, b, e, r);
        CheckOp(() => Ops.Conv2d(x, w, null, 2, 1, channelBias: e), x, w, e);
        CheckOp(() => Ops.Conv2d(x, w, b, 2, 1, residual: r2), x, w, b, r2);
    }

    [Test] public void Linear()
    {
        using var x = P(4, 5, 7); using var w = P(5, 3, 7); using var b = P(6, 3);
        CheckOp(() => Ops.Linear(x, w, b), x, w, b);
    }

    [Test] public void GroupNorm()
    {
        using var x = P(7, 2, 6, 3, 5); using var g = P(8, 6); using var b = P(9, 6);
        CheckOp(() => Ops.GroupNorm(x, 3, g, b, 1e-5f), x, g, b);
    }

    [Test] public void GroupNormSiLU()
    {
        using var x = P(7, 2, 6, 3, 5); using var g = P(8, 6); using var b = P(9, 6);
        CheckOp(() => Ops.GroupNorm(x, 3, g, b, 1e-5f, silu: true), x, g, b);
    }

    [Test] public void Attention()
    {
        using var q = P(10, 1, 2, 5, 4); using var k = P(11, 1, 2, 6, 4); using var v = P(12, 1, 2, 6, 4);
        CheckOp(() => Ops.Attention(q, k, v, 0.5f), q, k, v);
    }

    [Test] public void Upsampling()
    {
        using var x = P(13, 1, 2, 3, 5);
        CheckOp(() => Ops.UpsampleNearest(x, 2), x);
        CheckOp(() => Ops.UpsampleBilinear(x, 4), x);
    }

    [Test] public void ConcatSlicePad()
    {
        using var a = P(14, 2, 3, 3, 4); using var b = P(15, 2, 2, 3, 4);
        CheckOp(() => Ops.Slice(Ops.Concat(a, b), 1, 3), a, b);
        CheckOp(() => Ops.Pad2d(a, 0, 1, 2, 1), a);
    }

    [Test] public void ExpClampDropout()
    {
        using var x = P(16, 3, 17);
        CheckOp(() => Ops.Exp(Ops.Affine(x, 0.5f)), x);
        CheckOp(() => Ops.Clamp(x, -1f, 1.5f), x);
        CheckOp(() => Ops.Dropout(x, 0.3f, seed: 4, stream: 2), x);
    }
}
