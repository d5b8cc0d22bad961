using Boost.Autograd;
using Boost.Kernels;
using Boost.Models.Layers;
using Conv2d = Boost.Models.Layers.Conv2d;
using GroupNorm = Boost.Models.Layers.GroupNorm;

namespace Boost.Models.Vae;

/// <summary>diffusers ResnetBlock2D (no time embedding): keys norm1, conv1, norm2, conv2, conv_shortcut.</summary>
public sealed class ResnetBlock2D : Module
{
    private readonly GroupNorm _norm1, _norm2;
    private readonly Conv2d _conv1, _conv2;
    private readonly Conv2d? _shortcut;

    public ResnetBlock2D(Device d, Func<ulong> seed, int cin, int cout, int groups)
    {
        _norm1 = Child("norm1", new GroupNorm(d, groups, cin, 1e-6f));
        _conv1 = Child("conv1", new Conv2d(d, seed(), cin, cout, 3));
        _norm2 = Child("norm2", new GroupNorm(d, groups, cout, 1e-6f));
        _conv2 = Child("conv2", new Conv2d(d, seed(), cout, cout, 3));
        if (cin != cout) _shortcut = Child("conv_shortcut", new Conv2d(d, seed(), cin, cout, 1));
    }

    /// <param name="x">[N, Cin, H, W]</param>
    public Var Forward(Var x)
    {
        var h = _conv1.Forward(_norm1.ForwardSiLU(x));
        // shortcut(x) + conv2(h), added in conv2's store.
        return _conv2.Forward(_norm2.ForwardSiLU(h), null, _shortcut is null ? x : _shortcut.Forward(x));
    }
}

/// <summary>diffusers Attention in the VAE's mid block (one head): keys group_norm, to_q, to_k, to_v, to_out.0.</summary>
public sealed class VaeAttention : Module
{
    private readonly GroupNorm _norm;
    private readonly Linear _q, _k, _v, _out;
    private readonly int _c;

    public VaeAttention(Device d, Func<ulong> seed, int channels, int groups)
    {
        _c = channels;
        _norm = Child("group_norm", new GroupNorm(d, groups, channels, 1e-6f));
        _q = Child("to_q", new Linear(d, seed(), channels, channels));
        _k = Child("to_k", new Linear(d, seed(), channels, channels));
        _v = Child("to_v", new Linear(d, seed(), channels, channels));
        _out = new Linear(d, seed(), channels, channels);
        Child("to_out", new ModuleList([_out]));
    }

    /// <param name="x">[N, C, H, W]</param>
    public Var Forward(Var x)
    {
        int n = x.Dim(0), h = x.Dim(2), w = x.Dim(3), t = h * w;
        var tokens = Ops.Reshape(Ops.TransposeLastTwo(Ops.Reshape(_norm.Forward(x), n, _c, t)), n * t, _c); // [N·T, C]
        Var Head(Linear l) => Ops.Reshape(l.Forward(tokens), n, 1, t, _c);
        var a = Ops.Attention(Head(_q), Head(_k), Head(_v), 1f / MathF.Sqrt(_c));                    // [N, 1, T, C]
        var o = _out.Forward(Ops.Reshape(a, n * t, _c));
        var back = Ops.Reshape(Ops.TransposeLastTwo(Ops.Reshape(o, n, t, _c)), n, _c, h, w);
        return Ops.Add(x, back);
    }
}

/// <summary>diffusers UNetMidBlock2D of the VAE: resnets.0, attentions.0, resnets.1.</summary>
public sealed class VaeMidBlock : Module
{
    private readonly ResnetBlock2D _r0, _r1;
    private readonly VaeAttention _attn;

    public VaeMidBlock(Device d, Func<ulong> seed, int c, int groups)
    {
        _r0 = new ResnetBlock2D(d, seed, c, c, groups);
        _attn = new VaeAttention(d, seed, c, groups);
        _r1 = new ResnetBlock2D(d, seed, c, c, groups);
        Child("attentions", new ModuleList([_attn]));
        Child("resnets", new ModuleList([_r0, _r1]));
    }

    public Var Forward(Var x) => _r1.Forward(_attn.Forward(_r0.Forward(x)));
}

/// <summary>diffusers Downsample2D of the encoder: pad right/bottom by one, then conv3×3 stride 2 (key conv).</summary>
public sealed class VaeDownsample : Module
{
    private readonly Conv2d _conv;
    public VaeDownsample(Device d, ulong seed, int c) => _conv = Child("conv", new Conv2d(d, seed, c, c, 3, stride: 2, padding: 0));
    public Var Forward(Var x) => _conv.Forward(Ops.Pad2d(x, 0, 1, 0, 1));
}

/// <summary>diffusers Upsample2D of the decoder: nearest ×2, then conv3×3 (key conv).</summary>
public sealed class VaeUpsample : Module
{
    private readonly Conv2d _conv;
    public VaeUpsample(Device d, ulong seed, int c) => _conv = Child("conv", new Conv2d(d, seed, c, c, 3));
    public Var Forward(Var x) => _conv.Forward(Ops.UpsampleNearest(x, 2));
}

/// <summary>A down (encoder) or up (decoder) block: keys resnets.N and downsamplers.0 / upsamplers.0.</summary>
public sealed class VaeBlock : Module
{
    private readonly List<ResnetBlock2D> _resnets = new();
    private readonly VaeDownsample? _down;
    private readonly VaeUpsample? _up;

    public VaeBlock(Device d, Func<ulong> seed, int cin, int cout, int layers, int groups, bool down, bool up)
    {
        for (int i = 0; i < layers; i++) _resnets.Add(new ResnetBlock2D(d, seed, i == 0 ? cin : cout, cout, groups));
        Child("resnets", new ModuleList(_resnets));
        if (down) { _down = new VaeDownsample(d, seed(), cout); Child("downsamplers", new ModuleList([_down])); }
        if (up) { _up = new VaeUpsample(d, seed(), cout); Child("upsamplers", new ModuleList([_up])); }
    }

    public Var Forward(Var x)
    {
        foreach (var r in _resnets) x = r.Forward(x);
        if (_down is not null) x = _down.Forward(x);
        if (_up is not null) x = _up.Forward(x);
        return x;
    }
}
