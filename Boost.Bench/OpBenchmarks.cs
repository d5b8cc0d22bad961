using BenchmarkDotNet.Attributes;
using Boost.Kernels;

namespace Boost.Bench;

/// <summary>BenchmarkDotNet over the same cases as the quick mode, on the selected device (BOOST_DEVICE).</summary>
[MemoryDiagnoser]
public class OpBenchmarks
{
    private Device _device = null!;
    private Action _run = null!;
    private IDisposable _state = null!;

    public static IEnumerable<string> Ids => Cases.All().Select(c => c.Id);

    [ParamsSource(nameof(Ids))]
    public string Case { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Select();
        (_run, _state) = Cases.All().Single(c => c.Id == Case).Setup(_device);
    }

    [Benchmark]
    public void Run()
    {
        _run();
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _state.Dispose();
        _device.Dispose();
    }
}
