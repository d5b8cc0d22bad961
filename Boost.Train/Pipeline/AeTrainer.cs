using System.Text.Json;
using Boost.Autograd;
using Boost.Kernels;
using Boost.Models;
using Boost.Models.SafeTensors;
using Boost.Models.Vae;
using Boost.Train.Data;
using Boost.Train.Imaging;

namespace Boost.Train.Pipeline;

/// <summary>Options of <c>train-ae</c> beyond the shared ones.</summary>
public sealed record AeOptions
{
    /// <summary>Square training crop in pixels (the autoencoder is convolutional: it runs on any multiple of f).</summary>
    public int Crop { get; init; } = TrainDefaults.AeCrop;
    /// <summary>Weight of the KL term (per latent element, against N(0, I)): small, as in latent diffusion.</summary>
    public float KlWeight { get; init; } = TrainDefaults.AeKlWeight;
    /// <summary>Weight of the edge term: MSE between Sobel gradients of output and input, for sharper reconstructions.</summary>
    public float EdgeWeight { get; init; } = TrainDefaults.AeEdgeWeight;
    /// <summary>Initial log-variance of the posterior (the bias of quant_conv's log-variance half). At the usual
    /// init (≈ 0) the decoder first sees latents drowned in unit noise and reconstruction waits until the encoder
    /// has learned to shrink it; starting the posterior narrow removes that wait. Null keeps the layer's init. Not part
    /// of the configuration a resume checks: a resumed run takes every weight from its checkpoint.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public float? LogvarInit { get; init; }
    /// <summary>Train post_quant_conv and the decoder only, from <c>--init</c>'s weights: the encoder, and with it the
    /// latent space and its scaling factor, stay exactly as they were, so UNets trained on those latents stay valid.</summary>
    public bool DecoderOnly { get; init; }
}

/// <summary>
/// <c>train-ae</c>: a small AutoencoderKL on photos. Loss = MSE(x̂, x) + λ_edge·MSE(∇x̂, ∇x) + β·KL(q(z|x) ‖ N(0, I)),
/// x̂ decoded from a posterior sample. The Sobel term (a fixed 3×3 convolution) weights edges more than plain MSE
/// does, which keeps reconstructions sharp without a pretrained perceptual network. Ends by measuring the latents'
/// standard deviation and storing 1/σ as <c>scaling_factor</c> (as Stable Diffusion's 0.18215 was found).
/// </summary>
public static class AeTrainer
{
    /// <summary>
    /// The default (shipped) small autoencoder: f = 2, 4 latent channels, 658,375 parameters. f = 2 keeps each 2×2
    /// RGB patch in 4 numbers (3× compression), enough to reconstruct detail within a CPU training budget, where the
    /// 12× compression of f = 4 learns far more slowly. 8 norm groups, not 32: with one channel per group the norm
    /// strips each channel's mean, and with it the colour, from the reconstructions.
    /// </summary>
    public static AutoencoderKLConfig Small => new()
    {
        BlockOutChannels = [32, 64], LayersPerBlock = 1, LatentChannels = 4, NormNumGroups = 8, ScalingFactor = 1f,
    };

