using Boost.Autograd;
using Boost.Kernels;
using Boost.Models.Layers;
using Conv2d = Boost.Models.Layers.Conv2d;
using GroupNorm = Boost.Models.Layers.GroupNorm;

namespace Boost.Models.UNet;

/// <summary>A block of a <c>TimestepEmbedSequential</c>: takes the time embedding if it wants it.</summary>
public interface IUNetBlock
{
    Var Forward(Var x, Var emb);
}

/// <summary>
/// ADM ResBlock. Keys: <c>in_layers.0</c> GN, <c>in_layers.2</c> conv3×3, <c>emb_layers.1</c> linear,
/// <c>out_layers.0</c> GN, <c>out_layers.3</c> zero-initialised conv3×3, <c>skip_connection</c> conv1×1 when the
/// channel count changes.
/// </summary>
public sealed class ResBlock : Module, IUNetBlock
{
    private readonly GroupNorm _inNorm, _outNorm;
    private readonly Conv2d _inConv, _outConv;
    private readonly Linear _embLinear;
    private readonly Conv2d? _skip;
    private readonly bool _scaleShift;
    private readonly float _dropout;
    private readonly UNetModel _owner;
    public int OutChannels { get; }

    public ResBlock(UNetModel owner, Device d, UNetConfig c, int cin, int cout)
    {
        _owner = owner; OutChannels = cout; _scaleShift = c.UseScaleShiftNorm; _dropout = c.Dropout;
        _inNorm = new GroupNorm(d, c.NormGroups, cin, c.NormEps);
        _inConv = new Conv2d(d, owner.NextSeed(), cin, cout, 3);
        Child("in_layers", new ModuleList([_inNorm, null, _inConv]));
        _embLinear = new Linear(d, owner.NextSeed(), c.TimeEmbedDim, _scaleShift ? 2 * cout : cout);
        Child("emb_layers", new ModuleList([null, _embLinear]));
        _outNorm = new GroupNorm(d, c.NormGroups, cout, c.NormEps);
        _outConv = new Conv2d(d, owner.NextSeed(), cout, cout, 3, zeroInit: true);
        Child("out_layers", new ModuleList([_outNorm, null, null, _outConv]));
        if (cin != cout) _skip = Child("skip_connection", new Conv2d(d, owner.NextSeed(), cin, cout, 1));
    }

    /// <param name="x">[N, Cin, H, W]</param>
    /// <param name="emb">[N, time_embed_dim]</param>
    public Var Forward(Var x, Var emb)
    {
        var e = _embLinear.Forward(Ops.SiLU(emb));
        int n = x.Dim(0);
        Var h;
        if (_scaleShift)
        {
            h = _inConv.Forward(_inNorm.ForwardSiLU(x));
            var scale = Ops.Reshape(Ops.Slice(Ops.Reshape(e, n, 2 * OutChannels, 1, 1), 0, OutChannels), n, OutChannels, 1, 1);
            var shift = Ops.Slice(Ops.Reshape(e, n, 2 * OutChannels, 1, 1), OutChannels, OutChannels);
            h = Ops.SiLU(Ops.Add(Ops.Mul(_outNorm.Forward(h), Ops.Affine(scale, 1f, 1f)), shift));
        }
        else
        {
            // h + emb_out[:, :, None, None], added in the in-conv's store.
            h = _outNorm.ForwardSiLU(_inConv.Forward(_inNorm.ForwardSiLU(x), e, null));
        }
        // skip(x) + out_layers(h), added in the out-conv's store.
        return _outConv.Forward(_owner.Dropout(h, _dropout), null, _skip is null ? x : _skip.Forward(x));
    }
}

/// <summary>
/// ADM AttentionBlock (legacy QKV order: per head, [q | k | v] channel groups). Keys: <c>norm</c>,
/// <c>qkv</c> (conv1d weight [3C, C, 1]), <c>proj_out</c> (zero-initialised conv1d [C, C, 1]).
/// </summary>
public sealed class AttentionBlock : Module, IUNetBlock
{
    private readonly GroupNorm _norm;
    private readonly Parameter _qkvW, _qkvB, _projW, _projB;
    private readonly int _channels, _heads;

