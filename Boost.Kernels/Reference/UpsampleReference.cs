namespace Boost.Kernels.Reference;

/// <summary>Naive double-precision twins of <see cref="Upsample"/> (PyTorch semantics); backwards as scatters, the
/// transpose of the forward loop, unlike the kernels' gathers.</summary>
public static class UpsampleReference
{
    /// <param name="x">[planes, h, w]</param>
    /// <returns>[planes, h·f, w·f], y[oy, ox] = x[⌊oy/f⌋, ⌊ox/f⌋]</returns>
    public static double[] Nearest(double[] x, int planes, int h, int w, int f)
    {
        int oh = h * f, ow = w * f;
        var y = new double[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    y[(p * oh + oy) * ow + ox] = x[(p * h + oy / f) * w + ox / f];
        return y;
    }

    /// <param name="dy">[planes, h·f, w·f]</param>
    /// <returns>dx [planes, h, w]</returns>
    public static double[] NearestBackward(double[] dy, int planes, int h, int w, int f)
    {
        int oh = h * f, ow = w * f;
        var dx = new double[planes * h * w];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    dx[(p * h + oy / f) * w + ox / f] += dy[(p * oh + oy) * ow + ox];
        return dx;
    }

    /// <summary>align_corners=False: src = max(0, (dst + ½)·in/out − ½), i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1).</summary>
    private static (int i0, int i1, double lambda) Source(int dst, int inSize, int outSize)
    {
        double src = Math.Max((dst + 0.5) * inSize / outSize - 0.5, 0);
        int i0 = (int)Math.Floor(src);
        return (i0, Math.Min(i0 + 1, inSize - 1), src - i0);
    }

    /// <param name="x">[planes, h, w]</param>
    /// <returns>[planes, oh, ow]</returns>
    public static double[] Bilinear(double[] x, int planes, int h, int w, int oh, int ow)
    {
        var y = new double[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    var (y0, y1, ly) = Source(oy, h, oh);
                    var (x0, x1, lx) = Source(ox, w, ow);
                    double X(int r, int c) => x[(p * h + r) * w + c];
                    y[(p * oh + oy) * ow + ox] = (1 - ly) * (1 - lx) * X(y0, x0) + (1 - ly) * lx * X(y0, x1)
                                               + ly * (1 - lx) * X(y1, x0) + ly * lx * X(y1, x1);
                }
        return y;
    }

    /// <param name="dy">[planes, oh, ow]</param>
    /// <returns>dx [planes, h, w]</returns>
    public static double[] BilinearBackward(double[] dy, int planes, int h, int w, int oh, int ow)
    {
        var dx = new double[planes * h * w];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    var (y0, y1, ly) = Source(oy, h, oh);
                    var (x0, x1, lx) = Source(ox, w, ow);
                    double g = dy[(p * oh + oy) * ow + ox];
                    dx[(p * h + y0) * w + x0] += (1 - ly) * (1 - lx) * g;
                    dx[(p * h + y0) * w + x1] += (1 - ly) * lx * g;
                    dx[(p * h + y1) * w + x0] += ly * (1 - lx) * g;
                    dx[(p * h + y1) * w + x1] += ly * lx * g;
                }
        return dx;
    }
}
