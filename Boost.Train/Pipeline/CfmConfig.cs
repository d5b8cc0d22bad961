using System.Text.Json;
using System.Text.Json.Serialization;
using Boost.Models.UNet;

namespace Boost.Train.Pipeline;

/// <summary>
/// What a trained upsampler is, beyond its UNet: the objective, how the low-resolution latent is made, and the
/// source noise. Saved as the <c>config.json</c> of a CFM or regression weights folder.
/// </summary>
public sealed record CfmConfig
{
    /// <summary>"cfm" (velocity of the straight path x0 → x1) or "regression" (x1 directly, the paper's baseline).</summary>
    [JsonPropertyName("objective")] public Objective Objective { get; init; } = TrainDefaults.Objective;
    /// <summary>"psu": upsample the LR image in pixel space (bicubic), then encode (the authors' default);
    /// "latent": encode the LR image, upsample the latent bilinearly.</summary>
    [JsonPropertyName("lr_path")] public LrPath LrPath { get; init; } = TrainDefaults.LrPath;
    /// <summary>Upscaling factor in pixels (and in latent resolution).</summary>
    [JsonPropertyName("scale")] public int Scale { get; init; } = TrainDefaults.Scale;
    /// <summary>Source noise: x0 = √ᾱ·up(z_lr) + √(1−ᾱ)·ε with ᾱ from the cosine schedule at this step (0: x0 = up(z_lr)).</summary>
    [JsonPropertyName("noise_step")] public int NoiseStep { get; init; } = TrainDefaults.NoiseStep;
    [JsonPropertyName("noise_steps_total")] public int NoiseStepsTotal { get; init; } = TrainDefaults.NoiseStepsTotal;
    [JsonPropertyName("unet")] public UNetConfig UNet { get; init; } = UNetConfig.Bench;

    /// <summary>"cfm" or "regression": the weights folder's usual name and what a resume checks.</summary>
    [JsonIgnore] public string ObjectiveName => Choice<Objective>.Name(Objective);

    [JsonIgnore] public float AlphaBar => CosineSchedule.AlphaBar(NoiseStep, NoiseStepsTotal);

    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses and validates a config; any problem is one <see cref="InvalidDataException"/> naming
    /// <paramref name="source"/> and the field.</summary>
    public static CfmConfig FromJson(string json, string source, long? availableBytes = null)
    {
        try
        {
            var c = JsonSerializer.Deserialize<CfmConfig>(json) ?? throw new InvalidDataException("the file holds JSON null");
            c.Validate(availableBytes);
            return c;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidDataException)
        {
            // A converter's message lacks the field; its JSON path ("$.objective") names it.
            string what = e is JsonException { Path: { Length: > 1 } path } && !e.Message.Contains(path, StringComparison.Ordinal) ? $"{path[2..]} {e.Message}" : e.Message;
            throw new InvalidDataException($"{source}: not a valid upsampler config ({what.ReplaceLineEndings(" ")})", e);
        }
    }

    /// <summary>Checks every field, the UNet's with bounds and its memory need (<see cref="UNetConfig.Validate"/>), before
    /// anything is allocated; throws an <see cref="ArgumentException"/> naming the field.</summary>
    /// <param name="availableBytes">memory the UNet's weights must fit in; the host's available memory when null</param>
    public void Validate(long? availableBytes = null)
    {
        if (UNet is null) throw new ArgumentException("unet is null.");
        if (!Enum.IsDefined(Objective)) throw new ArgumentException($"objective must be one of {Choice<Objective>.Names}, got {Objective}.");
        if (!Enum.IsDefined(LrPath)) throw new ArgumentException($"lr_path must be one of {Choice<LrPath>.Names}, got {LrPath}.");
        if (Scale is not (2 or 4 or 8)) throw new ArgumentException($"scale must be 2, 4 or 8, got {Scale}.");
        if (NoiseStepsTotal is < 1 or > 1_000_000) throw new ArgumentException($"noise_steps_total is {NoiseStepsTotal}; it must be in [1, 1000000].");
        if (NoiseStep < 0 || NoiseStep >= NoiseStepsTotal) throw new ArgumentException($"noise_step is {NoiseStep}; it must be in [0, {NoiseStepsTotal}).");
        UNet.Validate(availableBytes);
        if (UNet.InChannels % 2 != 0 || UNet.InChannels / 2 != UNet.OutChannels)
            throw new ArgumentException($"the UNet must take 2·C channels (x_t and the condition) and return C; got in {UNet.InChannels}, out {UNet.OutChannels}.");
    }
}

/// <summary>The cosine noise schedule's ᾱ without an offset: ᾱ(s) = cos²(π/2 · s/T) (ᾱ(400/1000) ≈ 0.6545).</summary>
public static class CosineSchedule
{
    /// <param name="offset">Nichol &amp; Dhariwal's s (0.008 in improved DDPM, which gives 0.6475 at 400/1000); 0 by default.</param>
    public static float AlphaBar(int step, int total, double offset = 0)
    {
        double F(double u) { double c = Math.Cos((u + offset) / (1 + offset) * Math.PI / 2); return c * c; }
        return (float)(F((double)step / total) / F(0));
    }
}
