using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Boost.Kernels;
using Boost.Models;
using Boost.Models.SafeTensors;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Pipeline;
using Boost.Tests.Support;

namespace Boost.Tests.Train;

/// <summary>
/// Mutated weight folders (model.safetensors and config.json of a tiny CFM UNet and autoencoder) through the loading
/// path the CLI uses, <see cref="Upsampler.Load"/>: only the documented exceptions (InvalidDataException, IOException
/// incl. SafeTensorsException) with a message naming the file, and every load that succeeds gives bit-identical
/// tensors — a change to tensor bytes, dtype or shape is always caught.
/// </summary>
public class WeightsFolderFuzzTests
{
    private string _root = null!;
    private byte[] _aeModel = null!, _aeConfig = null!, _cfmModel = null!, _cfmConfig = null!;
    private Dictionary<string, float[]> _unetWeights = null!, _aeWeights = null!;

    private static readonly AutoencoderKLConfig TinyAe = new() { BlockOutChannels = [8, 16], LayersPerBlock = 1, NormNumGroups = 4, LatentChannels = 4 };
    private static readonly CfmConfig TinyCfm = new()
    {
        UNet = new UNetConfig { ModelChannels = 8, ChannelMult = [1, 2], NumResBlocks = 1, AttentionResolutions = [2], NormGroups = 4 },
    };

    [OneTimeSetUp]
    public void MakeFixture()
    {
        _root = Path.Combine(Path.GetTempPath(), "boost-weights-fuzz-" + Guid.NewGuid().ToString("N"));
        string ae = Path.Combine(_root, "base-ae"), cfm = Path.Combine(_root, "base-cfm");
        using (var model = new AutoencoderKL(TinyAe, Device.Cpu, seed: 3))
        {
            WeightsDir.Save(ae, model, System.Text.Json.JsonSerializer.Serialize(TinyAe, WeightsDir.Json), new Dictionary<string, object?>());
        }
        using (var unet = new UNetModel(TinyCfm.UNet, Device.Cpu, seed: 5))
        {
            foreach (var (_, p) in unet.NamedParameters()) p.Value.CopyFrom(Seeded.Floats((int)p.Value.Length, p.Value.Length));
            WeightsDir.Save(cfm, unet, TinyCfm.ToJson(), new Dictionary<string, object?>());
        }
        _aeModel = File.ReadAllBytes(Path.Combine(ae, WeightsDir.ModelFile));
        _aeConfig = File.ReadAllBytes(Path.Combine(ae, WeightsDir.ConfigFile));
        _cfmModel = File.ReadAllBytes(Path.Combine(cfm, WeightsDir.ModelFile));
        _cfmConfig = File.ReadAllBytes(Path.Combine(cfm, WeightsDir.ConfigFile));
        var up = Upsampler.Load(cfm, ae, Device.Cpu);
        _unetWeights = up.UNet.NamedParameters().ToDictionary(p => p.key, p => p.param.Value.ToArray());
        _aeWeights = up.Autoencoder.NamedParameters().ToDictionary(p => p.key, p => p.param.Value.ToArray());
    }

    [OneTimeTearDown]
    public void RemoveFixture()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    [Test]
    public void Fuzz_Seeded_Slice() => Fuzz(seed: 1, iterations: 400);

    [Test, Explicit("the full fuzz run (~2,400 folders, a minute or more on 2 cores); CI runs Fuzz_Seeded_Slice")]
    public void Fuzz_Full([Values(2, 3, 4)] int seed) => Fuzz(seed, iterations: 800);

