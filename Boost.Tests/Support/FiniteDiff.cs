namespace Boost.Tests.Support;

/// <summary>
/// Central finite differences in double, used to check every twin's backward. For a forward y = f(x₀, x₁, …)
/// the scalar probe is L = Σ w ⊙ y with fixed random weights w; the analytic gradients are the backward run with
/// dy = w. Each input gradient is checked on a random subset of coordinates (all when small).
/// </summary>
public static class FiniteDiff
{
    public static void Check(Func<double[][], double[]> forward, double[][] inputs, double[] w, double[][] analytic,
        double eps = 1e-5, double rtol = 1e-5, double atol = 1e-7, int maxCoords = 64, int seed = 1, string what = "grad")
    {
        var rng = new Random(seed);
        for (int k = 0; k < inputs.Length; k++)
        {
            if (analytic[k] is null) continue;
            var x = inputs[k];
            int n = x.Length;
            var coords = n <= maxCoords ? Enumerable.Range(0, n).ToArray() : Enumerable.Range(0, maxCoords).Select(_ => rng.Next(n)).ToArray();
            var num = new double[coords.Length]; var ana = new double[coords.Length];
            for (int c = 0; c < coords.Length; c++)
            {
                int i = coords[c];
                double keep = x[i];
                x[i] = keep + eps; double lp = Dot(forward(inputs), w);
                x[i] = keep - eps; double lm = Dot(forward(inputs), w);
                x[i] = keep;
                num[c] = (lp - lm) / (2 * eps);
                ana[c] = analytic[k][i];
            }
            Compare.Close(ana, num, rtol, atol, $"{what}: input {k} (analytic vs central differences)");
        }
    }

    public static double Dot(double[] a, double[] b)
    {
        Assert.That(a.Length, Is.EqualTo(b.Length), "probe weights");
        double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    public static double[] Weights(int seed, int n)
    {
        var r = new Random(seed);
        var w = new double[n];
        for (int i = 0; i < n; i++) w[i] = r.NextDouble() * 4 - 2;
        return w;
    }
}
