namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed backend's resizing (see <see cref="Upsample"/>), with the same index maps as the kernels. Forwards
/// split output rows across the cores; the bilinear backward scatters within an image plane, planes split across
/// the cores (each plane owned by one thread, so no races).
/// </summary>
public static class UpsampleCpu
{
    /// <param name="x">[planes, h, w]</param>
    /// <param name="y">[planes, h·f, w·f]</param>
    public static void Nearest(float[] x, float[] y, int planes, int h, int w, int factor)
    {
        int outH = h * factor, outW = w * factor;
        CpuParallel.For((long)planes * outH, Math.Max(1, (1 << 14) / outW), (s, e) =>
        {
            for (long row = s; row < e; row++)
            {
                long plane = row / outH; int oy = (int)(row % outH);
                var src = x.AsSpan((int)((plane * h + oy / factor) * w), w);
                var dst = y.AsSpan((int)(row * outW), outW);
                for (int ix = 0; ix < w; ix++) dst.Slice(ix * factor, factor).Fill(src[ix]);
            }
        });
    }

    /// <param name="dy">[planes, h·f, w·f]</param>
    /// <param name="dx">[planes, h, w]</param>
    public static void NearestBackward(float[] dy, float[] dx, int planes, int h, int w, int factor)
    {
        int outH = h * factor, outW = w * factor;
        CpuParallel.For((long)planes * h, Math.Max(1, (1 << 14) / (outW * factor)), (s, e) =>
        {
            for (long row = s; row < e; row++)
            {
                var dst = dx.AsSpan((int)(row * w), w);
                dst.Clear();
                long plane = row / h; int iy = (int)(row % h);
                for (int a = 0; a < factor; a++)
                {
                    var src = dy.AsSpan((int)((plane * outH + (long)iy * factor + a) * outW), outW);
                    for (int ox = 0; ox < outW; ox++) dst[ox / factor] += src[ox];
                }
            }
        });
    }

    private readonly record struct Tap(int I0, int I1, float Lambda);

    private static Tap[] Taps(int outSize, int inSize, float scale)
    {
        var taps = new Tap[outSize];
        for (int o = 0; o < outSize; o++)
        {
            Upsample.SourceIndex(o, scale, inSize, out int i0, out int i1, out float lambda);
            taps[o] = new Tap(i0, i1, lambda);
        }
        return taps;
    }

    /// <param name="x">[planes, h, w]</param>
    /// <param name="y">[planes, outH, outW]</param>
    public static void Bilinear(float[] x, float[] y, int planes, int h, int w, int outH, int outW, float scaleH, float scaleW)
    {
        var rows = Taps(outH, h, scaleH); var cols = Taps(outW, w, scaleW);
        CpuParallel.For((long)planes * outH, Math.Max(1, (1 << 13) / outW), (s, e) =>
        {
            for (long row = s; row < e; row++)
            {
                long plane = row / outH; var ty = rows[row % outH];
                var r0 = x.AsSpan((int)((plane * h + ty.I0) * w), w);
                var r1 = x.AsSpan((int)((plane * h + ty.I1) * w), w);
                var dst = y.AsSpan((int)(row * outW), outW);
                for (int ox = 0; ox < outW; ox++)
                {
                    var tx = cols[ox];
                    float top = (1f - tx.Lambda) * r0[tx.I0] + tx.Lambda * r0[tx.I1];
                    float bottom = (1f - tx.Lambda) * r1[tx.I0] + tx.Lambda * r1[tx.I1];
                    dst[ox] = (1f - ty.Lambda) * top + ty.Lambda * bottom;
                }
            }
        });
    }

    /// <param name="dy">[planes, outH, outW]</param>
    /// <param name="dx">[planes, h, w] (overwritten)</param>
    public static void BilinearBackward(float[] dy, float[] dx, int planes, int h, int w, int outH, int outW, float scaleH, float scaleW)
    {
        var rows = Taps(outH, h, scaleH); var cols = Taps(outW, w, scaleW);
        CpuParallel.For(planes, Math.Max(1, (1 << 14) / Math.Max(1, outH * outW)), (s, e) =>
        {
            var rowGrad = new float[w];
            for (long plane = s; plane < e; plane++)
            {
                var d = dx.AsSpan((int)(plane * h * w), h * w);
                d.Clear();
                for (int oy = 0; oy < outH; oy++)
                {
                    // Along W first (into one input-width row), then spread that row over the two source rows.
                    Array.Clear(rowGrad);
                    var g = dy.AsSpan((int)((plane * outH + oy) * outW), outW);
                    for (int ox = 0; ox < outW; ox++)
                    {
                        var tx = cols[ox];
                        rowGrad[tx.I0] += (1f - tx.Lambda) * g[ox];
                        rowGrad[tx.I1] += tx.Lambda * g[ox];
                    }
                    var ty = rows[oy];
                    var d0 = d.Slice(ty.I0 * w, w); var d1 = d.Slice(ty.I1 * w, w);
                    float l0 = 1f - ty.Lambda, l1 = ty.Lambda;
                    for (int ix = 0; ix < w; ix++) { d0[ix] += l0 * rowGrad[ix]; d1[ix] += l1 * rowGrad[ix]; }
                }
            }
        });
    }
}
