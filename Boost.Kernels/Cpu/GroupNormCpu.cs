namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed backend's group norm (see <see cref="GroupNorm"/>): (n, g) groups, or channels for the parameter
/// gradients, split across the cores. Statistics are accumulated in double, two-pass like the kernels.
/// </summary>
public static class GroupNormCpu
{
    /// <param name="x">[N, C, HW]</param>
    /// <param name="weight">[C] or null</param>
    /// <param name="mean">[N, G] (written)</param>
    /// <param name="rstd">[N, G] (written)</param>
    public static void Forward(float[] x, float[]? weight, float[]? bias, float[] y, float[] mean, float[] rstd,
        int n, int c, int hw, int groups, float eps)
    {
        int cpg = c / groups, count = cpg * hw;
        CpuParallel.For((long)n * groups, Math.Max(1, (1 << 15) / Math.Max(1, count)), (s, e) =>
        {
            for (long ng = s; ng < e; ng++)
            {
                long start = ng * count;
                double sum = 0;
                for (int i = 0; i < count; i++) sum += x[start + i];
                double mu = count == 0 ? 0 : sum / count;
                double squares = 0;
                for (int i = 0; i < count; i++) { double d = x[start + i] - mu; squares += d * d; }
                float r = (float)(1 / Math.Sqrt((count == 0 ? 0 : squares / count) + eps));
                float m = (float)mu;
                mean[ng] = m; rstd[ng] = r;
                int c0 = (int)(ng % groups) * cpg;
                for (int k = 0; k < cpg; k++)
                {
                    // y = (x − μ)·a + b with rstd and the affine folded per channel (not x·a + (b − μ·a), which
                    // cancels badly when |μ|·rstd is large).
                    float a = weight is null ? r : r * weight[c0 + k];
                    float b = bias is null ? 0f : bias[c0 + k];
                    long row = start + (long)k * hw;
                    for (int p = 0; p < hw; p++) y[row + p] = (x[row + p] - m) * a + b;
                }
            }
        });
    }

    /// <param name="dweight">[C] or null (written with dbias when given)</param>
    public static void Backward(float[] dy, float[] x, float[] mean, float[] rstd, float[]? weight,
        float[] dx, float[]? dweight, float[]? dbias, int n, int c, int hw, int groups)
    {
        int cpg = c / groups, count = cpg * hw;
        CpuParallel.For((long)n * groups, Math.Max(1, (1 << 15) / Math.Max(1, count)), (s, e) =>
        {
            for (long ng = s; ng < e; ng++)
            {
                long start = ng * count;
                float mu = mean[ng], r = rstd[ng];
                int c0 = (int)(ng % groups) * cpg;
                double sumG = 0, sumGX = 0;
                for (int k = 0; k < cpg; k++)
                {
                    float w = weight is null ? 1f : weight[c0 + k];
                    long row = start + (long)k * hw;
                    double rowG = 0, rowGX = 0;
                    for (int p = 0; p < hw; p++) { float g = dy[row + p]; rowG += g; rowGX += g * ((x[row + p] - mu) * r); }
                    sumG += w * rowG; sumGX += w * rowGX;
                }
                float meanG = count == 0 ? 0f : (float)(sumG / count), meanGX = count == 0 ? 0f : (float)(sumGX / count);
                for (int k = 0; k < cpg; k++)
                {
                    float w = weight is null ? 1f : weight[c0 + k];
                    long row = start + (long)k * hw;
                    for (int p = 0; p < hw; p++)
                        dx[row + p] = r * (dy[row + p] * w - meanG - (x[row + p] - mu) * r * meanGX);
                }
            }
        });
        if (dweight is null || dbias is null) return;
        CpuParallel.For(c, Math.Max(1, (1 << 15) / Math.Max(1, n * hw)), (s, e) =>
        {
            for (long ch = s; ch < e; ch++)
            {
                int g = (int)ch / cpg;
                double sumW = 0, sumB = 0;
                for (int b = 0; b < n; b++)
                {
                    long row = ((long)b * c + ch) * hw;
                    float mu = mean[b * groups + g], r = rstd[b * groups + g];
                    for (int p = 0; p < hw; p++) { float d = dy[row + p]; sumW += d * ((x[row + p] - mu) * r); sumB += d; }
                }
                dweight[ch] = (float)sumW; dbias[ch] = (float)sumB;
            }
        });
    }
}
