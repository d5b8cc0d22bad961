namespace Boost.Kernels.Reference;

/// <summary>Naive double-precision twin of <see cref="GroupNorm"/>: the oracle for every backend.</summary>
public static class GroupNormReference
{
    /// <param name="x">[N, C, H·W]</param>
    /// <param name="weight">[C] or null</param>
    /// <param name="bias">[C] or null</param>
    /// <param name="mean">[N, G]</param>
    /// <param name="rstd">[N, G], 1/√(biased variance + eps)</param>
    /// <param name="silu">return SiLU(y)</param>
    /// <returns>y [N, C, H·W]</returns>
    public static double[] Forward(double[] x, int n, int c, int hw, int groups, double[]? weight, double[]? bias, double eps,
        out double[] mean, out double[] rstd, bool silu = false)
    {
        int cpg = c / groups, count = cpg * hw;
        var y = new double[x.Length];
        mean = new double[n * groups];
        rstd = new double[n * groups];
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                int start = (b * groups + g) * count;
                double mu = 0;
                for (int i = 0; i < count; i++) mu += x[start + i];
                mu /= count;
                double variance = 0;
                for (int i = 0; i < count; i++) variance += (x[start + i] - mu) * (x[start + i] - mu);
                variance /= count;
                double r = 1 / Math.Sqrt(variance + eps);
                mean[b * groups + g] = mu; rstd[b * groups + g] = r;
                for (int i = 0; i < count; i++)
                {
                    int ch = g * cpg + i / hw;
                    double v = (x[start + i] - mu) * r * (weight?[ch] ?? 1) + (bias?[ch] ?? 0);
                    y[start + i] = silu ? ElementwiseReference.SiLU(v) : v;
                }
            }
        return y;
    }

    /// <summary>Gradients of <see cref="Forward"/> with the textbook formula
    /// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·w, over each (n, g); dweight = Σ dy·x̂, dbias = Σ dy per channel.
    /// With <paramref name="silu"/>, dy is first taken through the activation: dy·SiLU′(x̂·w + b).</summary>
    public static (double[] dx, double[] dweight, double[] dbias) Backward(double[] dy, double[] x, int n, int c, int hw, int groups,
        double[] mean, double[] rstd, double[]? weight, double[]? bias = null, bool silu = false)
    {
        if (silu)
        {
            int per = c / groups * hw;
            var through = new double[dy.Length];
            for (int i = 0; i < dy.Length; i++)
            {
                int ng = i / per, ch = i / hw % c;
                double v = (x[i] - mean[ng]) * rstd[ng] * (weight?[ch] ?? 1) + (bias?[ch] ?? 0);
                through[i] = ElementwiseReference.SiLUGrad(v, dy[i]);
            }
            dy = through;
        }
        int cpg = c / groups, count = cpg * hw;
        var dx = new double[x.Length];
        var dweight = new double[c];
        var dbias = new double[c];
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                int ng = b * groups + g, start = ng * count;
                double meanG = 0, meanGX = 0;
                for (int i = 0; i < count; i++)
                {
                    int ch = g * cpg + i / hw;
                    double xhat = (x[start + i] - mean[ng]) * rstd[ng];
                    double gw = dy[start + i] * (weight?[ch] ?? 1);
                    meanG += gw; meanGX += gw * xhat;
                    dweight[ch] += dy[start + i] * xhat;
                    dbias[ch] += dy[start + i];
                }
                meanG /= count; meanGX /= count;
                for (int i = 0; i < count; i++)
                {
                    int ch = g * cpg + i / hw;
                    double xhat = (x[start + i] - mean[ng]) * rstd[ng];
                    dx[start + i] = rstd[ng] * (dy[start + i] * (weight?[ch] ?? 1) - meanG - xhat * meanGX);
                }
            }
        return (dx, dweight, dbias);
    }
}
