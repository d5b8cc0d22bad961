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

    /// <summary>The loader limits for a tiled boost: what the output (and its blend weights) can hold, at most the
    /// loader's own limit; the tiles bound the rest.</summary>
    public Data.ImageLoadOptions TiledInputLimits => Data.ImageLoadOptions.Default with
    {
        MaxPixels = Math.Min(Data.ImageLoadOptions.Default.MaxPixels, Array.MaxLength / 3 / (Config.Scale * Config.Scale)),
        MaxPixelsNote = $"the most one ×{Config.Scale} output image holds",
    };

    /// <summary>x0 = √ᾱ·c + τ·√(1−ᾱ)·ε (ε seeded). τ is the sampling temperature: 1 draws the source the model was
    /// trained on; τ &lt; 1 starts nearer the condition's mean, trading sample variety (and detail) for fidelity, as
    /// Glow's temperature does; 0 is deterministic.</summary>
    /// <param name="eps">the noise ε, c's shape (a window of a larger image's noise, for tiles); null: drawn from
    /// <paramref name="seed"/> (stream 0) at c's shape</param>
    public Tensor Source(Tensor c, ulong seed, float temperature = 1f, Tensor? eps = null)
    {
        if (!(temperature >= 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "the sampling temperature must be ≥ 0.");
        float abar = Config.AlphaBar;
        if (Config.NoiseStep == 0) return c.Clone();
        using var drawn = eps is null ? Rng.Normal(c.Device, seed, 0, c.Shape) : null;
        return Elementwise.Axpby(MathF.Sqrt(abar), c, temperature * MathF.Sqrt(1 - abar), eps ?? drawn!);
    }

    /// <summary>The HR latent from the condition: the flow solved from 0 to 1 (CFM), or one call (regression, NFE 1).</summary>
    public (Tensor z, int nfe) Generate(Tensor c, SolverOptions solver, ulong seed, float temperature = 1f, Tensor? eps = null)
    {
        if (Config.Objective == Objective.Regression) return (Predict(c, c, 0), 1);
        using var x0 = Source(c, seed, temperature, eps);
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

    /// <summary>
    /// ×scale of an image of any size in tiles of <paramref name="tile"/>² LR pixels that overlap by
    /// <paramref name="overlap"/>: each tile runs the whole pipeline (condition, flow, decode) alone, so working memory
    /// is bounded by the tile; the outputs are blended with linear ramps across each overlap (weights normalised, so any
    /// overlap width sums to one). The source noise is one field over the whole HR latent, each tile taking its window:
    /// overlapping tiles start from the same x0 there, and an image that fits one tile gives exactly <see cref="Boost"/>'s
    /// result. Beyond the tiles, memory holds the output and its blend weights (16 bytes per HR pixel).
    /// </summary>
    /// <param name="progress">called after each tile with (tiles done, tiles in all)</param>
    /// <returns>the image and the largest NFE of any tile</returns>
    public (ChwImage hr, int nfe) BoostTiled(ChwImage lr, SolverOptions solver, ulong seed, float temperature, int backProjection,
        int tile, int overlap, Action<int, int>? progress = null)
    {
        int r = Config.Scale, m = LrMultiple, f = Autoencoder.Config.DownFactor;
        if (tile < 2 * m || tile % m != 0)
            throw new ArgumentException($"boost: --tile {tile} must be a multiple of {m} (this model's LR multiple) and at least {2 * m}.");
        if (overlap < 0 || overlap % m != 0 || overlap >= tile)
            throw new ArgumentException($"boost: --overlap {overlap} must be a multiple of {m}, ≥ 0 and smaller than the tile ({tile}).");
        CheckOutputSize(lr.Width, lr.Height);
        if (lr.Width <= tile && lr.Height <= tile) { progress?.Invoke(1, 1); return Boost(lr, solver, seed, temperature, backProjection); }

        int ph = (lr.Height + m - 1) / m * m, pw = (lr.Width + m - 1) / m * m;
        var padded = ph == lr.Height && pw == lr.Width ? lr : PadReplicate(lr, ph, pw);
        int[] ys = Origins(ph, tile, overlap), xs = Origins(pw, tile, overlap);
        int channels = Autoencoder.Config.LatentChannels;
        // The noise over the whole HR latent, drawn as Boost draws it for one tile of that size.
        using var noise = Rng.Normal(Device.Cpu, seed, 0, [1, channels, ph * r / f, pw * r / f]);
        var sum = new ChwImage(3, ph * r, pw * r);
        var weight = new float[(long)ph * r * pw * r];
        int done = 0, total = ys.Length * xs.Length, nfe = 0;
        foreach (int y0 in ys)
            foreach (int x0 in xs)
            {
                int th = Math.Min(tile, ph), tw = Math.Min(tile, pw);
                var part = Augment.Crop(padded, y0, x0, th, tw);
                using var c = Condition(part);
                using var eps = Tensor.FromArray(Device, Window(noise.Span, channels, ph * r / f, pw * r / f, y0 * r / f, x0 * r / f, th * r / f, tw * r / f),
                    1, channels, th * r / f, tw * r / f);
                var (z, n) = Generate(c, solver, seed, temperature, eps);
                nfe = Math.Max(nfe, n);
                ChwImage hr;
                using (z) hr = Decode(z);
                Blend(sum, weight, hr, y0 * r, x0 * r, overlap * r, y0 > 0, y0 + th < ph, x0 > 0, x0 + tw < pw);
                progress?.Invoke(++done, total);
            }
        int plane = sum.PlaneSize;
        for (int ch = 0; ch < 3; ch++)
        {
            var p = sum.Plane(ch);
            for (int i = 0; i < plane; i++) p[i] /= weight[i];
        }
        var result = sum.Height != lr.Height * r || sum.Width != lr.Width * r ? Augment.Crop(sum, 0, 0, lr.Height * r, lr.Width * r) : sum;
        return (backProjection > 0 ? Resample.BackProject(result, lr, backProjection) : result, nfe);
    }

    /// <summary>Refuses, before any work, an output that would not fit: 3 channels and a blend weight per HR pixel,
    /// counted in 64 bits.</summary>
    public void CheckOutputSize(long width, long height)
    {
        long hr = width * Config.Scale * height * Config.Scale;
        if (hr * 3 > Array.MaxLength)
            throw new ArgumentException($"boost: {width}x{height} ×{Config.Scale} = {hr / 1e6:0.#} MP of output exceeds the {Array.MaxLength / 3 / 1e6:0.#} MP one image holds.");
    }

    /// <summary>Tile origins along a side of <paramref name="size"/>: steps of tile − overlap, the last one flush with
    /// the end (so it may overlap its neighbour by more).</summary>
    internal static int[] Origins(int size, int tile, int overlap)
    {
        if (size <= tile) return [0];
        var list = new List<int>();
        for (int o = 0; ; o += tile - overlap)
        {
            if (o + tile >= size) { list.Add(size - tile); break; }
            list.Add(o);
        }
        return [.. list.Distinct()];
    }

    private static float[] Window(ReadOnlySpan<float> field, int channels, int height, int width, int top, int left, int h, int w)
    {
        var window = new float[channels * h * w];
        for (int ch = 0; ch < channels; ch++)
            for (int i = 0; i < h; i++)
                field.Slice((ch * height + top + i) * width + left, w).CopyTo(window.AsSpan((ch * h + i) * w, w));
        return window;
    }

    /// <summary>Adds <paramref name="tile"/>·w into <paramref name="sum"/> and w into <paramref name="weight"/> at
    /// (top, left), w the product of linear ramps 0 → 1 over <paramref name="ramp"/> pixels on each side that has a
    /// neighbour (1 at the image's own edges).</summary>
    internal static void Blend(ChwImage sum, float[] weight, ChwImage tile, int top, int left, int ramp, bool up, bool down, bool leftN, bool rightN)
    {
        int h = tile.Height, w = tile.Width;
        float Ramp(int i, int n, bool before, bool after)
        {
            float v = 1f;
            if (ramp > 0 && before) v = Math.Min(v, (i + 0.5f) / ramp);
            if (ramp > 0 && after) v = Math.Min(v, (n - i - 0.5f) / ramp);
            return v;
        }
        for (int i = 0; i < h; i++)
        {
            float wy = Ramp(i, h, up, down);
            for (int j = 0; j < w; j++)
            {
                float wt = wy * Ramp(j, w, leftN, rightN);
                int at = (top + i) * sum.Width + left + j;
                weight[at] += wt;
                for (int ch = 0; ch < 3; ch++) sum.Data[ch * sum.PlaneSize + at] += wt * tile[ch, i, j];
            }
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
