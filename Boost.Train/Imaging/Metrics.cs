namespace Boost.Train.Imaging;

/// <summary>
/// Image quality measures between an output and its ground truth, both [C, H, W] in [-1, 1]. PSNR and SSIM map
/// values to [0, 1] ((v + 1) / 2, clamped: what an 8-bit save would keep) and use data range 1. Sums in double.
/// </summary>
public static class Metrics
{
    /// <summary>10·log10(1 / MSE) over all channels and pixels, in dB; +∞ for identical images.</summary>
    public static double Psnr(ChwImage output, ChwImage truth)
    {
        output.CheckSameShape(truth, "Psnr");
        double sum = 0;
        for (int i = 0; i < output.Data.Length; i++)
        {
            double d = To01(output.Data[i]) - To01(truth.Data[i]);
            sum += d * d;
        }
        double mse = sum / output.Data.Length;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(1 / mse);
    }

    public const int SsimWindow = 11;
    public const double SsimSigma = 1.5, SsimK1 = 0.01, SsimK2 = 0.03;

    /// <summary>
    /// SSIM (Wang, Bovik, Sheikh, Simoncelli 2004): 11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03, data range 1,
    /// statistics over "valid" window positions only (as the authors' MATLAB code; no automatic downsampling),
    /// the mean of the SSIM map. By default on luma Y = 0.299 R + 0.587 G + 0.114 B (BT.601, full range); with
    /// <paramref name="perChannel"/> the mean of the per-channel SSIMs. 1-channel images are their own luma.
    /// </summary>
    /// <param name="output">[1 or 3, H, W], H and W ≥ 11</param>
    public static double Ssim(ChwImage output, ChwImage truth, bool perChannel = false)
    {
        output.CheckSameShape(truth, "Ssim");
        if (output.Height < SsimWindow || output.Width < SsimWindow)
            throw new ArgumentException($"Ssim: {output.ShapeString} is smaller than the {SsimWindow}×{SsimWindow} window.");
        if (perChannel || output.Channels == 1)
        {
            double sum = 0;
            for (int c = 0; c < output.Channels; c++) sum += SsimPlane(Plane01(output, c), Plane01(truth, c), output.Height, output.Width);
            return sum / output.Channels;
        }
        if (output.Channels != 3) throw new ArgumentException($"Ssim: luma needs 1 or 3 channels, got {output.ShapeString}; use perChannel.");
        return SsimPlane(Luma01(output), Luma01(truth), output.Height, output.Width);
    }

    /// <summary>
    /// High-frequency energy ratio: Σ(out − G_σ∗out)² / Σ(truth − G_σ∗truth)² over all channels, G_σ a Gaussian
    /// blur with clamped borders. 1 = as much fine detail as the truth, &lt; 1 blurrier, &gt; 1 sharper or noisier.
    /// </summary>
    public static double HighFrequencyRatio(ChwImage output, ChwImage truth, double sigma = 1.5)
    {
        output.CheckSameShape(truth, "HighFrequencyRatio");
        double eo = HighFrequencyEnergy(output, sigma), et = HighFrequencyEnergy(truth, sigma);
        if (et == 0) return eo == 0 ? 1 : double.PositiveInfinity;
        return eo / et;
    }

    /// <summary>Σ(x − G_σ∗x)² over all channels and pixels.</summary>
    public static double HighFrequencyEnergy(ChwImage x, double sigma = 1.5)
    {
        var blurred = Resample.GaussianBlur(x, sigma);
        double sum = 0;
        for (int i = 0; i < x.Data.Length; i++)
        {
            double d = x.Data[i] - blurred.Data[i];
            sum += d * d;
        }
        return sum;
    }

    private static double To01(float v) => Math.Clamp((v + 1.0) / 2.0, 0.0, 1.0);

    private static double[] Plane01(ChwImage x, int c)
    {
        var p = new double[x.PlaneSize];
        var src = x.Plane(c);
        for (int i = 0; i < p.Length; i++) p[i] = To01(src[i]);
        return p;
    }

    private static double[] Luma01(ChwImage x)
    {
        var p = new double[x.PlaneSize];
        int n = x.PlaneSize;
        var d = x.Data;
        for (int i = 0; i < n; i++) p[i] = 0.299 * To01(d[i]) + 0.587 * To01(d[n + i]) + 0.114 * To01(d[2 * n + i]);
        return p;
    }

    private static double SsimPlane(double[] x, double[] y, int h, int w)
    {
        var g = Resample.GaussianKernel(SsimSigma, SsimWindow / 2);
        int oh = h - SsimWindow + 1, ow = w - SsimWindow + 1;
        var xy = new double[x.Length];
        var xx = new double[x.Length];
        var yy = new double[x.Length];
        for (int i = 0; i < x.Length; i++) { xy[i] = x[i] * y[i]; xx[i] = x[i] * x[i]; yy[i] = y[i] * y[i]; }
        var mx = FilterValid(x, h, w, g);
        var my = FilterValid(y, h, w, g);
        var sxx = FilterValid(xx, h, w, g);
        var syy = FilterValid(yy, h, w, g);
        var sxy = FilterValid(xy, h, w, g);
        const double c1 = SsimK1 * SsimK1, c2 = SsimK2 * SsimK2; // data range 1
        double sum = 0;
        for (int i = 0; i < oh * ow; i++)
        {
            double vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cxy = sxy[i] - mx[i] * my[i];
            sum += (2 * mx[i] * my[i] + c1) * (2 * cxy + c2) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
        }
        return sum / (oh * ow);
    }

    // Separable 2-D filter keeping only positions where the window fits: [h, w] → [h − k + 1, w − k + 1].
    private static double[] FilterValid(double[] p, int h, int w, double[] k)
    {
        int n = k.Length, ow = w - n + 1, oh = h - n + 1;
        var rows = new double[h * ow];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < ow; x++)
            {
                double s = 0;
                for (int j = 0; j < n; j++) s += k[j] * p[y * w + x + j];
                rows[y * ow + x] = s;
            }
        var result = new double[oh * ow];
        for (int y = 0; y < oh; y++)
            for (int j = 0; j < n; j++)
            {
                double kj = k[j];
                int src = (y + j) * ow, dst = y * ow;
                for (int x = 0; x < ow; x++) result[dst + x] += kj * rows[src + x];
            }
        return result;
    }
}
