using Boost.Train.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Boost.Train.Data;

/// <summary>A file that could not be used as an image: unreadable, truncated, unknown format, too large or too small.</summary>
public sealed class ImageLoadException : Exception
{
    public string FilePath { get; }

    public ImageLoadException(string filePath, string reason, Exception? inner = null)
        : base($"{Path.GetFileName(filePath)}: {reason}", inner) => FilePath = filePath;
}

/// <summary>Limits and choices for <see cref="ImageLoader"/>.</summary>
public sealed record ImageLoadOptions
{
    /// <summary>Images with more pixels than this (per the header, before decoding) are refused. 64 MP by default.</summary>
    public long MaxPixels { get; init; } = 64_000_000;
    /// <summary>Why <see cref="MaxPixels"/> is what it is, added to the refusal (e.g. "the most this model boosts ×4").</summary>
    public string? MaxPixelsNote { get; init; }
    /// <summary>Images whose shorter side is below this are refused.</summary>
    public int MinSide { get; init; } = 16;
    /// <summary>When set, images whose long side exceeds it are downscaled (bicubic, antialiased) to that long side.</summary>
    public int? MaxLongSide { get; init; }
    /// <summary>Files larger than this are refused without being read. 256 MB by default.</summary>
    public long MaxFileBytes { get; init; } = 256L << 20;
    /// <summary>Transparent pixels are composited over this colour.</summary>
    public Rgb24 Background { get; init; } = new(255, 255, 255);

    public static ImageLoadOptions Default { get; } = new();
}

/// <summary>
/// Decodes JPEG, PNG, WebP, BMP, GIF and TGA files (whatever ImageSharp decodes) to 8-bit RGB safely: the header
/// is read first (<c>Image.Identify</c>) and oversized or tiny images are refused before any pixel buffer is
/// allocated; grey, CMYK, 16-bit and alpha images become RGB24 (alpha composited over
/// <see cref="ImageLoadOptions.Background"/>); EXIF orientation is applied; only the first frame of a GIF is
/// decoded. Every failure is an <see cref="ImageLoadException"/> naming the file.
/// </summary>
public static class ImageLoader
{
    /// <summary>The extensions <see cref="ImageFolder"/> scans for (lower case, with the dot).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tga"];

    // One configuration: GIFs decode only their first frame, so an animation cannot multiply memory by its frame count.
    private static readonly Configuration Config = MakeConfiguration();

    private static Configuration MakeConfiguration()
    {
        var c = Configuration.Default.Clone();
        c.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        return c;
    }

    /// <summary>The header's size and format, after the safety checks; throws <see cref="ImageLoadException"/>.</summary>
    public static (int Width, int Height, string Format) Identify(string path, ImageLoadOptions? options = null)
    {
        options ??= ImageLoadOptions.Default;
        var bytes = ReadFile(path, options);
        var (info, format) = IdentifyBytes(path, bytes);
        CheckSize(path, info.Width, info.Height, options);
        return (info.Width, info.Height, format.Name);
    }

    /// <summary>Decodes <paramref name="path"/> to RGB24, upright, within the limits of <paramref name="options"/>.</summary>
    public static Image<Rgb24> Load(string path, ImageLoadOptions? options = null)
    {
        options ??= ImageLoadOptions.Default;
        var bytes = ReadFile(path, options);
        var (info, format) = IdentifyBytes(path, bytes);
        CheckSize(path, info.Width, info.Height, options);
        // ImageSharp decodes a JPEG cut inside its scan data without complaint (the rest comes out grey or black),
        // and a PNG cut at a chunk boundary may be as quiet; a training set must not learn from those.
        string? truncated = format switch
        {
            JpegFormat => FileIntegrity.JpegProblem(bytes),
            PngFormat => FileIntegrity.PngProblem(bytes),
            _ => null,
        };
        if (truncated is not null) throw new ImageLoadException(path, truncated);

        Image<Rgb24> image;
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            // JPEG has no alpha: decode straight to RGB24. Everything else may carry alpha (PNG tRNS, GIF
            // transparency, 32-bit BMP/TGA, WebP), so go through RGBA32 and composite.
            image = format is JpegFormat
                ? Image.Load<Rgb24>(Config, stream)
                : Flatten(Image.Load<Rgba32>(Config, stream), options.Background);
        }
        catch (Exception e) when (e is not OutOfMemoryException) // decoders throw many types on hostile input
        {
            throw new ImageLoadException(path, $"cannot decode {format.Name} ({e.GetType().Name}: {e.Message})", e);
        }

