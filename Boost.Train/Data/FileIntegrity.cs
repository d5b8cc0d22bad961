using System.Buffers.Binary;

namespace Boost.Train.Data;

/// <summary>
/// Structure walks that find truncated files the decoders would accept: each returns null for a complete file,
/// otherwise what is wrong. They read only markers and chunk lengths (no decoding).
/// </summary>
internal static class FileIntegrity
{
    /// <summary>A JPEG is complete when its segments parse and an EOI marker follows the (last) scan.</summary>
    public static string? JpegProblem(ReadOnlySpan<byte> b)
    {
        if (b.Length < 4 || b[0] != 0xFF || b[1] != 0xD8) return "not a JPEG (no SOI marker)";
        int pos = 2;
        while (true)
        {
            // Between segments: a marker is 0xFF (any number of fill 0xFFs) then the marker code.
            if (pos >= b.Length) return "truncated JPEG (ends between segments, no EOI)";
            if (b[pos] != 0xFF) return $"corrupt JPEG (expected a marker at byte {pos})";
            while (pos < b.Length && b[pos] == 0xFF) pos++;
            if (pos >= b.Length) return "truncated JPEG (ends in a marker)";
            byte marker = b[pos++];
            if (marker == 0xD9) return null; // EOI
            if (marker is >= 0xD0 and <= 0xD7 or 0x01) continue; // RSTn, TEM: no length
            if (pos + 2 > b.Length) return "truncated JPEG (ends in a segment length)";
            int length = BinaryPrimitives.ReadUInt16BigEndian(b[pos..]);
            if (length < 2) return $"corrupt JPEG (segment length {length} at byte {pos})";
            if (pos + length > b.Length) return $"truncated JPEG (segment 0x{marker:X2} needs {length} bytes, {b.Length - pos} left)";
            pos += length;
            if (marker != 0xDA) continue; // not SOS

            // Entropy-coded data: it ends at the first 0xFF that is neither stuffing (FF 00) nor a restart marker.
            while (true)
            {
                int ff = b[pos..].IndexOf((byte)0xFF);
                if (ff < 0) return "truncated JPEG (scan data ends without EOI)";
                pos += ff;
                if (pos + 1 >= b.Length) return "truncated JPEG (scan data ends without EOI)";
                byte next = b[pos + 1];
                if (next == 0x00 || next is >= 0xD0 and <= 0xD7) { pos += 2; continue; }
                break; // a real marker (EOI, or the next table/scan of a progressive JPEG); FF FF is fill before one
            }
        }
    }

    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>A PNG is complete when its chunks fit the file and end with IEND.</summary>
    public static string? PngProblem(ReadOnlySpan<byte> b)
    {
        if (b.Length < 8 || !b[..8].SequenceEqual(PngSignature)) return "not a PNG (bad signature)";
        long pos = 8;
        while (pos + 8 <= b.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(b[(int)pos..]);
            var type = System.Text.Encoding.ASCII.GetString(b.Slice((int)pos + 4, 4));
            if (pos + 12 + length > b.Length) return $"truncated PNG (chunk {type} needs {length} bytes, {b.Length - pos - 12} left)";
            if (type == "IEND") return null;
            pos += 12 + length;
        }
        return "truncated PNG (no IEND chunk)";
    }
}
