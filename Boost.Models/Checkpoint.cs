using Boost.Kernels;
using Boost.Models.SafeTensors;

namespace Boost.Models;

/// <summary>Module weights ⇄ safetensors files, by checkpoint key, strictly.</summary>
public static class Checkpoint
{
    /// <summary>Writes every parameter under its key (atomically: temp file + rename).</summary>
    public static void Save(Module module, string path, IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsDType dtype = SafeTensorsDType.F32)
        => SafeTensorsFile.Write(path, module.NamedParameters().Select(p => (p.key, p.param.Value.Shape, p.param.Value.ToArray())), metadata, dtype);

    /// <summary>
    /// Loads every parameter of <paramref name="module"/> from <paramref name="path"/>: all missing, unexpected and
    /// mismatched keys are reported together, NaN/Inf rejected, and nothing is changed unless everything loads.
    /// A file tensor whose shape is the model's plus trailing 1s (conv 1×1 weights [C, C, 1, 1] for a linear [C, C])
    /// is accepted.
    /// </summary>
    /// <param name="mapKey">File key → model key (null skips the file key); identity when null.</param>
    public static void Load(Module module, string path, Func<string, string?>? mapKey = null)
    {
        using var file = SafeTensorsFile.Read(path);
        var fileKeyOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in file.Names)
            if ((mapKey is null ? name : mapKey(name)) is { } modelKey) fileKeyOf.TryAdd(modelKey, name);
        var parameters = module.NamedParameters().ToList();
        var expected = parameters.Select(p =>
        {
            int[] shape = p.param.Value.Shape;
            if (fileKeyOf.TryGetValue(p.key, out var fk) && TrailingOnes(file.Info(fk).Shape, shape)) shape = file.Info(fk).Shape;
            return (p.key, shape);
        }).ToList();
        var data = StateDict.ReadStrict(file, expected, mapKey);
        foreach (var (key, param) in parameters) param.Value.CopyFrom(data[key]);
    }

    private static bool TrailingOnes(int[] fileShape, int[] modelShape)
        => fileShape.Length > modelShape.Length && fileShape.AsSpan(0, modelShape.Length).SequenceEqual(modelShape)
           && fileShape.Skip(modelShape.Length).All(d => d == 1);
}
