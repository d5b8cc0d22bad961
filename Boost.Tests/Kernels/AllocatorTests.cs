using Boost.Kernels;
using Boost.Tests.Support;
using ILGPU;
using ILGPU.Runtime;

namespace Boost.Tests.Kernels;

/// <summary>The pool's guards: overflow canaries behind every tensor, and the out-of-memory message.</summary>
public class AllocatorTests
{
    [Test]
    public void Guards_AreOnForEveryTest()
    {
        Assert.That(Tensor.PoisonNewTensors, Is.True, "GlobalSetup did not reach this fixture");
        Assert.That(OverflowGuard.Enabled, Is.True, "GlobalSetup did not reach this fixture");
    }

    /// <summary>Writes one value behind a tensor straight into its buffer, as a kernel with a bad bound would.</summary>
    private static void WriteBehind(Tensor t, long offset, float value)
    {
        var s = t.Storage;
        if (s.Array is not null) { s.Array[offset] = value; return; }
        ArrayView<float> all = s.Buffer!.View;
        all.SubView(offset, 1).CopyFromCPU(((IlgpuDevice)t.Device).Stream, [value]);
    }

    private static long BufferLength(Tensor t) => t.Storage.Array?.Length ?? t.Storage.Buffer!.Length;

    /// <summary>15 floats sit in a 256-float bucket; 256 and 384 are bucket sizes themselves, so the guard must
    /// have added slack. A write one past the end is reported with the shape, device and offset when the tensor is
    /// disposed, and the buffer goes back to the pool re-armed.</summary>
    [Test]
    public void WriteOnePastTheEnd_IsReportedOnDispose([ValueSource(typeof(Backends), nameof(Backends.All))] string backend, [Values(15, 256, 384)] int length)
    {
        var dev = Backends.Get(backend);
        int[] shape = [1, length];
        var t = Tensor.Empty(dev, shape);
        Assert.That(BufferLength(t), Is.GreaterThanOrEqualTo(length + OverflowGuard.MinSlack));
        Assert.That(OverflowGuard.Check(t), Is.Null, "fresh tensor");

        WriteBehind(t, length, 1f);
        string? seen = OverflowGuard.Check(t);
        Assert.That(seen, Does.Contain($"tensor [1, {length}] ({length} floats)"));
        Assert.That(seen, Does.Contain($"on {dev.Name}"));
        Assert.That(seen, Does.Contain($"first bad offset {length} (0 past the end) holds 0x3F800000 (1)"));
        Assert.That(seen, Does.Contain($"1 of the {BufferLength(t) - length} slack floats"));

        t.Dispose();
        Assert.That(OverflowGuard.TakeViolations(), Is.EqualTo(new[] { seen }));

        using var again = Tensor.Empty(dev, shape);
        Assert.That(OverflowGuard.Check(again), Is.Null, "the pooled buffer is re-armed");
    }

