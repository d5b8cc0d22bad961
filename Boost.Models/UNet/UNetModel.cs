using Boost.Autograd;
using Boost.Kernels;
using Boost.Models.Layers;
using Conv2d = Boost.Models.Layers.Conv2d;
using GroupNorm = Boost.Models.Layers.GroupNorm;

namespace Boost.Models.UNet;

/// <summary>
/// The ADM UNet (guided-diffusion <c>UNetModel</c>, no class conditioning), read top to bottom:
/// <c>time_embed → input_blocks → middle_block → output_blocks (with skip concats) → out</c>.
/// Parameter keys are guided-diffusion's, so a state dict moves between this and PyTorch by name.
/// </summary>
public sealed class UNetModel : Module
{
    public UNetConfig Config { get; }
    private readonly Linear _time0, _time2;
    private readonly List<EmbedSequential> _input = new(), _output = new();
    private readonly EmbedSequential _middle;
    private readonly GroupNorm _outNorm;
    private readonly Conv2d _outConv;
    private ulong _seed;
    private ulong _dropoutStream;

    /// <summary>Training mode enables dropout (when the config has any).</summary>
    public bool Training { get; set; }
    public ulong DropoutSeed { get; set; } = 0xD0D0;

    public UNetModel(UNetConfig config, Device device, ulong seed = 0)
    {
        config.Validate();
        ModelMemory.RequireFits("UNet", config.ParameterCount(), device);
        Config = config;
        _seed = seed * 1000003;
        var c = config; var d = device;
        int mc = c.ModelChannels, ted = c.TimeEmbedDim;
        _time0 = new Linear(d, NextSeed(), mc, ted);
        _time2 = new Linear(d, NextSeed(), ted, ted);
        Child("time_embed", new ModuleList([_time0, null, _time2]));

        var chans = new List<int> { mc };
        int ch = mc, ds = 1;
        _input.Add(new EmbedSequential(new Conv2d(d, NextSeed(), c.InChannels, mc, 3)));
        for (int level = 0; level < c.ChannelMult.Length; level++)
        {
            for (int r = 0; r < c.NumResBlocks; r++)
            {
                var blocks = new List<Module> { new ResBlock(this, d, c, ch, c.ChannelMult[level] * mc) };
                ch = c.ChannelMult[level] * mc;
                if (c.AttentionResolutions.Contains(ds)) blocks.Add(new AttentionBlock(this, d, c, ch));
                _input.Add(new EmbedSequential(blocks.ToArray()));
                chans.Add(ch);
            }
            if (level != c.ChannelMult.Length - 1)
            {
                _input.Add(new EmbedSequential(new Downsample(this, d, ch)));
                chans.Add(ch);
                ds *= 2;
            }
        }
        Child("input_blocks", new ModuleList(_input));
        _middle = Child("middle_block", new EmbedSequential(new ResBlock(this, d, c, ch, ch), new AttentionBlock(this, d, c, ch), new ResBlock(this, d, c, ch, ch)));
        for (int level = c.ChannelMult.Length - 1; level >= 0; level--)
        {
            for (int r = 0; r <= c.NumResBlocks; r++)
            {
                int skip = chans[^1]; chans.RemoveAt(chans.Count - 1);
                var blocks = new List<Module> { new ResBlock(this, d, c, ch + skip, mc * c.ChannelMult[level]) };
                ch = mc * c.ChannelMult[level];
                if (c.AttentionResolutions.Contains(ds)) blocks.Add(new AttentionBlock(this, d, c, ch));
                if (level > 0 && r == c.NumResBlocks) { blocks.Add(new Upsample(this, d, ch)); ds /= 2; }
                _output.Add(new EmbedSequential(blocks.ToArray()));
            }
        }
        Child("output_blocks", new ModuleList(_output));
        _outNorm = new GroupNorm(d, c.NormGroups, ch, c.NormEps);
        _outConv = new Conv2d(d, NextSeed(), mc, c.OutChannels, 3, zeroInit: true);
        Child("out", new ModuleList([_outNorm, null, _outConv]));
    }

    internal ulong NextSeed() => ++_seed * 2;

    internal Var Dropout(Var x, float p) => Training && p > 0 ? Ops.Dropout(x, p, DropoutSeed, _dropoutStream++) : x;

    /// <summary>
    /// guided-diffusion's <c>timestep_embedding</c>: [cos(t·f), sin(t·f)] with f_i = exp(−ln(10000)·i/half), cos first.
    /// Computed on the host (t is a handful of numbers) in double.
    /// </summary>
    /// <param name="t">N timesteps</param>
    /// <returns>[N, dim]</returns>
    public static Tensor TimestepEmbedding(Device device, ReadOnlySpan<float> t, int dim)
    {
        int half = dim / 2;
        var e = new float[t.Length * dim];
        for (int n = 0; n < t.Length; n++)
            for (int i = 0; i < half; i++)
            {
                double f = Math.Exp(-Math.Log(10000) * i / half), a = t[n] * f;
                e[n * dim + i] = (float)Math.Cos(a);
                e[n * dim + half + i] = (float)Math.Sin(a);
            }
        return Tensor.FromArray(device, e, t.Length, dim);
    }

    /// <param name="x">[N, in_channels, H, W], H and W divisible by 2^(levels−1)</param>
    /// <param name="t">N timesteps (the CFM trainer passes t·1000 for t ∈ [0, 1])</param>
    /// <returns>[N, out_channels, H, W]</returns>
    public Var Forward(Var x, ReadOnlySpan<float> t)
    {
        int n = x.Dim(0);
        if (x.Value.Rank != 4 || x.Dim(1) != Config.InChannels)
            throw new ArgumentException($"UNet: input must be [N, {Config.InChannels}, H, W], got {x.Value.ShapeString}.");
        if (t.Length != n) throw new ArgumentException($"UNet: {t.Length} timesteps for a batch of {n}.");
        int factor = 1 << (Config.ChannelMult.Length - 1);
        if (x.Dim(2) % factor != 0 || x.Dim(3) % factor != 0)
            throw new ArgumentException($"UNet: H and W must be multiples of {factor}, got {x.Dim(2)}×{x.Dim(3)}.");
        var emb = _time2.Forward(Ops.SiLU(_time0.Forward(Ops.Constant(TimestepEmbedding(x.Device, t, Config.ModelChannels)))));
        var skips = new Stack<Var>();
        var h = x;
        foreach (var block in _input) { h = block.Forward(h, emb); skips.Push(h); }
        h = _middle.Forward(h, emb);
        foreach (var block in _output) h = block.Forward(Ops.Concat(h, skips.Pop()), emb);
        return _outConv.Forward(_outNorm.ForwardSiLU(h));
    }
}