    /// <param name="init">a weights folder to start from (its config must equal <paramref name="config"/> up to the
    /// scaling factor); required by <see cref="AeOptions.DecoderOnly"/></param>
    public static AutoencoderKLConfig Train(Device device, ImageFolder train, ImageFolder val, AutoencoderKLConfig config,
        TrainOptions o, AeOptions ae, string weightsOut, TextWriter log, string command, string? init = null)
    {
        if (ae.DecoderOnly && init is null) throw new ArgumentException("train-ae: decoder-only training needs initial weights.");
        if (train.Count == 0) throw new ArgumentException("train-ae: no training images.");
        int f = config.DownFactor;
        if (ae.Crop % f != 0) throw new ArgumentException($"train-ae: --crop {ae.Crop} must be a multiple of the autoencoder's factor {f}.");
        var usable = train.AtLeast(ae.Crop, log);
        if (usable.Length == 0) throw new ArgumentException($"train-ae: no training image is at least {ae.Crop}×{ae.Crop}.");

        using var model = new AutoencoderKL(config, device, o.Seed);
        AutoencoderKLConfig? initConfig = null;
        if (init is not null) // also on resume, where the checkpoint then overrides what it holds
        {
            initConfig = AutoencoderKLConfig.Load(Path.Combine(init, WeightsDir.ConfigFile));
            if (JsonSerializer.Serialize(initConfig with { ScalingFactor = 1f }) != JsonSerializer.Serialize(config with { ScalingFactor = 1f }))
                throw new ArgumentException($"--init {init}: its config.json differs from this run's autoencoder.");
            Boost.Models.Checkpoint.Load(model, Path.Combine(init, WeightsDir.ModelFile));
            log.WriteLine($"initialised from {init}");
        }
        else if (ae.LogvarInit is { } logvar) SetLogvarBias(model, logvar);
        string configJson = JsonSerializer.Serialize(new { config = config with { ScalingFactor = 1f }, ae });
        // Decoder-only: the session (optimizer, EMA, checkpoint) sees the decoder's parameters alone; the encoder is
        // run without a tape and its weights come from init on every start, resume included.
        using var session = new TrainSession(ae.DecoderOnly ? model.DecoderPart() : model, o, "ae", configJson, log);
        Boost.Models.IO.AtomicFile.RemoveStale(o.RunDir); // what a killed run left half-written
        using var sobel = SobelWeights(device);
        log.WriteLine($"autoencoder: {model.ParameterCount:N0} parameters, f = {f}, {config.LatentChannels} latent channels; {usable.Length} training photos, {ae.Crop}px crops, batch {o.Batch}");

        var valCrops = ValidationCrops(val.Count > 0 ? val : train, 128, f);
        session.Run(step =>
        {
            var random = Seeds.Host(o.Seed, step, Seeds.Data);
            var crops = new List<ChwImage>(o.Batch);
            for (int b = 0; b < o.Batch; b++)
                crops.Add(Augment.RandomFlipHorizontal(train.RandomCrop(usable[random.Next(usable.Length)], ae.Crop, random), random));
            var x = Ops.Constant(ChwImage.Stack(device, crops));
            Var mean, logvar, z;
            if (ae.DecoderOnly)
            {
                Tensor sample;
                using (Tape.NoGrad()) // frees the encoder's intermediates on close: keep a copy of the sample
                {
                    var (m, lv) = model.Encode(x);
                    sample = AutoencoderKL.Sample(m, lv, o.Seed, Seeds.Mix(o.Seed, (ulong)step, Seeds.Posterior)).Value.Clone();
                }
                z = mean = logvar = Ops.Constant(sample); // the recording tape owns it; mean and logvar are unused
            }
            else
            {
                (mean, logvar) = model.Encode(x);
                z = AutoencoderKL.Sample(mean, logvar, o.Seed, Seeds.Mix(o.Seed, (ulong)step, Seeds.Posterior));
            }
            var y = model.Decode(z);
            var loss = Ops.MseLoss(y, x);
            if (ae.EdgeWeight > 0)
                loss = Ops.Combine(loss, Ops.MseLoss(Ops.Conv2d(y, Ops.Borrow(sobel), null, 1, 1), Ops.Conv2d(x, Ops.Borrow(sobel), null, 1, 1)), 1f, ae.EdgeWeight);
            if (ae.KlWeight > 0 && !ae.DecoderOnly) loss = Ops.Combine(loss, Kl(mean, logvar), 1f, ae.KlWeight);
            return loss;
        }, step =>
        {
            using var _ = session.UseEma();
            return Validate(model, valCrops, Path.Combine(o.RunDir, $"val-{step:D6}.png"));
        }, "train-ae");
        if (session.Finished) return config; // resumed a finished run: nothing is written

        using (session.UseEma())
        {
            AutoencoderKLConfig shipped;
            if (ae.DecoderOnly)
            {
                shipped = initConfig!; // the encoder is init's: its latents, and their scale, are unchanged
                log.WriteLine($"encoder unchanged: scaling_factor stays {shipped.ScalingFactor:G6}");
            }
            else
            {
                float sigma = LatentStd(model, valCrops.Concat(ValidationCrops(train, 128, f).Take(16)).ToList());
                shipped = config with { ScalingFactor = 1f / sigma };
                log.WriteLine($"latent std {sigma:G4}: scaling_factor = {shipped.ScalingFactor:G6}");
            }
            var metrics = Validate(model, valCrops, null);
            WeightsDir.Save(weightsOut, model, JsonSerializer.Serialize(shipped, WeightsDir.Json), new Dictionary<string, object?>
            {
                ["what"] = "AutoencoderKL (diffusers layout and keys), EMA weights",
                ["command"] = command, ["steps"] = session.Step, ["batch"] = o.Batch, ["crop"] = ae.Crop, ["seed"] = o.Seed,
                ["device"] = device.Name, ["train_seconds"] = Math.Round(session.TrainSeconds), ["parameters"] = model.ParameterCount,
                ["validation"] = metrics, ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd"),
            });
            log.WriteLine($"wrote {weightsOut}");
            return shipped;
        }
    }

