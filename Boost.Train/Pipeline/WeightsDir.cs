using System.Text.Json;
using Boost.Models;
using Boost.Models.IO;
using Boost.Models.SafeTensors;

namespace Boost.Train.Pipeline;

/// <summary>
/// A shipped model folder: <c>config.json</c>, <c>model.safetensors</c> (float16, the model's checkpoint keys) and
/// <c>record.json</c> (how it was made and what it measured). Each file is written atomically; saving
/// first removes temporary files a killed save left there.
/// </summary>
public static class WeightsDir
{
    public const string ConfigFile = "config.json", ModelFile = "model.safetensors", RecordFile = "record.json";
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static void Save(string dir, Module model, string configJson, IReadOnlyDictionary<string, object?> record)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.RemoveStale(dir);
        Checkpoint.Save(model, Path.Combine(dir, ModelFile), new Dictionary<string, string> { ["format"] = "pt", ["config"] = configJson }, SafeTensorsDType.F16);
        WriteAtomic(Path.Combine(dir, ConfigFile), configJson);
        WriteAtomic(Path.Combine(dir, RecordFile), JsonSerializer.Serialize(record, Json));
    }

    /// <summary><paramref name="text"/> as UTF-8, atomically (<see cref="AtomicFile"/>).</summary>
    public static void WriteAtomic(string path, string text) => AtomicFile.WriteAllText(path, text);

    /// <summary>Reads <c>config.json</c> of a weights folder, with a clear error when the folder is not one.</summary>
    public static string ReadConfig(string dir)
    {
        string path = Path.Combine(dir, ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{dir} is not a weights folder: it has no {ConfigFile}.", path);
        if (!File.Exists(Path.Combine(dir, ModelFile))) throw new FileNotFoundException($"{dir} is not a weights folder: it has no {ModelFile}.");
        return File.ReadAllText(path);
    }
}
