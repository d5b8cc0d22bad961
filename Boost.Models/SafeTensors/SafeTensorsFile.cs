using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using Boost.Kernels;
using Microsoft.Win32.SafeHandles;

namespace Boost.Models.SafeTensors;

/// <summary>
/// A safetensors file open for reading (the format of PyTorch's <c>safetensors</c> and diffusers):
/// an 8-byte little-endian header length N, N bytes of UTF-8 JSON (<c>{"__metadata__": {..}, "name": {"dtype",
/// "shape", "data_offsets"}, ..}</c>), then the data buffer, each tensor contiguous, row-major, little-endian.
/// <para>
/// <see cref="Read"/> validates the whole header before any tensor is read and rejects, with a
/// <see cref="SafeTensorsException"/> naming the file and key: a short file, a header length beyond the file or
/// over 100 MB, invalid UTF-8/JSON, non-object entries, duplicate keys, unknown dtypes, bad shapes (negative,
/// non-integer, over int range, overflowing), bad <c>data_offsets</c> (not two non-negative integers, begin &gt; end,
/// past the buffer, size ≠ shape × dtype size), and tensors that overlap or leave holes. Like the reference
/// implementation, the data buffer must be covered exactly: trailing bytes after the last tensor are rejected too
/// (they mean a truncated header or concatenated files, and PyTorch would refuse the file). Every allocation is
/// bounded by the file's real size, so a crafted header cannot cause a giant allocation.
/// </para>
/// <para>
/// Checksums (<see cref="SafeTensorsChecksum"/>): when <c>__metadata__</c> holds <c>sha256.&lt;name&gt;</c> records (Boost
/// writes them), their dtype and shape are checked against the header on open, and each tensor's bytes against its
/// digest on every read (<see cref="ReadBytes"/>, <see cref="ReadFloat32"/>, <see cref="Load"/>); a mismatch is a
/// <see cref="SafeTensorsException"/> naming the file and the tensor. Files without records read as before.
/// </para>
/// Reads are positional, so tensors may be read from several threads at once. Dispose to close the file.
/// </summary>
public sealed partial class SafeTensorsFile : IDisposable
{
    /// <summary>The reference implementation's limit; a larger header is a corrupt length field.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly SafeFileHandle _handle;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafeTensorInfo> _infos;

    /// <summary>The file as the caller named it.</summary>
    public string Path { get; }
    /// <summary>The <c>__metadata__</c> entry (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyList<string> Names { get; }

    private SafeTensorsFile(string path, SafeFileHandle handle, long dataStart, Dictionary<string, string> metadata, List<SafeTensorInfo> infos)
    {
        Path = path;
        _handle = handle;
        _dataStart = dataStart;
        Metadata = metadata;
        Names = infos.Select(i => i.Name).ToArray();
        _infos = infos.ToDictionary(i => i.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates <paramref name="path"/>; no tensor data is read yet.</summary>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        SafeFileHandle handle;
        try { handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new SafeTensorsException(path, null, $"cannot open: {e.Message}", e);
        }
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            if (fileLength < 8) throw new SafeTensorsException(path, null, $"file is {fileLength} bytes, shorter than the 8-byte header length");
            Span<byte> lengthBytes = stackalloc byte[8];
            ReadExactly(path, handle, 0, lengthBytes, null);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > MaxHeaderBytes)
                throw new SafeTensorsException(path, null, $"header length {headerLength} is over the {MaxHeaderBytes}-byte limit (corrupt length field?)");
            if ((long)headerLength > fileLength - 8)
                throw new SafeTensorsException(path, null, $"header length {headerLength} exceeds the {fileLength - 8} bytes after the length field (truncated file?)");
            var header = new byte[headerLength];
            ReadExactly(path, handle, 8, header, null);
            long dataStart = 8 + (long)headerLength;
            var (metadata, infos) = SafeTensorsHeader.Parse(path, header, fileLength - dataStart);
            return new SafeTensorsFile(path, handle, dataStart, metadata, infos);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _infos.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    public SafeTensorInfo Info(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_infos.TryGetValue(name, out var info)) return info;
        throw new SafeTensorsException(Path, name, $"no such tensor (the file has {_infos.Count})");
    }

