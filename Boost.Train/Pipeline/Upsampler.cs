using Boost.Autograd;
using Boost.Kernels;
using Boost.Models;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Imaging;
using Boost.Train.Sampling;
using Upsample = Boost.Kernels.Upsample;

namespace Boost.Train.Pipeline;

/// <summary>
/// The boosting pipeline at inference: LR image → condition c = up(z_lr) → (CFM: integrate the learned velocity
/// from x0 = √ᾱ·c + √(1−ᾱ)·ε at t = 0 to t = 1; regression: one UNet call) → HR latent → decoder → HR image.
/// The UNet sees [x_t, c] on the channel axis and the time as t·1000.
/// </summary>
public sealed class Upsampler
{
    public AutoencoderKL Autoencoder { get; }
    public UNetModel UNet { get; }
    public CfmConfig Config { get; }
    public Device Device { get; }
    private float ScalingFactor => Autoencoder.Config.ScalingFactor;
    /// <summary>Pixel multiple an HR image side must have: autoencoder factor × UNet downsampling.</summary>
    public int HrMultiple => Autoencoder.Config.DownFactor * (1 << (UNet.Config.ChannelMult.Length - 1));

    /// <summary>The smallest multiple an LR side must have: psu needs r·m divisible by f·2^(levels−1); the latent path
    /// also encodes the LR image itself, so m must be a multiple of f and (m/f)·r of 2^(levels−1).</summary>
    public int LrMultiple
    {
        get
        {
            int f = Autoencoder.Config.DownFactor, u = 1 << (UNet.Config.ChannelMult.Length - 1), r = Config.Scale;
            for (int m = 1; ; m++)
                if (Config.LrPath == LrPath.Psu ? m * r % (f * u) == 0 : m % f == 0 && m / f * r % u == 0) return m;
        }
    }

    /// <summary>
    /// The most LR pixels <see cref="Boost"/> takes: its largest tensor, an autoencoder activation at (HR size / 2^i)
    /// with block_out_channels[i] or [i+1] channels (the decoder upsamples before it narrows), must fit one array of
    /// <see cref="Array.MaxLength"/> floats. (×4 with the shipped [32, 64] autoencoder: 2.1 MP, about 1450².)
    /// </summary>
    public long MaxInputPixels
    {
        get
        {
            var ch = Autoencoder.Config.BlockOutChannels;
            double perHrPixel = Config.LrPath == LrPath.Psu ? 3 : 3.0 / (Config.Scale * Config.Scale);
            for (int i = 0; i < ch.Length; i++)
                perHrPixel = Math.Max(perHrPixel, Math.Max(ch[i], ch[Math.Min(i + 1, ch.Length - 1)]) / Math.Pow(4, i));
            return (long)(Array.MaxLength / (perHrPixel * Config.Scale * Config.Scale));
        }
    }

    /// <summary>The loader limits for an image to boost: <see cref="MaxInputPixels"/>, checked on the header before decoding.</summary>
    public Data.ImageLoadOptions InputLimits => Data.ImageLoadOptions.Default with
    {
        MaxPixels = Math.Min(Data.ImageLoadOptions.Default.MaxPixels, MaxInputPixels),
        MaxPixelsNote = $"the most this model boosts ×{Config.Scale} (its largest tensor must fit one array)",
    };

    public Upsampler(AutoencoderKL autoencoder, UNetModel unet, CfmConfig config)
    {
        Autoencoder = autoencoder;
        UNet = unet;
        Config = config;
        Device = unet.Parameters().First().Device;
        if (unet.Config.OutChannels != autoencoder.Config.LatentChannels)
            throw new ArgumentException($"the UNet returns {unet.Config.OutChannels} channels but the autoencoder's latents have {autoencoder.Config.LatentChannels}.");
    }

