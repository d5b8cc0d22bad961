using Boost.Models.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Train.Imaging;

/// <summary>
/// Where the command line writes its results, checked before any work: an output is never one of the inputs (also
/// through symbolic links), its folder exists and takes a new file, and its format follows its extension
/// (.png → PNG, .jpg/.jpeg → JPEG quality 95, .webp → lossless WebP). Saves are atomic (<see cref="AtomicFile"/>).
/// </summary>
public static class ImageOutput
{
    public const int JpegQuality = 95;
    public static readonly IReadOnlyList<string> Extensions = [".png", ".jpg", ".jpeg", ".webp"];

    /// <summary>The encoder <paramref name="path"/>'s extension asks for; a one-line error naming the supported ones otherwise.</summary>
    public static IImageEncoder EncoderFor(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 },
        ".jpg" or ".jpeg" => new JpegEncoder { Quality = JpegQuality },
        ".webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
        var ext => throw new ArgumentException(
            $"cannot write {path}: {(ext.Length == 0 ? "no extension" : $"'{ext}' is not an image format Boost writes")}; use {string.Join(", ", Extensions)}."),
    };

    /// <summary>Writes <paramref name="chw"/> in the format of <paramref name="path"/>'s extension (clamped to [-1, 1], rounded), atomically.</summary>
    /// <param name="chw">[1 or 3, H, W]</param>
    public static void Save(ChwImage chw, string path)
    {
        var encoder = EncoderFor(path);
        using var image = ImageConvert.ToImage(chw);
        Save(image, path, encoder);
    }

    /// <summary>Writes <paramref name="image"/> in the format of <paramref name="path"/>'s extension, atomically; creates the folder.</summary>
    public static void Save(Image<Rgb24> image, string path) => Save(image, path, EncoderFor(path));

    internal static void Save(Image<Rgb24> image, string path, IImageEncoder encoder)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.Write(path, stream => image.Save(stream, encoder));
    }

    /// <summary>
    /// Throws when <paramref name="output"/> is the same file as <paramref name="input"/> (after making both absolute
    /// and resolving symbolic links, also in folders along the way), which a write would destroy. Hard links are not seen.
    /// </summary>
    public static void CheckDistinct(string? input, string output)
    {
        if (input is null) return;
        if (SameFile(input, output))
            throw new ArgumentException($"{output} is the same file as {input}{(Path.GetFullPath(input) == Path.GetFullPath(output) ? "" : " (through a link)")}; writing it would destroy that file: choose another output path.");
    }

    /// <summary>
    /// Before any work: <paramref name="path"/>'s folder exists (created first when <paramref name="createFolder"/>),
    /// takes a new file (probed by creating and deleting one), and <paramref name="path"/> is not a folder. Then
    /// removes temporary files that killed runs left in that folder.
    /// </summary>
    public static void CheckWritable(string path, bool createFolder = false)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? throw new ArgumentException($"cannot write {path}: it names no file.");
        if (Directory.Exists(full)) throw new IOException($"cannot write {path}: it is a folder.");
        if (createFolder && !File.Exists(folder)) Directory.CreateDirectory(folder);
        try { AtomicFile.ProbeFolder(folder); }
        catch (IOException e) { throw new IOException($"cannot write {path}: {e.Message}", e); }
        AtomicFile.RemoveStale(folder);
    }

    /// <summary>Everything an image output needs before the work starts: a supported format, then <see cref="CheckFile"/>.</summary>
    public static void Check(string output, IEnumerable<string?> inputs, bool createFolder = false)
    {
        EncoderFor(output);
        CheckFile(output, inputs, createFolder);
    }

    /// <summary>Any output file before the work starts: none of <paramref name="inputs"/> (null entries skipped), a writable folder.</summary>
    public static void CheckFile(string output, IEnumerable<string?> inputs, bool createFolder = false)
    {
        foreach (var input in inputs) CheckDistinct(input, output);
        CheckWritable(output, createFolder);
    }

    internal static bool SameFile(string a, string b)
    {
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return string.Equals(Resolve(a), Resolve(b), comparison);
    }

    /// <summary>The absolute path with every symbolic link along it followed (for parts that exist).</summary>
    internal static string Resolve(string path, int depth = 0)
    {
        string full = Path.GetFullPath(path);
        if (depth > 40) return full; // a link loop: compare what we have
        string root = Path.GetPathRoot(full) ?? "";
        string current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar))
        {
            if (part.Length == 0) continue;
            current = Path.Combine(current, part);
            string? target;
            try { target = new FileInfo(current).LinkTarget; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { target = null; }
            if (target is not null)
                current = Resolve(Path.GetFullPath(target, Path.GetDirectoryName(current) ?? root), depth + 1);
        }
        return current;
    }
}