    /// <summary>The tensor's elements as float32, converted from F32, F16, BF16 or F64 (F64 rounds; overflow gives ±Inf).</summary>
    public float[] ReadFloat32(string name)
    {
        var info = Info(name);
        if (!info.DType.IsReadableAsFloat32())
            throw new SafeTensorsException(Path, name, $"dtype {info.DType} cannot be read as float32 (F32, F16, BF16 or F64 can)");
        if (info.ElementCount > Array.MaxLength)
            throw new SafeTensorsException(Path, name, $"{info.ElementCount} elements do not fit in one float[]");
        var result = GC.AllocateUninitializedArray<float>((int)info.ElementCount);
        long offset = _dataStart + info.DataBegin;
        if (info.DType == SafeTensorsDType.F32)
        {
            // Straight into the result's bytes, in chunks so no span exceeds int.MaxValue bytes.
            const int chunk = 1 << 24;
            using var hash32 = SafeTensorsChecksum.Start(info);
            for (int i = 0; i < result.Length; i += chunk)
            {
                var part = result.AsSpan(i, Math.Min(chunk, result.Length - i));
                ReadExactly(Path, _handle, offset + 4L * i, MemoryMarshal.AsBytes(part), name);
                hash32?.AppendData(MemoryMarshal.AsBytes(part));
                if (!BitConverter.IsLittleEndian)
                {
                    var ints = MemoryMarshal.Cast<float, int>(part);
                    BinaryPrimitives.ReverseEndianness(ints, ints);
                }
            }
            if (hash32 is not null) SafeTensorsChecksum.Verify(Path, info, hash32.GetHashAndReset());
            return result;
        }
        int size = info.DType.Size();
        const int chunkBytes = 1 << 20;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkBytes);
        using var hash = SafeTensorsChecksum.Start(info);
        try
        {
            int perChunk = chunkBytes / size;
            for (int i = 0; i < result.Length; i += perChunk)
            {
                int n = Math.Min(perChunk, result.Length - i);
                var bytes = buffer.AsSpan(0, n * size);
                ReadExactly(Path, _handle, offset + (long)size * i, bytes, name);
                hash?.AppendData(bytes);
                Convert(info.DType, bytes, result.AsSpan(i, n));
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        if (hash is not null) SafeTensorsChecksum.Verify(Path, info, hash.GetHashAndReset());
        return result;
    }

    /// <summary>The tensor's raw little-endian bytes, whatever its dtype.</summary>
    public byte[] ReadBytes(string name)
    {
        var info = Info(name);
        if (info.ByteLength > Array.MaxLength)
            throw new SafeTensorsException(Path, name, $"{info.ByteLength} bytes do not fit in one byte[]");
        var result = GC.AllocateUninitializedArray<byte>((int)info.ByteLength);
        ReadExactly(Path, _handle, _dataStart + info.DataBegin, result, name);
        if (info.HasChecksum) SafeTensorsChecksum.Verify(Path, info, System.Security.Cryptography.SHA256.HashData(result));
        return result;
    }

    /// <summary>The tensor as a float32 <see cref="Tensor"/> on <paramref name="device"/> (see <see cref="ReadFloat32"/>).</summary>
    public Tensor Load(string name, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var data = ReadFloat32(name);
        return Tensor.FromArray(device, data, Info(name).Shape);
    }

    public void Dispose() => _handle.Dispose();

    private static void Convert(SafeTensorsDType dtype, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (dtype)
        {
            case SafeTensorsDType.F16:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                break;
            case SafeTensorsDType.BF16:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = SafeTensorsDTypes.BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                break;
            case SafeTensorsDType.F64:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]);
                break;
            default:
                throw new InvalidOperationException($"no float32 conversion for {dtype}");
        }
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; a short read means the file shrank after it was opened.</summary>
    private static void ReadExactly(string path, SafeFileHandle handle, long offset, Span<byte> destination, string? key)
    {
        while (destination.Length > 0)
        {
            int n;
            try { n = RandomAccess.Read(handle, destination, offset); }
            catch (IOException e) { throw new SafeTensorsException(path, key, $"read failed at byte {offset}: {e.Message}", e); }
            if (n == 0) throw new SafeTensorsException(path, key, $"file ended at byte {offset}, before the data its header promises (truncated while open?)");
            destination = destination[n..];
            offset += n;
        }
    }
}
