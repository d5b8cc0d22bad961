using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Channel concat and slice on [N, C, H, W] (the UNet's skip connections), both built on
/// <see cref="CopyChannels"/>. Backwards: a slice's is <see cref="CopyChannels"/> with accumulate into the input's
/// gradient; a concat's is two <see cref="Slice"/>s.
/// </summary>
public static class Channels
{
    // ---------------------------------------------------------------- kernels

    /// <summary>One thread per copied element: dst[n, dstStart + c, p] (+)= src[n, srcStart + c, p] for c &lt; count.</summary>
    [Kernel]
    public static void CopyKernel(Index1D i, ArrayView<float> src, ArrayView<float> dst, int hw, int count,
        int srcChannels, int srcStart, int dstChannels, int dstStart, int accumulate)
    {
        int p = i % hw, t = i / hw;
        int c = t % count, n = t / count;
        float v = src[(n * srcChannels + srcStart + c) * hw + p];
        int at = (n * dstChannels + dstStart + c) * hw + p;
        dst[at] = accumulate != 0 ? dst[at] + v : v;
    }

    // ---------------------------------------------------------------- launchers

    /// <summary>Copies (or, with <paramref name="accumulate"/>, adds) channels [srcStart, srcStart + count) of
    /// <paramref name="src"/> into channels [dstStart, dstStart + count) of <paramref name="dst"/>.</summary>
    /// <param name="src">[N, Cs, H, W]</param>
    /// <param name="dst">[N, Cd, H, W], a different tensor</param>
    public static void CopyChannels(Tensor src, int srcStart, Tensor dst, int dstStart, int count, bool accumulate)
    {
        const string op = "Channels.CopyChannels";
        Check.SameDevice(op, src, dst);
        Check.Rank(src, 4, op, "src [N, C, H, W]");
        Check.Rank(dst, 4, op, "dst [N, C, H, W]");
        if (src.Dim(0) != dst.Dim(0) || src.Dim(2) != dst.Dim(2) || src.Dim(3) != dst.Dim(3))
            throw new ArgumentException($"{op}: src {src.ShapeString} and dst {dst.ShapeString} must agree in N, H and W.");
        CheckRange(op, "src", src, srcStart, count);
        CheckRange(op, "dst", dst, dstStart, count);
        Check.That(!ReferenceEquals(src.Storage, dst.Storage), $"{op}: src and dst share storage ({src.ShapeString}, {dst.ShapeString}); copy within one tensor is not supported.");
        Check.That(Math.Max(src.Length, dst.Length) <= int.MaxValue, $"{op}: tensors {src.ShapeString}, {dst.ShapeString} are too large for 32-bit indexing.");

        int n = src.Dim(0), hw = src.Dim(2) * src.Dim(3);
        long total = (long)n * count * hw;
        if (total == 0) return;
        src.Device.Backend.CopyChannels(src, srcStart, dst, dstStart, n, count, hw, accumulate);
    }

    /// <summary>Concatenation along channels.</summary>
    /// <param name="a">[N, Ca, H, W]</param>
    /// <param name="b">[N, Cb, H, W]</param>
    /// <returns>[N, Ca + Cb, H, W]</returns>
    public static Tensor Concat(Tensor a, Tensor b)
    {
        const string op = "Channels.Concat";
        Check.SameDevice(op, a, b);
        Check.Rank(a, 4, op, "a [N, C, H, W]");
        Check.Rank(b, 4, op, "b [N, C, H, W]");
        if (a.Dim(0) != b.Dim(0) || a.Dim(2) != b.Dim(2) || a.Dim(3) != b.Dim(3))
            throw new ArgumentException($"{op}: a {a.ShapeString} and b {b.ShapeString} must agree in N, H and W.");
        int ca = a.Dim(1), cb = b.Dim(1);
        var y = Tensor.Empty(a.Device, a.Dim(0), checked(ca + cb), a.Dim(2), a.Dim(3));
        CopyChannels(a, 0, y, 0, ca, accumulate: false);
        CopyChannels(b, 0, y, ca, cb, accumulate: false);
        return y;
    }

    /// <summary>Gradients of <see cref="Concat"/>: dy split back into its two channel ranges.</summary>
    /// <param name="dy">[N, Ca + Cb, H, W]</param>
    /// <returns>da [N, Ca, H, W], db [N, Cb, H, W]</returns>
    public static (Tensor da, Tensor db) ConcatBackward(Tensor dy, int channelsA)
    {
        Check.Rank(dy, 4, "Channels.ConcatBackward", "dy [N, C, H, W]");
        return (Slice(dy, 0, channelsA), Slice(dy, channelsA, dy.Dim(1) - channelsA));
    }

    /// <summary>Channels [start, start + count) of x.</summary>
    /// <param name="x">[N, C, H, W]</param>
    /// <returns>[N, count, H, W]</returns>
    public static Tensor Slice(Tensor x, int start, int count)
    {
        const string op = "Channels.Slice";
        Check.Rank(x, 4, op, "x [N, C, H, W]");
        CheckRange(op, "x", x, start, count);
        var y = Tensor.Empty(x.Device, x.Dim(0), count, x.Dim(2), x.Dim(3));
        CopyChannels(x, start, y, 0, count, accumulate: false);
        return y;
    }

    internal static void LaunchCopy(IlgpuDevice dev, Tensor src, int srcStart, Tensor dst, int dstStart, int n, int count, int hw, bool accumulate)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, int, int, int>(CopyKernel));
        k(n * count * hw, src.View, dst.View, hw, count, src.Dim(1), srcStart, dst.Dim(1), dstStart, accumulate ? 1 : 0);
    }

    private static void CheckRange(string op, string name, Tensor t, int start, int count)
    {
        if (count < 0 || start < 0 || (long)start + count > t.Dim(1))
            throw new ArgumentException($"{op}: channels [{start}, {(long)start + count}) (start {start}, count {count}) are outside the {t.Dim(1)} channels of {name} {t.ShapeString}.");
    }
}
