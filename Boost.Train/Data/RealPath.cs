using System.Runtime.InteropServices;

namespace Boost.Train.Data;

/// <summary>
/// The canonical path of a file or folder, every symlink on the way resolved: two paths name the same folder
/// exactly when their real paths are equal (the visited key of <see cref="ImageFolder.Scan"/>). On Unix this is
/// libc's <c>realpath(3)</c>; elsewhere the final link target of the full path.
/// </summary>
internal static partial class RealPath
{
    public static string Of(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            IntPtr p = RealPathNative(path, IntPtr.Zero);
            if (p != IntPtr.Zero)
            {
                try { return Marshal.PtrToStringUTF8(p)!; }
                finally { Free(p); }
            }
            // Fails for dangling links and vanished entries: fall through to the managed answer.
        }
        string full = Path.GetFullPath(path);
        try
        {
            var info = Directory.Exists(full) ? (FileSystemInfo)new DirectoryInfo(full) : new FileInfo(full);
            var target = info.LinkTarget is null ? null : info.ResolveLinkTarget(returnFinalTarget: true);
            return target is null ? full : Path.GetFullPath(target.FullName);
        }
        catch (IOException) { return full; } // a link loop: the path itself is as canonical as it gets
        catch (UnauthorizedAccessException) { return full; }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr RealPathNative(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(IntPtr p);
}
