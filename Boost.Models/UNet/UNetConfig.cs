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

    /// <summary>The benchmark / default CFM model (shared/specs/unet-bench.md): exactly 6,475,652 parameters.</summary>
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

    public void Validate()
    {
        if (InChannels < 1 || OutChannels < 1 || ModelChannels < 1 || NumResBlocks < 1 || ChannelMult.Length == 0)
            throw new ArgumentException("UNet config: channels, res blocks and channel_mult must be positive.");
        foreach (int m in ChannelMult)
            if (m < 1 || ModelChannels * m % NormGroups != 0)
                throw new ArgumentException($"UNet config: {ModelChannels}·{m} channels do not split into {NormGroups} norm groups.");
        if (Dropout is < 0 or >= 1) throw new ArgumentException("UNet config: dropout must be in [0, 1).");
    }
}