    public AttentionBlock(UNetModel owner, Device d, UNetConfig c, int channels)
    {
        _channels = channels;
        _heads = c.NumHeadChannels > 0 ? channels / c.NumHeadChannels : c.NumHeads;
        if (_heads < 1 || channels % _heads != 0) throw new ArgumentException($"AttentionBlock: {channels} channels do not split into {_heads} heads.");
        _norm = Child("norm", new GroupNorm(d, c.NormGroups, channels, c.NormEps));
        var qkv = Child("qkv", new Conv1x1(d, owner.NextSeed(), channels, 3 * channels, zeroInit: false));
        var proj = Child("proj_out", new Conv1x1(d, owner.NextSeed(), channels, channels, zeroInit: true));
        (_qkvW, _qkvB, _projW, _projB) = (qkv.weight, qkv.bias, proj.weight, proj.bias);
    }

    /// <param name="x">[N, C, H, W]</param>
    public Var Forward(Var x, Var emb)
    {
        int n = x.Dim(0), c = _channels, hh = x.Dim(2), ww = x.Dim(3), t = hh * ww, ch = c / _heads;
        var qkv = Ops.Conv2d(_norm.Forward(x), Ops.Reshape(_qkvW, 3 * c, c, 1, 1), _qkvB, 1, 0); // [N, 3C, H, W]
        var perHead = Ops.Reshape(qkv, n * _heads, 3 * ch, t, 1);
        Var Part(int i) => Ops.Reshape(Ops.TransposeLastTwo(Ops.Reshape(Ops.Slice(perHead, i * ch, ch), n * _heads, ch, t)), n, _heads, t, ch);
        var a = Ops.Attention(Part(0), Part(1), Part(2), 1f / MathF.Sqrt(ch)); // [N, heads, T, ch]
        var merged = Ops.Reshape(Ops.TransposeLastTwo(Ops.Reshape(a, n * _heads, t, ch)), n, c, hh, ww);
        // x + proj_out(merged), added in the projection's store.
        return Ops.Conv2d(merged, Ops.Reshape(_projW, c, c, 1, 1), _projB, 1, 0, residual: x);
    }
}

/// <summary>Stride-2 conv3×3 (key <c>op</c>).</summary>
public sealed class Downsample : Module, IUNetBlock
{
    private readonly Conv2d _op;
    public Downsample(UNetModel owner, Device d, int channels) => _op = Child("op", new Conv2d(d, owner.NextSeed(), channels, channels, 3, stride: 2, padding: 1));
    public Var Forward(Var x, Var emb) => _op.Forward(x);
}

/// <summary>Nearest ×2 then conv3×3 (key <c>conv</c>).</summary>
public sealed class Upsample : Module, IUNetBlock
{
    private readonly Conv2d _conv;
    public Upsample(UNetModel owner, Device d, int channels) => _conv = Child("conv", new Conv2d(d, owner.NextSeed(), channels, channels, 3));
    public Var Forward(Var x, Var emb) => _conv.Forward(Ops.UpsampleNearest(x, 2));
}

/// <summary>The input conv as a block (key <c>input_blocks.0.0</c>).</summary>
public sealed class ConvBlock(Conv2d conv) : IUNetBlock
{
    public Var Forward(Var x, Var emb) => conv.Forward(x);
}

/// <summary>ADM's TimestepEmbedSequential: children 0, 1, 2 run in order, each given the embedding.</summary>
public sealed class EmbedSequential : Module, IUNetBlock
{
    private readonly List<IUNetBlock> _blocks = new();
    public EmbedSequential(params Module[] blocks)
    {
        for (int i = 0; i < blocks.Length; i++)
        {
            Child(i.ToString(), blocks[i]);
            _blocks.Add(blocks[i] as IUNetBlock ?? new ConvBlock((Conv2d)blocks[i]));
        }
    }
    public Var Forward(Var x, Var emb)
    {
        foreach (var b in _blocks) x = b.Forward(x, emb);
        return x;
    }
}
