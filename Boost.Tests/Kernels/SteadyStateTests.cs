using Boost.Kernels;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

/// <summary>
/// The managed backend promises no allocation per call in steady state: after warm-up, what an op allocates
/// must not grow with its tensors (scratch comes from thread-local or pooled buffers, outputs from the device pool).
/// A few objects per call remain (tensor handles, shape arrays, the parallel loops' closures); the test
/// runs each op at two sizes, the second with 4× the data, and takes the fewest bytes over
/// several rounds (the counter is process-wide, so a stray allocation elsewhere can only add).
/// </summary>
public class SteadyStateTests
{
    /// <summary>Bytes per call allowed at the larger size: up to three parallel loops (~2.5 KB each when
    /// they fall back to Parallel.For), far below any tensor.</summary>
    private const long Budget = 10 * 1024;

    /// <summary>How much more the larger size may allocate per call (tap tables and such grow with a side, not the data).</summary>
    private const long Growth = 1024;

    /// <summary>The ops at spatial side <paramref name="s"/> (32 or 64: 1 or 4 MiB activations; both sizes are large
    /// enough for every op to go parallel, so the loop's own few objects appear at both).</summary>
    private static Dictionary<string, Action> Ops(int s)
    {
        var d = Device.Cpu;
        var x = Seeded.Tensor(d, 1, 2, 64, s, s);
        var w = Seeded.Tensor(d, 2, 64, 64, 3, 3);
        var b = Seeded.Tensor(d, 3, 64);
        var gamma = Seeded.Tensor(d, 4, 64);
        var big = Seeded.Tensor(d, 5, 2, 64, 2 * s, 2 * s);
        var q = Seeded.Tensor(d, 6, 2, 4, s * s / 16, 64);
        var m = Seeded.Tensor(d, 7, 8 * s, 8 * s);
        return new()
        {
            ["conv3x3_forward"] = () => { using var y = Conv2d.Forward(x, w, b, 1, 1); },
            ["conv3x3_backward_input"] = () => { using var dx = Conv2d.BackwardInput(x, w, x.Shape, 1, 1); },
            ["conv3x3_backward_weight"] = () =>
            {
                using var dw = Conv2d.BackwardWeight(x, x, 3, 1, 1);
                using var db = Conv2d.BackwardBias(x);
            },
            ["conv3x3_stride2"] = () =>
            {
                using var y = Conv2d.Forward(x, w, b, 2, 1);
                using var dx = Conv2d.BackwardInput(y, w, x.Shape, 2, 1);
                using var dw = Conv2d.BackwardWeight(y, x, 3, 2, 1);
            },
            ["matmul"] = () => { using var c = MatMul.Gemm(m, m, transB: true); },
            ["group_norm"] = () =>
            {
                using var y = GroupNorm.Forward(x, 32, gamma, b, 1e-5f, out var mean, out var rstd);
                var (dx, dg, dbeta) = GroupNorm.Backward(y, x, mean, rstd, gamma, 32);
                dx.Dispose(); dg?.Dispose(); dbeta?.Dispose(); mean.Dispose(); rstd.Dispose();
            },
            ["attention"] = () =>
            {
                using var o = Attention.Forward(q, q, q, 0.125f, out var lse);
                var (dq, dk, dv) = Attention.Backward(o, q, q, q, o, lse, 0.125f);
                dq.Dispose(); dk.Dispose(); dv.Dispose(); lse.Dispose();
            },
            ["upsample_nearest"] = () =>
            {
                using var y = Upsample.Nearest(x, 2);
                using var dx = Upsample.NearestBackward(big, 2);
            },
            ["upsample_bilinear_forward"] = () => { using var y = Upsample.Bilinear(x, 2); },
            ["upsample_bilinear_backward"] = () => { using var dx = Upsample.BilinearBackward(big, 2); },
            ["silu"] = () =>
            {
                using var y = Elementwise.SiLU(big);
                using var g = Elementwise.SiLUBackward(big, y);
            },
        };
    }

    private static readonly Dictionary<string, Action> Small = Ops(32), Large = Ops(64);

    public static IEnumerable<string> Names => Small.Keys;

    /// <summary>Fewest bytes allocated per call over 5 rounds of 3 calls, after 3 warm-up calls.</summary>
    private static long BytesPerCall(Action run)
    {
        for (int i = 0; i < 3; i++) run();
        long best = long.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 3; i++) run();
            best = Math.Min(best, (GC.GetTotalAllocatedBytes(precise: true) - before) / 3);
        }
        return best;
    }

    [Test]
    public void ManagedOps_DoNotAllocatePerCall_InSteadyState([ValueSource(nameof(Names))] string op)
    {
        long small = BytesPerCall(Small[op]), large = BytesPerCall(Large[op]);
        TestContext.Out.WriteLine($"{op}: {small} bytes per call at side 32, {large} at side 64");
        Assert.That(large, Is.LessThan(Budget), $"{op} allocates {large} bytes per call in steady state");
        Assert.That(large - small, Is.LessThan(Growth), $"{op}'s allocations grow with its tensors: {small} → {large} bytes per call");
    }
}
