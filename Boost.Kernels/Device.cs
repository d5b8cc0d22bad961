using System.Collections.Concurrent;
using System.Linq.Expressions;
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
/// Which tile specialisations an <see cref="IlgpuDevice"/>'s launchers use, fixed when the device is created:
/// each op's launcher maps it to its own tile structs (ConvTileSim / ConvTileCuda for convolutions and GEMMs, AttentionTileSim / AttentionTileD64 …).
/// </summary>
public enum TileSet
{
    /// <summary>Tiny tiles (≤ 16 threads per group): the small simulator, where each GPU thread is an OS thread.</summary>
    Small,
    /// <summary>The production tiles (warp-multiple groups of up to 256 threads): CUDA GPUs and the NVIDIA-shaped simulator.</summary>
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

    /// <summary>Every op's implementation on this device: the one dispatch point (see <see cref="IBackend"/>).</summary>
    internal abstract IBackend Backend { get; }

    /// <summary>Waits until all queued work on this device has finished.</summary>
    public virtual void Synchronize() { }

    /// <summary>What this device was asked to do since it was created (or <see cref="DeviceCounters.Reset"/>): kernel
    /// launches and blocking host transfers. Only ILGPU devices count; the managed CPU device's stay 0.</summary>
    public DeviceCounters Counters { get; } = new();

    /// <summary>How the GEMM-shaped ops (convolutions in all three directions, matmul and linear) multiply: FP32, or
    /// with TF32/BF16 inputs and FP32 accumulation. On CUDA the tensor-core kernels (<see cref="MmaGemm"/>; their
    /// emulation on the NVIDIA-shaped simulator); on the managed CPU backend an emulation that rounds the operands
    /// first (same numbers up to summation order, no speed-up: for parity checks and precision studies).</summary>
    public MatmulPrecision Precision
    {
        get => _precision;
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value));
            CheckPrecision(value);
            _precision = value;
        }
    }
    private MatmulPrecision _precision;

    /// <summary>Throws when this device cannot run <paramref name="value"/>.</summary>
    protected virtual void CheckPrecision(MatmulPrecision value) { }

    public virtual void Dispose() { }

    public override string ToString() => Name;

    /// <summary>The environment variable that overrides automatic device selection.</summary>
    public const string EnvironmentVariable = "BOOST_DEVICE";

    /// <summary>
    /// Chooses the device: <paramref name="option"/> (a <c>--device</c> value) wins, then <c>BOOST_DEVICE</c>,
    /// then automatic choice (CUDA if a GPU is present, else the managed CPU backend).
    /// Accepted names: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, <c>ilgpu-cpu</c>, <c>ilgpu-cpu-nvidia</c>.
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
        if (spec is "ilgpu-cpu-nvidia" or "sim-nvidia") return IlgpuDevice.CreateNvidiaSimulator();
        if (spec == "cuda" || spec.StartsWith("cuda:"))
        {
            int index = 0;
            if (spec.Length > 4 && !int.TryParse(spec.AsSpan(5), out index))
                throw new ArgumentException($"Unknown device '{spec}': expected cuda:N with N a number.");
            int n = CudaDeviceCount();
            if (index < 0 || index >= n)
                throw new InvalidOperationException(n == 0
                    ? $"Device '{spec}' was asked for, but no CUDA GPU was found: {CudaUnavailableReason}. Use --device cpu."
                    : $"Device '{spec}' was asked for, but only {n} CUDA GPU(s) are present.");
            return IlgpuDevice.CreateCuda(index);
        }
        throw new ArgumentException($"Unknown device '{spec}': use auto, cpu, cuda, cuda:N, ilgpu-cpu or ilgpu-cpu-nvidia.");
    }

    /// <summary>Number of CUDA devices ILGPU can see (0 when there is no driver; <see cref="CudaUnavailableReason"/>
    /// then says why).</summary>
    public static int CudaDeviceCount()
    {
        CudaDriver.Install();
        try
        {
            using var ctx = Context.Create(b => b.Cuda());
            int n = ctx.GetCudaDevices().Count;
            CudaUnavailableReason = n > 0 ? null : CudaDriver.Diagnose() ?? "ILGPU found no CUDA device although the driver reports one";
            return n;
        }
        catch (Exception e)
        {
            CudaUnavailableReason = $"{CudaDriver.Diagnose() ?? "CUDA could not start"} ({e.GetType().Name}: {e.Message})";
            return 0;
        }
    }

    /// <summary>Why the last <see cref="CudaDeviceCount"/> found no GPU, in words (the driver's own error where there is
    /// one); null when it found one.</summary>
    public static string? CudaUnavailableReason { get; private set; }
}

