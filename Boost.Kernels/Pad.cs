using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Zero padding of the spatial dims, possibly asymmetric (diffusers' VAE downsampler pads right and bottom by one
/// before a stride-2 conv). Its backward crops the gradient back.
/// </summary>
public static class Pad
{
    /// <summary>One thread per output element; reads the source pixel or writes 0.</summary>
    [Kernel]
    public static void PadKernel(Index1D i, ArrayView<float> x, ArrayView<float> y, int h, int w, int top, int left, int ho, int wo)
    {
        int ox = i % wo, rest = i / wo, oy = rest % ho, plane = rest / ho;
        int sy = oy - top, sx = ox - left;
        y[i] = sy >= 0 && sy < h && sx >= 0 && sx < w ? x[(long)plane * h * w + sy * w + sx] : 0f;
    }

    /// <summary>One thread per cropped element (the backward of <see cref="Forward"/>).</summary>
    [Kernel]
    public static void CropKernel(Index1D i, ArrayView<float> dy, ArrayView<float> dx, int h, int w, int top, int left, int ho, int wo)
    {
        int sx = i % w, rest = i / w, sy = rest % h, plane = rest / h;
        dx[i] = dy[(long)plane * ho * wo + (sy + top) * wo + sx + left];
    }

    /// <param name="x">[N, C, H, W]</param>
    /// <returns>[N, C, H + top + bottom, W + left + right]</returns>
    public static Tensor Forward(Tensor x, int left, int right, int top, int bottom)
    {
        Check.Rank(x, 4, "Pad", "x");
        if (left < 0 || right < 0 || top < 0 || bottom < 0) throw new ArgumentException("Pad: padding must be non-negative.");
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3), ho = h + top + bottom, wo = w + left + right;
        var y = Tensor.Empty(x.Device, n, c, ho, wo);
        if (y.Length == 0) return y;
        x.Device.Backend.Pad(x, y, n * c, h, w, top, left);
        return y;
    }

    /// <param name="dy">[N, C, H + top + bottom, W + left + right]</param>
    /// <returns>dx [N, C, H, W]</returns>
    public static Tensor Backward(Tensor dy, int left, int right, int top, int bottom)
    {
        Check.Rank(dy, 4, "PadBackward", "dy");
        int n = dy.Dim(0), c = dy.Dim(1), ho = dy.Dim(2), wo = dy.Dim(3), h = ho - top - bottom, w = wo - left - right;
        if (h < 0 || w < 0) throw new ArgumentException($"PadBackward: {dy.ShapeString} is smaller than the padding.");
        var dx = Tensor.Empty(dy.Device, n, c, h, w);
        if (dx.Length == 0) return dx;
        dy.Device.Backend.Crop(dy, dx, n * c, h, w, top, left);
        return dx;
    }

    internal static void LaunchPad(IlgpuDevice dev, Tensor x, Tensor y, int h, int w, int top, int left)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, int, int>(PadKernel));
        k((int)y.Length, x.View, y.View, h, w, top, left, y.Dim(2), y.Dim(3));
    }

    internal static void LaunchCrop(IlgpuDevice dev, Tensor dy, Tensor dx, int h, int w, int top, int left)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, int, int>(CropKernel));
        k((int)dx.Length, dy.View, dx.View, h, w, top, left, dy.Dim(2), dy.Dim(3));
    }
}
