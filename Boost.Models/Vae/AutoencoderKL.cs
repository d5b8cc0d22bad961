using Boost.Autograd;
using Boost.Kernels;
using Boost.Models.Layers;
using Conv2d = Boost.Models.Layers.Conv2d;
using GroupNorm = Boost.Models.Layers.GroupNorm;

namespace Boost.Models.Vae;

/// <summary>diffusers Encoder: conv_in → down_blocks → mid_block → conv_norm_out → SiLU → conv_out (2·latent channels).</summary>
public sealed class VaeEncoder : Module
{
    private readonly Conv2d _convIn, _convOut;
    private readonly List<VaeBlock> _down = new();
    private readonly VaeMidBlock _mid;
    private readonly GroupNorm _normOut;

    public VaeEncoder(Device d, Func<ulong> seed, AutoencoderKLConfig c)
    {
        var ch = c.BlockOutChannels; int g = c.NormNumGroups;
        _convIn = Child("conv_in", new Conv2d(d, seed(), c.InChannels, ch[0], 3));
        for (int i = 0; i < ch.Length; i++)
            _down.Add(new VaeBlock(d, seed, i == 0 ? ch[0] : ch[i - 1], ch[i], c.LayersPerBlock, g, down: i < ch.Length - 1, up: false));
        Child("down_blocks", new ModuleList(_down));
        _mid = Child("mid_block", new VaeMidBlock(d, seed, ch[^1], g));
        _normOut = Child("conv_norm_out", new GroupNorm(d, g, ch[^1], 1e-6f));
        _convOut = Child("conv_out", new Conv2d(d, seed(), ch[^1], 2 * c.LatentChannels, 3));
    }

    /// <param name="x">[N, 3, H, W] in [−1, 1]</param>
    /// <returns>[N, 2·latent, H/f, W/f] (mean and log-variance)</returns>
    public Var Forward(Var x)
    {
        var h = _convIn.Forward(x);
        foreach (var b in _down) h = b.Forward(h);
        return _convOut.Forward(_normOut.ForwardSiLU(_mid.Forward(h)));
    }
}

/// <summary>diffusers Decoder: conv_in → mid_block → up_blocks → conv_norm_out → SiLU → conv_out.</summary>
public sealed class VaeDecoder : Module
{
    private readonly Conv2d _convIn, _convOut;
    private readonly List<VaeBlock> _up = new();
    private readonly VaeMidBlock _mid;
    private readonly GroupNorm _normOut;

    public VaeDecoder(Device d, Func<ulong> seed, AutoencoderKLConfig c)
    {
        var rev = c.BlockOutChannels.Reverse().ToArray(); int g = c.NormNumGroups;
        _convIn = Child("conv_in", new Conv2d(d, seed(), c.LatentChannels, rev[0], 3));
        _mid = Child("mid_block", new VaeMidBlock(d, seed, rev[0], g));
        for (int i = 0; i < rev.Length; i++)
            _up.Add(new VaeBlock(d, seed, i == 0 ? rev[0] : rev[i - 1], rev[i], c.LayersPerBlock + 1, g, down: false, up: i < rev.Length - 1));
        Child("up_blocks", new ModuleList(_up));
        _normOut = Child("conv_norm_out", new GroupNorm(d, g, rev[^1], 1e-6f));
        _convOut = Child("conv_out", new Conv2d(d, seed(), rev[^1], c.OutChannels, 3));
    }

    /// <param name="z">[N, latent, h, w] (unscaled)</param>
    /// <returns>[N, 3, h·f, w·f]</returns>
    public Var Forward(Var z)
    {
        var h = _mid.Forward(_convIn.Forward(z));
        foreach (var b in _up) h = b.Forward(h);
        return _convOut.Forward(_normOut.ForwardSiLU(h));
    }
}

/// <summary>
/// diffusers AutoencoderKL: encoder → quant_conv → diagonal Gaussian posterior; post_quant_conv → decoder.
/// Keys are diffusers' (<c>decoder.up_blocks.0.resnets.0.norm1.weight</c>); <see cref="VaeKeys"/> maps the original
/// latent-diffusion names onto them.
/// </summary>
public sealed class AutoencoderKL : Module
{
    public AutoencoderKLConfig Config { get; }
    public VaeEncoder Encoder { get; }
    public VaeDecoder Decoder { get; }
    private readonly Conv2d _quant, _postQuant;
    private ulong _seed;

    public AutoencoderKL(AutoencoderKLConfig config, Device device, ulong seed = 0)
    {
        config.Validate();
        ModelMemory.RequireFits("AutoencoderKL", config.ParameterCount(), device);
        Config = config;
        _seed = seed * 7919;
        Func<ulong> next = () => ++_seed * 2;
        Encoder = Child("encoder", new VaeEncoder(device, next, config));
        Decoder = Child("decoder", new VaeDecoder(device, next, config));
        _quant = Child("quant_conv", new Conv2d(device, next(), 2 * config.LatentChannels, 2 * config.LatentChannels, 1));
        _postQuant = Child("post_quant_conv", new Conv2d(device, next(), config.LatentChannels, config.LatentChannels, 1));
    }

    /// <summary>The posterior's moments: mean and log-variance (clamped to [−30, 20] as diffusers does).</summary>
    /// <param name="x">[N, 3, H, W] in [−1, 1]</param>
    /// <returns>mean, logvar: [N, latent, H/f, W/f] each</returns>
    public (Var mean, Var logvar) Encode(Var x)
    {
        int lc = Config.LatentChannels;
        var moments = _quant.Forward(Encoder.Forward(x));
        return (Ops.Slice(moments, 0, lc), Ops.Clamp(Ops.Slice(moments, lc, lc), -30f, 20f));
    }

    /// <summary>A posterior sample mean + exp(logvar/2)·ε with ε from the counter-based RNG.</summary>
    public static Var Sample(Var mean, Var logvar, ulong seed, ulong stream)
    {
        var eps = Ops.Constant(Rng.Normal(mean.Device, seed, stream, mean.Shape)); // the tape owns ε: Mul's backward reads it
        var std = Ops.Exp(Ops.Affine(logvar, 0.5f));
        return Ops.Add(mean, Ops.Mul(std, eps));
    }

    /// <param name="z">[N, latent, h, w] unscaled (divide a diffusion latent by the scaling factor first)</param>
    public Var Decode(Var z) => Decoder.Forward(_postQuant.Forward(z));

    /// <summary>post_quant_conv.* and decoder.* as one module with the full model's keys, for training the decoder
    /// alone on a fixed latent space. It does not own them: disposing it frees nothing.</summary>
    public Module DecoderPart() => new View(("post_quant_conv", _postQuant), ("decoder", Decoder));

    private sealed class View : Module
    {
        public View(params (string name, Module module)[] children)
        {
            foreach (var (name, module) in children) Child(name, module);
        }

        public override void Dispose() { }
    }
}
