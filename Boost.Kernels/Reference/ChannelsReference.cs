namespace Boost.Kernels.Reference;

/// <summary>Naive double-precision twins of <see cref="Channels"/> on [N, C, H·W] arrays.</summary>
public static class ChannelsReference
{
    /// <returns>[N, ca + cb, hw]</returns>
    public static double[] Concat(double[] a, int ca, double[] b, int cb, int n, int hw)
    {
        var y = new double[n * (ca + cb) * hw];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < ca + cb; c++)
                for (int p = 0; p < hw; p++)
                    y[(i * (ca + cb) + c) * hw + p] = c < ca ? a[(i * ca + c) * hw + p] : b[(i * cb + c - ca) * hw + p];
        return y;
    }

    /// <returns>[N, count, hw]</returns>
    public static double[] Slice(double[] x, int channels, int start, int count, int n, int hw)
    {
        var y = new double[n * count * hw];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < count; c++)
                for (int p = 0; p < hw; p++)
                    y[(i * count + c) * hw + p] = x[(i * channels + start + c) * hw + p];
        return y;
    }

    /// <summary>Gradient of <see cref="Slice"/>: dy placed in its channel range, zeros elsewhere.</summary>
    /// <returns>dx [N, channels, hw]</returns>
    public static double[] SliceBackward(double[] dy, int channels, int start, int count, int n, int hw)
    {
        var dx = new double[n * channels * hw];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < count; c++)
                for (int p = 0; p < hw; p++)
                    dx[(i * channels + start + c) * hw + p] += dy[(i * count + c) * hw + p];
        return dx;
    }

    /// <summary>Gradient of <see cref="Concat"/>.</summary>
    public static (double[] da, double[] db) ConcatBackward(double[] dy, int ca, int cb, int n, int hw)
        => (Slice(dy, ca + cb, 0, ca, n, hw), Slice(dy, ca + cb, ca, cb, n, hw));
}