    /// <summary>Loads a model folder (<c>weights/cfm</c>) and the autoencoder folder it decodes with (<c>weights/ae</c>).</summary>
    public static Upsampler Load(string dir, string aeDir, Device device)
    {
        var ae = LoadAutoencoder(aeDir, device);
        var config = CfmConfig.FromJson(WeightsDir.ReadConfig(dir), Path.Combine(dir, WeightsDir.ConfigFile));
        RequireSameSize(dir, config.UNet.ParameterCount(), null);
        var unet = new UNetModel(config.UNet, device);
        Checkpoint.Load(unet, Path.Combine(dir, WeightsDir.ModelFile));
        return new Upsampler(ae, unet, config);
    }

    public static AutoencoderKL LoadAutoencoder(string dir, Device device)
    {
        WeightsDir.ReadConfig(dir);
        var config = AutoencoderKLConfig.Load(Path.Combine(dir, WeightsDir.ConfigFile));
        RequireSameSize(dir, config.ParameterCount(), VaeKeys.Map(config.BlockOutChannels.Length));
        var ae = new AutoencoderKL(config, device);
        Checkpoint.Load(ae, Path.Combine(dir, WeightsDir.ModelFile), VaeKeys.Map(config.BlockOutChannels.Length));
        return ae;
    }

    /// <summary>
    /// Before a model is built: the parameter count its config describes must be the number of values the folder's
    /// model.safetensors holds (under <paramref name="mapKey"/>), so a damaged config is refused from the header alone,
    /// without allocating a model of the wrong (possibly huge) size.
    /// </summary>
    private static void RequireSameSize(string dir, long parameters, Func<string, string?>? mapKey)
    {
        string path = Path.Combine(dir, WeightsDir.ModelFile);
        using var file = global::Boost.Models.SafeTensors.SafeTensorsFile.Read(path);
        long held = file.Names.Where(n => mapKey is null || mapKey(n) is not null).Sum(n => file.Info(n).ElementCount);
        if (held != parameters)
            throw new InvalidDataException($"{Path.Combine(dir, WeightsDir.ConfigFile)} describes a model of {parameters:N0} parameters, " +
                                           $"but {path} holds {held:N0} values: config and weights do not belong together.");
    }

    /// <summary>E(x)·scaling_factor (posterior mean).</summary>
    /// <returns>[1, C, H/f, W/f]</returns>
    public Tensor Encode(ChwImage image) => EncodeMean(Autoencoder, [image], ScalingFactor);

    /// <summary>The posterior means of equally sized images, times <paramref name="scale"/>: the one place images become latents.</summary>
    /// <returns>[N, C, H/f, W/f] on the autoencoder's device</returns>
    public static Tensor EncodeMean(AutoencoderKL ae, IReadOnlyList<ChwImage> images, float scale)
    {
        using var tape = Tape.NoGrad();
        var mean = ae.Encode(Ops.Constant(ChwImage.Stack(ae.Decoder.Parameters().First().Device, images))).mean;
        return Elementwise.Affine(mean.Value, scale, 0f);
    }

    /// <param name="z">[N, C, h, w] scaled latents</param>
    /// <returns>image <paramref name="index"/>, clamped to [−1, 1]</returns>
    public ChwImage Decode(Tensor z, int index = 0)
    {
        using var tape = Tape.NoGrad();
        using var unscaled = Elementwise.Affine(z, 1f / ScalingFactor, 0f);
        var image = ChwImage.FromTensor(Autoencoder.Decode(Ops.Borrow(unscaled)).Value, index);
        Resample.Clamp(image);
        return image;
    }

    /// <summary>The condition c = up(z_lr) for an LR image whose sides are multiples of HrMultiple / scale.</summary>
    /// <returns>[1, C, H·r/f, W·r/f]</returns>
    public Tensor Condition(ChwImage lr)
    {
        int r = Config.Scale;
        if (Config.LrPath == LrPath.Psu) return Encode(Resample.UpscaleBicubic(lr, r));
        using var z = Encode(lr);
        return Upsample.Bilinear(z, r);
    }

    /// <summary>The latent-space baseline: decode(bilinear↑(E(lr))).</summary>
    public ChwImage LatentBilinear(ChwImage lr)
    {
        using var z = Encode(lr);
        using var up = Upsample.Bilinear(z, Config.Scale);
        return Decode(up);
    }

