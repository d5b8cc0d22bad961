using Boost.Train.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Train.Data;

/// <summary>
/// Every image under a folder (recursively; extensions in <see cref="ImageLoader.Extensions"/>, any case), each
/// decoded once and kept in memory as RGB24. Files that fail to load are skipped with one warning line each.
/// Symlinked folders are followed, each real folder scanned once (a link loop ends at once, with one warning).
/// Order is deterministic: full paths sorted ordinally. Dispose to release the pixel buffers; a
/// <see cref="Share"/>d view releases them when the last holder is disposed.
/// </summary>
public sealed class ImageFolder : IDisposable
{
    /// <summary>Long side limit applied by default: larger images are downscaled to it when loaded.</summary>
    public const int DefaultMaxLongSide = 1024;

    /// <summary>What the views of one load share: the pixels (freed with the last view) and the warnings already given.</summary>
    private sealed class Store(Image<Rgb24>[] images, ImageLoadOptions options)
    {
        public readonly Image<Rgb24>[] Images = images;
        public readonly ImageLoadOptions Options = options;
        public readonly HashSet<int> WarnedCrops = [];
        public int Holders = 1;
    }

    private readonly Store _store;
    private readonly Image<Rgb24>[] _images;
    private bool _disposed;

    public string Root { get; }
    /// <summary>The loaded files, in order; <see cref="Images"/>[i] came from <see cref="Paths"/>[i].</summary>
    public IReadOnlyList<string> Paths { get; }
    public IReadOnlyList<Image<Rgb24>> Images => _images;
    /// <summary>Files that were skipped, with the reason.</summary>
    public IReadOnlyList<(string Path, string Reason)> Skipped { get; }
    public int Count => _images.Length;

    private ImageFolder(string root, string[] paths, Store store, (string, string)[] skipped)
    {
        Root = root;
        Paths = paths;
        _store = store;
        _images = store.Images;
        Skipped = skipped;
    }

    /// <summary>
    /// All image files under <paramref name="root"/> (recursive), sorted ordinally by full path (as reached from
    /// <paramref name="root"/>). Symlinked folders are followed, but every real folder (and every real file) is taken
    /// once: links back into the tree or to a folder already scanned are skipped, named in one warning line.
    /// </summary>
    public static string[] Scan(string root, TextWriter? warnings = null)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"ImageFolder: no folder {root}.");
        var options = new EnumerationOptions { RecurseSubdirectories = false, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System };
        string top = Path.GetFullPath(root);
        var seen = new HashSet<string>(StringComparer.Ordinal) { RealPath.Of(top) };
        var files = new List<string>();
        var repeated = new List<string>();
        var pending = new Stack<string>();
        pending.Push(top);
        while (pending.Count > 0)
        {
            string dir = pending.Pop();
            string realDir = RealPath.Of(dir);
            IEnumerable<FileSystemInfo> entries;
            try { entries = new DirectoryInfo(dir).EnumerateFileSystemInfos("*", options).ToArray(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var entry in entries)
            {
                bool link = entry.LinkTarget is not null;
                // A plain entry of a real folder is its own real path; only links need resolving.
                string real = link ? RealPath.Of(entry.FullName) : Path.Combine(realDir, entry.Name);
                if (entry is DirectoryInfo)
                {
                    if (seen.Add(real)) pending.Push(entry.FullName);
                    else repeated.Add(entry.FullName);
                }
                else if (ImageLoader.Extensions.Contains(Path.GetExtension(entry.Name).ToLowerInvariant()))
                {
                    if (link && !File.Exists(entry.FullName)) continue; // dangling link: nothing to load
                    if (seen.Add(real)) files.Add(entry.FullName);
                    else repeated.Add(entry.FullName);
                }
            }
        }
        if (repeated.Count > 0)
        {
            repeated.Sort(StringComparer.Ordinal);
            warnings?.WriteLine($"warning: {repeated.Count} symlinked entr{(repeated.Count == 1 ? "y leads" : "ies lead")} to folders or files already scanned under {root}, skipped: " +
                                NameSome(repeated.Select(p => Path.GetRelativePath(top, p)).ToList()));
        }
        var sorted = files.ToArray();
        Array.Sort(sorted, StringComparer.Ordinal);
        return sorted;
    }

    /// <summary>Up to five names, then how many more.</summary>
    private static string NameSome(IReadOnlyList<string> names)
        => string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");

    /// <summary>
    /// Loads every image under <paramref name="root"/>. <paramref name="options"/> defaults to the loader's
    /// defaults with <see cref="ImageLoadOptions.MaxLongSide"/> = <see cref="DefaultMaxLongSide"/>; pass
    /// <c>MaxLongSide = null</c> to keep full size. One line per skipped file goes to <paramref name="warnings"/>.
    /// </summary>
    public static ImageFolder Load(string root, ImageLoadOptions? options = null, TextWriter? warnings = null)
    {
        options ??= ImageLoadOptions.Default with { MaxLongSide = DefaultMaxLongSide };
        var files = Scan(root, warnings);
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
        return new ImageFolder(Path.GetFullPath(root), paths.ToArray(), new Store(images.ToArray(), options), skipped.ToArray());
    }

    /// <summary>
    /// <paramref name="loaded"/> shared (<see cref="Share"/>) when <paramref name="root"/> is its folder and the
    /// options match, so a validation set that reuses the training folder is neither decoded nor warned about
    /// twice; otherwise <see cref="Load"/>.
    /// </summary>
    public static ImageFolder LoadOrShare(string root, ImageFolder loaded, ImageLoadOptions? options = null, TextWriter? warnings = null)
    {
        options ??= ImageLoadOptions.Default with { MaxLongSide = DefaultMaxLongSide };
        bool same = Directory.Exists(root) && RealPath.Of(Path.GetFullPath(root)) == RealPath.Of(loaded.Root) && options == loaded._store.Options;
        return same ? loaded.Share() : Load(root, options, warnings);
    }

    /// <summary>Another view of the same decoded images (no copy); the pixels are freed when the last view is disposed.</summary>
    public ImageFolder Share()
    {
        lock (_store)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _store.Holders++;
        }
        return new ImageFolder(Root, [.. Paths], _store, [.. Skipped]);
    }

    /// <summary>
    /// The indices of the images whose sides are both at least <paramref name="size"/> (what a <paramref name="size"/>²
    /// crop can use). The smaller ones are named in one warning line, once per size for all shared views.
    /// </summary>
    public int[] AtLeast(int size, TextWriter? warnings = null)
    {
        var small = Enumerable.Range(0, Count).Where(i => _images[i].Width < size || _images[i].Height < size).ToList();
        bool warn;
        lock (_store) warn = small.Count > 0 && _store.WarnedCrops.Add(size);
        if (warn)
            warnings?.WriteLine($"warning: {small.Count} of {Count} images under {Root} {(small.Count == 1 ? "is" : "are")} smaller than the {size}×{size} crop (as loaded), not used: " +
                                NameSome(small.Select(i => $"{Path.GetRelativePath(Root, Paths[i])} ({_images[i].Width}x{_images[i].Height})").ToList()));
        return Enumerable.Range(0, Count).Except(small).ToArray();
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
        lock (_store)
        {
            if (_disposed) return;
            _disposed = true;
            if (--_store.Holders > 0) return;
        }
        foreach (var image in _images) image.Dispose();
    }
}
