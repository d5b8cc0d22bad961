using Boost.Kernels.Cpu;

namespace Boost.Train.Imaging;

public enum DownscaleFilter
{
    /// <summary>PIL's antialiased bicubic (<c>Image.resize(..., BICUBIC)</c>, a = −0.5, kernel stretched by the factor) = torch <c>interpolate(..., mode="bicubic", antialias=True)</c>.</summary>
    Bicubic,
    /// <summary>Box / area average of each factor×factor block (torch <c>mode="area"</c>).</summary>
    Area,
}

/// <summary>
/// Resampling of <see cref="ChwImage"/>s, all separable: per axis a table of taps (source index, weight) per
/// output pixel, applied along rows, then along columns. Coordinates follow the half-pixel convention
/// (align_corners = False): output pixel o has source centre (o + 0.5)·in/out − 0.5.
/// </summary>
public static class Resample
{
    /// <summary>Keys' cubic convolution with parameter a: PyTorch uses −0.75, PIL −0.5.</summary>
    public static double Cubic(double x, double a)
    {
        x = Math.Abs(x);
        if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        return 0;
    }

    public const double TorchCubicA = -0.75, PilCubicA = -0.5;

    /// <summary>
    /// Antialiased downscale by an integer factor; height and width must be multiples of it. Bicubic output is
    /// clamped to [−1, 1] (PIL's is 8-bit, so its ringing is clipped the same way); area output needs no clamp.
    /// </summary>
    /// <param name="x">[C, H, W]</param>
    /// <returns>[C, H / factor, W / factor]</returns>
    public static ChwImage Downscale(ChwImage x, int factor, DownscaleFilter filter = DownscaleFilter.Bicubic)
    {
        if (factor < 1) throw new ArgumentException($"Downscale: factor {factor} must be ≥ 1.");
        if (x.Height % factor != 0 || x.Width % factor != 0)
            throw new ArgumentException($"Downscale: {x.ShapeString} is not divisible by the factor {factor}; crop it first.");
        int oh = x.Height / factor, ow = x.Width / factor;
        if (filter == DownscaleFilter.Area)
            return Separable(x, AreaTaps(x.Height, factor), AreaTaps(x.Width, factor));
        var y = ResizeAntialiased(x, oh, ow);
        Clamp(y);
        return y;
    }

    /// <summary>PIL-style antialiased bicubic resize to any size (not clamped): for downscaling the a = −0.5 kernel is stretched by in/out and renormalised at the borders.</summary>
    /// <param name="x">[C, H, W]</param>
    /// <returns>[C, outHeight, outWidth]</returns>
    public static ChwImage ResizeAntialiased(ChwImage x, int outHeight, int outWidth)
    {
        CheckSize("ResizeAntialiased", outHeight, outWidth);
        return Separable(x, PilTaps(x.Height, outHeight), PilTaps(x.Width, outWidth));
    }

    /// <summary>PyTorch <c>interpolate(mode="bicubic", align_corners=False)</c>: a = −0.75, source indices clamped to the border; not clamped in value.</summary>
    /// <param name="x">[C, H, W]</param>
    /// <returns>[C, outHeight, outWidth]</returns>
    public static ChwImage Bicubic(ChwImage x, int outHeight, int outWidth)
    {
        CheckSize("Bicubic", outHeight, outWidth);
        return Separable(x, TorchBicubicTaps(x.Height, outHeight), TorchBicubicTaps(x.Width, outWidth));
    }

    /// <summary>PyTorch <c>interpolate(mode="bilinear", align_corners=False)</c>.</summary>
    /// <param name="x">[C, H, W]</param>
    /// <returns>[C, outHeight, outWidth]</returns>
    public static ChwImage Bilinear(ChwImage x, int outHeight, int outWidth)
    {
        CheckSize("Bilinear", outHeight, outWidth);
        return Separable(x, TorchBilinearTaps(x.Height, outHeight), TorchBilinearTaps(x.Width, outWidth));
    }

    /// <summary>PyTorch <c>interpolate(mode="nearest")</c>: source index ⌊o·in/out⌋.</summary>
    /// <param name="x">[C, H, W]</param>
    /// <returns>[C, outHeight, outWidth]</returns>
    public static ChwImage Nearest(ChwImage x, int outHeight, int outWidth)
    {
        CheckSize("Nearest", outHeight, outWidth);
        return Separable(x, NearestTaps(x.Height, outHeight), NearestTaps(x.Width, outWidth));
    }

