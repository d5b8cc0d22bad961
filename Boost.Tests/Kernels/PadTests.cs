using Boost.Kernels;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class PadTests
{
    /// <summary>Twin: y[n,c,i,j] = x[n,c,i−top,j−left] inside, 0 outside; the backward crops.</summary>
    private static double[] PadTwin(double[] x, int nc, int h, int w, int l, int r, int t, int b)
    {
        int ho = h + t + b, wo = w + l + r;
        var y = new double[nc * ho * wo];
        for (int p = 0; p < nc; p++) for (int i = 0; i < h; i++) for (int j = 0; j < w; j++)
            y[p * ho * wo + (i + t) * wo + j + l] = x[p * h * w + i * w + j];
        return y;
    }

    [Category("EveryBackend")] // loops over the backends itself (CUDA where present): the GPU runner selects it by this
    [TestCase(1, 1, 1, 1, 0, 1, 0, 1)]
    [TestCase(2, 3, 5, 7, 2, 0, 1, 3)]
    public void PadAndCrop_MatchTwin(int n, int c, int h, int w, int l, int r, int t, int b)
    {
        foreach (var backend in Backends.All.Where(x => x != Backends.Cuda || Device.CudaDeviceCount() > 0))
        {
            var dev = Backends.Get(backend);
            var xd = Seeded.Floats(21, n * c * h * w);
            using var x = Seeded.Tensor(dev, xd, n, c, h, w);
            using var y = Pad.Forward(x, l, r, t, b);
            var want = PadTwin(Seeded.ToDouble(xd), n * c, h, w, l, r, t, b);
            Compare.Close(y.ToArray(), want, rtol: 0, atol: 0, what: $"{backend} pad");
            // The crop is the adjoint of the pad: <pad(x), g> == <x, crop(g)>.
            var gd = Seeded.Floats(22, y.Length);
            using var g = Seeded.Tensor(dev, gd, y.Shape);
            using var dx = Pad.Backward(g, l, r, t, b);
            double lhs = want.Zip(gd, (p, q) => p * q).Sum(), rhs = dx.ToArray().Zip(xd, (p, q) => (double)p * q).Sum();
            Assert.That(rhs, Is.EqualTo(lhs).Within(1e-4 * (1 + Math.Abs(lhs))), $"{backend} crop is not the adjoint");
        }
    }

    [Test]
    public void NegativePadding_IsRejected() => Assert.Throws<ArgumentException>(() => Pad.Forward(Tensor.Zeros(Device.Cpu, 1, 1, 2, 2), -1, 0, 0, 0));
}
