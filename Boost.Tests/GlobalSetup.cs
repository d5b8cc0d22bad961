using Boost.Kernels;
using Boost.Tests.Support;

/// <summary>
/// Switches for the whole test assembly. It lives outside any namespace on purpose: NUnit applies a
/// <see cref="SetUpFixtureAttribute"/> to the fixtures in its own namespace and below, so one declared in
/// <c>Boost.Tests.Support</c> would reach none of the tests.
/// </summary>
[SetUpFixture]
public sealed class GlobalSetup
{
    [OneTimeSetUp]
    public void Start()
    {
        Tensor.PoisonNewTensors = true;
        OverflowGuard.Enabled = true;
    }

    [OneTimeTearDown]
    public void Stop()
    {
        Backends.DisposeAll();
        TestContext.Progress.WriteLine($"Overflow guard: {OverflowGuard.Summary}.");
        CheckOverflowCanariesAttribute.Fail("after the last test (a fixture's tensors, disposed at teardown)", OverflowGuard.TakeViolations());
    }
}
