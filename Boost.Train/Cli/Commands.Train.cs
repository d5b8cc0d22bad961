using Boost.Kernels;
using Boost.Models;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Pipeline;

namespace Boost.Train.Cli;

public static partial class Commands
{
    /// <summary>The autoencoder: <c>--vae FILE --vae-config FILE</c> (e.g. Stable Diffusion's), else <c>WEIGHTS/ae</c>.</summary>
    private static (AutoencoderKL ae, string file) LoadAe(Args a, string weightsRoot, Device device)
    {
        if (a.String("vae") is { } vae)
        {
            string cfg = a.String("vae-config") ?? throw new UsageException("--vae needs --vae-config (the diffusers config.json of that autoencoder).");
            var config = AutoencoderKLConfig.Load(cfg);
            var model = new AutoencoderKL(config, device);
            Checkpoint.Load(model, vae, VaeKeys.Map(config.BlockOutChannels.Length));
            return (model, vae);
        }
        string dir = Path.Combine(weightsRoot, "ae");
        if (!File.Exists(Path.Combine(dir, WeightsDir.ModelFile)))
            throw new UsageException($"no autoencoder in {dir}: run `train-ae --out {dir}` first, or pass --vae FILE --vae-config FILE.");
        return (Upsampler.LoadAutoencoder(dir, device), Path.Combine(dir, WeightsDir.ModelFile));
    }

    internal static CfmConfig ReadCfmConfig(Args a, int latentChannels)
    {
        var unet = a.String("unet-config") is { } f ? System.Text.Json.JsonSerializer.Deserialize<UNetConfig>(File.ReadAllText(f)) ?? throw new UsageException($"{f}: empty UNet config")
                                                    : UNetConfig.Named(a.String("unet", TrainDefaults.UNet));
        unet = unet with { InChannels = 2 * latentChannels, OutChannels = latentChannels };
        var c = new CfmConfig
        {
            Objective = a.Choice("objective", TrainDefaults.Objective),
            LrPath = a.Choice("lr-path", TrainDefaults.LrPath),
            NoiseStep = a.Int("noise-step", TrainDefaults.NoiseStep),
            UNet = unet,
        };
        try { c.Validate(); } catch (ArgumentException e) { throw new UsageException(e.Message); }
        return c;
    }

    public static int Train(Args a, Device device, TextWriter log)
    {
        var o = ReadTrainOptions(a, "train", TrainDefaults.Cfm(device is CpuDevice));
        var opts = new CfmTrainOptions
        {
            Crop = a.Int("crop", TrainDefaults.Crop), CropsPerImage = a.Int("crops-per-image", TrainDefaults.CropsPerImage),
            LatentCrop = a.Int("latent-crop", TrainDefaults.LatentCrop),
            CacheDir = a.String("cache", Path.Combine(Paths.Runs, "latent-cache")), Init = a.String("init"),
        };
        string weightsRoot = a.String("weights", Paths.Weights);
        var (ae, aeFile) = LoadAe(a, weightsRoot, device);
        using (ae)
        {
            var config = ReadCfmConfig(a, ae.Config.LatentChannels);
            string output = a.String("out", Path.Combine(o.RunDir, config.ObjectiveName));
            var dirs = PhotoDirs(a);
            a.CheckAllUsed();
            var (train, val) = LoadPhotos(dirs, log);
            using (train)
            using (val)
                CfmTrainer.Train(device, ae, aeFile, train, val, config, o, opts, output, log, string.Join(' ', Environment.GetCommandLineArgs().Skip(1)));
        }
        return 0;
    }
}
