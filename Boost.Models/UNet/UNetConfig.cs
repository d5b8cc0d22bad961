using System.Text.Json.Serialization;

namespace Boost.Models.UNet;

/// <summary>
/// The ADM (guided-diffusion <c>UNetModel</c>) hyper-parameters. <see cref="AttentionResolutions"/> holds
/// downsampling factors (ADM's <c>ds</c>): 4 means attention at 1/4 of the input resolution.
/// </summary>
public sealed record UNetConfig
{
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 8;
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 4;
    [JsonPropertyName("model_channels")] public int ModelChannels { get; init; } = 64;
    [JsonPropertyName("channel_mult")] public int[] ChannelMult { get; init; } = [1, 2, 2];
    [JsonPropertyName("num_res_blocks")] public int NumResBlocks { get; init; } = 2;
    [JsonPropertyName("attention_resolutions")] public int[] AttentionResolutions { get; init; } = [4];
    [JsonPropertyName("num_heads")] public int NumHeads { get; init; } = 1;
    /// <summary>When &gt; 0, heads = channels / this (overrides <see cref="NumHeads"/>).</summary>
    [JsonPropertyName("num_head_channels")] public int NumHeadChannels { get; init; } = -1;
    [JsonPropertyName("dropout")] public float Dropout { get; init; }
    [JsonPropertyName("use_scale_shift_norm")] public bool UseScaleShiftNorm { get; init; }
    [JsonPropertyName("norm_num_groups")] public int NormGroups { get; init; } = 32;
    [JsonPropertyName("norm_eps")] public float NormEps { get; init; } = 1e-6f;

    public int TimeEmbedDim => ModelChannels * 4;

    /// <summary>The benchmark / default CFM model (docs/unet-bench.md): exactly 6,475,652 parameters.</summary>
    public static UNetConfig Bench => new();

    /// <summary>The authors' scale: 128 channels, (1,2,4,8), 3 res blocks, attention at ds 8 and in the middle,
    /// heads of 64 channels, scale-shift norm.</summary>
    public static UNetConfig Paper => new()
    {
        ModelChannels = 128, ChannelMult = [1, 2, 4, 8], NumResBlocks = 3, AttentionResolutions = [8],
        NumHeadChannels = 64, UseScaleShiftNorm = true,
    };

    /// <summary>A minimal UNet for tests and smoke runs: 32 channels, two levels, one res block, attention at ds 2.</summary>
    public static UNetConfig Tiny => new() { ModelChannels = 32, ChannelMult = [1, 2], NumResBlocks = 1, AttentionResolutions = [2] };

    public static UNetConfig Named(string name) => name switch
    {
        "bench" => Bench,
        "paper" => Paper,
        "tiny" => Tiny,
        _ => throw new ArgumentException($"Unknown UNet configuration '{name}': use bench, paper or tiny."),
    };

