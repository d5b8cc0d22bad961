using System.Text.Json;
using Boost.Autograd;
using Boost.Kernels;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Data;
using Boost.Train.Imaging;
using Boost.Train.Sampling;

namespace Boost.Train.Pipeline;

/// <summary>Options of <c>train</c> beyond the shared ones.</summary>
public sealed record CfmTrainOptions
{
    /// <summary>Photo crop (pixels) whose latents are cached.</summary>
    public int Crop { get; init; } = TrainDefaults.Crop;
    public int CropsPerImage { get; init; } = TrainDefaults.CropsPerImage;
    /// <summary>Side (in latent pixels) of the training windows cut from the cached latents.</summary>
    public int LatentCrop { get; init; } = TrainDefaults.LatentCrop;
    public string CacheDir { get; init; } = "";
    /// <summary>A weights folder (config must match) whose model initialises a fresh run: fine-tuning shipped weights.</summary>
    public string? Init { get; init; }
}

/// <summary>
/// <c>train</c>: the CFM objective as the authors' code has it, or the regression baseline, on cached latents.
/// <para>CFM, per sample: x1 = HR latent, c = up(z_lr) (clean), x0 = √ᾱ·c + √(1−ᾱ)·ε, t ~ U(0, 1),
/// x_t = t·x1 + (1−t)·x0, loss = ‖UNet([x_t, c], 1000·t) − (x1 − x0)‖² (mean).</para>
/// <para>Regression: loss = ‖UNet([c, c], 0) − x1‖².</para>
/// </summary>
public sealed class CfmTrainer
{
    private readonly LatentCache _cache;
    private readonly float[] _cond;
    private readonly CfmConfig _config;

    /// <summary>The condition for every cached crop: lr_psu as is, or lr_latent bilinearly upsampled.</summary>
    public CfmTrainer(LatentCache cache, CfmConfig config)
    {
        _cache = cache;
        _config = config;
        if (cache.Scale != config.Scale) throw new ArgumentException($"the latent cache is for ×{cache.Scale}, the model for ×{config.Scale}.");
        if (config.LrPath == LrPath.Psu) _cond = cache.LrPsu;
        else
        {
            using var small = Tensor.FromArray(Device.Cpu, cache.LrLatent, cache.Count, cache.Channels, cache.LrSize, cache.LrSize);
            using var up = Boost.Kernels.Upsample.Bilinear(small, cache.Scale);
            _cond = up.ToArray();
        }
    }

