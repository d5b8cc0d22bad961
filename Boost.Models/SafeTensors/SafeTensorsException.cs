namespace Boost.Models.SafeTensors;

/// <summary>
/// The one error a safetensors file can produce when read: its message names the file and, where one is at fault,
/// the tensor key. An <see cref="IOException"/>, so callers that already handle I/O failures handle this too.
/// </summary>
public class SafeTensorsException : IOException
{
    /// <summary>The file as the caller named it.</summary>
    public string FilePath { get; }
    /// <summary>The header key at fault, or null when the problem is not one tensor's.</summary>
    public string? Key { get; }

    public SafeTensorsException(string filePath, string? key, string problem, Exception? inner = null)
        : base(key is null ? $"{filePath}: {problem}" : $"{filePath}: '{Shorten(key)}': {problem}", inner)
    {
        FilePath = filePath;
        Key = key;
    }

    /// <summary>A crafted header can hold megabyte-long keys; the message shows their start (<see cref="Key"/> keeps all).</summary>
    private static string Shorten(string key) => key.Length <= 200 ? key : key[..200] + "…";
}

/// <summary>
/// A checkpoint that does not fit the model: every missing key, unexpected key, shape mismatch and unreadable
/// dtype at once, so one run shows the whole difference.
/// </summary>
public sealed class StateDictMismatchException : SafeTensorsException
{
    /// <summary>Model keys the file lacks.</summary>
    public IReadOnlyList<string> Missing { get; }
    /// <summary>File keys (after key mapping) the model does not have.</summary>
    public IReadOnlyList<string> Unexpected { get; }
    /// <summary>Model keys present in both, with a different shape or a dtype that is not a float type.</summary>
    public IReadOnlyList<string> Mismatched { get; }

    internal StateDictMismatchException(string filePath, string report,
        IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
        : base(filePath, null, report)
    {
        Missing = missing;
        Unexpected = unexpected;
        Mismatched = mismatched;
    }
}
