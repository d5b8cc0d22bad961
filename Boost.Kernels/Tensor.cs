using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// A dense, contiguous float32 tensor on one device (NCHW for images). Owns (a share of) a pooled buffer:
/// dispose it to return the memory. <see cref="Reshape"/> makes a view that shares the buffer; <see cref="Slice"/>
/// a view of a contiguous range of it, at an element <see cref="Offset"/>. The buffer goes back to the pool when the
/// last tensor sharing it is disposed, in any order.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly int[] _shape;
    internal Storage Storage { get; }
    private bool _disposed;

    public Device Device => Storage.Device;
    public ReadOnlySpan<int> ShapeSpan => _shape;
    /// <summary>A copy of the shape.</summary>
    public int[] Shape => (int[])_shape.Clone();
    public int Rank => _shape.Length;
    public long Length { get; }
    public int Dim(int axis) => _shape[axis < 0 ? axis + _shape.Length : axis];
    public string ShapeString => Format(_shape);
    public bool IsDisposed => _disposed;
    /// <summary>Where this tensor's elements start in its storage (0 except for <see cref="Slice"/> views). Kernels see
    /// the tensor through <see cref="View"/>, which starts there; the managed backend refuses tensors with an offset.</summary>
    public long Offset { get; }
    /// <summary>Whether both tensors are views of one buffer (whatever their offsets).</summary>
    internal bool SharesStorage(Tensor other) => ReferenceEquals(Storage, other.Storage);

    private Tensor(Storage storage, int[] shape, long length, long offset = 0)
    {
        Storage = storage;
        _shape = shape;
        Length = length;
        Offset = offset;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public static long Count(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension in shape {Format(shape)}.");
            n = checked(n * d);
        }
        return n;
    }

    /// <summary>
    /// When set (tests do), every new uninitialised tensor is filled with NaN, so a kernel that fails to write an
    /// output element is caught instead of passing on stale pool contents.
    /// </summary>
    public static bool PoisonNewTensors { get; set; }

    /// <summary>Uninitialised tensor (contents are whatever the pool held, or NaN under <see cref="PoisonNewTensors"/>).</summary>
    public static Tensor Empty(Device device, params int[] shape)
    {
        long n = Count(shape);
        var own = (int[])shape.Clone();
        var t = new Tensor(device.Allocate(n, own), own, n);
        if (PoisonNewTensors) t.Fill(float.NaN);
        return t;
    }

    public static Tensor Zeros(Device device, params int[] shape) => Full(device, 0f, shape);

    public static Tensor Full(Device device, float value, params int[] shape)
    {
        var t = Empty(device, shape);
        t.Fill(value);
        return t;
    }

    public static Tensor FromArray(Device device, ReadOnlySpan<float> data, params int[] shape)
    {
        long n = Count(shape);
        if (n != data.Length) throw new ArgumentException($"FromArray: {data.Length} values do not fill shape {Format(shape)} ({n}).");
        var t = Empty(device, shape);
        t.CopyFrom(data);
        return t;
    }

    public void ThrowIfDisposed()
    {
        if (_disposed || !Storage.IsAlive) throw new ObjectDisposedException(nameof(Tensor), $"Tensor {ShapeString} was used after Dispose.");
    }

    /// <summary>The elements, for tensors on the managed CPU device.</summary>
    public Span<float> Span
    {
        get
        {
            ThrowIfDisposed();
            if (Storage.Array is null) throw new InvalidOperationException($"Span: tensor lives on {Device.Name}; copy it with ToArray() or To(Device.Cpu).");
            return Storage.Array.AsSpan(checked((int)Offset), checked((int)Length));
        }
    }

    /// <summary>The elements, for tensors on an ILGPU device.</summary>
    public ArrayView<float> View
    {
        get
        {
            ThrowIfDisposed();
            if (Storage.Buffer is null) throw new InvalidOperationException($"View: tensor lives on {Device.Name}, not an ILGPU device.");
            return Storage.Buffer.View.SubView(Offset, Length);
        }
    }

    public void CopyFrom(ReadOnlySpan<float> data)
    {
        ThrowIfDisposed();
        if (data.Length != Length) throw new ArgumentException($"CopyFrom: {data.Length} values for a tensor of {Length}.");
        if (Storage.Array is not null) data.CopyTo(Span);
        else
        {
            var dev = (IlgpuDevice)Device;
            View.CopyFromCPU(dev.Stream, data);
            dev.Stream.Synchronize();
            dev.Counters.CountHostWrite();
        }
    }

    /// <summary>Copies another tensor's elements (same length) into this one, on the device when both share it.</summary>
    public void CopyFrom(Tensor source)
    {
        ThrowIfDisposed();
        if (source.Length != Length) throw new ArgumentException($"CopyFrom: {source.ShapeString} into {ShapeString}: lengths differ.");
        if (ReferenceEquals(source.Device, Device) && Storage.Buffer is not null)
        {
            CopyOnDevice(source);
            ((IlgpuDevice)Device).Stream.Synchronize();
        }
        else if (Storage.Array is not null && source.Storage.Array is not null) source.Span.CopyTo(Span);
        else CopyFrom(source.ToArray());
    }

    /// <summary>Queues a copy of <paramref name="source"/> (same ILGPU device, same length) into this tensor on the
    /// device's stream, without waiting: later work on the stream sees it.</summary>
    internal void CopyOnDevice(Tensor source)
    {
        var dev = (IlgpuDevice)Device;
        source.View.CopyTo(dev.Stream, View);
        dev.Counters.CountDeviceCopy();
    }

    public void CopyTo(Span<float> destination)
    {
        ThrowIfDisposed();
        if (destination.Length != Length) throw new ArgumentException($"CopyTo: {destination.Length} slots for a tensor of {Length}.");
        if (Storage.Array is not null) Span.CopyTo(destination);
        else
        {
            var dev = (IlgpuDevice)Device;
            View.CopyToCPU(dev.Stream, destination);
            dev.Stream.Synchronize();
            dev.Counters.CountHostRead();
        }
    }

    public float[] ToArray()
    {
        var a = new float[Length];
        CopyTo(a);
        return a;
    }

    /// <summary>A copy on <paramref name="device"/> (a copy even when it is the same device).</summary>
    public Tensor To(Device device)
    {
        if (ReferenceEquals(device, Device)) return Clone();
        return FromArray(device, ToArray(), _shape);
    }

    public Tensor Clone()
    {
        ThrowIfDisposed();
        var t = Empty(Device, _shape);
        if (Storage.Array is not null) Span.CopyTo(t.Span);
        else t.CopyOnDevice(this);
        return t;
    }

    /// <summary>A view with another shape over the same elements (one dimension may be -1). Dispose it too.</summary>
    public Tensor Reshape(params int[] shape)
    {
        ThrowIfDisposed();
        shape = (int[])shape.Clone();
        int infer = Array.IndexOf(shape, -1);
        if (infer >= 0)
        {
            long rest = 1;
            for (int i = 0; i < shape.Length; i++) if (i != infer) rest *= shape[i];
            if (rest == 0 || Length % rest != 0) throw new ArgumentException($"Reshape: cannot infer -1 in {Format(shape)} from {ShapeString}.");
            shape[infer] = (int)(Length / rest);
        }
        if (Count(shape) != Length) throw new ArgumentException($"Reshape: {ShapeString} has {Length} elements, {Format(shape)} needs {Count(shape)}.");
        Storage.AddRef();
        return new Tensor(Storage, shape, Length, Offset);
    }

    /// <summary>
    /// A view of <see cref="Count"/>(<paramref name="shape"/>) consecutive elements starting at element
    /// <paramref name="offset"/> of this tensor: it shares the storage (writes show through both ways) and keeps it
    /// alive until it is disposed too. Ops on an ILGPU device take such views like any tensor; the managed CPU
    /// backend refuses those at a nonzero offset (it indexes whole arrays), though their
    /// <see cref="ToArray"/>/<see cref="CopyFrom(ReadOnlySpan{float})"/> work everywhere.
    /// </summary>
    public Tensor Slice(long offset, params int[] shape)
    {
        ThrowIfDisposed();
        var own = (int[])shape.Clone();
        long n = Count(own);
        if (offset < 0 || offset > Length - n)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Slice: {n} elements at offset {offset} do not fit in {ShapeString} ({Length}).");
        Storage.AddRef();
        return new Tensor(Storage, own, n, Offset + offset);
    }

    /// <summary>Reshapes and disposes this tensor: <c>var y = Make().Reshaped(1)</c> keeps one owner.</summary>
    public Tensor Reshaped(params int[] shape)
    {
        var view = Reshape(shape);
        Dispose();
        return view;
    }

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public void Fill(float value)
    {
        ThrowIfDisposed();
        if (Length == 0) return; // an ILGPU launch needs at least one thread
        Device.Backend.Fill(this, value);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Storage.Release();
    }

    public override string ToString() => $"Tensor{ShapeString} on {Device.Name}";
}