    /// <summary>The last slack element, written with an ordinary NaN: a computed NaN does not pass for the canary.</summary>
    [Test]
    public void NaNAtTheBufferEnd_IsReported([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        using var t = Tensor.Empty(dev, 2, 3, 5);
        long last = BufferLength(t) - 1;
        WriteBehind(t, last, float.NaN);
        Assert.That(OverflowGuard.Check(t), Does.Contain($"first bad offset {last} ({last - 30} past the end) holds 0x{BitConverter.SingleToUInt32Bits(float.NaN):X8} (NaN)"));
        WriteBehind(t, last, BitConverter.UInt32BitsToSingle(t.Storage.Canary));
        Assert.That(OverflowGuard.Check(t), Is.Null, "canary restored");
    }

    /// <summary>Each allocation gets its own canary, so a kernel that runs past the end of an input and its output
    /// alike (the missing bound check of a rounded-up grid) cannot copy the input's canary into a matching slot.</summary>
    [Test]
    public void CanariesDifferBetweenAllocations([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        using var x = Tensor.Empty(dev, 7);
        using var y = Tensor.Empty(dev, 7);
        Assert.That(x.Storage.Canary, Is.Not.EqualTo(y.Storage.Canary));
        WriteBehind(y, 7, BitConverter.UInt32BitsToSingle(x.Storage.Canary));
        Assert.That(OverflowGuard.Check(y), Does.Contain($"first bad offset 7 (0 past the end) holds 0x{x.Storage.Canary:X8} (NaN)"));
        WriteBehind(y, 7, BitConverter.UInt32BitsToSingle(y.Storage.Canary));
    }

    [Test]
    public void Canary_IsAQuietNaNThatArithmeticDoesNotProduce()
    {
        for (uint n = 0; n < 100_000; n++)
        {
            uint c = OverflowGuard.CanaryFor(n);
            Assert.That(float.IsNaN(BitConverter.UInt32BitsToSingle(c)) && (c & 0x0040_0000) != 0, Is.True, $"0x{c:X8}");
            Assert.That(c & 0x7FFF_FFFF, Is.Not.EqualTo(0x7FC0_0000u), "the canonical NaN");
        }
    }

    /// <summary>A view keeps the storage: the check runs when the last owner lets go.</summary>
    [Test]
    public void ViewsShareTheCheck([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        var t = Tensor.Empty(dev, 4, 5);
        var view = t.Reshape(20);
        WriteBehind(view, 20, 2f);
        t.Dispose();
        Assert.That(OverflowGuard.TakeViolations(), Is.Empty, "the view still owns the storage");
        view.Dispose();
        var v = OverflowGuard.TakeViolations();
        Assert.That(v, Has.Length.EqualTo(1));
        Assert.That(v[0], Does.Contain("tensor [4, 5] (20 floats)").And.Contain("first bad offset 20 "));
    }

    /// <summary>
    /// Out of memory on an ILGPU device: the pool is emptied and the allocation retried once, then the message names
    /// the tensor's shape, the request, free and total device memory and what the pool held, on one line.
    /// The device's raw allocator is swapped for one that always fails (on a private simulator).
    /// </summary>
    [Test]
    public void OutOfMemory_MessageNamesTensorRequestMemoryAndPool()
    {
        using var dev = IlgpuDevice.CreateSimulator();
        Tensor.Empty(dev, 1 << 20).Dispose(); // leaves a 1.5·2^20-float (6 MiB) bucket in the pool
        int calls = 0;
        dev.AllocateBuffer = n => { calls++; throw new InvalidOperationException("injected failure"); };

        var e = Assert.Throws<OutOfMemoryException>(() => Tensor.Empty(dev, 64, 512, 128, 128))!;
        long bucket = BufferPool<MemoryBuffer1D<float, Stride1D.Dense>>.Bucket(64L * 512 * 128 * 128 + OverflowGuard.MinSlack);
        TestContext.Out.WriteLine(e.Message);
        Assert.That(calls, Is.EqualTo(2), "one retry after emptying the pool");
        Assert.That(e.Message, Does.StartWith(dev.Name + ": out of memory allocating tensor [64, 512, 128, 128] (536870912 floats)"));
        Assert.That(e.Message, Does.Contain($"requested {bucket * 4 / (1 << 20)}.0 MiB (bucket of {bucket} floats)"));
        Assert.That(e.Message, Does.Contain("device memory is host memory (simulator; "));
        Assert.That(e.Message, Does.Contain(" MiB available to the process), after emptying the pool, which held 6.0 MiB"));
        Assert.That(e.Message, Does.EndWith("(injected failure)"));
        Assert.That(e.Message, Does.Not.Contain("\n"));

        // The pool really was emptied: the next 2^20 tensor needs a fresh buffer.
        Assert.Throws<OutOfMemoryException>(() => Tensor.Empty(dev, 1 << 20));
    }

    /// <summary>On a GPU: 4 TiB cannot be had (cuMemAlloc fails at once); the message carries the driver's free
    /// and total memory.</summary>
    [Test]
    public void OutOfMemory_OnCuda_ReportsFreeAndTotalMemory()
    {
        var dev = Backends.Get(Backends.Cuda);
        var e = Assert.Throws<OutOfMemoryException>(() => Tensor.Empty(dev, 1 << 20, 1 << 20))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.StartWith(dev.Name + ": out of memory allocating tensor [1048576, 1048576] (1099511627776 floats)"));
        Assert.That(e.Message, Does.Match(@"; device free \d+\.\d MiB of \d+\.\d MiB total, after emptying the pool, which held \d+\.\d MiB \("));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }
}
