using System.Text;

namespace Boost.Tests.Support;

/// <summary>
/// The one comparison helper: |a − r| ≤ atol + rtol·|r| element by element. On failure it reports the worst
/// element (index, values, error), the max relative error and the first mismatches.
/// </summary>
public static class Compare
{
    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double rtol = 1e-4, double atol = 1e-5, string what = "output")
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
        int worst = -1, bad = 0; double worstExcess = double.NegativeInfinity, maxRel = 0;
        var first = new StringBuilder();
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], r = expected[i];
            double err = Math.Abs(a - r), tol = atol + rtol * Math.Abs(r);
            bool ok = err <= tol; // NaN fails here
            double rel = err / Math.Max(Math.Abs(r), atol / rtol);
            if (double.IsNaN(a)) rel = double.PositiveInfinity;
            if (rel > maxRel) maxRel = rel;
            double excess = double.IsNaN(err) ? double.PositiveInfinity : err - tol;
            if (excess > worstExcess) { worstExcess = excess; worst = i; }
            if (!ok && bad++ < 5) first.Append($"  [{i}] got {a:G9}, want {r:G9}, err {err:G3}\n");
        }
        if (bad > 0)
            Assert.Fail($"{what}: {bad} of {actual.Length} elements outside atol {atol:G3} + rtol {rtol:G3}·|ref|; " +
                        $"worst [{worst}] got {actual[worst]:G9}, want {expected[worst]:G9}; max rel err {maxRel:G3}\nfirst mismatches:\n{first}");
    }

    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double rtol = 1e-4, double atol = 1e-5, string what = "output")
        => Close(actual, Array.ConvertAll(expected.ToArray(), x => (double)x), rtol, atol, what);

    public static void Close(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, double rtol, double atol, string what)
        => Close(Array.ConvertAll(actual.ToArray(), x => (float)x), expected, rtol, atol, what);

    /// <summary>An absolute tolerance scaled to a sum: rtol·Σ|terms| (for reductions whose result can cancel to ~0).</summary>
    public static double SumScale(ReadOnlySpan<float> terms, double rtol = 1e-5)
    {
        double s = 0; foreach (var t in terms) s += Math.Abs(t);
        return rtol * s;
    }
}
