namespace Boost.Kernels.Cpu;

/// <summary>The managed backend's zero padding and its gradient (see <see cref="Pad"/>): row copies per plane.</summary>
internal static class PadCpu
{
    /// <summary>y [planes, ho, wo] = x [planes, h, w] at (top, left), zeros around.</summary>
    public static void Pad(float[] x, float[] y, int planes, int h, int w, int top, int left, int ho, int wo)
        => CpuParallel.For(planes, 8, (s, e) =>
        {
            for (long p = s; p < e; p++)
            {
                var dst = y.AsSpan((int)(p * ho * wo), ho * wo);
                dst.Clear();
                for (int r = 0; r < h; r++) x.AsSpan((int)(p * h * w + r * w), w).CopyTo(dst.Slice((r + top) * wo + left, w));
            }
        });

    /// <summary>dx [planes, h, w] = the window of dy [planes, ho, wo] at (top, left).</summary>
    public static void Crop(float[] dy, float[] dx, int planes, int h, int w, int top, int left, int ho, int wo)
        => CpuParallel.For(planes, 8, (s, e) =>
        {
            for (long p = s; p < e; p++)
                for (int r = 0; r < h; r++) dy.AsSpan((int)(p * ho * wo + (r + top) * wo + left), w).CopyTo(dx.AsSpan((int)(p * h * w + r * w), w));
        });
}