    /// <summary>The velocity (CFM) or the HR latent (regression) at time t for the batch x_t.</summary>
    /// <returns>[N, C, h, w], owned by the caller</returns>
    public Tensor Predict(Tensor xt, Tensor c, double t)
    {
        using var tape = Tape.NoGrad();
        var input = Ops.Concat(Ops.Borrow(xt), Ops.Borrow(c));
        var ts = new float[xt.Dim(0)];
        Array.Fill(ts, (float)(t * 1000));
        return UNet.Forward(input, ts).Detach();
    }

    /// <summary>x0 = √ᾱ·c + τ·√(1−ᾱ)·ε (ε seeded). τ is the sampling temperature: 1 draws the source the model was
    /// trained on; τ &lt; 1 starts nearer the condition's mean, trading sample variety (and detail) for fidelity, as
    /// Glow's temperature does; 0 is deterministic.</summary>
    public Tensor Source(Tensor c, ulong seed, float temperature = 1f)
    {
        if (!(temperature >= 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "the sampling temperature must be ≥ 0.");
        float abar = Config.AlphaBar;
        if (Config.NoiseStep == 0) return c.Clone();
        using var eps = Rng.Normal(c.Device, seed, 0, c.Shape);
        return Elementwise.Axpby(MathF.Sqrt(abar), c, temperature * MathF.Sqrt(1 - abar), eps);
    }

    /// <summary>The HR latent from the condition: the flow solved from 0 to 1 (CFM), or one call (regression, NFE 1).</summary>
    public (Tensor z, int nfe) Generate(Tensor c, SolverOptions solver, ulong seed, float temperature = 1f)
    {
        if (Config.Objective == Objective.Regression) return (Predict(c, c, 0), 1);
        using var x0 = Source(c, seed, temperature);
        using var result = Samplers.Solve((t, x) => Predict(x, c, t), x0, 0, 1, solver);
        return (result.X.Clone(), result.Evaluations);
    }

    /// <summary>
    /// ×scale of a whole image: the LR image is padded (edge replicate) to the model's multiple, boosted, decoded
    /// and cropped back to exactly scale × its size.
    /// </summary>
    /// <param name="backProjection">iterations of <see cref="Resample.BackProject"/> on the result against
    /// <paramref name="lr"/> (0: none)</param>
    public (ChwImage hr, int nfe) Boost(ChwImage lr, SolverOptions solver, ulong seed = 0, float temperature = 1f, int backProjection = 0)
    {
        int r = Config.Scale, m = LrMultiple;
        int ph = (lr.Height + m - 1) / m * m, pw = (lr.Width + m - 1) / m * m;
        if ((long)ph * pw > MaxInputPixels)
            throw new ArgumentException($"boost: {lr.Width}x{lr.Height} (padded {pw}x{ph}) exceeds the limit of {MaxInputPixels / 1e6:0.##} MP that this model boosts ×{r}.");
        var padded = ph == lr.Height && pw == lr.Width ? lr : PadReplicate(lr, ph, pw);
        using var c = Condition(padded);
        var (z, nfe) = Generate(c, solver, seed, temperature);
        using (z)
        {
            var hr = Decode(z);
            if (hr.Height != lr.Height * r || hr.Width != lr.Width * r) hr = Augment.Crop(hr, 0, 0, lr.Height * r, lr.Width * r);
            return (backProjection > 0 ? Resample.BackProject(hr, lr, backProjection) : hr, nfe);
        }
    }

    /// <summary>Grows an image to height × width by repeating its last row and column.</summary>
    public static ChwImage PadReplicate(ChwImage x, int height, int width)
    {
        var y = new ChwImage(x.Channels, height, width);
        for (int ch = 0; ch < x.Channels; ch++)
            for (int i = 0; i < height; i++)
                for (int j = 0; j < width; j++)
                    y[ch, i, j] = x[ch, Math.Min(i, x.Height - 1), Math.Min(j, x.Width - 1)];
        return y;
    }
}
