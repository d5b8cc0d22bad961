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

    /// <summary>Reads and validates a diffusers <c>config.json</c>; any problem is one <see cref="InvalidDataException"/>
    /// naming the file and the field, thrown before anything is allocated for the model.</summary>
    /// <param name="availableBytes">memory the weights must fit in; <see cref="ModelMemory.HostAvailableBytes"/> when null</param>
    public static AutoencoderKLConfig Load(string path, long? availableBytes = null)
    {
        try
        {
            var c = JsonSerializer.Deserialize<AutoencoderKLConfig>(File.ReadAllText(path))
                    ?? throw new InvalidDataException("the file holds JSON null");
            c.Validate(availableBytes);
            return c;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: not a valid AutoencoderKL config ({e.Message.ReplaceLineEndings(" ")})", e);
        }
    }

    /// <summary>
    /// Checks every field with bounds before anything is allocated, then that the weights fit in memory; throws an
    /// <see cref="ArgumentException"/> naming the field.
    /// </summary>
    public void Validate(long? availableBytes = null)
    {
        const string o = "AutoencoderKL config";
        if (BlockOutChannels is null) throw new ArgumentException($"{o}: block_out_channels is null.");
        ModelMemory.Range(o, "in_channels", InChannels, 1, ModelMemory.MaxChannels);
        ModelMemory.Range(o, "out_channels", OutChannels, 1, ModelMemory.MaxChannels);
        ModelMemory.Range(o, "latent_channels", LatentChannels, 1, ModelMemory.MaxChannels);
        ModelMemory.Range(o, "the number of blocks (block_out_channels' length)", BlockOutChannels.Length, 1, ModelMemory.MaxLevels);
        ModelMemory.Range(o, "layers_per_block", LayersPerBlock, 1, ModelMemory.MaxBlocksPerLevel);
        ModelMemory.Range(o, "norm_num_groups", NormNumGroups, 1, ModelMemory.MaxChannels);
        for (int i = 0; i < BlockOutChannels.Length; i++)
        {
            ModelMemory.Range(o, $"block_out_channels[{i}]", BlockOutChannels[i], 1, ModelMemory.MaxChannels);
            if (BlockOutChannels[i] % NormNumGroups != 0)
                throw new ArgumentException($"{o}: norm_num_groups is {NormNumGroups}, which does not divide block_out_channels[{i}] = {BlockOutChannels[i]}.");
        }
        if (!float.IsFinite(ScalingFactor) || ScalingFactor <= 0) throw new ArgumentException($"{o}: scaling_factor is {ScalingFactor}; it must be finite and positive.");
        ModelMemory.RequireFits(o, ParameterCount(), availableBytes);
    }

    /// <summary>The parameter count <see cref="AutoencoderKL"/> will have, from the config alone (no allocation).
    /// Call after the bounds of <see cref="Validate"/> hold.</summary>
    public long ParameterCount()
    {
        long total = 0;
        void Conv(long i, long o, int k) => total += i * o * k * k + o;
        void Norm(long c) => total += 2 * c;
        void Res(int cin, int cout) { Norm(cin); Conv(cin, cout, 3); Norm(cout); Conv(cout, cout, 3); if (cin != cout) Conv(cin, cout, 1); }
        void Mid(int c) { Res(c, c); Norm(c); total += 4 * ((long)c * c + c); Res(c, c); }
        void Block(int cin, int cout, int layers, bool resample)
        {
            for (int j = 0; j < layers; j++) Res(j == 0 ? cin : cout, cout);
            if (resample) Conv(cout, cout, 3);
        }
        var ch = BlockOutChannels;
        Conv(InChannels, ch[0], 3);
        for (int i = 0; i < ch.Length; i++) Block(i == 0 ? ch[0] : ch[i - 1], ch[i], LayersPerBlock, i < ch.Length - 1);
        Mid(ch[^1]); Norm(ch[^1]); Conv(ch[^1], 2L * LatentChannels, 3);
        var rev = ch.Reverse().ToArray();
        Conv(LatentChannels, rev[0], 3);
        Mid(rev[0]);
        for (int i = 0; i < rev.Length; i++) Block(i == 0 ? rev[0] : rev[i - 1], rev[i], LayersPerBlock + 1, i < rev.Length - 1);
        Norm(rev[^1]); Conv(rev[^1], OutChannels, 3);
        Conv(2L * LatentChannels, 2L * LatentChannels, 1);
        Conv(LatentChannels, LatentChannels, 1);
        return total;
    }
}
