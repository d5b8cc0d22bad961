namespace Boost.Kernels.Reference;

/// <summary>Double-precision twins of the reductions, the random-number generator and the optimizer updates.</summary>
public static class MiscReference
{
    /// <summary>Σ over axes of x (shape ≤ rank 4); result in the kept dims' row-major order.</summary>
    public static double[] Sum(double[] x, int[] shape, int[] axes)
    {
        var (layout, _) = ReduceLayout.Create(shape, axes, "Sum");
        var y = new double[layout.OutCount];
        for (int o = 0; o < y.Length; o++)
            for (int r = 0; r < layout.ReduceCount; r++) y[o] += x[layout.KeptOffset(o) + layout.ReducedOffset(r)];
        return y;
    }

    public static double Mse(double[] a, double[] b)
    {
        double s = 0; for (int i = 0; i < a.Length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return s / a.Length;
    }

    /// <summary>∂mse/∂a = 2(a − b)/n.</summary>
    public static double[] MseGrad(double[] a, double[] b)
    {
        var g = new double[a.Length];
        for (int i = 0; i < a.Length; i++) g[i] = 2 * (a[i] - b[i]) / a.Length;
        return g;
    }

    public static double[] Uniform(ulong seed, ulong stream, int n)
    {
        var y = new double[n];
        for (int i = 0; i < n; i++) y[i] = Unit(Word(seed, stream, i));
        return y;
    }

    public static double[] Normal(ulong seed, ulong stream, int n)
    {
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            int pair = i & ~1; // elements 2j, 2j+1 share one Box–Muller pair of words
            double r = Math.Sqrt(-2 * Math.Log(Unit(Word(seed, stream, pair)))), a = 2 * Math.PI * Unit(Word(seed, stream, pair + 1));
            y[i] = (i & 1) == 0 ? r * Math.Cos(a) : r * Math.Sin(a);
        }
        return y;
    }

    private static uint Word(ulong seed, ulong stream, int i)
    {
        var (w0, w1, w2, w3) = Rng.Philox((uint)(i / 4), 0u, (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
        return (i % 4) switch { 0 => w0, 1 => w1, 2 => w2, _ => w3 };
    }

    private static double Unit(uint w) => ((w >> 9) * 2.0 + 1) / (1 << 24);

    public static void AdamW(double[] p, double[] g, double[] m, double[] v, int step, double lr, double b1, double b2, double eps, double wd, double gradScale)
    {
        double bc1 = 1 - Math.Pow(b1, step), bc2 = 1 - Math.Pow(b2, step);
        for (int i = 0; i < p.Length; i++)
        {
            double gi = g[i] * gradScale;
            p[i] *= 1 - lr * wd;
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            p[i] -= lr / bc1 * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(bc2) + eps);
        }
    }

    public static void Ema(double[] ema, double[] p, double decay)
    {
        for (int i = 0; i < p.Length; i++) ema[i] += (1 - decay) * (p[i] - ema[i]);
    }
}
