using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Boost.Tests.Train;

/// <summary>
/// Image files built byte by byte for the loader tests, where ImageSharp 2.1 cannot write them: a CMYK JPEG and a
/// PNG whose header claims any size.
/// </summary>
internal static class TestImageFiles
{
    /// <summary>
    /// A baseline JPEG with four components (Adobe APP14, transform 0 = CMYK without colour transform), made of
    /// 8×8 blocks of uniform colour: <paramref name="blocks"/>[by, bx] holds the stored C, M, Y, K bytes of that
    /// block. All quantisers are 1 and blocks are DC-only, so a decoder recovers the stored bytes exactly:
    /// DC = 8·(v − 128) and the inverse DCT of a DC-only block is DC/8 + 128. Huffman tables are our own minimal
    /// ones: DC categories 0…11 as 4-bit codes, AC only EOB as the 1-bit code "0".
    /// </summary>
    public static byte[] CmykJpeg(byte[,][] blocks)
    {
        int bh = blocks.GetLength(0), bw = blocks.GetLength(1);
        var o = new List<byte> { 0xFF, 0xD8 };
        void Segment(byte marker, params byte[] payload)
        {
            o.Add(0xFF); o.Add(marker);
            o.Add((byte)((payload.Length + 2) >> 8)); o.Add((byte)(payload.Length + 2));
            o.AddRange(payload);
        }
        Segment(0xEE, [.. "Adobe"u8, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);     // APP14, transform 0
        Segment(0xDB, [0x00, .. Enumerable.Repeat((byte)1, 64)]);                     // DQT 0: all ones
        Segment(0xC0, [8, (byte)(bh * 8 >> 8), (byte)(bh * 8), (byte)(bw * 8 >> 8), (byte)(bw * 8), 4,
                       1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0]);               // SOF0, 4 components 1×1
        Segment(0xC4, [0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]); // DC 0
        Segment(0xC4, [0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]);   // AC 0: EOB only
        Segment(0xDA, [4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0]);              // SOS

        var bits = new BitWriter(o);
        var previous = new int[4];
        for (int by = 0; by < bh; by++)
            for (int bx = 0; bx < bw; bx++)
                for (int c = 0; c < 4; c++)
                {
                    int dc = 8 * (blocks[by, bx][c] - 128), diff = dc - previous[c];
                    previous[c] = dc;
                    int category = diff == 0 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)Math.Abs(diff));
                    bits.Write(category, 4);                                          // DC code: the category, 4 bits
                    if (category > 0) bits.Write(diff > 0 ? diff : diff + (1 << category) - 1, category);
                    bits.Write(0, 1);                                                 // EOB
                }
        bits.Flush();
        o.Add(0xFF); o.Add(0xD9);
        return o.ToArray();
    }

    private sealed class BitWriter(List<byte> output)
    {
        private int _acc, _count;

        public void Write(int value, int n)
        {
            for (int i = n - 1; i >= 0; i--)
            {
                _acc = (_acc << 1) | ((value >> i) & 1);
                if (++_count == 8) Emit();
            }
        }

        public void Flush()
        {
            while (_count != 0) { _acc = (_acc << 1) | 1; if (++_count == 8) Emit(); } // pad with ones
        }

        private void Emit()
        {
            output.Add((byte)_acc);
            if (_acc == 0xFF) output.Add(0x00); // byte stuffing
            _acc = 0; _count = 0;
        }
    }

    /// <summary>A PNG that claims <paramref name="width"/>×<paramref name="height"/> RGB8 but carries a few bytes of pixel data.</summary>
    public static byte[] PngClaimingSize(int width, int height)
    {
        var o = new List<byte> { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB, deflate, no filter choice, not interlaced
        Chunk(o, "IHDR", ihdr);
        Chunk(o, "IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]); // zlib of one zero byte
        Chunk(o, "IEND", []);
        return o.ToArray();
    }

    private static void Chunk(List<byte> o, string type, byte[] data)
    {
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        o.AddRange(len);
        o.AddRange(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        o.AddRange(crc);
    }

    /// <summary>CRC-32 (ISO-HDLC, as PNG chunks use), bit by bit.</summary>
    internal static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