    /// <returns>[C, H·factor, W·factor]</returns>
    public static ChwImage UpscaleBicubic(ChwImage x, int factor) => Bicubic(x, x.Height * factor, x.Width * factor);

    /// <returns>[C, H·factor, W·factor]</returns>
    public static ChwImage UpscaleBilinear(ChwImage x, int factor) => Bilinear(x, x.Height * factor, x.Width * factor);

    /// <summary>Gaussian blur, kernel radius ⌈3σ⌉, borders clamped (edge pixels repeated).</summary>
    /// <param name="x">[C, H, W]</param>
    /// <returns>[C, H, W]</returns>
    public static ChwImage GaussianBlur(ChwImage x, double sigma)
    {
        if (!(sigma > 0)) throw new ArgumentException($"GaussianBlur: sigma {sigma} must be > 0.");
        var kernel = GaussianKernel(sigma, (int)Math.Ceiling(3 * sigma));
        return Separable(x, ConvolutionTaps(x.Height, kernel), ConvolutionTaps(x.Width, kernel));
    }

    /// <summary>The normalised Gaussian of 2·radius + 1 taps.</summary>
    public static double[] GaussianKernel(double sigma, int radius)
    {
        var k = new double[2 * radius + 1];
        double sum = 0;
        for (int i = -radius; i <= radius; i++) sum += k[i + radius] = Math.Exp(-i * i / (2 * sigma * sigma));
        for (int i = 0; i < k.Length; i++) k[i] /= sum;
        return k;
    }

    private static Taps ConvolutionTaps(int size, double[] kernel)
    {
        int n = kernel.Length, radius = n / 2;
        var t = new Taps(size, n);
        for (int o = 0; o < size; o++)
            for (int k = 0; k < n; k++)
            {
                t.Index[o * n + k] = Math.Clamp(o + k - radius, 0, size - 1);
                t.Weight[o * n + k] = (float)kernel[k];
            }
        return t;
    }

    /// <summary>
    /// Iterative back-projection (Irani &amp; Peleg 1991): <paramref name="iterations"/> times x ← x + bicubic↑(lr − ↓x),
    /// ↓ the antialiased downscale that made the LR image. It pulls the low frequencies of a generated HR image onto
    /// the ones the LR image fixes (colour and brightness drift, mostly) and leaves the generated detail above the LR
    /// band alone. Clamped to [−1, 1].
    /// </summary>
    /// <param name="hr">[C, r·h, r·w]</param>
    /// <param name="lr">[C, h, w]</param>
    public static ChwImage BackProject(ChwImage hr, ChwImage lr, int iterations)
    {
        if (iterations < 0) throw new ArgumentException($"BackProject: {iterations} iterations.");
        if (hr.Channels != lr.Channels || hr.Height % lr.Height != 0 || hr.Width % lr.Width != 0 || hr.Height / lr.Height != hr.Width / lr.Width)
            throw new ArgumentException($"BackProject: HR {hr.ShapeString} is not an integer multiple of LR {lr.ShapeString}.");
        var x = hr.Clone();
        for (int k = 0; k < iterations; k++)
        {
            var residual = ResizeAntialiased(x, lr.Height, lr.Width);
            for (int i = 0; i < residual.Data.Length; i++) residual.Data[i] = lr.Data[i] - residual.Data[i];
            var up = Bicubic(residual, hr.Height, hr.Width);
            for (int i = 0; i < x.Data.Length; i++) x.Data[i] += up.Data[i];
        }
        Clamp(x);
        return x;
    }

    /// <summary>Clamps every value to [−1, 1] in place.</summary>
    public static void Clamp(ChwImage x)
    {
        var d = x.Data;
        for (int i = 0; i < d.Length; i++) d[i] = Math.Clamp(d[i], -1f, 1f);
    }

    private static void CheckSize(string op, int h, int w)
    {
        if (h <= 0 || w <= 0) throw new ArgumentException($"{op}: output size {h}x{w} must be positive.");
    }

    /// <summary>Per output pixel o, <see cref="Count"/> taps: source <c>Index[o·Count + k]</c> with <c>Weight[o·Count + k]</c>.</summary>
    private sealed class Taps(int outSize, int count)
    {
        public readonly int Out = outSize, Count = count;
        public readonly int[] Index = new int[outSize * count];
        public readonly float[] Weight = new float[outSize * count];
    }

