using System.Text;
using System.Text.RegularExpressions;

namespace Boost.Models.IO;

/// <summary>
/// Whole-file writes that either land complete or not at all: the bytes go to a hidden temporary file in the target's
/// folder (<c>.NAME.&lt;32 hex&gt;.tmp</c>, the pattern <see cref="SafeTensors.SafeTensorsFile"/>'s writer uses too),
/// are flushed to disk, then renamed over the target. On any failure the temporary file is deleted and an existing
/// target is left byte-identical. A killed process can leave a temporary file behind; <see cref="RemoveStale"/>
/// deletes those when a folder is next opened for writing.
/// </summary>
public static partial class AtomicFile
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Writes what <paramref name="write"/> puts into the stream to <paramref name="path"/>, atomically.
    /// The folder must exist (the error says so when it does not).</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? throw new ArgumentException($"cannot write {path}: it names no file.", nameof(path));
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"cannot write {path}: folder {folder} does not exist.");
        if (Directory.Exists(full)) throw new IOException($"cannot write {path}: it is a folder.");
        string temp = TempPath(full);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary><paramref name="text"/> as UTF-8 (no byte-order mark), atomically.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Write(path, s => { using var w = new StreamWriter(s, Utf8NoBom, leaveOpen: true); w.Write(text); });
    }

    /// <summary>Each line followed by <c>\n</c>, UTF-8, atomically.</summary>
    public static void WriteAllLines(string path, IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        Write(path, s =>
        {
            using var w = new StreamWriter(s, Utf8NoBom, leaveOpen: true) { NewLine = "\n" };
            foreach (var line in lines) w.WriteLine(line);
        });
    }

    /// <summary>A fresh temporary name beside <paramref name="fullPath"/>: <c>.NAME.&lt;guid&gt;.tmp</c>.</summary>
    public static string TempPath(string fullPath)
        => Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");

    /// <summary>True for names <see cref="TempPath"/> (and the safetensors writer) make.</summary>
    public static bool IsTempName(string fileName) => TempName().IsMatch(fileName);

    [GeneratedRegex(@"^\..+\.[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TempName();

    /// <summary>
    /// Checks that <paramref name="folder"/> exists and a file can be created in it, by creating and deleting a
    /// temporary file there. Throws <see cref="IOException"/> with a one-line reason otherwise.
    /// </summary>
    public static void ProbeFolder(string folder)
    {
        string full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException(File.Exists(full) ? $"{full} is a file, not a folder." : $"folder {full} does not exist.");
        string probe = TempPath(Path.Combine(full, "write-probe"));
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(probe); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new IOException($"folder {full} is not writable ({e.Message.TrimEnd('.')}).", e);
        }
    }

    private static readonly Lazy<DateTime> ProcessStartUtc = new(() =>
    {
        try { return System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime(); }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception) { return DateTime.UtcNow; }
    });

    /// <summary>
    /// Deletes the temporary files of writes that never finished (<c>.NAME.&lt;guid&gt;.tmp</c>, from this writer or
    /// the safetensors one) in <paramref name="folder"/>, not in subfolders: those last written before this process
    /// started, so a write in progress in this process is never touched. A missing folder and files that cannot be
    /// deleted are skipped.
    /// </summary>
    /// <returns>the names deleted</returns>
    public static IReadOnlyList<string> RemoveStale(string folder) => RemoveStale(folder, ProcessStartUtc.Value);

    /// <summary><see cref="RemoveStale(string)"/> with an explicit cut-off: files last written before <paramref name="olderThanUtc"/>.</summary>
    public static IReadOnlyList<string> RemoveStale(string folder, DateTime olderThanUtc)
    {
        var removed = new List<string>();
        if (!Directory.Exists(folder)) return removed;
        IEnumerable<string> files;
        try { files = Directory.EnumerateFiles(folder, ".*.tmp").ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return removed; }
        foreach (var file in files)
        {
            string name = Path.GetFileName(file);
            if (!IsTempName(name)) continue;
            try
            {
                var info = new FileInfo(file);
                if (info.LinkTarget is not null || info.LastWriteTimeUtc >= olderThanUtc) continue;
                info.Delete();
                removed.Add(name);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return removed;
    }
}
