using System.Text.Json;
using System.Text.Json.Serialization;

namespace Boost.Models.Vae;

/// <summary>The fields of a diffusers <c>AutoencoderKL</c> <c>config.json</c> that shape the model.</summary>
public sealed record AutoencoderKLConfig
{
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 3;
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 3;
    [JsonPropertyName("block_out_channels")] public int[] BlockOutChannels { get; init; } = [128, 256, 512, 512];
    [JsonPropertyName("layers_per_block")] public int LayersPerBlock { get; init; } = 2;
    [JsonPropertyName("latent_channels")] public int LatentChannels { get; init; } = 4;
    [JsonPropertyName("norm_num_groups")] public int NormNumGroups { get; init; } = 32;
    [JsonPropertyName("scaling_factor")] public float ScalingFactor { get; init; } = 0.18215f;

    /// <summary>Stable Diffusion's VAE (f = 8): 83,653,863 parameters.</summary>
    public static AutoencoderKLConfig StableDiffusion => new();

    /// <summary>Spatial downsampling factor: 2^(blocks − 1).</summary>
    [JsonIgnore] public int DownFactor => 1 << (BlockOutChannels.Length - 1);

    public static AutoencoderKLConfig Load(string path)
    {
        try
        {
            var c = JsonSerializer.Deserialize<AutoencoderKLConfig>(File.ReadAllText(path))
                    ?? throw new InvalidDataException("empty");
            c.Validate();
            return c;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: not a valid AutoencoderKL config ({e.Message}).", e);
        }
    }

    public void Validate()
    {
        if (BlockOutChannels.Length == 0 || LayersPerBlock < 1 || LatentChannels < 1 || InChannels < 1 || OutChannels < 1)
            throw new ArgumentException("AutoencoderKL config: block_out_channels, layers_per_block and channels must be positive.");
        foreach (int c in BlockOutChannels)
            if (c % NormNumGroups != 0) throw new ArgumentException($"AutoencoderKL config: {c} channels do not split into {NormNumGroups} groups.");
    }
}
