using Boost.Kernels;

namespace Boost.Tests.Kernels;

/// <summary>The pool's guards.</summary>
public class AllocatorTests
{
    [Test]
    public void Guards_AreOnForEveryTest() => Assert.That(Tensor.PoisonNewTensors, Is.True, "GlobalSetup did not reach this fixture");
}
