using Boost.Kernels;
using Boost.Models;
using Boost.Models.Vae;
using Boost.Train.Data;
using Boost.Train.Pipeline;

namespace Boost.Tests.Train;

/// <summary>train-ae's decoder-only fine-tune: the latent space must not move, or every UNet trained on it is void.</summary>
public class AeTrainerTests
{
    [Test]
    public void DecoderOnly_MovesTheDecoder_AndLeavesTheEncoderAndScaleExactlyAsInit()
    {
        string root = PipelineFixtures.TempDir("aedec");
        string init = Path.Combine(root, "init"), output = Path.Combine(root, "out");
        var config = PipelineFixtures.TinyAe;
        using (var start = new AutoencoderKL(config, Device.Cpu, 4))
            WeightsDir.Save(init, start, System.Text.Json.JsonSerializer.Serialize(config, WeightsDir.Json), new Dictionary<string, object?>());
        using var photos = ImageFolder.Load(PipelineFixtures.PhotoFolder("aedecphotos", 2, 24, 5));
        var o = new TrainOptions { RunDir = Path.Combine(root, "run"), Steps = 3, Batch = 1, Lr = 1e-2f, Warmup = 0, ValidateEvery = 0, CheckpointEvery = 100 };
        var shipped = AeTrainer.Train(Device.Cpu, photos, photos, config with { ScalingFactor = 1f }, o,
            new AeOptions { Crop = 16, DecoderOnly = true }, output, TextWriter.Null, "test", init);

        Assert.That(shipped.ScalingFactor, Is.EqualTo(config.ScalingFactor), "the scale is init's");
        using var before = new AutoencoderKL(config, Device.Cpu, 9);
        Checkpoint.Load(before, Path.Combine(init, WeightsDir.ModelFile));
        using var after = new AutoencoderKL(config, Device.Cpu, 9);
        Checkpoint.Load(after, Path.Combine(output, WeightsDir.ModelFile));
        var was = before.NamedParameters().ToDictionary(p => p.key, p => p.param.Value.ToArray());
        int moved = 0, decoderKeys = 0;
        foreach (var (key, p) in after.NamedParameters())
        {
            bool decoder = key.StartsWith("decoder.") || key.StartsWith("post_quant_conv.");
            if (!decoder) Assert.That(p.Value.ToArray(), Is.EqualTo(was[key]), $"{key} must be init's");
            else { decoderKeys++; if (!p.Value.ToArray().SequenceEqual(was[key])) moved++; }
        }
        Assert.That(decoderKeys, Is.GreaterThan(10));
        Assert.That(moved, Is.GreaterThan(decoderKeys / 2), "the decoder trains");

        Assert.That(() => AeTrainer.Train(Device.Cpu, photos, photos, config, o with { RunDir = Path.Combine(root, "run2") },
            new AeOptions { Crop = 16, DecoderOnly = true }, output, TextWriter.Null, "test", null), Throws.ArgumentException);
        Assert.That(() => AeTrainer.Train(Device.Cpu, photos, photos, config with { LatentChannels = 8 }, o with { RunDir = Path.Combine(root, "run3") },
            new AeOptions { Crop = 16, DecoderOnly = true }, output, TextWriter.Null, "test", init),
            Throws.ArgumentException.With.Message.Contains("differs"));
    }
}
