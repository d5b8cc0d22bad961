using System.Numerics;

namespace Boost.Kernels.Cpu;

/// <summary>The managed backend's channel copy (see <see cref="Channels.CopyChannels"/>): each (n, c) plane is one
/// contiguous span, planes split across the cores.</summary>
public static class ChannelsCpu
{
    /// <param name="src">[N, srcChannels, hw]</param>
    /// <param name="dst">[N, dstChannels, hw]</param>
    public static void Copy(float[] src, int srcChannels, int srcStart, float[] dst, int dstChannels, int dstStart,
        int n, int count, int hw, bool accumulate)
    {
        CpuParallel.For((long)n * count, Math.Max(1, (1 << 15) / Math.Max(1, hw)), (s, e) =>
        {
            for (long plane = s; plane < e; plane++)
            {
                long b = plane / count, c = plane % count;
                var from = src.AsSpan((int)((b * srcChannels + srcStart + c) * hw), hw);
                var to = dst.AsSpan((int)((b * dstChannels + dstStart + c) * hw), hw);
                if (accumulate) Add(from, to);
                else from.CopyTo(to);
            }
        });
    }

    private static void Add(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0, w = Vector<float>.Count;
        for (; i <= x.Length - w; i += w)
            (new Vector<float>(x.Slice(i, w)) + new Vector<float>(y.Slice(i, w))).CopyTo(y.Slice(i, w));
        for (; i < x.Length; i++) y[i] += x[i];
    }
}