    private void Fuzz(int seed, int iterations)
    {
        var rng = new Random(seed);
        var outcomes = new Dictionary<string, int>();
        for (int iter = 0; iter < iterations; iter++)
        {
            string dir = Path.Combine(_root, $"s{seed}-{iter}"), ae = Path.Combine(dir, "ae"), cfm = Path.Combine(dir, "cfm");
            Directory.CreateDirectory(ae);
            Directory.CreateDirectory(cfm);
            byte[] aeModel = _aeModel, aeConfig = _aeConfig, cfmModel = _cfmModel, cfmConfig = _cfmConfig;
            bool onAe = rng.Next(2) == 0;
            int op = rng.Next(8);
            string what;
            if (op < 5)
            {
                ref byte[] target = ref onAe ? ref aeModel : ref cfmModel;
                (target, what) = MutateModel(target, op, rng);
            }
            else
            {
                ref byte[] target = ref onAe ? ref aeConfig : ref cfmConfig;
                (target, what) = MutateConfig(target, rng);
            }
            what = (onAe ? "ae " : "cfm ") + what;
            File.WriteAllBytes(Path.Combine(ae, WeightsDir.ModelFile), aeModel);
            File.WriteAllBytes(Path.Combine(ae, WeightsDir.ConfigFile), aeConfig);
            File.WriteAllBytes(Path.Combine(cfm, WeightsDir.ModelFile), cfmModel);
            File.WriteAllBytes(Path.Combine(cfm, WeightsDir.ConfigFile), cfmConfig);

            string outcome;
            try
            {
                var up = Upsampler.Load(cfm, ae, Device.Cpu);
                Same(up.UNet, _unetWeights, iter, what);
                Same(up.Autoencoder, _aeWeights, iter, what);
                up.UNet.Dispose(); up.Autoencoder.Dispose();
                outcome = "loaded identical";
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                string first = e.Message.Split('\n')[0];
                Assert.That(first, Does.Contain(dir), $"iteration {iter} ({what}): the message must name the file: {e.Message}");
                if (e is not StateDictMismatchException)
                    Assert.That(e.Message, Does.Not.Contain("\n"), $"iteration {iter} ({what}): one line");
                outcome = e.GetType().Name;
            }
            catch (Exception e) when (e is not AssertionException)
            {
                Assert.Fail($"iteration {iter} ({what}) threw {e.GetType().Name}: {e.Message}");
                throw;
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            Directory.Delete(dir, recursive: true);
        }
        TestContext.Out.WriteLine($"seed {seed}, {iterations} folders: " + string.Join(", ", outcomes.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.That(outcomes.GetValueOrDefault("SafeTensorsException"), Is.GreaterThan(iterations / 10), "tensor mutations are rejected");
        Assert.That(outcomes.GetValueOrDefault("InvalidDataException"), Is.GreaterThan(iterations / 20), "config mutations are rejected");
    }

    private static void Same(Module model, Dictionary<string, float[]> expected, int iter, string what)
    {
        foreach (var (key, p) in model.NamedParameters())
            Assert.That(p.Value.ToArray().Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected[key].Select(BitConverter.SingleToInt32Bits)),
                $"iteration {iter} ({what}): '{key}' loaded with changed values (a silent changed picture)");
    }

    /// <summary>op 0: data byte flip; 1: any byte flip; 2: truncation; 3: header number edit; 4: dtype relabel or shape permutation.</summary>
    private static (byte[], string) MutateModel(byte[] file, int op, Random rng)
    {
        var bytes = (byte[])file.Clone();
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        switch (op)
        {
            case 0: { int at = 8 + n + rng.Next(bytes.Length - 8 - n); bytes[at] ^= (byte)(1 << rng.Next(8)); return (bytes, $"data bit flip at {at}"); }
            case 1: { int at = rng.Next(bytes.Length); bytes[at] = (byte)rng.Next(256); return (bytes, $"byte set at {at}"); }
            case 2: { int to = rng.Next(bytes.Length); return (bytes[..to], $"truncated to {to}"); }
        }
        string header = Encoding.UTF8.GetString(bytes, 8, n).TrimEnd(' ');
        byte[] data = bytes[(8 + n)..];
        string edited, what;
        if (op == 3)
        {
            var numbers = Regex.Matches(header, "[0-9]+");
            var hit = numbers[rng.Next(numbers.Count)];
            string[] awkward = ["0", "1", "2", "3", "4", "8", "-1", "1.5", "65536", "3200000", "2147483648", "1e3", "null", "\"\""];
            string value = rng.Next(3) == 0 ? awkward[rng.Next(awkward.Length)] : (long.Parse(hit.Value) + rng.Next(-2, 3)).ToString();
            edited = header[..hit.Index] + value + header[(hit.Index + hit.Length)..];
            what = $"header number {hit.Value} → {value}";
        }
        else if (rng.Next(2) == 0)
        {
            var dtypes = Regex.Matches(header, "\"dtype\":\"(F16|BF16)\"");
            var hit = dtypes[rng.Next(dtypes.Count)];
            string to = hit.Value.Contains("BF16") ? "\"dtype\":\"F16\"" : "\"dtype\":\"BF16\"";
            edited = header[..hit.Index] + to + header[(hit.Index + hit.Length)..];
            what = $"dtype relabel at {hit.Index}";
        }
        else
        {
            var shapes = Regex.Matches(header, "\"shape\":\\[([0-9,]+)\\]").Where(m => m.Groups[1].Value.Contains(',')).ToList();
            var hit = shapes[rng.Next(shapes.Count)];
            var dims = hit.Groups[1].Value.Split(',').Reverse();
            edited = header[..hit.Index] + $"\"shape\":[{string.Join(",", dims)}]" + header[(hit.Index + hit.Length)..];
            what = $"shape reversed at {hit.Index}";
        }
        var h = Encoding.UTF8.GetBytes(edited);
        int padded = (h.Length + 7) / 8 * 8;
        var result = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)padded);
        h.CopyTo(result, 8);
        result.AsSpan(8 + h.Length, padded - h.Length).Fill((byte)' ');
        data.CopyTo(result, 8 + padded);
        return (result, what);
    }

    /// <summary>One field of config.json (top level or nested) set to zero, negative, huge, non-integer, a string,
    /// null, an odd array, or removed.</summary>
    private static (byte[], string) MutateConfig(byte[] file, Random rng)
    {
        var root = JsonNode.Parse(file)!.AsObject();
        var fields = new List<(JsonObject Owner, string Name)>();
        foreach (var kv in root)
        {
            fields.Add((root, kv.Key));
            if (kv.Value is JsonObject inner) foreach (var ikv in inner) fields.Add((inner, ikv.Key));
        }
        var (owner, name) = fields[rng.Next(fields.Count)];
        JsonNode?[] values =
        [
            0, -1, -7, 1, 3, 2_147_483_647, 65_537, 3_200_000, 1.5, 1e30, "x", null, new JsonArray(), new JsonArray(0), new JsonArray(3_200_000, 64),
            new JsonArray(60_000, 60_000, 60_000), new JsonArray(1, 2, 2, 2, 2, 2, 2, 2, 2), new JsonArray(-1), new JsonArray(1.5), true,
        ];
        int pick = rng.Next(values.Length + 1);
        if (pick == values.Length) { owner.Remove(name); return (Encoding.UTF8.GetBytes(root.ToJsonString()), $"config '{name}' removed"); }
        var value = values[pick]?.DeepClone();
        owner[name] = value;
        return (Encoding.UTF8.GetBytes(root.ToJsonString()), $"config '{name}' = {value?.ToJsonString() ?? "null"}");
    }
}