/// <summary>
/// Per-device tallies (thread-safe): <see cref="Launches"/> counts kernel launches (each invocation of a kernel from
/// <see cref="IlgpuDevice.Kernel{TDelegate}(Func{Accelerator, TDelegate})"/>); <see cref="HostReads"/> counts blocking
/// device → host copies of tensors (<see cref="Tensor.CopyTo"/>, <see cref="Tensor.ToArray"/>, and host-side
/// <see cref="Tensor.To"/>), each a synchronisation; <see cref="HostWrites"/> the host → device copies
/// (<see cref="Tensor.CopyFrom(ReadOnlySpan{float})"/>); <see cref="DeviceCopies"/> the device → device copies of
/// tensors. The overflow guard's own slack transfers (a test-only diagnostic) are not counted.
/// </summary>
public sealed class DeviceCounters
{
    private long _launches, _hostReads, _hostWrites, _deviceCopies;

    public long Launches => Interlocked.Read(ref _launches);
    public long HostReads => Interlocked.Read(ref _hostReads);
    public long HostWrites => Interlocked.Read(ref _hostWrites);
    public long DeviceCopies => Interlocked.Read(ref _deviceCopies);

    internal void CountLaunch() => Interlocked.Increment(ref _launches);
    internal void CountHostRead() => Interlocked.Increment(ref _hostReads);
    internal void CountHostWrite() => Interlocked.Increment(ref _hostWrites);
    internal void CountDeviceCopy() => Interlocked.Increment(ref _deviceCopies);

    /// <summary>Sets every count back to 0.</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref _launches, 0);
        Interlocked.Exchange(ref _hostReads, 0);
        Interlocked.Exchange(ref _hostWrites, 0);
        Interlocked.Exchange(ref _deviceCopies, 0);
    }

    /// <summary>The counts now, as a value (subtract two snapshots for the work in between).</summary>
    public CounterSnapshot Snapshot() => new(Launches, HostReads, HostWrites, DeviceCopies);

    public override string ToString() => Snapshot().ToString();
}

/// <summary>A reading of <see cref="DeviceCounters"/>; differences of two readings count what happened between.</summary>
public readonly record struct CounterSnapshot(long Launches, long HostReads, long HostWrites, long DeviceCopies)
{
    public static CounterSnapshot operator -(CounterSnapshot a, CounterSnapshot b)
        => new(a.Launches - b.Launches, a.HostReads - b.HostReads, a.HostWrites - b.HostWrites, a.DeviceCopies - b.DeviceCopies);

    public override string ToString() => $"{Launches} launches, {HostReads} host reads, {HostWrites} host writes, {DeviceCopies} device copies";
}

/// <summary>
/// Finding the NVIDIA driver. ILGPU imports the driver API as <c>cuda</c> (<c>nvcuda</c> on Windows), which the .NET
/// loader tries as libcuda.so; a machine with only the driver (no CUDA toolkit) has libcuda.so.1 alone, so without
/// help such a machine looks GPU-less. <see cref="Install"/> adds the versioned name as a fallback, and
/// <see cref="Diagnose"/> asks the driver itself why no device is there.
/// </summary>
internal static unsafe class CudaDriver
{
    private static int _installed;
    private static readonly string[] Names = OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"];

