using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Boost.Kernels;

public enum DeviceKind
{
    /// <summary>The managed SIMD backend: this process's own CPU cores.</summary>
    Cpu,
    /// <summary>ILGPU's CPU accelerator: simulates GPU threads with OS threads. Correct and very slow; for testing kernels.</summary>
    IlgpuCpu,
    /// <summary>An NVIDIA GPU through ILGPU's CUDA backend.</summary>
    Cuda,
}

/// <summary>
/// Where tensors live and ops run. Every op dispatches on its inputs' device: <see cref="CpuDevice"/> runs the
/// managed backend, <see cref="IlgpuDevice"/> launches the ILGPU kernels (CUDA, or the CPU simulator).
/// </summary>
public abstract class Device : IDisposable
{
    public abstract DeviceKind Kind { get; }
    public abstract string Name { get; }

    /// <summary>The managed CPU backend (a process-wide singleton; disposing it does nothing).</summary>
    public static CpuDevice Cpu => CpuDevice.Instance;

    /// <summary>A buffer of at least <paramref name="length"/> floats (from the pool when one fits), armed by
    /// <see cref="OverflowGuard"/> when it is enabled. <paramref name="shape"/> is for messages only.</summary>
    internal abstract Storage Allocate(long length, int[]? shape = null);
    internal abstract void Return(Storage storage);

    /// <summary>Waits until all queued work on this device has finished.</summary>
    public virtual void Synchronize() { }

    public virtual void Dispose() { }

    public override string ToString() => Name;

    /// <summary>The environment variable that overrides automatic device selection.</summary>
    public const string EnvironmentVariable = "BOOST_DEVICE";

    /// <summary>
    /// Chooses the device: <paramref name="option"/> (a <c>--device</c> value) wins, then <c>BOOST_DEVICE</c>,
    /// then automatic choice (CUDA if a GPU is present, else the managed CPU backend).
    /// Accepted names: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, <c>ilgpu-cpu</c>.
    /// </summary>
    public static Device Select(string? option = null)
    {
        string spec = option ?? Environment.GetEnvironmentVariable(EnvironmentVariable) ?? "auto";
        return Create(spec);
    }

    public static Device Create(string spec)
    {
        spec = spec.Trim().ToLowerInvariant();
        if (spec is "" or "auto") return CudaDeviceCount() > 0 ? IlgpuDevice.CreateCuda(0) : Cpu;
        if (spec == "cpu") return Cpu;
        if (spec is "ilgpu-cpu" or "sim") return IlgpuDevice.CreateSimulator();
        if (spec == "cuda" || spec.StartsWith("cuda:"))
        {
            int index = 0;
            if (spec.Length > 4 && !int.TryParse(spec.AsSpan(5), out index))
                throw new ArgumentException($"Unknown device '{spec}': expected cuda:N with N a number.");
            int n = CudaDeviceCount();
            if (index < 0 || index >= n)
                throw new InvalidOperationException(n == 0
                    ? $"Device '{spec}' was asked for, but no CUDA GPU was found (no NVIDIA driver or no device). Use --device cpu."
                    : $"Device '{spec}' was asked for, but only {n} CUDA GPU(s) are present.");
            return IlgpuDevice.CreateCuda(index);
        }
        throw new ArgumentException($"Unknown device '{spec}': use auto, cpu, cuda, cuda:N or ilgpu-cpu.");
    }

    /// <summary>Number of CUDA devices ILGPU can see (0 when there is no driver).</summary>
    public static int CudaDeviceCount()
    {
        try
        {
            using var ctx = Context.Create(b => b.Cuda());
            return ctx.GetCudaDevices().Count;
        }
        catch (Exception) { return 0; }
    }
}

/// <summary>The managed CPU backend. Buffers are pooled <c>float[]</c>s.</summary>
public sealed class CpuDevice : Device
{
    internal static readonly CpuDevice Instance = new();
    private readonly BufferPool<float[]> _pool = new(_ => { }, capElements: 1L << 30);

    private CpuDevice() { }

    public override DeviceKind Kind => DeviceKind.Cpu;
    public override string Name => $"cpu (managed SIMD, {Environment.ProcessorCount} threads)";

    internal override Storage Allocate(long length, int[]? shape = null)
    {
        if (length > Array.MaxLength)
            throw new OutOfMemoryException($"Tensor {(shape is null ? "" : Tensor.Format(shape) + " ")}of {length} floats exceeds the CPU backend's limit of {Array.MaxLength}.");
        bool armed = OverflowGuard.Enabled;
        long bucket = Math.Min(BufferPool<float[]>.Bucket(OverflowGuard.Request(length, armed)), Array.MaxLength);
        var array = _pool.TryTake(bucket) ?? GC.AllocateUninitializedArray<float>((int)bucket);
        var storage = new Storage(this, length, shape, array);
        if (armed) OverflowGuard.Arm(storage);
        return storage;
    }

    internal override void Return(Storage storage)
    {
        if (storage.Armed) OverflowGuard.CheckOnReturn(storage);
        _pool.Give(storage.Array!.Length, storage.Array);
    }
}

/// <summary>
/// A device driven by ILGPU: a CUDA GPU, or ILGPU's CPU accelerator that simulates one (for tests).
/// Owns its context, accelerator, one stream, the kernel cache and the buffer pool.
/// </summary>
public sealed class IlgpuDevice : Device
{
    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public AcceleratorStream Stream => Accelerator.DefaultStream;
    private readonly ConcurrentDictionary<object, Delegate> _kernels = new();
    private readonly BufferPool<MemoryBuffer1D<float, Stride1D.Dense>> _pool;
    private bool _disposed;

