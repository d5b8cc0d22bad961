using Boost.Kernels;
using NUnit.Framework.Interfaces;

[assembly: Boost.Tests.Support.CheckOverflowCanaries]

namespace Boost.Tests.Support;

/// <summary>
/// The devices every kernel test runs on: the managed CPU backend, ILGPU's CPU simulator (small shapes, small tiles)
/// and CUDA when a GPU is present (skipped with the reason otherwise). Devices are created once per test run.
/// <see cref="NvidiaSim"/>, the simulator shaped like an NVIDIA GPU that runs the CUDA tiles, is slower still and
/// serves only the CUDA-tile tests (Kernels/CudaTileTests.cs).
/// </summary>
public static class Backends
{
    private static readonly Lazy<IlgpuDevice> _sim = new(IlgpuDevice.CreateSimulator);
    private static readonly Lazy<IlgpuDevice> _nvidiaSim = new(IlgpuDevice.CreateNvidiaSimulator);
    private static readonly Lazy<IlgpuDevice?> _cuda = new(() => Device.CudaDeviceCount() > 0 ? IlgpuDevice.CreateCuda(0) : null);

    public const string Cpu = "cpu", Sim = "ilgpu-cpu", Cuda = "cuda", NvidiaSim = "ilgpu-cpu-nvidia";

    /// <summary>Names for [TestCaseSource]: every backend.</summary>
    public static readonly string[] All = [Cpu, Sim, Cuda];
    /// <summary>The ILGPU backends only (for kernel-specific tests).</summary>
    public static readonly string[] Ilgpu = [Sim, Cuda];

    public static Device Get(string name) => name switch
    {
        Cpu => Device.Cpu,
        Sim => _sim.Value,
        NvidiaSim => _nvidiaSim.Value,
        Cuda => _cuda.Value ?? Ignore($"no CUDA GPU on this machine ({Device.CudaUnavailableReason}); the CUDA kernel suite runs only where one is present"),
        _ => throw new ArgumentException(name),
    };

    /// <summary>True where shapes must stay tiny: ILGPU's CPU simulator runs each GPU thread as an OS thread.</summary>
    public static bool IsSlow(Device d) => d.Kind == DeviceKind.IlgpuCpu;

    private static Device Ignore(string why) { Assert.Ignore(why); return null!; }

    internal static void DisposeAll()
    {
        if (_sim.IsValueCreated) _sim.Value.Dispose();
        if (_nvidiaSim.IsValueCreated) _nvidiaSim.Value.Dispose();
        if (_cuda.IsValueCreated) _cuda.Value?.Dispose();
    }
}

/// <summary>
/// Fails a test in whose body a tensor's slack was clobbered (see <see cref="OverflowGuard"/>): violations are
/// recorded when the tensor is disposed and asserted here, after each test (tests run one at a time).
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class CheckOverflowCanariesAttribute : Attribute, ITestAction
{
    public ActionTargets Targets => ActionTargets.Test;
    public void BeforeTest(ITest test) => Fail("before this test started (by a fixture's setup or teardown)", OverflowGuard.TakeViolations());
    public void AfterTest(ITest test) => Fail("by this test", OverflowGuard.TakeViolations());

    internal static void Fail(string when, string[] violations)
    {
        if (violations.Length > 0)
            Assert.Fail($"{violations.Length} write(s) past a tensor's end detected {when}:\n" + string.Join("\n", violations));
    }
}
