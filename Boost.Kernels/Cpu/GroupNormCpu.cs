using System.Numerics;

namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed backend's group norm (see <see cref="GroupNorm"/>): (n, g) groups, or channels for the parameter
/// gradients, split across the cores. Two-pass statistics like the kernels; each row (one channel's H·W) is summed in
/// SIMD float lanes and the rows are combined in double, so precision holds for large groups and offsets.
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
                for (int k = 0; k < cpg; k++) sum += Sum(x.AsSpan((int)(start + (long)k * hw), hw), 0f);
                float m = count == 0 ? 0f : (float)(sum / count);
                double squares = 0;
                for (int k = 0; k < cpg; k++) squares += SumSquaredDeviation(x.AsSpan((int)(start + (long)k * hw), hw), m);
                float r = (float)(1 / Math.Sqrt((count == 0 ? 0 : squares / count) + eps));
                mean[ng] = m; rstd[ng] = r;
                int c0 = (int)(ng % groups) * cpg;
                for (int k = 0; k < cpg; k++)
                {
                    // y = (x − μ)·a + b with rstd and the affine folded per channel (not x·a + (b − μ·a), which
                    // cancels badly when |μ|·rstd is large).
                    float a = weight is null ? r : r * weight[c0 + k];
                    float b = bias is null ? 0f : bias[c0 + k];
                    int row = (int)(start + (long)k * hw);
                    Normalize(x.AsSpan(row, hw), y.AsSpan(row, hw), m, a, b);
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
                    int row = (int)(start + (long)k * hw);
                    var (rowG, rowGD) = SumAndDot(dy.AsSpan(row, hw), x.AsSpan(row, hw), mu);
                    sumG += w * rowG; sumGX += w * rowGD * r;
                }
                float meanG = count == 0 ? 0f : (float)(sumG / count), meanGX = count == 0 ? 0f : (float)(sumGX / count);
                for (int k = 0; k < cpg; k++)
                {
                    float w = weight is null ? 1f : weight[c0 + k];
                    int row = (int)(start + (long)k * hw);
                    InputGradient(dy.AsSpan(row, hw), x.AsSpan(row, hw), dx.AsSpan(row, hw), mu, r, w, meanG, meanGX);
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
                    int row = (int)(((long)b * c + ch) * hw);
                    var (rowG, rowGD) = SumAndDot(dy.AsSpan(row, hw), x.AsSpan(row, hw), mean[b * groups + g]);
                    sumW += rowGD * rstd[b * groups + g]; sumB += rowG;
                }
                dweight[ch] = (float)sumW; dbias[ch] = (float)sumB;
            }
        });
    }

    // ---------------------------------------------------------------- row primitives (SIMD lanes, tail scalar)

    /// <summary>Σ (x − shift).</summary>
    private static double Sum(ReadOnlySpan<float> x, float shift)
    {
        int w = Vector<float>.Count, i = 0;
        var acc = Vector<float>.Zero; var vs = new Vector<float>(shift);
        for (; i <= x.Length - w; i += w) acc += new Vector<float>(x.Slice(i, w)) - vs;
        double s = Vector.Sum(acc);
        for (; i < x.Length; i++) s += x[i] - shift;
        return s;
    }

    /// <summary>Σ (x − m)².</summary>
    private static double SumSquaredDeviation(ReadOnlySpan<float> x, float m)
    {
        int w = Vector<float>.Count, i = 0;
        var acc = Vector<float>.Zero; var vm = new Vector<float>(m);
        for (; i <= x.Length - w; i += w) { var d = new Vector<float>(x.Slice(i, w)) - vm; acc += d * d; }
        double s = Vector.Sum(acc);
        for (; i < x.Length; i++) { double d = x[i] - m; s += d * d; }
        return s;
    }

    /// <summary>(Σ g, Σ g·(x − μ)).</summary>
    private static (double sumG, double sumGD) SumAndDot(ReadOnlySpan<float> g, ReadOnlySpan<float> x, float mu)
    {
        int w = Vector<float>.Count, i = 0;
        Vector<float> ag = Vector<float>.Zero, agd = Vector<float>.Zero, vm = new(mu);
        for (; i <= x.Length - w; i += w)
        {
            var vg = new Vector<float>(g.Slice(i, w));
            ag += vg; agd += vg * (new Vector<float>(x.Slice(i, w)) - vm);
        }
        double sg = Vector.Sum(ag), sgd = Vector.Sum(agd);
        for (; i < x.Length; i++) { sg += g[i]; sgd += g[i] * (x[i] - mu); }
        return (sg, sgd);
    }

    /// <summary>y = (x − m)·a + b.</summary>
    private static void Normalize(ReadOnlySpan<float> x, Span<float> y, float m, float a, float b)
    {
        int w = Vector<float>.Count, i = 0;
        Vector<float> vm = new(m), va = new(a), vb = new(b);
        for (; i <= x.Length - w; i += w) ((new Vector<float>(x.Slice(i, w)) - vm) * va + vb).CopyTo(y.Slice(i, w));
        for (; i < x.Length; i++) y[i] = (x[i] - m) * a + b;
    }

    /// <summary>dx = r·(dy·w − mean(g) − (x − μ)·r·mean(g·x̂)).</summary>
    private static void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> dx, float mu, float r, float w, float meanG, float meanGX)
    {
        int vw = Vector<float>.Count, i = 0;
        Vector<float> vmu = new(mu), vr = new(r), vwt = new(w), vmg = new(meanG), vrmgx = new(r * meanGX);
        for (; i <= x.Length - vw; i += vw)
            (vr * (new Vector<float>(dy.Slice(i, vw)) * vwt - vmg - (new Vector<float>(x.Slice(i, vw)) - vmu) * vrmgx)).CopyTo(dx.Slice(i, vw));
        for (; i < x.Length; i++) dx[i] = r * (dy[i] * w - meanG - (x[i] - mu) * r * meanGX);
    }
}