    /// <summary>Registers the fallback resolver once per process (ILGPU's own probing runs first).</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        System.Runtime.Loader.AssemblyLoadContext.Default.ResolvingUnmanagedDll += (assembly, name) =>
            name is "cuda" or "nvcuda" or "libcuda" && assembly == typeof(Context).Assembly && TryLoad(out var handle) ? handle : IntPtr.Zero;
    }

    private static bool TryLoad(out IntPtr handle)
    {
        foreach (var n in Names)
            if (System.Runtime.InteropServices.NativeLibrary.TryLoad(n, out handle)) return true;
        handle = IntPtr.Zero;
        return false;
    }

    /// <summary>Null if the driver loads, initialises and reports at least one device; else the reason, in words.</summary>
    public static string? Diagnose()
    {
        if (!TryLoad(out var lib))
            return $"the NVIDIA driver library ({string.Join(" or ", Names)}) was not found: no driver installed, or not on the loader path";
        try
        {
            var cuInit = (delegate* unmanaged<uint, int>)System.Runtime.InteropServices.NativeLibrary.GetExport(lib, "cuInit");
            var cuDeviceGetCount = (delegate* unmanaged<int*, int>)System.Runtime.InteropServices.NativeLibrary.GetExport(lib, "cuDeviceGetCount");
            int status = cuInit(0);
            if (status != 0) return $"the NVIDIA driver loaded but cuInit failed: {ErrorText(lib, status)}";
            int count = 0;
            status = cuDeviceGetCount(&count);
            if (status != 0) return $"cuDeviceGetCount failed: {ErrorText(lib, status)}";
            return count == 0 ? "the NVIDIA driver reports no CUDA device" : null;
        }
        catch (EntryPointNotFoundException e) { return $"the NVIDIA driver library lacks an entry point ({e.Message})"; }
    }

    private static string ErrorText(IntPtr lib, int status)
    {
        string text = $"CUDA error {status}";
        if (System.Runtime.InteropServices.NativeLibrary.TryGetExport(lib, "cuGetErrorString", out var f))
        {
            byte* message = null;
            if (((delegate* unmanaged<int, byte**, int>)f)(status, &message) == 0 && message != null)
                text += $" ({System.Runtime.InteropServices.Marshal.PtrToStringUTF8((IntPtr)message)})";
        }
        return text;
    }
}

/// <summary>The managed CPU backend. Buffers are pooled <c>float[]</c>s.</summary>
public sealed class CpuDevice : Device
{
    internal static readonly CpuDevice Instance = new();
    private readonly BufferPool<float[]> _pool = new(_ => { }, capElements: 1L << 30);

    private CpuDevice() { }

    public override DeviceKind Kind => DeviceKind.Cpu;
    internal override IBackend Backend => Boost.Kernels.Cpu.CpuBackend.Instance;
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

    /// <param name="tiles">the launchers' tile set; by default small tiles on ILGPU's CPU accelerator, else CUDA's</param>
    private IlgpuDevice(Context context, Accelerator accelerator, TileSet? tiles = null)
    {
        Context = context;
        Accelerator = accelerator;
        Tiles = tiles ?? (accelerator.AcceleratorType == AcceleratorType.CPU ? TileSet.Small : TileSet.Cuda);
        // Keep at most half the device memory cached; the simulator's "memory" is host memory.
        long cap = Math.Max(1L << 24, accelerator.MemorySize / 2 / sizeof(float));
        _pool = new(b => b.Dispose(), cap);
        AllocateBuffer = n => Accelerator.Allocate1D<float>(n);
        Backend = new IlgpuBackend(this);
    }

    internal override IBackend Backend { get; }

    public override DeviceKind Kind => IsSimulator ? DeviceKind.IlgpuCpu : DeviceKind.Cuda;
    public override string Name => !IsSimulator
        ? $"cuda ({Accelerator.Name}, {Accelerator.MemorySize / (1 << 20)} MiB)"
        : Tiles == TileSet.Cuda
            ? $"ilgpu-cpu-nvidia (ILGPU CPU simulator shaped like an NVIDIA GPU: warp {Accelerator.WarpSize}, {Accelerator.MaxNumThreadsPerGroup} threads per group, CUDA tiles)"
            : $"ilgpu-cpu (ILGPU CPU simulator, warp {Accelerator.WarpSize})";

    /// <summary>True on ILGPU's CPU accelerator (either simulator): slow, host memory.</summary>
    public bool IsSimulator => Accelerator.AcceleratorType == AcceleratorType.CPU;

