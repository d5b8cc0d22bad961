using Boost.Kernels;

namespace Boost.Tests.Kernels;

/// <summary>Asking for a GPU where there is none gives one line that says why (the driver's own words), not a
/// generic "not found"; asking for a device that cannot exist names the accepted ones.</summary>
public class DeviceSelectionTests
{
    [Test]
    public void MissingCudaSaysWhy()
    {
        if (Device.CudaDeviceCount() > 0) Assert.Ignore("a CUDA GPU is present: this test covers machines without one");
        Assert.That(Device.CudaUnavailableReason, Is.Not.Null.And.Not.Empty);
        var e = Assert.Throws<InvalidOperationException>(() => Device.Create("cuda"))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain(Device.CudaUnavailableReason!).And.Contain("--device cpu").And.Not.Contain("\n"));
        // This test machine has no NVIDIA driver at all: the reason must name the library the loader looked for.
        if (!File.Exists("/dev/nvidiactl")) Assert.That(e.Message, Does.Contain("libcuda.so.1"));
    }

    [TestCase("cuda:x", "cuda:N")]
    [TestCase("tpu", "ilgpu-cpu")]
    public void UnknownDeviceNamesTheChoices(string spec, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => Device.Create(spec))!;
        Assert.That(e.Message, Does.Contain(spec).And.Contain(named));
    }
}
