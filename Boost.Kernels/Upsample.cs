using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Spatial resizing of [N, C, H, W] images with PyTorch's <c>F.interpolate</c> semantics: nearest by an integer
/// factor, and bilinear with <c>align_corners=False</c> by an integer factor or to any size. Backwards are gathers:
/// each input pixel sums the outputs it contributed to, so no atomics are needed.
/// </summary>
/// <remarks>
/// Nearest: source index = ⌊dst/f⌋ (PyTorch's ⌊dst·(1/f)⌋, equal for every index of a real image).
/// Bilinear: src = max(0, (dst + ½)·scale − ½) with scale = in/out (= 1/f for a factor, as PyTorch computes it),
/// i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1), λ = src − i0, y = (1 − λ)·x[i0] + λ·x[i1] along each axis.
/// </remarks>
public static class Upsample
{
    // ---------------------------------------------------------------- index maps (shared by kernels and CPU loops)

    /// <summary>The two source pixels of output <paramref name="dst"/> along one axis and the second one's weight.</summary>
    public static void SourceIndex(int dst, float scale, int inSize, out int i0, out int i1, out float lambda)
    {
        float src = MathF.Max((dst + 0.5f) * scale - 0.5f, 0f);
        i0 = (int)src; // truncation is ⌊⌋ since src ≥ 0
        i1 = i0 < inSize - 1 ? i0 + 1 : i0;
        lambda = src - i0;
    }

    /// <summary>Weight of source <paramref name="src"/> in output <paramref name="dst"/> along one axis (both terms when
    /// the clamp makes i0 = i1).</summary>
    public static float Weight(int dst, int src, float scale, int inSize)
    {
        SourceIndex(dst, scale, inSize, out int i0, out int i1, out float lambda);
        return (i0 == src ? 1f - lambda : 0f) + (i1 == src ? lambda : 0f);
    }

    /// <summary>First output whose source interval can reach input <paramref name="src"/>: those with
    /// (dst + ½)·scale − ½ ∈ [src − 1, src + 1), widened by one for rounding (the weights decide exactly).</summary>
    public static int FirstContributor(int src, float scale)
    {
        int first = (int)MathF.Floor((src - 0.5f) / scale - 0.5f) - 1;
        return first > 0 ? first : 0;
    }

    /// <summary>Last output (inclusive) whose source interval can reach input <paramref name="src"/>.</summary>
    public static int LastContributor(int src, float scale, int outSize)
    {
        int last = (int)MathF.Ceiling((src + 1.5f) / scale - 0.5f) + 1;
        return last < outSize - 1 ? last : outSize - 1;
    }

    // ---------------------------------------------------------------- kernels

    /// <summary>One thread per output element of y [planes, inH·f, inW·f].</summary>
    [Kernel]
    public static void NearestKernel(Index1D i, ArrayView<float> x, ArrayView<float> y, int inH, int inW, int factor)
    {
        int outW = inW * factor, outH = inH * factor;
        int ox = i % outW, t = i / outW;
        int oy = t % outH, plane = t / outH;
        y[i] = x[(plane * inH + oy / factor) * inW + ox / factor];
    }

    /// <summary>One thread per input element of dx [planes, inH, inW]: the sum of its f×f block of dy.</summary>
    [Kernel]
    public static void NearestBackwardKernel(Index1D i, ArrayView<float> dy, ArrayView<float> dx, int inH, int inW, int factor)
    {
        int outW = inW * factor, outH = inH * factor;
        int ix = i % inW, t = i / inW;
        int iy = t % inH, plane = t / inH;
        int row0 = (plane * outH + iy * factor) * outW + ix * factor;
        float sum = 0f;
        for (int a = 0; a < factor; a++)
            for (int b = 0; b < factor; b++) sum += dy[row0 + a * outW + b];
        dx[i] = sum;
    }

