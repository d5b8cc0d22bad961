using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// One allocation, shared by a tensor and its reshaped views (reference counted). The last release hands the
/// buffer back to its device's pool. Exactly one of <see cref="Array"/> and <see cref="Buffer"/> is set.
/// </summary>
internal sealed class Storage
{
    public readonly Device Device;
    public readonly long Length;
    /// <summary>The shape it was allocated for (for messages; views may reshape it), or null.</summary>
    public readonly int[]? Shape;
    public readonly float[]? Array;
    public readonly MemoryBuffer1D<float, Stride1D.Dense>? Buffer;
    /// <summary>The bits <see cref="OverflowGuard"/> filled the slack behind <see cref="Length"/> with; 0 when not armed.</summary>
    public uint Canary;
    public bool Armed => Canary != 0;
    private int _refs = 1;

    public Storage(Device device, long length, int[]? shape, float[] array) { Device = device; Length = length; Shape = shape; Array = array; }
    public Storage(Device device, long length, int[]? shape, MemoryBuffer1D<float, Stride1D.Dense> buffer) { Device = device; Length = length; Shape = shape; Buffer = buffer; }

    public bool IsAlive => Volatile.Read(ref _refs) > 0;
    public void AddRef() => Interlocked.Increment(ref _refs);

    public void Release()
    {
        int left = Interlocked.Decrement(ref _refs);
        if (left == 0) Device.Return(this);
        else if (left < 0) throw new ObjectDisposedException(nameof(Tensor), "Storage released twice.");
    }
}

/// <summary>
/// A caching allocator: freed buffers are kept in size buckets and reused, because allocation on CUDA is a
/// synchronising driver call and ILGPU does no pooling of its own. Sizes are rounded up to 2^k or 1.5·2^k so a
/// bucket serves many nearby sizes with at most 33% waste. Thread-safe.
/// </summary>
internal sealed class BufferPool<TBuffer> where TBuffer : class
{
    private readonly Dictionary<long, Stack<TBuffer>> _free = new();
    private readonly Action<TBuffer> _destroy;
    private readonly long _capElements;
    private long _cachedElements;

    public BufferPool(Action<TBuffer> destroy, long capElements) { _destroy = destroy; _capElements = capElements; }

    public long CachedElements { get { lock (_free) return _cachedElements; } }

    public static long Bucket(long n)
    {
        if (n <= 256) return 256;
        long p = 1L << (64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(n - 1))); // next power of two ≥ n
        long threeQuarters = p / 4 * 3;
        return threeQuarters >= n ? threeQuarters : p;
    }

    public TBuffer? TryTake(long bucket)
    {
        lock (_free)
        {
            if (_free.TryGetValue(bucket, out var s) && s.Count > 0)
            {
                _cachedElements -= bucket;
                return s.Pop();
            }
        }
        return null;
    }

    public void Give(long bucket, TBuffer buffer)
    {
        lock (_free)
        {
            if (_cachedElements + bucket > _capElements) TrimLocked(bucket);
            if (!_free.TryGetValue(bucket, out var s)) _free[bucket] = s = new Stack<TBuffer>();
            s.Push(buffer);
            _cachedElements += bucket;
        }
    }

    /// <summary>Frees every cached buffer (e.g. before a large allocation would fail).</summary>
    public void Clear() { lock (_free) TrimLocked(long.MaxValue); }

    private void TrimLocked(long need)
    {
        foreach (var (size, stack) in _free)
        {
            while (stack.Count > 0 && (need == long.MaxValue || _cachedElements + need > _capElements))
            {
                _destroy(stack.Pop());
                _cachedElements -= size;
            }
        }
    }
}
