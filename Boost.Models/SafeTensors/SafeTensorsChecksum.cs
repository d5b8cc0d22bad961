using System.Security.Cryptography;
using System.Text;

namespace Boost.Models.SafeTensors;

/// <summary>
/// Per-tensor integrity records in the safetensors <c>__metadata__</c> (which holds only strings, so PyTorch's and
/// the Rust reader accept the file unchanged):
/// <code>"sha256.&lt;tensor name&gt;": "&lt;dtype&gt; &lt;shape&gt; &lt;SHA-256 of the tensor's bytes, 64 lowercase hex digits&gt;"</code>
/// e.g. <c>"sha256.out.2.bias": "F16 [4] 9f86d081…"</c>. The digest covers the tensor's raw little-endian bytes exactly
/// as stored (Python: <c>hashlib.sha256(buffer[begin:end]).hexdigest()</c>); dtype and shape are recorded beside it so a
/// header edit that relabels F16 as BF16 or reshapes a tensor (same bytes, different picture) is caught too.
/// <para>
/// <see cref="SafeTensorsFile.Write"/> writes one record per tensor. <see cref="SafeTensorsFile.Read"/> checks, from the
/// header alone, that records name existing tensors, match their dtype and shape, and — once any record is present —
/// cover every tensor; each tensor's bytes are checked when they are read. Files without records (from elsewhere)
/// load as before.
/// </para>
/// </summary>
public static class SafeTensorsChecksum
{
    /// <summary>Metadata key prefix; the rest of the key is the tensor name.</summary>
    public const string KeyPrefix = "sha256.";

    public static string Key(string tensorName) => KeyPrefix + tensorName;

    /// <summary>The record for a tensor: "DTYPE [d0,d1,…] hex".</summary>
    public static string Format(SafeTensorsDType dtype, ReadOnlySpan<int> shape, ReadOnlySpan<byte> sha256)
        => $"{dtype.Name()} {ShapeText(shape)} {Convert.ToHexStringLower(sha256)}";

    internal static string ShapeText(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++) { if (i > 0) sb.Append(','); sb.Append(shape[i]); }
        return sb.Append(']').ToString();
    }

    /// <summary>Checks every record against the header entries and stores the digests in them; throws naming the tensor.</summary>
    internal static void Attach(string path, IReadOnlyDictionary<string, string> metadata, List<SafeTensorInfo> infos)
    {
        var byName = infos.ToDictionary(i => i.Name, StringComparer.Ordinal);
        int records = 0;
        foreach (var (key, value) in metadata)
        {
            if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal)) continue;
            string name = key[KeyPrefix.Length..];
            if (!byName.TryGetValue(name, out var info))
                throw new SafeTensorsException(path, name, "has a checksum in __metadata__ but no tensor in the header (header edited?)");
            string[] parts = value.Split(' ');
            if (parts.Length != 3 || parts[2].Length != 64 || !parts[2].All(Char.IsAsciiHexDigitLower))
                throw new SafeTensorsException(path, name, $"checksum record \"{Shorten(value)}\" is not \"DTYPE [shape] <64 lowercase hex digits>\"");
            string expected = $"{info.DType.Name()} {ShapeText(info.ShapeSpan)}";
            if (parts[0] + " " + parts[1] != expected)
                throw new SafeTensorsException(path, name, $"is {expected} in the header, but its checksum was recorded for {Shorten(parts[0] + " " + parts[1])} (header edited?)");
            info.Sha256 = Convert.FromHexString(parts[2]);
            records++;
        }
        if (records > 0 && records < infos.Count)
        {
            var bare = infos.First(i => i.Sha256 is null);
            throw new SafeTensorsException(path, bare.Name, $"has no checksum while {records} other tensor(s) do (header edited?)");
        }
    }

    /// <summary>Throws when <paramref name="actual"/> differs from the recorded digest of <paramref name="info"/>.</summary>
    internal static void Verify(string path, SafeTensorInfo info, ReadOnlySpan<byte> actual)
    {
        if (info.Sha256 is null || actual.SequenceEqual(info.Sha256)) return;
        throw new SafeTensorsException(path, info.Name,
            $"SHA-256 of its {info.ByteLength} bytes is {Convert.ToHexStringLower(actual)[..16]}…, but __metadata__ records " +
            $"{Convert.ToHexStringLower(info.Sha256)[..16]}…: the data changed after it was written");
    }

    /// <summary>A fresh incremental SHA-256 when <paramref name="info"/> has a record, else null.</summary>
    internal static IncrementalHash? Start(SafeTensorInfo info) => info.Sha256 is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    private static string Shorten(string s) => s.Length <= 100 ? s : s[..100] + "…";
}
