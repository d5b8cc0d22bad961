using Boost.Kernels;
using Boost.Models.UNet;
using Boost.Models.Vae;

namespace Boost.Tests.Models;

public class ParameterCountTests
{
    /// <summary>docs/unet-bench.md: the reference PyTorch definition's counts, whole and per part.</summary>
    [Test]
    public void BenchUNet_HasExactlyTheReferenceParameterCount()
    {
        using var unet = new UNetModel(UNetConfig.Bench, Device.Cpu);
        long Part(string prefix) => unet.NamedParameters().Where(p => p.key.StartsWith(prefix)).Sum(p => p.param.Value.Length);
        Assert.Multiple(() =>
        {
            Assert.That(Part("time_embed."), Is.EqualTo(82_432), "time MLP");
            Assert.That(Part("input_blocks.0."), Is.EqualTo(4_672), "conv_in");
            Assert.That(Part("input_blocks.") - Part("input_blocks.0."), Is.EqualTo(1_747_008), "encoder e1..e8");
            Assert.That(Part("middle_block."), Is.EqualTo(723_456), "middle");
            Assert.That(Part("output_blocks."), Is.EqualTo(3_915_648), "decoder");
            Assert.That(Part("out."), Is.EqualTo(2_436), "out");
            Assert.That(unet.ParameterCount, Is.EqualTo(6_475_652), "total");
        });
    }

    [Test]
    public void BenchUNet_KeysFollowGuidedDiffusion()
    {
        using var unet = new UNetModel(UNetConfig.Bench, Device.Cpu);
        var keys = unet.NamedParameters().ToDictionary(p => p.key, p => p.param.Value.Shape);
        Assert.That(keys["time_embed.0.weight"], Is.EqualTo(new[] { 256, 64 }));
        Assert.That(keys["input_blocks.0.0.weight"], Is.EqualTo(new[] { 64, 8, 3, 3 }));
        Assert.That(keys["input_blocks.1.0.in_layers.0.weight"], Is.EqualTo(new[] { 64 }));
        Assert.That(keys["input_blocks.1.0.in_layers.2.weight"], Is.EqualTo(new[] { 64, 64, 3, 3 }));
        Assert.That(keys["input_blocks.1.0.emb_layers.1.weight"], Is.EqualTo(new[] { 64, 256 }));
        Assert.That(keys["input_blocks.1.0.out_layers.3.weight"], Is.EqualTo(new[] { 64, 64, 3, 3 }));
        Assert.That(keys["input_blocks.3.0.op.weight"], Is.EqualTo(new[] { 64, 64, 3, 3 }));
        Assert.That(keys["input_blocks.4.0.skip_connection.weight"], Is.EqualTo(new[] { 128, 64, 1, 1 }));
        Assert.That(keys["input_blocks.7.1.qkv.weight"], Is.EqualTo(new[] { 384, 128, 1 }));
        Assert.That(keys["input_blocks.7.1.proj_out.weight"], Is.EqualTo(new[] { 128, 128, 1 }));
        Assert.That(keys["middle_block.1.norm.weight"], Is.EqualTo(new[] { 128 }));
        Assert.That(keys["output_blocks.2.2.conv.weight"], Is.EqualTo(new[] { 128, 128, 3, 3 }));
        Assert.That(keys["output_blocks.5.1.conv.weight"], Is.EqualTo(new[] { 128, 128, 3, 3 }));
        Assert.That(keys["out.2.weight"], Is.EqualTo(new[] { 4, 64, 3, 3 }));
    }

    [Test]
    public void PaperUNet_ParameterCountIsPrinted()
    {
        using var unet = new UNetModel(UNetConfig.Paper, Device.Cpu);
        TestContext.Out.WriteLine($"paper UNet: {unet.ParameterCount:N0} parameters");
        Assert.That(unet.ParameterCount, Is.InRange(250_000_000, 450_000_000));
    }

    [Test]
    public void StableDiffusionVae_HasExactlyTheReferenceParameterCounts()
    {
        using var vae = new AutoencoderKL(AutoencoderKLConfig.StableDiffusion, Device.Cpu);
        Assert.Multiple(() =>
        {
            Assert.That(vae.Encoder.ParameterCount, Is.EqualTo(34_163_592), "encoder");
            Assert.That(vae.Decoder.ParameterCount, Is.EqualTo(49_490_179), "decoder");
            Assert.That(vae.ParameterCount, Is.EqualTo(83_653_863), "total");
        });
        var keys = vae.NamedParameters().Select(p => p.key).ToHashSet();
        Assert.That(keys, Does.Contain("decoder.up_blocks.0.resnets.0.norm1.weight"));
        Assert.That(keys, Does.Contain("encoder.down_blocks.0.downsamplers.0.conv.weight"));
        Assert.That(keys, Does.Contain("encoder.mid_block.attentions.0.to_out.0.weight"));
        Assert.That(keys, Does.Contain("decoder.up_blocks.2.resnets.0.conv_shortcut.weight"));
    }
}