    /// <summary>One batch: (UNet input [B, 2C, h, w], timesteps ×1000, target [B, C, h, w]), all from (seed, step).</summary>
    public (float[] input, float[] t, float[] target, int[] shape) Batch(int batch, int window, ulong seed, int step)
    {
        int c = _cache.Channels, s = _cache.Size, w = Math.Min(window, s), plane = w * w;
        var random = Seeds.Host(seed, step, Seeds.Data);
        var x1 = new float[batch * c * plane];
        var cond = new float[batch * c * plane];
        for (int b = 0; b < batch; b++)
        {
            int i = random.Next(_cache.Count), oy = random.Next(s - w + 1), ox = random.Next(s - w + 1);
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < w; y++)
                {
                    int src = ((i * c + ch) * s + oy + y) * s + ox, dst = ((b * c + ch) * w + y) * w;
                    Array.Copy(_cache.Hr, src, x1, dst, w);
                    Array.Copy(_cond, src, cond, dst, w);
                }
        }
        var trand = Seeds.Host(seed, step, Seeds.Time);
        var ts = new float[batch];
        var input = new float[batch * 2 * c * plane];
        var target = new float[batch * c * plane];
        int per = c * plane;
        if (_config.Objective == Objective.Regression)
        {
            for (int b = 0; b < batch; b++)
            {
                Array.Copy(cond, b * per, input, (2 * b) * per, per);
                Array.Copy(cond, b * per, input, (2 * b + 1) * per, per);
            }
            return (input, ts, x1, [batch, 2 * c, w, w]);
        }
        using var epsT = Rng.Normal(Device.Cpu, seed, Seeds.Mix(seed, (ulong)step, Seeds.Noise), [batch * per]);
        var eps = epsT.ToArray();
        float abar = _config.AlphaBar, sa = _config.NoiseStep == 0 ? 1f : MathF.Sqrt(abar), sn = _config.NoiseStep == 0 ? 0f : MathF.Sqrt(1 - abar);
        for (int b = 0; b < batch; b++)
        {
            float t = (float)trand.NextDouble();
            ts[b] = 1000f * t;
            for (int k = 0; k < per; k++)
            {
                int j = b * per + k;
                float x0 = sa * cond[j] + sn * eps[j];
                input[2 * b * per + k] = t * x1[j] + (1 - t) * x0;
                input[(2 * b + 1) * per + k] = cond[j];
                target[j] = x1[j] - x0;
            }
        }
        return (input, ts, target, [batch, 2 * c, w, w]);
    }

    /// <summary>The loss of one batch on the current tape.</summary>
    public Var Loss(UNetModel unet, Device device, int batch, int window, ulong seed, int step)
    {
        var (input, ts, target, shape) = Batch(batch, window, seed, step);
        var x = Ops.Constant(Tensor.FromArray(device, input, shape));
        var y = Ops.Constant(Tensor.FromArray(device, target, shape[0], shape[1] / 2, shape[2], shape[3]));
        return Ops.MseLoss(unet.Forward(x, ts), y);
    }

    /// <summary>Trains and writes the EMA weights to <paramref name="weightsOut"/>; returns the run's validation metrics.</summary>
    public static Dictionary<string, double> Train(Device device, AutoencoderKL ae, string aeWeightsFile, ImageFolder train, ImageFolder val,
        CfmConfig config, TrainOptions o, CfmTrainOptions opts, string weightsOut, TextWriter log, string command)
    {
        config.Validate();
        if (config.UNet.OutChannels != ae.Config.LatentChannels)
            throw new ArgumentException($"the UNet's {config.UNet.OutChannels} output channels do not match the autoencoder's {ae.Config.LatentChannels} latent channels.");
        int window = opts.LatentCrop, levels = 1 << (config.UNet.ChannelMult.Length - 1);
        if (window % levels != 0) throw new ArgumentException($"--latent-crop {window} must be a multiple of {levels} (the UNet's downsampling).");
        var cache = LatentCache.Build(ae, aeWeightsFile, train, opts.Crop, opts.CropsPerImage, config.Scale, 12345, opts.CacheDir, log);
        var valCache = LatentCache.Build(ae, aeWeightsFile, val, opts.Crop, 4, config.Scale, 777, opts.CacheDir, log);
        var trainer = new CfmTrainer(cache, config);
        var valTrainer = new CfmTrainer(valCache, config);

        using var unet = new UNetModel(config.UNet, device, o.Seed);
        if (opts.Init is { } init && !(o.Resume && File.Exists(Path.Combine(o.RunDir, "checkpoint.safetensors"))))
        {
            var initConfig = CfmConfig.FromJson(WeightsDir.ReadConfig(init), init);
            if (initConfig.ToJson() != config.ToJson()) throw new ArgumentException($"--init {init}: its config.json differs from this run's model and objective.");
            Boost.Models.Checkpoint.Load(unet, Path.Combine(init, WeightsDir.ModelFile));
            log.WriteLine($"initialised from {init}");
        }
        using var session = new TrainSession(unet, o, config.ObjectiveName, config.ToJson() + JsonSerializer.Serialize(opts with { CacheDir = "", Init = null }), log);
        Boost.Models.IO.AtomicFile.RemoveStale(o.RunDir); // what a killed run left half-written
        var upsampler = new Upsampler(ae, unet, config);
        var gridCrops = AeTrainer.ValidationCrops(val, Math.Min(opts.Crop, 128), upsampler.HrMultiple).Take(4).ToList();
        log.WriteLine($"{config.ObjectiveName} UNet: {unet.ParameterCount:N0} parameters; lr path {Choice<LrPath>.Name(config.LrPath)}, ᾱ = {config.AlphaBar:F4}; {cache.Count} cached crops, {window}² latent windows, batch {o.Batch}");
        log.WriteLine($"run folder: {o.RunDir}");

        Dictionary<string, double> Validate(int step)
        {
            using var _ = session.UseEma();
            double loss = 0; int batches = Math.Max(1, Math.Min(8, valCache.Count / o.Batch));
            for (int b = 0; b < batches; b++)
            {
                using var tape = Tape.NoGrad();
                // A fixed seed: the same windows, noise and t at every validation, so the curve compares like with like.
                loss += valTrainer.Loss(unet, device, o.Batch, window, 99, b).Value.ToArray()[0];
            }
            var m = new Dictionary<string, double> { ["val_loss"] = loss / batches };
            if (gridCrops.Count > 0)
            {
                var solver = SolverOptions.Fixed(Sampling.SolverMethod.Euler, 10);
                var rows = new List<IReadOnlyList<ChwImage?>>();
                double psnr = 0;
                foreach (var hr in gridCrops)
                {
                    var lr = Resample.Downscale(hr, config.Scale);
                    var (sr, _) = upsampler.Boost(lr, solver, 7);
                    psnr += Metrics.Psnr(sr, hr);
                    rows.Add([Resample.Nearest(lr, hr.Height, hr.Width), Clamped(Resample.UpscaleBicubic(lr, config.Scale)), sr, hr]);
                }
                m["val_psnr_euler10"] = psnr / gridCrops.Count;
                GridImage.Save(Path.Combine(o.RunDir, $"val-{step:D6}.png"), rows, ["LR", "bicubic", config.Objective == Objective.Cfm ? "CFM (Euler 10)" : "regression", "ground truth"]);
            }
            return m;
        }

        session.Run(step => trainer.Loss(unet, device, o.Batch, window, o.Seed, step), Validate, "train " + config.ObjectiveName);
        var final = session.Metrics.ReadAll().LastOrDefault(r => r["val_loss"] is not null);
        if (session.Finished) return Numbers(final); // resumed a finished run: nothing is written
        var record = new Dictionary<string, object?>
        {
            ["what"] = $"{config.ObjectiveName} UNet (guided-diffusion keys), EMA weights, for the autoencoder in ../ae",
            ["command"] = command, ["steps"] = session.Step, ["batch"] = o.Batch, ["latent_crop"] = window, ["lr"] = o.Lr, ["seed"] = o.Seed,
            ["device"] = device.Name, ["train_seconds"] = Math.Round(session.TrainSeconds), ["parameters"] = unet.ParameterCount,
            ["validation"] = final, ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd"),
        };
        using (session.UseEma()) WeightsDir.Save(weightsOut, unet, config.ToJson(), record);
        log.WriteLine($"wrote {weightsOut}");
        return Numbers(final);
    }

    private static Dictionary<string, double> Numbers(System.Text.Json.Nodes.JsonObject? row)
        => row?.Where(kv => kv.Value is not null && kv.Key != "step").ToDictionary(kv => kv.Key, kv => (double)kv.Value!) ?? new();

    private static ChwImage Clamped(ChwImage x) { Resample.Clamp(x); return x; }
}