    /// <summary>One thread per output element of y [planes, outH, outW].</summary>
    [Kernel]
    public static void BilinearKernel(Index1D i, ArrayView<float> x, ArrayView<float> y,
        int inH, int inW, int outH, int outW, float scaleH, float scaleW)
    {
        int ox = i % outW, t = i / outW;
        int oy = t % outH, plane = t / outH;
        SourceIndex(oy, scaleH, inH, out int y0, out int y1, out float ly);
        SourceIndex(ox, scaleW, inW, out int x0, out int x1, out float lx);
        int r0 = (plane * inH + y0) * inW, r1 = (plane * inH + y1) * inW;
        y[i] = (1f - ly) * ((1f - lx) * x[r0 + x0] + lx * x[r0 + x1])
             + ly * ((1f - lx) * x[r1 + x0] + lx * x[r1 + x1]);
    }

    /// <summary>One thread per input element of dx [planes, inH, inW]: Σ wy·wx·dy over the outputs that read it.</summary>
    [Kernel]
    public static void BilinearBackwardKernel(Index1D i, ArrayView<float> dy, ArrayView<float> dx,
        int inH, int inW, int outH, int outW, float scaleH, float scaleW)
    {
        int ix = i % inW, t = i / inW;
        int iy = t % inH, plane = t / inH;
        int oyEnd = LastContributor(iy, scaleH, outH), oxFirst = FirstContributor(ix, scaleW), oxEnd = LastContributor(ix, scaleW, outW);
        float sum = 0f;
        for (int oy = FirstContributor(iy, scaleH); oy <= oyEnd; oy++)
        {
            float wy = Weight(oy, iy, scaleH, inH);
            if (wy == 0f) continue;
            int row = (plane * outH + oy) * outW;
            float rowSum = 0f;
            for (int ox = oxFirst; ox <= oxEnd; ox++) rowSum += Weight(ox, ix, scaleW, inW) * dy[row + ox];
            sum += wy * rowSum;
        }
        dx[i] = sum;
    }

    // ---------------------------------------------------------------- ops

    /// <summary>Nearest-neighbour upsampling by an integer factor.</summary>
    /// <param name="x">[N, C, H, W]</param>
    /// <param name="factor">f ≥ 1</param>
    /// <returns>[N, C, H·f, W·f]</returns>
    public static Tensor Nearest(Tensor x, int factor)
    {
        var (planes, h, w) = CheckImage("Upsample.Nearest", x, "x", factor);
        var y = Tensor.Empty(x.Device, x.Dim(0), x.Dim(1), checked(h * factor), checked(w * factor));
        if (y.Length == 0) return y;
        x.Device.Backend.Nearest(x, y, planes, h, w, factor);
        return y;
    }

    /// <summary>Gradient of <see cref="Nearest"/>: each input pixel sums its f×f block.</summary>
    /// <param name="dy">[N, C, H·f, W·f]</param>
    /// <returns>dx [N, C, H, W]</returns>
    public static Tensor NearestBackward(Tensor dy, int factor)
    {
        var (planes, h, w) = CheckGradient("Upsample.NearestBackward", dy, factor);
        var dx = Tensor.Empty(dy.Device, dy.Dim(0), dy.Dim(1), h, w);
        if (dx.Length == 0) return dx;
        dy.Device.Backend.NearestBackward(dy, dx, planes, h, w, factor);
        return dx;
    }

    /// <summary>Bilinear upsampling by an integer factor (align_corners=False).</summary>
    /// <param name="x">[N, C, H, W]</param>
    /// <returns>[N, C, H·f, W·f]</returns>
    public static Tensor Bilinear(Tensor x, int factor)
    {
        CheckImage("Upsample.Bilinear", x, "x", factor);
        return Bilinear(x, checked(x.Dim(2) * factor), checked(x.Dim(3) * factor));
    }

    /// <summary>Bilinear resize to any size (align_corners=False, no antialiasing), as
    /// <c>F.interpolate(x, size=(outH, outW), mode="bilinear")</c>.</summary>
    /// <param name="x">[N, C, H, W]</param>
    /// <returns>[N, C, outH, outW]</returns>
    public static Tensor Bilinear(Tensor x, int outH, int outW)
    {
        const string op = "Upsample.Bilinear";
        var (planes, h, w) = CheckImage(op, x, "x", 1);
        Check.That(outH > 0 && outW > 0, $"{op}: output size must be positive, got {outH}×{outW} for x {x.ShapeString}.");
        Check.That(h > 0 && w > 0, $"{op}: cannot resize the empty image x {x.ShapeString}.");
        Check.That((long)planes * outH * outW <= int.MaxValue, $"{op}: {outH}×{outW} output of x {x.ShapeString} is too large for 32-bit indexing.");
        var y = Tensor.Empty(x.Device, x.Dim(0), x.Dim(1), outH, outW);
        if (y.Length == 0) return y;
        float sh = (float)h / outH, sw = (float)w / outW;
        x.Device.Backend.Bilinear(x, y, planes, h, w, outH, outW, sh, sw);
        return y;
    }

