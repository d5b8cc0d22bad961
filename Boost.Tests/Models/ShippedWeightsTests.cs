using Boost.Models.SafeTensors;

namespace Boost.Tests.Models;

/// <summary>The shipped weights carry a checksum per tensor, and re-writing them keeps every tensor's bytes.</summary>
public class ShippedWeightsTests
{
    private static readonly string[] Folders = ["ae", "cfm", "regression"];

    private static string WeightsDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "weights", "cfm", "model.safetensors"))) return Path.Combine(d.FullName, "weights");
        Assert.Ignore("weights/ not found above the test binaries");
        return null!;
    }

    [Test]
    public void ShippedWeights_HaveChecksums_ThatVerify()
    {
        foreach (string folder in Folders)
        {
            using var f = SafeTensorsFile.Read(Path.Combine(WeightsDir(), folder, "model.safetensors"));
            Assert.That(f.Names.All(n => f.Info(n).HasChecksum), $"{folder}: every tensor has a checksum");
            foreach (string name in f.Names) Assert.That(f.ReadBytes(name), Has.Length.EqualTo(f.Info(name).ByteLength));
        }
    }

    /// <summary>
    /// The one-off re-write: each model.safetensors is read as float32 and written back as F16 (exact: F16 → F32 → F16
    /// is the identity on every finite value) with its metadata, which adds the checksums; every tensor's bytes are
    /// then compared with the original's.
    /// </summary>
    [Test, Explicit("re-writes weights/*/model.safetensors in place (done once, when checksums were introduced)")]
    public void Rewrite_ShippedWeights_WithChecksums_BytesUnchanged()
    {
        foreach (string folder in Folders)
        {
            string path = Path.Combine(WeightsDir(), folder, "model.safetensors");
            var before = new Dictionary<string, byte[]>();
            var tensors = new List<(string, int[], float[])>();
            Dictionary<string, string> metadata;
            using (var f = SafeTensorsFile.Read(path))
            {
                metadata = f.Metadata.Where(kv => !kv.Key.StartsWith(SafeTensorsChecksum.KeyPrefix)).ToDictionary();
                foreach (string name in f.Names)
                {
                    Assert.That(f.Info(name).DType, Is.EqualTo(SafeTensorsDType.F16), $"{folder}/{name}");
                    before[name] = f.ReadBytes(name);
                    tensors.Add((name, f.Info(name).Shape, f.ReadFloat32(name)));
                }
            }
            SafeTensorsFile.Write(path, tensors, metadata, SafeTensorsDType.F16);
            using var g = SafeTensorsFile.Read(path);
            Assert.That(g.Names.Order(), Is.EqualTo(before.Keys.Order()));
            foreach (string name in g.Names) Assert.That(g.ReadBytes(name), Is.EqualTo(before[name]), $"{folder}/{name} bytes");
            TestContext.Out.WriteLine($"{folder}: {g.Names.Count} tensors re-written, bytes identical, {new FileInfo(path).Length} bytes");
        }
    }
}