    private IlgpuDevice(Context context, Accelerator accelerator)
    {
        Context = context;
        Accelerator = accelerator;
        // Keep at most half the device memory cached; the simulator's "memory" is host memory.
        long cap = Math.Max(1L << 24, accelerator.MemorySize / 2 / sizeof(float));
        _pool = new(b => b.Dispose(), cap);
        AllocateBuffer = n => Accelerator.Allocate1D<float>(n);
    }

    public override DeviceKind Kind => IsSimulator ? DeviceKind.IlgpuCpu : DeviceKind.Cuda;
    public override string Name => IsSimulator
        ? $"ilgpu-cpu (ILGPU CPU simulator, warp {Accelerator.WarpSize})"
        : $"cuda ({Accelerator.Name}, {Accelerator.MemorySize / (1 << 20)} MiB)";

    /// <summary>True on ILGPU's CPU accelerator: launchers then pick small tiles so tests stay fast.</summary>
    public bool IsSimulator => Accelerator.AcceleratorType == AcceleratorType.CPU;

    /// <summary>ILGPU's CPU accelerator with small warps and groups (a faithful, slow simulation of a GPU).</summary>
    public static IlgpuDevice CreateSimulator()
    {
        var context = Context.Create(b => b.CPU(new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: 4, numMultiprocessors: 2))
            .EnableAlgorithms().Optimize(OptimizationLevel.O1));
        return new IlgpuDevice(context, context.GetCPUDevice(0).CreateAccelerator(context));
    }

    public static IlgpuDevice CreateCuda(int index)
    {
        var context = Context.Create(b => b.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        return new IlgpuDevice(context, context.GetCudaDevice(index).CreateAccelerator(context));
    }

    /// <summary>
    /// Loads a kernel once per device and caches it. Call with a static lambda so its method identifies the kernel:
    /// <c>dev.Kernel(static a => a.LoadAutoGroupedStreamKernel&lt;...&gt;(Kernels.Foo))</c>.
    /// </summary>
    public TDelegate Kernel<TDelegate>(Func<Accelerator, TDelegate> load) where TDelegate : Delegate
        => (TDelegate)_kernels.GetOrAdd(load.Method, _ => load(Accelerator));

    /// <summary>Same as <see cref="Kernel{TDelegate}(Func{Accelerator, TDelegate})"/> with an explicit cache key
    /// (for loaders that capture a specialisation value).</summary>
    public TDelegate Kernel<TDelegate>(object key, Func<Accelerator, TDelegate> load) where TDelegate : Delegate
        => (TDelegate)_kernels.GetOrAdd(key, _ => load(Accelerator));

    /// <summary>The raw device allocation behind the pool (tests swap in a failing one to exercise the out-of-memory path).</summary>
    internal Func<long, MemoryBuffer1D<float, Stride1D.Dense>> AllocateBuffer;

    internal override Storage Allocate(long length, int[]? shape = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        bool armed = OverflowGuard.Enabled;
        long bucket = BufferPool<MemoryBuffer1D<float, Stride1D.Dense>>.Bucket(OverflowGuard.Request(length, armed));
        var buffer = _pool.TryTake(bucket) ?? AllocateOrExplain(bucket, length, shape);
        var storage = new Storage(this, length, shape, buffer);
        if (armed) OverflowGuard.Arm(storage);
        return storage;
    }

    /// <summary>Allocates a new buffer; when the device is full, empties the pool and retries once, then throws an
    /// <see cref="OutOfMemoryException"/> naming the tensor, the request, the device's free and total memory and
    /// what the pool held.</summary>
    private MemoryBuffer1D<float, Stride1D.Dense> AllocateOrExplain(long bucket, long length, int[]? shape)
    {
        try { return AllocateBuffer(bucket); }
        catch (Exception) { }
        long pooled = _pool.CachedElements;
        _pool.Clear();
        try { return AllocateBuffer(bucket); }
        catch (Exception e)
        {
            string tensor = shape is null ? $"a tensor of {length} floats" : $"tensor {Tensor.Format(shape)} ({length} floats)";
            throw new OutOfMemoryException(
                $"{Name}: out of memory allocating {tensor}: requested {MiB(bucket * sizeof(float))} (bucket of {bucket} floats); " +
                $"{MemoryText()} after emptying the pool, which held {MiB(pooled * sizeof(float))} ({e.Message.ReplaceLineEndings(" ")})", e);
        }
    }

    /// <summary>"device free F of T total," on CUDA (cuMemGetInfo); the simulator's memory is the host's.</summary>
    private string MemoryText()
    {
        if (Accelerator is not CudaAccelerator cuda)
            return $"device memory is host memory (simulator; {MiB(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)} available to the process),";
        string free;
        try { free = MiB(cuda.GetFreeMemory()); }
        catch (Exception e) { free = $"unknown ({e.GetType().Name})"; }
        return $"device free {free} of {MiB(Accelerator.MemorySize)} total,";
    }

    private static string MiB(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " MiB";

    internal override void Return(Storage storage)
    {
        if (_disposed) { storage.Buffer!.Dispose(); return; }
        if (storage.Armed) OverflowGuard.CheckOnReturn(storage);
        _pool.Give(storage.Buffer!.Length, storage.Buffer);
    }

    public override void Synchronize() => Accelerator.Synchronize();

    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _pool.Clear();
        Accelerator.Dispose();
        Context.Dispose();
    }
}
