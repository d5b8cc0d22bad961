namespace Boost.Models.SafeTensors;

/// <summary>One header entry: dtype, shape and where its bytes lie, validated against the file.</summary>
public sealed class SafeTensorInfo
{
    private readonly int[] _shape;

    public string Name { get; }
    public SafeTensorsDType DType { get; }
    /// <summary>A copy of the shape (row-major; [] is a scalar).</summary>
    public int[] Shape => (int[])_shape.Clone();
    public ReadOnlySpan<int> ShapeSpan => _shape;
    public long ElementCount { get; }
    /// <summary>Byte range [DataBegin, DataEnd) relative to the start of the data buffer (after the header).</summary>
    public long DataBegin { get; }
    public long DataEnd { get; }
    public long ByteLength => DataEnd - DataBegin;
    /// <summary>True when the file records a SHA-256 of this tensor's bytes (<see cref="SafeTensorsChecksum"/>), checked on every read.</summary>
    public bool HasChecksum => Sha256 is not null;
    /// <summary>The recorded digest, or null for files written without one.</summary>
    internal byte[]? Sha256 { get; set; }

    internal SafeTensorInfo(string name, SafeTensorsDType dtype, int[] shape, long elementCount, long begin, long end)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        ElementCount = elementCount;
        DataBegin = begin;
        DataEnd = end;
    }

    public override string ToString() => $"{Name}: {DType} [{string.Join(", ", _shape)}]";
}
