using System.Text;
using Boost.Kernels;

namespace Boost.Models.SafeTensors;

/// <summary>
/// Strict checkpoint loading: the file must hold exactly the model's keys with exactly its shapes, as float
/// tensors of finite values. Every difference is reported at once in one <see cref="StateDictMismatchException"/>
/// (missing keys, unexpected keys, shape or dtype mismatches), before any tensor data is read.
/// </summary>
public static class StateDict
{
    /// <summary>
    /// A key map for <paramref name="mapKey"/> parameters: keeps file keys that start with <paramref name="prefix"/>,
    /// without it, and skips the rest (e.g. <c>"first_stage_model."</c> takes the VAE out of a full Stable Diffusion checkpoint).
    /// </summary>
    public static Func<string, string?> StripPrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        return key => key.StartsWith(prefix, StringComparison.Ordinal) ? key[prefix.Length..] : null;
    }

    /// <summary>
    /// Reads the tensors of <paramref name="expected"/> from <paramref name="file"/> as float32, keyed by model name.
    /// </summary>
    /// <param name="expected">The model's (name, shape) for every parameter and buffer.</param>
    /// <param name="mapKey">File key → model key, or null to skip that file key (skipped keys are not "unexpected").
    /// Null means keys are used as they are.</param>
    public static Dictionary<string, float[]> ReadStrict(SafeTensorsFile file, IEnumerable<(string Name, int[] Shape)> expected,
        Func<string, string?>? mapKey = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var fileKeyOf = Match(file, expected, mapKey);
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var bad = new List<string>();
        var report = new StringBuilder();
        foreach (var (modelKey, fileKey) in fileKeyOf)
        {
            var data = file.ReadFloat32(fileKey);
            int nan = 0, inf = 0, first = -1;
            for (int i = 0; i < data.Length; i++)
            {
                if (float.IsFinite(data[i])) continue;
                if (float.IsNaN(data[i])) nan++; else inf++;
                if (first < 0) first = i;
            }
            if (first >= 0)
            {
                bad.Add(modelKey);
                report.Append($"\n  '{fileKey}': {nan} NaN, {inf} Inf of {data.Length} values, first at index {first}");
            }
            result[modelKey] = data;
        }
        if (bad.Count > 0)
            throw new SafeTensorsException(file.Path, bad.Count == 1 ? fileKeyOf[bad[0]] : null,
                $"non-finite values in {bad.Count} tensor(s):{report}");
        return result;
    }

    /// <summary>As <see cref="ReadStrict(SafeTensorsFile, IEnumerable{ValueTuple{string, int[]}}, Func{string, string?}?)"/>, opening <paramref name="path"/>.</summary>
    public static Dictionary<string, float[]> ReadStrict(string path, IEnumerable<(string Name, int[] Shape)> expected, Func<string, string?>? mapKey = null)
    {
        using var file = SafeTensorsFile.Read(path);
        return ReadStrict(file, expected, mapKey);
    }

    /// <summary>As <see cref="ReadStrict(SafeTensorsFile, IEnumerable{ValueTuple{string, int[]}}, Func{string, string?}?)"/>,
    /// as tensors on <paramref name="device"/> (the caller owns and disposes them).</summary>
    public static Dictionary<string, Tensor> LoadStrict(SafeTensorsFile file, IEnumerable<(string Name, int[] Shape)> expected, Device device,
        Func<string, string?>? mapKey = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        var expectedList = expected.ToList();
        var data = ReadStrict(file, expectedList, mapKey);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, shape) in expectedList) result[name] = Tensor.FromArray(device, data[name], shape);
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Pairs every model key with its file key, or throws one report of every difference.</summary>
    private static Dictionary<string, string> Match(SafeTensorsFile file, IEnumerable<(string Name, int[] Shape)> expected, Func<string, string?>? mapKey)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var want = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (name, shape) in expected)
        {
            if (name is null || shape is null) throw new ArgumentException("StateDict: an expected name or shape is null.", nameof(expected));
            if (!want.TryAdd(name, shape)) throw new ArgumentException($"StateDict: the model lists '{name}' twice.", nameof(expected));
        }

        var fileKeyOf = new Dictionary<string, string>(StringComparer.Ordinal);
        List<string> unexpected = [], mismatched = [], collisions = [], unexpectedKeys = [], mismatchedKeys = [];
        int skipped = 0;
        foreach (string fileKey in file.Names)
        {
            string? modelKey = mapKey is null ? fileKey : mapKey(fileKey);
            if (modelKey is null) { skipped++; continue; }
            if (!fileKeyOf.TryAdd(modelKey, fileKey))
            {
                collisions.Add($"'{fileKey}' and '{fileKeyOf[modelKey]}' both map to '{modelKey}'");
                continue;
            }
            if (!want.TryGetValue(modelKey, out var shape))
            {
                unexpectedKeys.Add(modelKey);
                unexpected.Add(Show(modelKey, fileKey));
                continue;
            }
            var info = file.Info(fileKey);
            string? problem = !info.ShapeSpan.SequenceEqual(shape) ? $"model {Tensor.Format(shape)}, file {Tensor.Format(info.ShapeSpan)}"
                : !info.DType.IsReadableAsFloat32() ? $"dtype {info.DType} is not a float type"
                : null;
            if (problem is null) continue;
            mismatchedKeys.Add(modelKey);
            mismatched.Add($"{Show(modelKey, fileKey)}: {problem}");
        }
        var missing = want.Keys.Where(k => !fileKeyOf.ContainsKey(k)).ToList();
        if (missing.Count + unexpected.Count + mismatched.Count + collisions.Count == 0) return fileKeyOf;

        var report = new StringBuilder($"checkpoint does not match the model ({missing.Count} missing, {unexpected.Count} unexpected, " +
                                       $"{mismatched.Count} mismatched, {collisions.Count} key collisions; {skipped} file keys skipped by the key map)");
        Section(report, "missing", missing);
        Section(report, "unexpected", unexpected);
        Section(report, "mismatched", mismatched);
        Section(report, "key collisions", collisions);
        throw new StateDictMismatchException(file.Path, report.ToString(), missing, unexpectedKeys, mismatchedKeys);
    }

    private static string Show(string modelKey, string fileKey) => modelKey == fileKey ? modelKey : $"{modelKey} (file key {fileKey})";

    private static void Section(StringBuilder sb, string title, List<string> items)
    {
        if (items.Count == 0) return;
        sb.Append($"\n  {title}:");
        foreach (var item in items) sb.Append($"\n    {item}");
    }
}