    /// <summary>Gradient of <see cref="Bilinear(Tensor, int)"/>.</summary>
    /// <param name="dy">[N, C, H·f, W·f]</param>
    /// <returns>dx [N, C, H, W]</returns>
    public static Tensor BilinearBackward(Tensor dy, int factor)
    {
        var (_, h, w) = CheckGradient("Upsample.BilinearBackward", dy, factor);
        return BilinearBackward(dy, h, w);
    }

    /// <summary>Gradient of <see cref="Bilinear(Tensor, int, int)"/> from an input of size inH×inW.</summary>
    /// <param name="dy">[N, C, outH, outW]</param>
    /// <returns>dx [N, C, inH, inW]</returns>
    public static Tensor BilinearBackward(Tensor dy, int inH, int inW)
    {
        const string op = "Upsample.BilinearBackward";
        var (planes, outH, outW) = CheckImage(op, dy, "dy", 1);
        Check.That(inH > 0 && inW > 0, $"{op}: input size must be positive, got {inH}×{inW} for dy {dy.ShapeString}.");
        Check.That(outH > 0 && outW > 0, $"{op}: dy {dy.ShapeString} has an empty image.");
        Check.That((long)planes * inH * inW <= int.MaxValue, $"{op}: {inH}×{inW} gradient of dy {dy.ShapeString} is too large for 32-bit indexing.");
        var dx = Tensor.Empty(dy.Device, dy.Dim(0), dy.Dim(1), inH, inW);
        if (dx.Length == 0) return dx;
        float sh = (float)inH / outH, sw = (float)inW / outW;
        dy.Device.Backend.BilinearBackward(dy, dx, planes, inH, inW, outH, outW, sh, sw);
        return dx;
    }

    // ---------------------------------------------------------------- launchers

    internal static void LaunchNearest(IlgpuDevice dev, Tensor x, Tensor y, int h, int w, int factor)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(NearestKernel));
        k((int)y.Length, x.View, y.View, h, w, factor);
    }

    internal static void LaunchNearestBackward(IlgpuDevice dev, Tensor dy, Tensor dx, int h, int w, int factor)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(NearestBackwardKernel));
        k((int)dx.Length, dy.View, dx.View, h, w, factor);
    }

    internal static void LaunchBilinear(IlgpuDevice dev, Tensor x, Tensor y, int h, int w, int outH, int outW, float sh, float sw)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, float, float>(BilinearKernel));
        k((int)y.Length, x.View, y.View, h, w, outH, outW, sh, sw);
    }

    internal static void LaunchBilinearBackward(IlgpuDevice dev, Tensor dy, Tensor dx, int inH, int inW, int outH, int outW, float sh, float sw)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, float, float>(BilinearBackwardKernel));
        k((int)dx.Length, dy.View, dx.View, inH, inW, outH, outW, sh, sw);
    }

    private static (int planes, int h, int w) CheckImage(string op, Tensor t, string name, int factor)
    {
        Check.Rank(t, 4, op, $"{name} [N, C, H, W]");
        Check.That(factor >= 1, $"{op}: factor must be ≥ 1, got {factor} for {name} {t.ShapeString}.");
        Check.That(t.Length <= int.MaxValue / ((long)factor * factor), $"{op}: {name} {t.ShapeString} ×{factor}² is too large for 32-bit indexing.");
        return (t.Dim(0) * t.Dim(1), t.Dim(2), t.Dim(3));
    }

    private static (int planes, int h, int w) CheckGradient(string op, Tensor dy, int factor)
    {
        var (planes, oh, ow) = CheckImage(op, dy, "dy", factor);
        if (oh % factor != 0 || ow % factor != 0)
            throw new ArgumentException($"{op}: dy {dy.ShapeString} must have H and W divisible by the factor {factor}.");
        return (planes, oh / factor, ow / factor);
    }
}
