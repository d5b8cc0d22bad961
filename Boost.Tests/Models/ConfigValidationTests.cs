using Boost.Kernels;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Pipeline;

namespace Boost.Tests.Models;

/// <summary>Configs read from disk are bounded before anything is allocated; too-large models are refused with the bytes they need.</summary>
public class ConfigValidationTests
{
    private static string TempConfig(string json)
    {
        string path = Path.Combine(Path.GetTempPath(), $"boost-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    [TestCase("\"norm_num_groups\": 0", "norm_num_groups is 0")]
    [TestCase("\"norm_num_groups\": 3", "norm_num_groups is 3, which does not divide")]
    [TestCase("\"block_out_channels\": [3200000, 64]", "block_out_channels[0] is 3200000")]
    [TestCase("\"block_out_channels\": []", "the number of blocks")]
    [TestCase("\"block_out_channels\": null", "block_out_channels is null")]
    [TestCase("\"layers_per_block\": -1", "layers_per_block is -1")]
    [TestCase("\"latent_channels\": 1.5", "could not be converted")]
    [TestCase("\"scaling_factor\": 0", "scaling_factor is 0")]
    public void AutoencoderConfig_BadField_IsOneLine_NamingFieldAndFile(string field, string fragment)
    {
        string path = TempConfig($$"""{"block_out_channels": [32, 64], "norm_num_groups": 8, {{field}}}""".Replace("[32, 64], \"norm_num_groups\": 8, \"norm_num_groups\"", "[32, 64], \"norm_num_groups\""));
        var e = Assert.Throws<InvalidDataException>(() => AutoencoderKLConfig.Load(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": not a valid AutoencoderKL config"));
        Assert.That(e.Message, Does.Contain(fragment));
        Assert.That(e.Message, Does.Not.Contain("\n"));
        File.Delete(path);
    }

    [TestCase("norm_num_groups", "0", "norm_num_groups is 0")]
    [TestCase("norm_num_groups", "48", "norm_num_groups is 48, which does not divide")]
    [TestCase("model_channels", "-64", "model_channels is -64")]
    [TestCase("channel_mult", "[1, 2, 2, 2, 2, 2, 2, 2, 2]", "the number of levels")]
    [TestCase("num_res_blocks", "1000", "num_res_blocks is 1000")]
    [TestCase("num_heads", "0", "num_heads is 0")]
    [TestCase("num_heads", "3", "num_heads is 3, which does not divide")]
    [TestCase("attention_resolutions", "[3]", "attention_resolutions holds 3")]
    [TestCase("channel_mult", "null", "channel_mult is missing or null")]
    public void CfmConfig_BadUNetField_IsOneLine_NamingFieldAndFile(string field, string value, string fragment)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(new CfmConfig().ToJson())!;
        node["unet"]![field] = System.Text.Json.Nodes.JsonNode.Parse(value);
        var e = Assert.Throws<InvalidDataException>(() => CfmConfig.FromJson(node.ToJsonString(), "w/config.json"))!;
        Assert.That(e.Message, Does.StartWith("w/config.json: not a valid upsampler config"));
        Assert.That(e.Message, Does.Contain(fragment));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void TooLargeModel_IsRefused_WithTheBytesItNeeds()
    {
        var ae = new AutoencoderKLConfig { BlockOutChannels = [65_536, 65_536, 65_536], LayersPerBlock = 16 };
        long parameters = ae.ParameterCount();
        var e = Assert.Throws<ArgumentException>(() => ae.Validate())!;
        Assert.That(e.Message, Does.Contain($"{parameters * 4:N0} bytes"));
        var small = AutoencoderKLConfig.StableDiffusion;
        var e2 = Assert.Throws<ArgumentException>(() => small.Validate(availableBytes: 1_000_000))!;
        Assert.That(e2.Message, Does.Contain("83,653,863 parameters").And.Contain("334,615,452 bytes").And.Contain("1,000,000 bytes"));
        Assert.DoesNotThrow(() => small.Validate(availableBytes: 334_615_452));
    }

    [Test]
    public void ParameterCount_FromConfig_EqualsTheBuiltModels()
    {
        foreach (var c in new[] { UNetConfig.Bench, UNetConfig.Tiny, UNetConfig.Tiny with { UseScaleShiftNorm = true, NumHeadChannels = 16, NumResBlocks = 2 } })
        {
            using var m = new UNetModel(c, Device.Cpu);
            Assert.That(c.ParameterCount(), Is.EqualTo(m.ParameterCount));
        }
        Assert.That(UNetConfig.Paper.ParameterCount(), Is.InRange(250_000_000, 450_000_000));
        foreach (var c in new[] { new AutoencoderKLConfig { BlockOutChannels = [32, 64], LayersPerBlock = 1, NormNumGroups = 8 },
                                  new AutoencoderKLConfig { BlockOutChannels = [16, 32, 32], LayersPerBlock = 2, NormNumGroups = 8, LatentChannels = 3 } })
        {
            using var m = new AutoencoderKL(c, Device.Cpu);
            Assert.That(c.ParameterCount(), Is.EqualTo(m.ParameterCount));
        }
        Assert.That(AutoencoderKLConfig.StableDiffusion.ParameterCount(), Is.EqualTo(83_653_863));
    }
}
