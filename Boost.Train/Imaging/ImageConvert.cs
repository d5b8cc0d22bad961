using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Train.Imaging;

/// <summary>
/// Bytes ↔ floats: byte b ↦ b / 127.5 − 1 (so 0 ↦ −1, 255 ↦ 1), and back by clamping to [−1, 1] and rounding
/// (v + 1)·127.5 to the nearest byte, which restores every byte exactly.
/// </summary>
public static class ImageConvert
{
    public static float ToFloat(byte b) => b / 127.5f - 1f;

    public static byte ToByte(float v)
    {
        if (!(v > -1f)) return 0; // NaN lands here too: black, not an exception mid-save
        if (v >= 1f) return 255;
        return (byte)MathF.Round((v + 1f) * 127.5f, MidpointRounding.AwayFromZero);
    }

    /// <returns>[3, H, W] in [-1, 1]</returns>
    public static ChwImage ToChw(Image<Rgb24> image) => ToChw(image, 0, 0, image.Height, image.Width);

    /// <summary>The <paramref name="height"/>×<paramref name="width"/> window at (<paramref name="top"/>, <paramref name="left"/>), converted without converting the rest.</summary>
    /// <returns>[3, height, width] in [-1, 1]</returns>
    public static ChwImage ToChw(Image<Rgb24> image, int top, int left, int height, int width)
    {
        if (top < 0 || left < 0 || height <= 0 || width <= 0 || top + height > image.Height || left + width > image.Width)
            throw new ArgumentException($"ToChw: window {height}x{width} at ({top}, {left}) is outside the {image.Height}x{image.Width} image.");
        var chw = new ChwImage(3, height, width);
        var d = chw.Data;
        int plane = height * width;
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(top + y).Slice(left, width);
                int o = y * width;
                for (int x = 0; x < width; x++)
                {
                    var p = row[x];
                    d[o + x] = ToFloat(p.R);
                    d[plane + o + x] = ToFloat(p.G);
                    d[2 * plane + o + x] = ToFloat(p.B);
                }
            }
        });
        return chw;
    }

    /// <summary>An RGB image of <paramref name="chw"/> (1 channel: grey, 3 channels: RGB), clamped and rounded.</summary>
    /// <param name="chw">[1 or 3, H, W]</param>
    public static Image<Rgb24> ToImage(ChwImage chw)
    {
        if (chw.Channels is not (1 or 3))
            throw new ArgumentException($"ToImage: needs 1 or 3 channels, got {chw.ShapeString}.");
        int w = chw.Width, h = chw.Height, plane = chw.PlaneSize;
        int g = chw.Channels == 3 ? plane : 0, b = chw.Channels == 3 ? 2 * plane : 0;
        var d = chw.Data;
        var image = new Image<Rgb24>(w, h);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < h; y++)
            {
                var row = rows.GetRowSpan(y);
                int o = y * w;
                for (int x = 0; x < w; x++)
                    row[x] = new Rgb24(ToByte(d[o + x]), ToByte(d[g + o + x]), ToByte(d[b + o + x]));
            }
        });
        return image;
    }

    /// <summary>Writes <paramref name="chw"/> as an 8-bit RGB PNG (clamped to [-1, 1], rounded), atomically.</summary>
    /// <param name="chw">[1 or 3, H, W]</param>
    public static void SavePng(ChwImage chw, string path)
    {
        using var image = ToImage(chw);
        SavePng(image, path);
    }

    /// <summary>Writes <paramref name="image"/> as an 8-bit RGB PNG whatever the extension, atomically; creates the folder.</summary>
    public static void SavePng(Image<Rgb24> image, string path)
        => ImageOutput.Save(image, path, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 });
}
