using System.Buffers;
using System.Buffers.Binary;

namespace Boost.Models.SafeTensors;

public sealed partial class SafeTensorsFile
{
    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> as <paramref name="dtype"/> (F32, F16 or BF16;
    /// F16/BF16 round to nearest even), in the layout PyTorch's safetensors writes: tensors sorted by name, compact
    /// header padded with spaces to 8 bytes, data contiguous from offset 0.
    /// <para>
    /// Atomic: the bytes go to a temporary file in the same folder, are flushed to disk, then renamed over
    /// <paramref name="path"/>; on any failure the temporary file is deleted and an existing file is left untouched.
    /// </para>
    /// Integrity: <c>__metadata__</c> gets one <c>"sha256.&lt;name&gt;": "&lt;dtype&gt; &lt;shape&gt; &lt;hex digest&gt;"</c> record per
    /// tensor, the SHA-256 of the bytes written (see <see cref="SafeTensorsChecksum"/>); <see cref="Read"/> verifies them.
    /// The header is written last, over a placeholder of the same length, so the data is converted and hashed once.
    /// Caller metadata must not use the <c>sha256.</c> prefix.
    /// <para>
    /// Bad input throws <see cref="ArgumentException"/> naming the key: duplicate or reserved names, data that does
    /// not fill its shape, and (unless <paramref name="allowNonFinite"/>) NaN/Inf values or values that overflow F16/BF16,
    /// so a diverged run cannot replace a good checkpoint with a broken one.
    /// </para>
    /// </summary>
    /// <param name="tensors">(name, shape, row-major data) per tensor; enumerated once.</param>
    public static void Write(string path, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsDType dtype = SafeTensorsDType.F32, bool allowNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        if (dtype is not (SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
            throw new ArgumentException($"SafeTensorsFile.Write: cannot write dtype {dtype}; use F32, F16 or BF16.", nameof(dtype));
        if (metadata is not null)
            foreach (var kv in metadata)
            {
                if (kv.Key is null || kv.Value is null) throw new ArgumentException("SafeTensorsFile.Write: metadata keys and values must not be null.", nameof(metadata));
                if (kv.Key.StartsWith(SafeTensorsChecksum.KeyPrefix, StringComparison.Ordinal))
                    throw new ArgumentException($"SafeTensorsFile.Write: metadata key '{kv.Key}' uses the reserved checksum prefix '{SafeTensorsChecksum.KeyPrefix}'.", nameof(metadata));
            }

        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shape, data) in list)
        {
            if (name is null) throw new ArgumentException("SafeTensorsFile.Write: a tensor name is null.", nameof(tensors));
            if (name == SafeTensorsHeader.MetadataKey) throw new ArgumentException($"SafeTensorsFile.Write: '{name}' is reserved for metadata.", nameof(tensors));
            if (!names.Add(name)) throw new ArgumentException($"SafeTensorsFile.Write: tensor '{name}' appears twice.", nameof(tensors));
            if (shape is null || data is null) throw new ArgumentException($"SafeTensorsFile.Write: '{name}' has a null shape or data.", nameof(tensors));
            long count;
            try { count = Boost.Kernels.Tensor.Count(shape); }
            catch (Exception e) when (e is ArgumentException or OverflowException)
            {
                throw new ArgumentException($"SafeTensorsFile.Write: '{name}' has an invalid shape {Boost.Kernels.Tensor.Format(shape)}: {e.Message}", nameof(tensors), e);
            }
            if (count != data.Length)
                throw new ArgumentException($"SafeTensorsFile.Write: '{name}' has {data.Length} values for shape {Boost.Kernels.Tensor.Format(shape)} ({count}).", nameof(tensors));
        }

        // PyTorch sorts by dtype then name; with one dtype that is by name (byte order of UTF-8 ≈ ordinal).
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var infos = new List<SafeTensorInfo>(list.Count);
        long offset = 0;
        foreach (var (name, shape, data) in list)
        {
            long end = offset + (long)data.Length * dtype.Size();
            infos.Add(new SafeTensorInfo(name, dtype, (int[])shape.Clone(), data.Length, offset, end));
            offset = end;
        }
        // The checksum records have a fixed length, so a placeholder digest gives the final header length.
        var fullMetadata = metadata is null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(metadata, StringComparer.Ordinal);
        var zeros = new byte[32];
        foreach (var info in infos) fullMetadata[SafeTensorsChecksum.Key(info.Name)] = SafeTensorsChecksum.Format(dtype, info.ShapeSpan, zeros);
        byte[] header = SafeTensorsHeader.Build(fullMetadata, infos);
        if (header.Length > MaxHeaderBytes)
            throw new ArgumentException($"SafeTensorsFile.Write: the header would be {header.Length} bytes, over the {MaxHeaderBytes}-byte limit readers accept.", nameof(tensors));

        string full = System.IO.Path.GetFullPath(path);
        string folder = System.IO.Path.GetDirectoryName(full)!;
        string temp = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                stream.Position = 8 + header.Length;
                foreach (var (name, shape, data) in list)
                    fullMetadata[SafeTensorsChecksum.Key(name)] = SafeTensorsChecksum.Format(dtype, shape, WriteData(stream, name, data, dtype, allowNonFinite));
                byte[] final = SafeTensorsHeader.Build(fullMetadata, infos);
                if (final.Length != header.Length) throw new InvalidOperationException("SafeTensorsFile.Write: the header changed length when its checksums were filled in.");
                stream.Position = 0;
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)final.Length);
                stream.Write(length);
                stream.Write(final);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Converts and writes one tensor in chunks, checking values on the way (so nothing is copied whole).</summary>
    /// <returns>the SHA-256 of the bytes written</returns>
    private static byte[] WriteData(Stream stream, string name, float[] data, SafeTensorsDType dtype, bool allowNonFinite)
    {
        const int chunk = 1 << 18;
        int size = dtype.Size();
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunk * size);
        try
        {
            for (int start = 0; start < data.Length; start += chunk)
            {
                var src = data.AsSpan(start, Math.Min(chunk, data.Length - start));
                var dst = buffer.AsSpan(0, src.Length * size);
                for (int i = 0; i < src.Length; i++)
                {
                    float x = src[i], stored;
                    switch (dtype)
                    {
                        case SafeTensorsDType.F16:
                            Half h = (Half)x;
                            BinaryPrimitives.WriteUInt16LittleEndian(dst[(2 * i)..], BitConverter.HalfToUInt16Bits(h));
                            stored = (float)h;
                            break;
                        case SafeTensorsDType.BF16:
                            ushort b = SafeTensorsDTypes.SingleToBFloat16(x);
                            BinaryPrimitives.WriteUInt16LittleEndian(dst[(2 * i)..], b);
                            stored = SafeTensorsDTypes.BFloat16ToSingle(b);
                            break;
                        default:
                            BinaryPrimitives.WriteSingleLittleEndian(dst[(4 * i)..], x);
                            stored = x;
                            break;
                    }
                    if (!allowNonFinite && !float.IsFinite(stored))
                        throw new ArgumentException(float.IsFinite(x)
                            ? $"SafeTensorsFile.Write: '{name}'[{start + i}] = {x:G9} overflows {dtype}."
                            : $"SafeTensorsFile.Write: '{name}'[{start + i}] is {x}; pass allowNonFinite: true to store NaN/Inf.");
                }
                stream.Write(dst);
                hash.AppendData(dst);
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        return hash.GetHashAndReset();
    }
}
