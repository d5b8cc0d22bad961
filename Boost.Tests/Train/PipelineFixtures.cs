using Boost.Kernels;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Tests.Train;

/// <summary>Small stand-ins for the pipeline's inputs: seeded photo folders, a tiny autoencoder and UNet, a synthetic latent cache.</summary>
internal static class PipelineFixtures
{
    /// <summary>f = 2, 4 latent channels.</summary>
    public static AutoencoderKLConfig TinyAe => new() { BlockOutChannels = [32, 32], LayersPerBlock = 1, LatentChannels = 4, NormNumGroups = 32, ScalingFactor = 1.5f };

    public static UNetConfig TinyUNet => UNetConfig.Tiny with { InChannels = 8, OutChannels = 4 };

    public static string TempDir(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "boost-tests", $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..Math.Min(48, name.Length + 20)]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>PNGs of seeded smooth colour fields plus noise (never flat), <paramref name="size"/> pixels square.</summary>
    public static string PhotoFolder(string name, int count, int size, int seed)
    {
        string dir = TempDir(name);
        var r = new Random(seed);
        for (int k = 0; k < count; k++)
        {
            using var img = new Image<Rgb24>(size + k, size + 2 * k);
            double fx = 0.05 + 0.2 * r.NextDouble(), fy = 0.05 + 0.2 * r.NextDouble(), ph = 6 * r.NextDouble();
            for (int y = 0; y < img.Height; y++)
                for (int x = 0; x < img.Width; x++)
                {
                    byte V(double a) => (byte)Math.Clamp(128 + 100 * Math.Sin(a) + r.Next(-20, 21), 0, 255);
                    img[x, y] = new Rgb24(V(fx * x + ph), V(fy * y - ph), V(fx * x + fy * y));
                }
            img.SaveAsPng(Path.Combine(dir, $"photo{k}.png"));
        }
        return dir;
    }

    /// <summary>A latent cache with seeded values; Hr[i] is offset by i so windows of different crops differ.</summary>
    public static LatentCache SyntheticCache(int count, int channels, int size, int scale, int seed)
    {
        var hr = Support.Seeded.Floats(seed, count * channels * size * size);
        var psu = Support.Seeded.Floats(seed + 1, hr.Length);
        var lat = Support.Seeded.Floats(seed + 2, count * channels * (size / scale) * (size / scale));
        return new LatentCache { Hr = hr, LrPsu = psu, LrLatent = lat, Count = count, Channels = channels, Size = size, Scale = scale };
    }

    /// <summary>A tiny random upsampler on the CPU (seeded UNet weights in [-0.2, 0.2], so its output is not flat).</summary>
    public static Upsampler TinyUpsampler(Objective objective = Objective.Cfm, LrPath lrPath = LrPath.Psu)
    {
        var ae = new AutoencoderKL(TinyAe, Device.Cpu, 1);
        var unet = new UNetModel(TinyUNet, Device.Cpu, 2);
        int i = 0;
        foreach (var p in unet.Parameters()) p.Value.CopyFrom(Support.Seeded.Floats(100 + i++, p.Value.Length, -0.2f, 0.2f));
        return new Upsampler(ae, unet, Cfm(objective, lrPath));
    }

    public static CfmConfig Cfm(Objective objective = Objective.Cfm, LrPath lrPath = LrPath.Psu, int noiseStep = 400)
        => new() { Objective = objective, LrPath = lrPath, NoiseStep = noiseStep, UNet = TinyUNet };
}
