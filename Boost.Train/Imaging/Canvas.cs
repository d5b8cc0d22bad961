using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Train.Imaging;

/// <summary>
/// An RGB24 pixel buffer with the few drawing primitives the grid and plot need (ImageSharp.Drawing is not
/// available): rectangles, antialiased thick lines, bitmap-font text and image blits. Drawing outside is clipped.
/// </summary>
public sealed class Canvas
{
    public int Width { get; }
    public int Height { get; }
    private readonly Rgb24[] _pixels;

    public Canvas(int width, int height, Rgb24 background)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"Canvas: size {width}x{height} must be positive.");
        Width = width;
        Height = height;
        _pixels = new Rgb24[checked(width * height)];
        _pixels.AsSpan().Fill(background);
    }

    public Rgb24 this[int x, int y] => _pixels[y * Width + x];

    public void Set(int x, int y, Rgb24 c)
    {
        if ((uint)x < (uint)Width && (uint)y < (uint)Height) _pixels[y * Width + x] = c;
    }

    /// <summary>Mixes <paramref name="c"/> into the pixel with weight <paramref name="alpha"/> ∈ [0, 1].</summary>
    public void Blend(int x, int y, Rgb24 c, float alpha)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || alpha <= 0) return;
        if (alpha >= 1) { _pixels[y * Width + x] = c; return; }
        ref var p = ref _pixels[y * Width + x];
        p = new Rgb24(Mix(p.R, c.R, alpha), Mix(p.G, c.G, alpha), Mix(p.B, c.B, alpha));
    }

    private static byte Mix(byte a, byte b, float t) => (byte)MathF.Round(a + (b - a) * t);

    public void FillRect(int x, int y, int w, int h, Rgb24 c)
    {
        int x0 = Math.Max(0, x), y0 = Math.Max(0, y), x1 = Math.Min(Width, x + w), y1 = Math.Min(Height, y + h);
        for (int yy = y0; yy < y1; yy++) _pixels.AsSpan(yy * Width + x0, Math.Max(0, x1 - x0)).Fill(c);
    }

    /// <summary>A one-pixel rectangle outline covering columns x…x+w−1 and rows y…y+h−1.</summary>
    public void StrokeRect(int x, int y, int w, int h, Rgb24 c)
    {
        FillRect(x, y, w, 1, c);
        FillRect(x, y + h - 1, w, 1, c);
        FillRect(x, y, 1, h, c);
        FillRect(x + w - 1, y, 1, h, c);
    }

    /// <summary>
    /// An antialiased segment of the given width with round caps, between pixel centres (x0, y0) and (x1, y1):
    /// each pixel is covered by clamp(width/2 + ½ − distance to the segment, 0, 1).
    /// </summary>
    public void Line(double x0, double y0, double x1, double y1, Rgb24 c, double width = 1.5)
    {
        if (!double.IsFinite(x0) || !double.IsFinite(y0) || !double.IsFinite(x1) || !double.IsFinite(y1)) return;
        double r = width / 2 + 0.5;
        int bx0 = Math.Max(0, (int)Math.Floor(Math.Min(x0, x1) - r)), bx1 = Math.Min(Width - 1, (int)Math.Ceiling(Math.Max(x0, x1) + r));
        int by0 = Math.Max(0, (int)Math.Floor(Math.Min(y0, y1) - r)), by1 = Math.Min(Height - 1, (int)Math.Ceiling(Math.Max(y0, y1) + r));
        double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
        for (int y = by0; y <= by1; y++)
            for (int x = bx0; x <= bx1; x++)
            {
                double t = len2 == 0 ? 0 : Math.Clamp(((x - x0) * dx + (y - y0) * dy) / len2, 0, 1);
                double ex = x - (x0 + t * dx), ey = y - (y0 + t * dy);
                double coverage = r - Math.Sqrt(ex * ex + ey * ey);
                if (coverage > 0) Blend(x, y, c, (float)Math.Min(1, coverage));
            }
    }

    /// <summary>One line of text with its top-left corner at (x, y), each font pixel drawn as scale×scale.</summary>
    public void Text(string text, int x, int y, Rgb24 c, int scale = 1)
    {
        for (int i = 0; i < text.Length; i++)
        {
            var glyph = BitmapFont.Glyph(text[i]);
            int gx = x + i * BitmapFont.Advance * scale;
            for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                    if ((glyph[row] >> (BitmapFont.GlyphWidth - 1 - col) & 1) != 0)
                        FillRect(gx + col * scale, y + row * scale, scale, scale, c);
        }
    }

    /// <summary>Text centred horizontally on <paramref name="centerX"/>.</summary>
    public void TextCentered(string text, int centerX, int y, Rgb24 c, int scale = 1)
        => Text(text, centerX - BitmapFont.MeasureWidth(text, scale) / 2, y, c, scale);

    /// <summary>Copies <paramref name="image"/> (1 or 3 channels, clamped and rounded to bytes) with its top-left at (x, y).</summary>
    /// <param name="image">[1 or 3, H, W]</param>
    public void Draw(ChwImage image, int x, int y)
    {
        if (image.Channels is not (1 or 3)) throw new ArgumentException($"Canvas.Draw: needs 1 or 3 channels, got {image.ShapeString}.");
        int plane = image.PlaneSize, g = image.Channels == 3 ? plane : 0, b = 2 * g;
        var d = image.Data;
        for (int yy = 0; yy < image.Height; yy++)
            for (int xx = 0; xx < image.Width; xx++)
            {
                int i = yy * image.Width + xx;
                Set(x + xx, y + yy, new Rgb24(ImageConvert.ToByte(d[i]), ImageConvert.ToByte(d[g + i]), ImageConvert.ToByte(d[b + i])));
            }
    }

    public Image<Rgb24> ToImage() => Image.LoadPixelData<Rgb24>(_pixels, Width, Height);

    public void SavePng(string path)
    {
        using var image = ToImage();
        ImageConvert.SavePng(image, path);
    }
}