        try
        {
            image.Mutate(x => x.AutoOrient());
            if (options.MaxLongSide is int limit && Math.Max(image.Width, image.Height) > limit)
            {
                var (w, h) = FitLongSide(image.Width, image.Height, limit);
                image.Mutate(x => x.Resize(w, h, KnownResamplers.Bicubic));
            }
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <returns>[3, H, W] in [-1, 1]</returns>
    public static ChwImage LoadChw(string path, ImageLoadOptions? options = null)
    {
        using var image = Load(path, options);
        return ImageConvert.ToChw(image);
    }

    /// <summary>The size with long side <paramref name="limit"/> and the same aspect (each side at least 1).</summary>
    public static (int Width, int Height) FitLongSide(int width, int height, int limit)
    {
        double s = (double)limit / Math.Max(width, height);
        return (Math.Max(1, (int)Math.Round(width * s)), Math.Max(1, (int)Math.Round(height * s)));
    }

    private static byte[] ReadFile(string path, ImageLoadOptions options)
    {
        try
        {
            long length = new FileInfo(path).Length;
            if (length == 0) throw new ImageLoadException(path, "empty file");
            if (length > options.MaxFileBytes)
                throw new ImageLoadException(path, $"file of {length / 1e6:0.#} MB exceeds the limit of {options.MaxFileBytes / 1e6:0.#} MB");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ImageLoadException(path, $"cannot read ({e.Message})", e);
        }
    }

    private static (IImageInfo Info, IImageFormat Format) IdentifyBytes(string path, byte[] bytes)
    {
        IImageInfo? info;
        IImageFormat? format;
        try { info = Image.Identify(Config, bytes, out format); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ImageLoadException(path, $"unreadable header ({e.GetType().Name}: {e.Message})", e);
        }
        if (info is null || format is null) throw new ImageLoadException(path, "not a recognised image format");
        return (info, format);
    }

    private static void CheckSize(string path, int width, int height, ImageLoadOptions options)
    {
        if (width <= 0 || height <= 0) throw new ImageLoadException(path, $"header gives an empty size {width}x{height}");
        long pixels = (long)width * height;
        if (pixels > options.MaxPixels)
            throw new ImageLoadException(path, $"{width}x{height} = {pixels / 1e6:0.#} MP exceeds the limit of {options.MaxPixels / 1e6:0.##} MP{(options.MaxPixelsNote is { } note ? $", {note}" : "")}");
        if (Math.Min(width, height) < options.MinSide)
            throw new ImageLoadException(path, $"{width}x{height} is smaller than the minimum side {options.MinSide}");
    }

    private static Image<Rgb24> Flatten(Image<Rgba32> rgba, Rgb24 background)
    {
        using (rgba)
        {
            var rgb = new Image<Rgb24>(rgba.Width, rgba.Height);
            rgba.ProcessPixelRows(rgb, (src, dst) =>
            {
                for (int y = 0; y < src.Height; y++)
                {
                    var s = src.GetRowSpan(y);
                    var d = dst.GetRowSpan(y);
                    for (int x = 0; x < s.Length; x++)
                    {
                        var p = s[x];
                        d[x] = p.A == 255 ? new Rgb24(p.R, p.G, p.B)
                                          : new Rgb24(Over(p.R, background.R, p.A), Over(p.G, background.G, p.A), Over(p.B, background.B, p.A));
                    }
                }
            });
            return rgb;
        }
    }

    private static byte Over(byte c, byte bg, byte a) => (byte)((c * a + bg * (255 - a) + 127) / 255);
}
