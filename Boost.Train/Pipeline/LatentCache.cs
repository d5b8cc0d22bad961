using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Boost.Autograd;
using Boost.Kernels;
using Boost.Models.SafeTensors;
using Boost.Models.Vae;
using Boost.Train.Data;
using Boost.Train.Imaging;

namespace Boost.Train.Pipeline;

/// <summary>
/// Autoencoder latents of random photo crops, computed once and kept on disk (safetensors) so training never runs
/// the autoencoder. Per crop i (scaled by the autoencoder's <c>scaling_factor</c>):
/// <c>hr</c>[i] = E(x) [C, s/f, s/f]; <c>lr_psu</c>[i] = E(bicubic↑(x↓)) [C, s/f, s/f]; <c>lr_latent</c>[i] = E(x↓)
/// [C, s/(f·r), s/(f·r)], where x↓ is the antialiased ×r downscale. E is the posterior mean.
/// The file name hashes the autoencoder's weights, the photos (paths, sizes, dates) and the crop plan, so a stale
/// cache is never reused.
/// </summary>
public sealed class LatentCache
{
    public required float[] Hr { get; init; }
    public required float[] LrPsu { get; init; }
    public required float[] LrLatent { get; init; }
    public int Count { get; init; }
    public int Channels { get; init; }
    /// <summary>Side of the HR latents.</summary>
    public int Size { get; init; }
    public int Scale { get; init; }
    public int LrSize => Size / Scale;

    /// <summary>Loads the cache for this plan, building (and saving) it first when missing.</summary>
    public static LatentCache Build(AutoencoderKL ae, string aeWeightsFile, ImageFolder photos, int crop, int cropsPerImage, int scale,
        ulong seed, string cacheDir, TextWriter log)
    {
        int f = ae.Config.DownFactor;
        if (crop % (f * scale) != 0) throw new ArgumentException($"latent cache: the crop {crop} must be a multiple of {f * scale} (autoencoder factor × scale).");
        var usable = photos.AtLeast(crop, log);
        if (usable.Length == 0) throw new ArgumentException($"latent cache: no image is at least {crop}×{crop}.");
        string key = Fingerprint(aeWeightsFile, photos, crop, cropsPerImage, scale, seed);
        string path = Path.Combine(cacheDir, $"latents-{key}.safetensors");
        int c = ae.Config.LatentChannels, s = crop / f, n = usable.Length * cropsPerImage;
        if (File.Exists(path))
        {
            try
            {
                using var file = SafeTensorsFile.Read(path);
                var data = StateDict.ReadStrict(file, [("hr", [n, c, s, s]), ("lr_psu", [n, c, s, s]), ("lr_latent", [n, c, s / scale, s / scale])]);
                log.WriteLine($"latent cache: {n} crops from {path}");
                return new LatentCache { Hr = data["hr"], LrPsu = data["lr_psu"], LrLatent = data["lr_latent"], Count = n, Channels = c, Size = s, Scale = scale };
            }
            catch (SafeTensorsException e) { log.WriteLine($"warning: rebuilding the latent cache: {e.Message}"); }
        }

        float sf = ae.Config.ScalingFactor;
        var hr = new float[n * c * s * s];
        var psu = new float[n * c * s * s];
        var lat = new float[n * c * (s / scale) * (s / scale)];
        var sw = System.Diagnostics.Stopwatch.StartNew();
        const int chunk = 8;
        for (int start = 0; start < n; start += chunk)
        {
            int m = Math.Min(chunk, n - start);
            var hrImages = new List<ChwImage>(); var psuImages = new List<ChwImage>(); var lrImages = new List<ChwImage>();
            for (int j = start; j < start + m; j++)
            {
                var random = Seeds.Host(seed, j, Seeds.Data);
                var x = Augment.RandomFlipHorizontal(photos.RandomCrop(usable[j / cropsPerImage], crop, random), random);
                var lr = Resample.Downscale(x, scale);
                hrImages.Add(x); lrImages.Add(lr); psuImages.Add(Resample.UpscaleBicubic(lr, scale));
            }
            EncodeInto(ae, hrImages, sf, hr.AsSpan(start * c * s * s));
            EncodeInto(ae, psuImages, sf, psu.AsSpan(start * c * s * s));
            EncodeInto(ae, lrImages, sf, lat.AsSpan(start * c * (s / scale) * (s / scale)));
            if (start == 0 || (start / chunk) % 16 == 15) log.WriteLine($"latent cache: encoded {start + m}/{n} crops ({sw.Elapsed.TotalSeconds:F0} s)");
        }
        Directory.CreateDirectory(cacheDir);
        Boost.Models.IO.AtomicFile.RemoveStale(cacheDir);
        SafeTensorsFile.Write(path, [("hr", [n, c, s, s], hr), ("lr_psu", [n, c, s, s], psu), ("lr_latent", [n, c, s / scale, s / scale], lat)],
            new Dictionary<string, string> { ["autoencoder"] = aeWeightsFile, ["photos"] = photos.Root, ["crop"] = crop.ToString(CultureInfo.InvariantCulture) });
        log.WriteLine($"latent cache: {n} crops encoded in {sw.Elapsed.TotalSeconds:F0} s, saved to {path}");
        return new LatentCache { Hr = hr, LrPsu = psu, LrLatent = lat, Count = n, Channels = c, Size = s, Scale = scale };
    }

    /// <summary>E(x)·scaling_factor (posterior mean) of equally sized images, written to <paramref name="dst"/>.</summary>
    public static void EncodeInto(AutoencoderKL ae, IReadOnlyList<ChwImage> images, float scalingFactor, Span<float> dst)
    {
        using var z = Upsampler.EncodeMean(ae, images, scalingFactor);
        z.CopyTo(dst[..(int)z.Length]);
    }

    private static string Fingerprint(string aeWeightsFile, ImageFolder photos, int crop, int k, int scale, ulong seed)
    {
        var sb = new StringBuilder();
        sb.Append(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(aeWeightsFile))));
        foreach (var p in photos.Paths)
        {
            var info = new FileInfo(p);
            sb.Append('|').Append(Path.GetFileName(p)).Append(':').Append(info.Length);
        }
        sb.Append($"|crop {crop}|k {k}|scale {scale}|seed {seed}|v1");
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..16].ToLowerInvariant();
    }
}
