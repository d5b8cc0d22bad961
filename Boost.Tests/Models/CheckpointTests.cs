using System.Text.RegularExpressions;
using Boost.Kernels;
using Boost.Models;
using Boost.Models.SafeTensors;
using Boost.Models.UNet;
using Boost.Models.Vae;

namespace Boost.Tests.Models;

public class CheckpointTests
{
    private static readonly AutoencoderKLConfig Small = new() { BlockOutChannels = [32, 64, 64], LayersPerBlock = 1, NormNumGroups = 32 };
    private string _dir = "";

    [SetUp] public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "boost-ckpt-" + Guid.NewGuid().ToString("N")));
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void UNet_RoundTrip_IsBitExact_AndKeysAreGuidedDiffusions()
    {
        var config = new UNetConfig { ModelChannels = 32, ChannelMult = [1, 2], NumResBlocks = 1, AttentionResolutions = [2] };
        using var a = new UNetModel(config, Device.Cpu, seed: 1);
        using var b = new UNetModel(config, Device.Cpu, seed: 2);
        string path = Path.Combine(_dir, "unet.safetensors");
        Checkpoint.Save(a, path);
        Checkpoint.Load(b, path);
        foreach (var ((ka, pa), (kb, pb)) in a.NamedParameters().Zip(b.NamedParameters()))
            Assert.That(pb.Value.ToArray(), Is.EqualTo(pa.Value.ToArray()), ka);
        using var file = SafeTensorsFile.Read(path);
        Assert.That(file.Names, Does.Contain("input_blocks.1.0.in_layers.0.weight").And.Contain("middle_block.1.qkv.weight"));
    }

    /// <summary>A synthetic SD-layout VAE (small widths) written under the original latent-diffusion names, inside a
    /// full-checkpoint prefix with other models' keys beside it, loads strictly into our diffusers-named model.</summary>
    [Test]
    public void StableDiffusionVae_LoadsFromBothNamingSchemes()
    {
        using var source = new AutoencoderKL(Small, Device.Cpu, seed: 3);
        int blocks = Small.BlockOutChannels.Length;
        var diffusers = source.NamedParameters().Select(p => (p.key, p.param.Value.Shape, p.param.Value.ToArray())).ToList();
        var ldm = diffusers.Select(t => ("first_stage_model." + ToLdm(t.key, blocks), LdmShape(t.key, t.Shape), t.Item3)).ToList();
        ldm.Add(("model.diffusion_model.input_blocks.0.0.weight", new[] { 2, 2 }, new float[4]));
        string pd = Path.Combine(_dir, "diffusers.safetensors"), pl = Path.Combine(_dir, "ldm.safetensors");
        SafeTensorsFile.Write(pd, diffusers);
        SafeTensorsFile.Write(pl, ldm, dtype: SafeTensorsDType.F16);
        using var fromDiffusers = new AutoencoderKL(Small, Device.Cpu, seed: 4);
        using var fromLdm = new AutoencoderKL(Small, Device.Cpu, seed: 5);
        Checkpoint.Load(fromDiffusers, pd);
        Checkpoint.Load(fromLdm, pl, VaeKeys.Map(blocks));
        foreach (var ((key, p), (_, q), (_, r)) in source.NamedParameters().Zip(fromDiffusers.NamedParameters(), fromLdm.NamedParameters()))
        {
            Assert.That(q.Value.ToArray(), Is.EqualTo(p.Value.ToArray()), key);
            Assert.That(r.Value.ToArray(), Is.EqualTo(p.Value.ToArray().Select(v => (float)(Half)v)), key + " (ldm, f16)");
        }
        Assert.That(VaeKeys.ToDiffusers("first_stage_model.decoder.up.2.block.0.norm1.weight", blocks), Is.EqualTo("decoder.up_blocks.0.resnets.0.norm1.weight"));
    }

    [Test]
    public void Load_ReportsMissingUnexpectedAndMismatchedKeys_AndChangesNothing()
    {
        using var vae = new AutoencoderKL(Small, Device.Cpu, seed: 6);
        var entries = vae.NamedParameters().Select(p => (p.key, p.param.Value.Shape, p.param.Value.ToArray())).ToList();
        entries.RemoveAll(e => e.key == "decoder.conv_out.bias");
        entries.Add(("decoder.extra.weight", [3], new float[3]));
        int i = entries.FindIndex(e => e.key == "encoder.conv_in.bias");
        entries[i] = (entries[i].key, [entries[i].Item2[0] + 1], new float[entries[i].Item2[0] + 1]);
        string path = Path.Combine(_dir, "bad.safetensors");
        SafeTensorsFile.Write(path, entries);
        using var target = new AutoencoderKL(Small, Device.Cpu, seed: 7);
        var before = target.NamedParameters().First().param.Value.ToArray();
        var e = Assert.Throws<StateDictMismatchException>(() => Checkpoint.Load(target, path))!;
        Assert.That(e.Missing, Does.Contain("decoder.conv_out.bias"));
        Assert.That(e.Unexpected, Does.Contain("decoder.extra.weight"));
        Assert.That(e.Mismatched, Does.Contain("encoder.conv_in.bias"));
        Assert.That(e.Message, Does.Contain("bad.safetensors"));
        Assert.That(target.NamedParameters().First().param.Value.ToArray(), Is.EqualTo(before), "a failed load changed the weights");
    }

    /// <summary>diffusers → latent-diffusion names: the inverse of <see cref="VaeKeys"/>, written independently.</summary>
    private static string ToLdm(string key, int blocks)
    {
        key = Regex.Replace(key, @"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.", m => $"encoder.down.{m.Groups[1]}.block.{m.Groups[2]}.");
        key = Regex.Replace(key, @"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", m => $"encoder.down.{m.Groups[1]}.downsample.");
        key = Regex.Replace(key, @"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.", m => $"decoder.up.{blocks - 1 - int.Parse(m.Groups[1].Value)}.block.{m.Groups[2]}.");
        key = Regex.Replace(key, @"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.", m => $"decoder.up.{blocks - 1 - int.Parse(m.Groups[1].Value)}.upsample.");
        key = Regex.Replace(key, @"mid_block\.resnets\.(\d)\.", m => $"mid.block_{int.Parse(m.Groups[1].Value) + 1}.");
        key = key.Replace("mid_block.attentions.0.group_norm.", "mid.attn_1.norm.").Replace("mid_block.attentions.0.to_q.", "mid.attn_1.q.")
                 .Replace("mid_block.attentions.0.to_k.", "mid.attn_1.k.").Replace("mid_block.attentions.0.to_v.", "mid.attn_1.v.")
                 .Replace("mid_block.attentions.0.to_out.0.", "mid.attn_1.proj_out.").Replace("conv_shortcut", "nin_shortcut")
                 .Replace("conv_norm_out", "norm_out");
        return key;
    }

    /// <summary>latent-diffusion stores the mid-block attention projections as 1×1 convs.</summary>
    private static int[] LdmShape(string key, int[] shape)
        => key.Contains("attentions.0.to_") && key.EndsWith(".weight") ? [.. shape, 1, 1] : shape;
}
