using Boost.Autograd;
using Boost.Kernels;
using Boost.Tests.Support;

namespace Boost.Tests.Autograd;

public class TapeTests
{
    private static Parameter Param(int seed, params int[] shape) => new(Seeded.Tensor(Device.Cpu, seed, shape));

    [Test]
    public void ElementwiseGraph_PassesDirectionalGradCheck()
    {
        using var a = Param(1, 2, 3, 4, 5);
        using var b = Param(2, 3, 1, 1);
        using var t = Param(3, 2, 3, 4, 5);
        Var Loss()
        {
            var h = Ops.SiLU(Ops.Mul(Ops.Add(a, b), Ops.Affine(a, 0.5f, 0.1f)));
            var r = Ops.Reshape(Ops.TransposeLastTwo(Ops.Reshape(h, 6, 4, 5)), 2, 3, 5, 4);
            var s = Ops.Reshape(Ops.Sub(r, Ops.Reshape(Ops.TransposeLastTwo(Ops.Reshape(t, 6, 4, 5)), 2, 3, 5, 4)), 120);
            return Ops.Add(Ops.MseLoss(s, Ops.Constant(Tensor.Zeros(Device.Cpu, 120))), Ops.SumAll(Ops.Combine(a, t, 0.3f, -0.2f)));
        }
        var results = GradCheck.Directional(Loss, [a, b, t], directions: 4, eps: 1e-2f);
        foreach (var r in results) Assert.That(r.RelativeError, Is.LessThan(2e-2), $"analytic {r.Analytic}, numeric {r.Numeric}");
    }

    [Test]
    public void GradCheck_CatchesAWrongGradient()
    {
        // The same check must fail on a deliberately wrong backward (here: scaling by the wrong constant).
        using var a = Param(4, 7);
        var results = GradCheck.Directional(() => Ops.SumAll(Ops.Affine(a, 2f)), [a]);
        Assert.That(results[0].RelativeError, Is.LessThan(1e-3));
        a.ZeroGrad();
        using (var tape = Tape.Record()) tape.Backward(Ops.SumAll(Ops.Affine(a, 2f)));
        Assert.That(a.Grad!.ToArray(), Is.All.EqualTo(2f).Within(1e-6));
    }

    [Test]
    public void Gradients_Accumulate_AcrossBackwardCalls_UntilZeroed()
    {
        using var a = Param(5, 3);
        for (int i = 0; i < 2; i++) using (var tape = Tape.Record()) tape.Backward(Ops.SumAll(Ops.Affine(a, 3f)));
        Assert.That(a.Grad!.ToArray(), Is.All.EqualTo(6f).Within(1e-6));
        a.ZeroGrad();
        Assert.That(a.Grad, Is.Null);
    }

    [Test]
    public void NoGrad_RecordsNothing_AndFreesIntermediates()
    {
        using var a = Param(6, 4);
        Var y;
        using (Tape.NoGrad())
        {
            y = Ops.SiLU(Ops.Affine(a, 2f));
            Assert.That(y.RequiresGrad, Is.False);
        }
        Assert.Throws<ObjectDisposedException>(() => y.Value.ToArray());
        using var tape = Tape.Record();
        Assert.Throws<InvalidOperationException>(() => tape.Backward(Ops.SumAll(Ops.Constant(Tensor.Zeros(Device.Cpu, 2)))));
    }

    [Test]
    public void Borrow_LeavesTheTensorToTheCaller_AndTheGradientFlowsThroughIt()
    {
        using var p = Param(5, 3, 4);
        using var borrowed = Seeded.Tensor(Device.Cpu, 6, 3, 4);
        var owned = Seeded.Tensor(Device.Cpu, 6, 3, 4);
        using (var tape = Tape.Record())
        {
            var loss = Ops.SumAll(Ops.Mul(p, Ops.Borrow(borrowed)));
            Ops.SumAll(Ops.Constant(owned));
            tape.Backward(loss);
        }
        Assert.That(owned.IsDisposed, Is.True, "Constant takes ownership: the tape disposes the tensor");
        Assert.That(borrowed.IsDisposed, Is.False, "Borrow leaves the tensor to its owner");
        Assert.That(p.Grad!.ToArray(), Is.EqualTo(borrowed.ToArray()), "d Σ(p·c)/dp = c");
    }
}
