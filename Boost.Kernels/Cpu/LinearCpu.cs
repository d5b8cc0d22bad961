using System.Numerics;

namespace Boost.Kernels.Cpu;

/// <summary>The managed backend's linear-layer helpers (see <see cref="MatMul.Linear"/>): bias rows and the bias
/// gradient's column sums.</summary>
internal static class LinearCpu
{
    /// <summary>Every row of y [m, n] = bias [n].</summary>
    public static void FillRows(float[] bias, float[] y, int m, int n)
        => CpuParallel.For(m, Math.Max(1, (1 << 15) / n), (s, e) =>
        {
            for (long r = s; r < e; r++) bias.AsSpan(0, n).CopyTo(y.AsSpan((int)(r * n), n));
        });

    /// <summary>sum[j] = Σ_r x[r, j] + beta·sum[j]. Each thread owns a run of columns and walks all rows, so the row
    /// reads stay contiguous and vectorised.</summary>
    public static void ColumnSum(float[] x, float[] sum, int rows, int n, float beta)
        => CpuParallel.For(n, Math.Max(64, (1 << 16) / Math.Max(1, rows)), (s, e) =>
        {
            int lo = (int)s, len = (int)(e - s);
            var acc = new float[len];
            for (int r = 0; r < rows; r++) Add(x.AsSpan(r * n + lo, len), acc);
            var o = sum.AsSpan(lo, len);
            for (int j = 0; j < len; j++) o[j] = beta == 0f ? acc[j] : acc[j] + beta * o[j];
        });

    private static void Add(ReadOnlySpan<float> x, Span<float> acc)
    {
        int i = 0, w = Vector<float>.Count;
        for (; i <= x.Length - w; i += w)
            (new Vector<float>(x.Slice(i, w)) + new Vector<float>(acc.Slice(i, w))).CopyTo(acc.Slice(i, w));
        for (; i < x.Length; i++) acc[i] += x[i];
    }
}