    /// <summary>
    /// Checks every field with bounds before anything is allocated, then that the weights fit in memory; throws an
    /// <see cref="ArgumentException"/> naming the field (callers that read a file add its name).
    /// </summary>
    /// <param name="availableBytes">memory the weights must fit in; <see cref="ModelMemory.HostAvailableBytes"/> when null</param>
    public void Validate(long? availableBytes = null)
    {
        const string o = "UNet config";
        if (ChannelMult is null) throw new ArgumentException($"{o}: channel_mult is missing or null.");
        if (AttentionResolutions is null) throw new ArgumentException($"{o}: attention_resolutions is null (use [] for none).");
        ModelMemory.Range(o, "in_channels", InChannels, 1, ModelMemory.MaxChannels);
        ModelMemory.Range(o, "out_channels", OutChannels, 1, ModelMemory.MaxChannels);
        ModelMemory.Range(o, "model_channels", ModelChannels, 1, ModelMemory.MaxChannels);
        ModelMemory.Range(o, "the number of levels (channel_mult's length)", ChannelMult.Length, 1, ModelMemory.MaxLevels);
        for (int i = 0; i < ChannelMult.Length; i++)
        {
            ModelMemory.Range(o, $"channel_mult[{i}]", ChannelMult[i], 1, ModelMemory.MaxChannels);
            ModelMemory.Range(o, $"model_channels·channel_mult[{i}]", (long)ModelChannels * ChannelMult[i], 1, ModelMemory.MaxChannels);
        }
        if (ChannelMult[0] != 1) throw new ArgumentException($"{o}: channel_mult[0] is {ChannelMult[0]}; it must be 1 (the output conv takes model_channels).");
        ModelMemory.Range(o, "num_res_blocks", NumResBlocks, 1, ModelMemory.MaxBlocksPerLevel);
        ModelMemory.Range(o, "the number of attention_resolutions", AttentionResolutions.Length, 0, ModelMemory.MaxLevels);
        int deepest = 1 << (ChannelMult.Length - 1);
        foreach (int ds in AttentionResolutions)
            if (ds < 1 || ds > deepest || (ds & (ds - 1)) != 0)
                throw new ArgumentException($"{o}: attention_resolutions holds {ds}; each must be a downsampling factor 1, 2, … {deepest}.");
        if (NumHeadChannels != -1) ModelMemory.Range(o, "num_head_channels (-1: use num_heads)", NumHeadChannels, 1, ModelMemory.MaxChannels);
        else ModelMemory.Range(o, "num_heads", NumHeads, 1, ModelMemory.MaxHeads);
        ModelMemory.Range(o, "norm_num_groups", NormGroups, 1, ModelMemory.MaxChannels);
        if (!float.IsFinite(Dropout) || Dropout is < 0 or >= 1) throw new ArgumentException($"{o}: dropout is {Dropout}; it must be in [0, 1).");
        if (!float.IsFinite(NormEps) || NormEps is <= 0 or > 1) throw new ArgumentException($"{o}: norm_eps is {NormEps}; it must be in (0, 1].");

        var (parameters, norms, attention) = Walk();
        foreach (int c in norms)
            if (c % NormGroups != 0)
                throw new ArgumentException($"{o}: norm_num_groups is {NormGroups}, which does not divide the {c} channels of a group norm.");
        foreach (int c in attention)
        {
            if (NumHeadChannels > 0 && c % NumHeadChannels != 0)
                throw new ArgumentException($"{o}: num_head_channels is {NumHeadChannels}, which does not divide the {c} channels of an attention block.");
            int heads = NumHeadChannels > 0 ? c / NumHeadChannels : NumHeads;
            if (c % heads != 0) throw new ArgumentException($"{o}: num_heads is {heads}, which does not divide the {c} channels of an attention block.");
            ModelMemory.Range(o, $"heads of the {c}-channel attention", heads, 1, ModelMemory.MaxHeads);
        }
        ModelMemory.RequireFits(o, parameters, availableBytes);
    }

    /// <summary>The parameter count <see cref="UNetModel"/> will have, computed from the config alone (no allocation).
    /// Call after the bounds of <see cref="Validate"/> hold.</summary>
    public long ParameterCount() => Walk().Parameters;

    /// <summary>Walks the model's structure as <see cref="UNetModel"/>'s constructor builds it: parameters, the channel
    /// count of every group norm and of every attention block.</summary>
    private (long Parameters, List<int> Norms, List<int> Attention) Walk()
    {
        long total = 0;
        var norms = new List<int>();
        var attention = new List<int>();
        int mc = ModelChannels, ted = TimeEmbedDim;
        void Linear(long i, long o) => total += i * o + o;
        void Conv(long i, long o, int k) => total += i * o * k * k + o;
        void Norm(int c) { norms.Add(c); total += 2L * c; }
        void Res(int cin, int cout)
        {
            Norm(cin); Conv(cin, cout, 3); Linear(ted, UseScaleShiftNorm ? 2 * cout : cout); Norm(cout); Conv(cout, cout, 3);
            if (cin != cout) Conv(cin, cout, 1);
        }
        void Attention(int c) { attention.Add(c); Norm(c); total += 3L * c * c + 3L * c + (long)c * c + c; }

        Linear(mc, ted); Linear(ted, ted);
        Conv(InChannels, mc, 3);
        var chans = new Stack<int>([mc]);
        int ch = mc, ds = 1;
        for (int level = 0; level < ChannelMult.Length; level++)
        {
            for (int r = 0; r < NumResBlocks; r++)
            {
                Res(ch, ChannelMult[level] * mc);
                ch = ChannelMult[level] * mc;
                if (AttentionResolutions.Contains(ds)) Attention(ch);
                chans.Push(ch);
            }
            if (level != ChannelMult.Length - 1) { Conv(ch, ch, 3); chans.Push(ch); ds *= 2; }
        }
        Res(ch, ch); Attention(ch); Res(ch, ch);
        for (int level = ChannelMult.Length - 1; level >= 0; level--)
            for (int r = 0; r <= NumResBlocks; r++)
            {
                Res(ch + chans.Pop(), mc * ChannelMult[level]);
                ch = mc * ChannelMult[level];
                if (AttentionResolutions.Contains(ds)) Attention(ch);
                if (level > 0 && r == NumResBlocks) { Conv(ch, ch, 3); ds /= 2; }
            }
        Norm(ch); Conv(mc, OutChannels, 3);
        return (total, norms, attention);
    }
}