    /// <summary>Sets the log-variance half of quant_conv's bias (channels latent..2·latent−1) to <paramref name="value"/>.</summary>
    public static void SetLogvarBias(AutoencoderKL model, float value)
    {
        var bias = model.NamedParameters().Single(p => p.key == "quant_conv.bias").param.Value;
        var b = bias.ToArray();
        for (int c = model.Config.LatentChannels; c < b.Length; c++) b[c] = value;
        bias.CopyFrom(b);
    }

    /// <summary>Mean over elements of ½(μ² + σ² − 1 − log σ²).</summary>
    public static Var Kl(Var mean, Var logvar)
    {
        var terms = Ops.Sub(Ops.Add(Ops.Mul(mean, mean), Ops.Exp(logvar)), Ops.Affine(logvar, 1f, 1f));
        return Ops.Affine(Ops.SumAll(terms), 0.5f / mean.Value.Length);
    }

    /// <summary>Per channel c: output 2c is ∂/∂x, 2c+1 is ∂/∂y (Sobel, /8) of input channel c.</summary>
    /// <returns>[6, 3, 3, 3]</returns>
    public static Tensor SobelWeights(Device device)
    {
        float[] gx = [-1, 0, 1, -2, 0, 2, -1, 0, 1], gy = [-1, -2, -1, 0, 0, 0, 1, 2, 1];
        var w = new float[6 * 3 * 9];
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 9; k++)
            {
                w[((2 * c) * 3 + c) * 9 + k] = gx[k] / 8f;
                w[((2 * c + 1) * 3 + c) * 9 + k] = gy[k] / 8f;
            }
        return Tensor.FromArray(device, w, 6, 3, 3, 3);
    }

    /// <summary>Centre crops (size rounded down to the factor and to the image) of every image.</summary>
    public static List<ChwImage> ValidationCrops(ImageFolder images, int size, int factor) => ValidationCrops(images, size, factor, out _);

    /// <param name="sources">for each crop, the index of its image in <paramref name="images"/> (images too small for
    /// the factor give no crop, so crop i need not come from image i)</param>
    public static List<ChwImage> ValidationCrops(ImageFolder images, int size, int factor, out List<int> sources)
    {
        var list = new List<ChwImage>();
        sources = new List<int>();
        for (int i = 0; i < images.Count; i++)
        {
            int s = Math.Min(size, Math.Min(images.Images[i].Width, images.Images[i].Height)) / factor * factor;
            if (s < factor) continue;
            var img = images.Images[i];
            list.Add(images.GetChw(i, (img.Height - s) / 2, (img.Width - s) / 2, s, s));
            sources.Add(i);
        }
        return list;
    }

    public static Dictionary<string, double> Validate(AutoencoderKL model, List<ChwImage> crops, string? gridPath)
    {
        double psnr = 0, ssim = 0, mse = 0;
        var rows = new List<IReadOnlyList<ChwImage?>>();
        foreach (var crop in crops)
        {
            using var tape = Tape.NoGrad();
            var x = Ops.Constant(crop.ToTensor(model.Encoder.Parameters().First().Device));
            var y = model.Decode(model.Encode(x).mean);
            var rec = ChwImage.FromTensor(y.Value);
            Resample.Clamp(rec);
            psnr += Metrics.Psnr(rec, crop);
            ssim += Metrics.Ssim(rec, crop);
            mse += rec.Data.Zip(crop.Data, (a, b) => (double)(a - b) * (a - b)).Average();
            if (rows.Count < 8) rows.Add([crop, rec]);
        }
        if (gridPath is not null && rows.Count > 0) GridImage.Save(gridPath, rows, ["photo", "reconstruction"]);
        int n = Math.Max(crops.Count, 1);
        return new Dictionary<string, double> { ["val_loss"] = mse / n, ["val_psnr"] = psnr / n, ["val_ssim"] = ssim / n };
    }

    /// <summary>The standard deviation of the posterior means over <paramref name="crops"/>.</summary>
    public static float LatentStd(AutoencoderKL model, List<ChwImage> crops)
    {
        double s = 0, s2 = 0; long n = 0;
        foreach (var crop in crops)
        {
            using var latent = Upsampler.EncodeMean(model, [crop], 1f);
            var z = latent.ToArray();
            foreach (float v in z) { s += v; s2 += (double)v * v; n++; }
        }
        double mean = s / n;
        return (float)Math.Sqrt(Math.Max(s2 / n - mean * mean, 1e-12));
    }
}