    /// <summary>The tile specialisations this device's launchers use: the one thing they ask of it to choose one.</summary>
    public TileSet Tiles { get; }

    /// <summary>The TF32 and BF16 tensor-core kernels need a 32-lane warp and the CUDA tiles.</summary>
    protected override void CheckPrecision(MatmulPrecision value)
    {
        if (value != MatmulPrecision.Fp32 && Tiles != TileSet.Cuda)
            throw new InvalidOperationException($"{Name}: {value.ToString().ToUpperInvariant()} tensor-core kernels need a 32-lane warp and the CUDA tiles; this device has neither.");
    }

    /// <summary>ILGPU's CPU accelerator with small warps and groups (a faithful, slow simulation of a GPU) and
    /// <see cref="TileSet.Small"/> tiles, so kernel tests at small shapes stay fast.</summary>
    public static IlgpuDevice CreateSimulator()
    {
        var context = Context.Create(b => b.CPU(new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: 4, numMultiprocessors: 2))
            .EnableAlgorithms().Optimize(OptimizationLevel.O1));
        return new IlgpuDevice(context, context.GetCPUDevice(0).CreateAccelerator(context));
    }

    /// <summary>
    /// ILGPU's CPU accelerator shaped like an NVIDIA GPU — warp 32, up to 1024 threads per group — running the
    /// production <see cref="TileSet.Cuda"/> tiles (256-thread groups), so their index math, edge handling and
    /// barriers are tested without a GPU. Two multiprocessors keep the OS threads few (one per simulated thread of
    /// the largest group launched, per multiprocessor); much slower than <see cref="CreateSimulator"/>.
    /// </summary>
    public static IlgpuDevice CreateNvidiaSimulator()
    {
        var context = Context.Create(b => b.CPU(new CPUDevice(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 32, numMultiprocessors: 2))
            .EnableAlgorithms().Optimize(OptimizationLevel.O1));
        return new IlgpuDevice(context, context.GetCPUDevice(0).CreateAccelerator(context), TileSet.Cuda);
    }

    public static IlgpuDevice CreateCuda(int index)
    {
        CudaDriver.Install();
        var context = Context.Create(b => b.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        return new IlgpuDevice(context, context.GetCudaDevice(index).CreateAccelerator(context));
    }

    /// <summary>
    /// Loads a kernel once per device and caches it. Call with a static lambda so its method identifies the kernel:
    /// <c>dev.Kernel(static a => a.LoadAutoGroupedStreamKernel&lt;...&gt;(Kernels.Foo))</c>.
    /// </summary>
    public TDelegate Kernel<TDelegate>(Func<Accelerator, TDelegate> load) where TDelegate : Delegate
        => (TDelegate)_kernels.GetOrAdd(load.Method, _ => Counted(load(Accelerator)));

    /// <summary>Same as <see cref="Kernel{TDelegate}(Func{Accelerator, TDelegate})"/> with an explicit cache key
    /// (for loaders that capture a specialisation value).</summary>
    public TDelegate Kernel<TDelegate>(object key, Func<Accelerator, TDelegate> load) where TDelegate : Delegate
        => (TDelegate)_kernels.GetOrAdd(key, _ => Counted(load(Accelerator)));

    /// <summary>The loaded kernel wrapped so each invocation — each launch — counts once in <see cref="Device.Counters"/>:
    /// every kernel comes from the cache above, so this is the one place launches are counted (a launcher that fetches
    /// a kernel and does not launch it counts nothing).</summary>
    private TDelegate Counted<TDelegate>(TDelegate kernel) where TDelegate : Delegate
    {
        var invoke = typeof(TDelegate).GetMethod("Invoke")!;
        var args = invoke.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        var count = Expression.Call(Expression.Constant(Counters), typeof(DeviceCounters).GetMethod(nameof(DeviceCounters.CountLaunch),
            System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!);
        var body = Expression.Block(count, Expression.Invoke(Expression.Constant(kernel), args));
        return Expression.Lambda<TDelegate>(body, args).Compile();
    }

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
