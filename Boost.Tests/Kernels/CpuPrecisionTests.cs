using Boost.Kernels;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

/// <summary>
/// The managed CPU backend's emulation of <c>--precision tf32|bf16</c>: the GEMM-shaped ops round their operands as
/// the tensor cores would and accumulate in FP32, so they meet the same double twins of rounded inputs as the
/// tensor-core kernels on the NVIDIA-shaped simulator (<see cref="MmaTests"/>), and must differ from the
/// full-precision twin. <see cref="Device.Cpu"/> is process-wide: every case restores FP32.
/// </summary>
[NonParallelizable]
public class CpuPrecisionTests
{
    [Test]
    public void Gemm_MatchesRoundedTwin([Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p,
        [Values(false, true)] bool transA, [Values(false, true)] bool transB)
        => MmaTests.GemmMatchesRoundedTwin(Device.Cpu, p, 70, 65, 37, transA, transB);

    [Test]
    public void Conv_ForwardAndGradients_MatchRoundedTwins([Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p)
        => MmaTests.ConvMatchesRoundedTwins(Device.Cpu, p);

    /// <summary>The CPU's attention rounds Q, K, V (and dO) where CUDA's runs on the tensor cores (D ≤ 64); it does
    /// not round P or dS, which the shared tolerances allow for.</summary>
    [Test]
    public void Attention_MatchesRoundedTwins([Values(MatmulPrecision.Tf32, MatmulPrecision.Bf16)] MatmulPrecision p)
        => MmaTests.AttentionMatchesRoundedTwin(Device.Cpu, p, heads: 2, tq: 70, tk: 59, d: 40, seed: 71);

    /// <summary>Past D = 64 CUDA's attention is FP32, and so is the emulation.</summary>
    [Test]
    public void Attention_PastTheTensorCoreHeadDim_StaysFp32()
        => MmaTests.With(Device.Cpu, MatmulPrecision.Bf16, _ => AttentionTests.RunAndCompare(Device.Cpu, [1, 2, 9, 11, 65], seed: 72, magnitude: 1f, scale: 0.125f));

    [Test]
    public void Fp32_LeavesTheOperandsAlone()
    {
        Assert.That(Device.Cpu.Precision, Is.EqualTo(MatmulPrecision.Fp32), "a test left the CPU device rounding");
        var ad = Seeded.Floats(61, 9 * 13); var bd = Seeded.Floats(62, 13 * 7);
        using var a = Seeded.Tensor(Device.Cpu, ad, 9, 13);
        using var b = Seeded.Tensor(Device.Cpu, bd, 13, 7);
        using var y = MatMul.Gemm(a, b, false, false, alpha: 1f);
        var exact = Boost.Kernels.Reference.MatMulReference.Gemm(Seeded.ToDouble(ad), [9, 13], Seeded.ToDouble(bd), [13, 7], false, false, out _, alpha: 1);
        Compare.Close(y.ToArray(), exact, rtol: 0, atol: 1e-5, what: "FP32 GEMM");
    }
}
