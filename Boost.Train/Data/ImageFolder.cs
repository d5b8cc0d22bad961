using Boost.Train.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Train.Data;

/// <summary>
/// Every image under a folder (recursively; extensions in <see cref="ImageLoader.Extensions"/>, any case), each
/// decoded once and kept in memory as RGB24. Files that fail to load are skipped with one warning line each.
/// Order is deterministic: full paths sorted ordinally. Dispose to release the pixel buffers.
/// </summary>
public sealed class ImageFolder : IDisposable
{
    /// <summary>Long side limit applied by default: larger images are downscaled to it when loaded.</summary>
    public const int DefaultMaxLongSide = 1024;

    private readonly Image<Rgb24>[] _images;

    public string Root { get; }
    /// <summary>The loaded files, in order; <see cref="Images"/>[i] came from <see cref="Paths"/>[i].</summary>
    public IReadOnlyList<string> Paths { get; }
    public IReadOnlyList<Image<Rgb24>> Images => _images;
    /// <summary>Files that were skipped, with the reason.</summary>
    public IReadOnlyList<(string Path, string Reason)> Skipped { get; }
    public int Count => _images.Length;

    private ImageFolder(string root, string[] paths, Image<Rgb24>[] images, (string, string)[] skipped)
    {
        Root = root;
        Paths = paths;
        _images = images;
        Skipped = skipped;
    }

    /// <summary>All image files under <paramref name="root"/> (recursive), sorted ordinally by full path.</summary>
    public static string[] Scan(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"ImageFolder: no folder {root}.");
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System };
        var files = Directory.EnumerateFiles(Path.GetFullPath(root), "*", options)
            .Where(f => ImageLoader.Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .ToArray();
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    /// <summary>
    /// Loads every image under <paramref name="root"/>. <paramref name="options"/> defaults to the loader's
    /// defaults with <see cref="ImageLoadOptions.MaxLongSide"/> = <see cref="DefaultMaxLongSide"/>; pass
    /// <c>MaxLongSide = null</c> to keep full size. One line per skipped file goes to <paramref name="warnings"/>.
    /// </summary>
    public static ImageFolder Load(string root, ImageLoadOptions? options = null, TextWriter? warnings = null)
    {
        options ??= ImageLoadOptions.Default with { MaxLongSide = DefaultMaxLongSide };
        var files = Scan(root);
        var loaded = new Image<Rgb24>?[files.Length];
        var reasons = new string?[files.Length];
        // Decoding is the slow part; it runs in parallel, and the results are gathered in path order.
        Parallel.For(0, files.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try { loaded[i] = ImageLoader.Load(files[i], options); }
            catch (ImageLoadException e) { reasons[i] = e.Message; }
            catch (Exception e) when (e is not OutOfMemoryException) { reasons[i] = $"{Path.GetFileName(files[i])}: {e.GetType().Name}: {e.Message}"; }
        });

        var paths = new List<string>();
        var images = new List<Image<Rgb24>>();
        var skipped = new List<(string, string)>();
        for (int i = 0; i < files.Length; i++)
        {
            if (loaded[i] is { } image) { paths.Add(files[i]); images.Add(image); continue; }
            string reason = OneLine(reasons[i] ?? "unknown error");
            skipped.Add((files[i], reason));
            warnings?.WriteLine($"warning: skipping {Path.GetRelativePath(root, files[i])}: {reason}");
        }
        return new ImageFolder(Path.GetFullPath(root), paths.ToArray(), images.ToArray(), skipped.ToArray());
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    /// <returns>[3, H, W] in [-1, 1]</returns>
    public ChwImage GetChw(int index) => ImageConvert.ToChw(_images[index]);

    /// <summary>A window of image <paramref name="index"/>, converting only that window.</summary>
    /// <returns>[3, height, width] in [-1, 1]</returns>
    public ChwImage GetChw(int index, int top, int left, int height, int width) => ImageConvert.ToChw(_images[index], top, left, height, width);

    /// <summary>A uniformly placed <paramref name="size"/>×<paramref name="size"/> crop of image <paramref name="index"/>.</summary>
    /// <returns>[3, size, size] in [-1, 1]</returns>
    public ChwImage RandomCrop(int index, int size, Random random)
    {
        var image = _images[index];
        if (size > image.Width || size > image.Height)
            throw new ArgumentException($"RandomCrop: crop {size} is larger than {Path.GetFileName(Paths[index])} ({image.Width}x{image.Height}).");
        int top = random.Next(image.Height - size + 1), left = random.Next(image.Width - size + 1);
        return GetChw(index, top, left, size, size);
    }

    public void Dispose()
    {
        foreach (var image in _images) image.Dispose();
    }
}