    private static Taps AreaTaps(int inSize, int factor)
    {
        var t = new Taps(inSize / factor, factor);
        for (int o = 0; o < t.Out; o++)
            for (int k = 0; k < factor; k++) { t.Index[o * factor + k] = o * factor + k; t.Weight[o * factor + k] = 1f / factor; }
        return t;
    }

    private static Taps TorchBicubicTaps(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        var t = new Taps(outSize, 4);
        for (int o = 0; o < outSize; o++)
        {
            double src = scale * (o + 0.5) - 0.5; // not clamped to ≥ 0 for cubic (unlike bilinear)
            int i0 = (int)Math.Floor(src);
            double f = src - i0;
            for (int k = 0; k < 4; k++)
            {
                t.Index[o * 4 + k] = Math.Clamp(i0 - 1 + k, 0, inSize - 1);
                t.Weight[o * 4 + k] = (float)Cubic(f - (k - 1), TorchCubicA);
            }
        }
        return t;
    }

    private static Taps TorchBilinearTaps(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        var t = new Taps(outSize, 2);
        for (int o = 0; o < outSize; o++)
        {
            double src = Math.Max(0, scale * (o + 0.5) - 0.5);
            int i0 = (int)src;
            int i1 = i0 < inSize - 1 ? i0 + 1 : i0;
            double f = src - i0;
            t.Index[o * 2] = i0; t.Weight[o * 2] = (float)(1 - f);
            t.Index[o * 2 + 1] = i1; t.Weight[o * 2 + 1] = (float)f;
        }
        return t;
    }

    private static Taps NearestTaps(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        var t = new Taps(outSize, 1);
        for (int o = 0; o < outSize; o++) { t.Index[o] = Math.Min((int)Math.Floor(o * scale), inSize - 1); t.Weight[o] = 1f; }
        return t;
    }

    // PIL's ImagingResample coefficient setup (precompute_coeffs), bicubic filter.
    private static Taps PilTaps(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = 2.0 * filterScale;
        int count = (int)Math.Ceiling(support) * 2 + 1;
        var t = new Taps(outSize, count);
        var w = new double[count];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            int xmin = Math.Max(0, (int)(center - support + 0.5));
            int xmax = Math.Min(inSize, (int)(center + support + 0.5)) - xmin;
            double sum = 0;
            for (int k = 0; k < xmax; k++) { w[k] = Cubic((k + xmin - center + 0.5) / filterScale, PilCubicA); sum += w[k]; }
            for (int k = 0; k < count; k++)
            {
                // Unused taps point at a valid pixel with weight 0, so the apply loop needs no bounds.
                t.Index[o * count + k] = k < xmax ? xmin + k : xmin;
                t.Weight[o * count + k] = k < xmax && sum != 0 ? (float)(w[k] / sum) : 0f;
            }
        }
        return t;
    }

    private static ChwImage Separable(ChwImage x, Taps rows, Taps cols)
    {
        int c = x.Channels, h = x.Height, w = x.Width, oh = rows.Out, ow = cols.Out;
        // Along rows: [C, H, W] → [C, H, outW].
        var mid = new float[c * h * ow];
        var src = x.Data;
        CpuParallel.For(c * h, 16, (start, end) =>
        {
            int k = cols.Count;
            for (long r = start; r < end; r++)
            {
                int inRow = (int)r * w, outRow = (int)r * ow;
                for (int o = 0; o < ow; o++)
                {
                    float s = 0;
                    for (int j = 0; j < k; j++) s += cols.Weight[o * k + j] * src[inRow + cols.Index[o * k + j]];
                    mid[outRow + o] = s;
                }
            }
        });
        // Along columns: [C, H, outW] → [C, outH, outW], a whole output row at a time (contiguous reads).
        var result = new ChwImage(c, oh, ow);
        var dst = result.Data;
        CpuParallel.For(c * oh, 16, (start, end) =>
        {
            int k = rows.Count;
            for (long r = start; r < end; r++)
            {
                int ch = (int)r / oh, o = (int)r % oh;
                var outRow = dst.AsSpan((int)r * ow, ow);
                outRow.Clear();
                for (int j = 0; j < k; j++)
                {
                    float wt = rows.Weight[o * k + j];
                    if (wt == 0) continue;
                    var inRow = mid.AsSpan((ch * h + rows.Index[o * k + j]) * ow, ow);
                    for (int i = 0; i < ow; i++) outRow[i] += wt * inRow[i];
                }
            }
        });
        return result;
    }
}
