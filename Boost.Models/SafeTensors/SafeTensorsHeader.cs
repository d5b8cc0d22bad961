using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace Boost.Models.SafeTensors;

/// <summary>The JSON header: parsing with full validation (reader) and the exact layout PyTorch writes (writer).</summary>
internal static class SafeTensorsHeader
{
    public const string MetadataKey = "__metadata__";

    /// <summary>
    /// Parses and validates a header against a data buffer of <paramref name="bufferLength"/> bytes.
    /// Returns the metadata and the tensor entries in header order.
    /// </summary>
    public static (Dictionary<string, string> Metadata, List<SafeTensorInfo> Infos) Parse(string path, byte[] header, long bufferLength)
    {
        // Checked up front: the JSON reader only finds some invalid UTF-8 when a string is decoded.
        if (!Utf8.IsValid(header)) throw Fail(path, null, "header is not valid UTF-8");
        try
        {
            using var doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Fail(path, null, $"header is a JSON {Kind(root)}, not an object");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var infos = new List<SafeTensorInfo>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in root.EnumerateObject())
            {
                string name = entry.Name;
                if (!seen.Add(name)) throw Fail(path, name, "key appears twice in the header");
                if (name == MetadataKey) metadata = ParseMetadata(path, entry.Value);
                else infos.Add(ParseEntry(path, name, entry.Value, bufferLength));
            }
            CheckCoverage(path, infos, bufferLength);
            SafeTensorsChecksum.Attach(path, metadata, infos);
            return (metadata, infos);
        }
        catch (JsonException e) { throw Fail(path, null, $"header is not valid JSON ({e.Message})", e); }
        // Decoding a string with an escaped lone surrogate ("\ud800") throws this rather than JsonException.
        catch (InvalidOperationException e) { throw Fail(path, null, $"header has an undecodable string ({e.Message})", e); }
    }

    private static Dictionary<string, string> ParseMetadata(string path, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Fail(path, MetadataKey, $"is a JSON {Kind(value)}, not an object of strings");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw Fail(path, MetadataKey, $"value of '{p.Name}' is a JSON {Kind(p.Value)}, not a string");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!)) throw Fail(path, MetadataKey, $"'{p.Name}' appears twice");
        }
        return metadata;
    }

    private static SafeTensorInfo ParseEntry(string path, string name, JsonElement value, long bufferLength)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Fail(path, name, $"header entry is a JSON {Kind(value)}, not an object");
        JsonElement? dtypeEl = null, shapeEl = null, offsetsEl = null;
        foreach (var field in value.EnumerateObject())
        {
            // Unknown fields are ignored (forward compatibility); a repeated known field is ambiguous.
            ref JsonElement? slot = ref dtypeEl;
            if (field.Name == "dtype") slot = ref dtypeEl;
            else if (field.Name == "shape") slot = ref shapeEl;
            else if (field.Name == "data_offsets") slot = ref offsetsEl;
            else continue;
            if (slot is not null) throw Fail(path, name, $"field '{field.Name}' appears twice");
            slot = field.Value;
        }
        if (dtypeEl is not { } dt) throw Fail(path, name, "has no 'dtype'");
        if (shapeEl is not { } sh) throw Fail(path, name, "has no 'shape'");
        if (offsetsEl is not { } of) throw Fail(path, name, "has no 'data_offsets'");

        if (dt.ValueKind != JsonValueKind.String) throw Fail(path, name, $"'dtype' is a JSON {Kind(dt)}, not a string");
        string dtypeText = dt.GetString()!;
        if (!SafeTensorsDTypes.TryParse(dtypeText, out var dtype))
            throw Fail(path, name, $"unknown dtype \"{Truncate(dtypeText)}\" (known: {string.Join(", ", Enum.GetNames<SafeTensorsDType>())})");

        if (sh.ValueKind != JsonValueKind.Array) throw Fail(path, name, $"'shape' is a JSON {Kind(sh)}, not an array");
        var shape = new int[sh.GetArrayLength()];
        long count = 1;
        int axis = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw Fail(path, name, $"shape dimension {axis} is {Truncate(d.GetRawText())}, not a non-negative integer");
            if (dim > int.MaxValue) throw Fail(path, name, $"shape dimension {axis} is {dim}, over the int range Boost tensors use");
            shape[axis++] = (int)dim;
            try { count = checked(count * dim); }
            catch (OverflowException) { throw Fail(path, name, $"shape {Truncate(sh.GetRawText())} has more elements than a 64-bit count holds"); }
        }
        long byteCount;
        try { byteCount = checked(count * dtype.Size()); }
        catch (OverflowException) { throw Fail(path, name, $"shape {Truncate(sh.GetRawText())} of {dtype} has more bytes than a 64-bit count holds"); }

        if (of.ValueKind != JsonValueKind.Array || of.GetArrayLength() != 2)
            throw Fail(path, name, $"'data_offsets' is {Truncate(of.GetRawText())}, not [begin, end]");
        if (!TryOffset(of[0], out long begin) || !TryOffset(of[1], out long end))
            throw Fail(path, name, $"'data_offsets' {Truncate(of.GetRawText())} are not two non-negative integers");
        if (begin > end) throw Fail(path, name, $"data_offsets [{begin}, {end}] begin after they end");
        if (end > bufferLength) throw Fail(path, name, $"data_offsets [{begin}, {end}] run past the {bufferLength}-byte data buffer (truncated file?)");
        if (end - begin != byteCount)
            throw Fail(path, name, $"data_offsets [{begin}, {end}] hold {end - begin} bytes, but {dtype} {Truncate(sh.GetRawText())} needs {byteCount}");
        return new SafeTensorInfo(name, dtype, shape, count, begin, end);
    }

    private static bool TryOffset(JsonElement e, out long value)
    {
        value = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out value) && value >= 0;
    }

    /// <summary>The tensors must tile the buffer exactly: from 0, no overlap, no hole, nothing after the last.</summary>
    private static void CheckCoverage(string path, List<SafeTensorInfo> infos, long bufferLength)
    {
        var sorted = infos.OrderBy(i => i.DataBegin).ThenBy(i => i.DataEnd).ToList();
        long position = 0;
        SafeTensorInfo? previous = null;
        foreach (var info in sorted)
        {
            if (info.DataBegin < position)
                throw Fail(path, info.Name, $"data [{info.DataBegin}, {info.DataEnd}) overlaps '{previous!.Name}' [{previous.DataBegin}, {previous.DataEnd})");
            if (info.DataBegin > position)
                throw Fail(path, info.Name, $"data starts at {info.DataBegin}, leaving a hole of {info.DataBegin - position} bytes after " +
                                            (previous is null ? "the start of the buffer" : $"'{previous.Name}'"));
            position = info.DataEnd;
            previous = info;
        }
        if (position != bufferLength)
            throw Fail(path, previous?.Name, $"{bufferLength - position} bytes after the last tensor's data are not described by the header " +
                                             "(the format requires the buffer to be covered exactly)");
    }

    /// <summary>
    /// The header bytes exactly as PyTorch's safetensors writes them: compact JSON, <c>__metadata__</c> first,
    /// fields in the order dtype, shape, data_offsets, padded with spaces to a multiple of 8 bytes.
    /// </summary>
    public static byte[] Build(IReadOnlyDictionary<string, string>? metadata, IEnumerable<SafeTensorInfo> infos)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        // Relaxed escaping writes names as they are (still valid JSON; quotes, backslashes and controls are escaped).
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            foreach (var info in infos)
            {
                w.WriteStartObject(info.Name);
                w.WriteString("dtype", info.DType.Name());
                w.WriteStartArray("shape");
                foreach (int d in info.ShapeSpan) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(info.DataBegin);
                w.WriteNumberValue(info.DataEnd);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static SafeTensorsException Fail(string path, string? key, string problem, Exception? inner = null) => new(path, key, problem, inner);

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
