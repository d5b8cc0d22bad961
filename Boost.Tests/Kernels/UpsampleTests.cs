using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class UpsampleTests
{
    /// <summary>[N, C, H, W]: batch 1, odd H and W, 1×1 images, H ≠ W.</summary>
    private static readonly int[][] Shapes = [[1, 3, 5, 7], [2, 2, 1, 1], [1, 2, 4, 3]];

    private static (int planes, int h, int w) Dims(int[] s) => (s[0] * s[1], s[2], s[3]);

    [Test]
    public void Nearest_ForwardAndBackward_MatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Range(0, 2)] int s, [Values(1, 2, 3, 4)] int f)
    {
        var dev = Backends.Get(backend);
        var shape = Shapes[s]; var (planes, h, w) = Dims(shape);
        int[] outShape = [shape[0], shape[1], h * f, w * f];
        var xd = Seeded.Floats(10 + s, Tensor.Count(shape)); var gd = Seeded.Floats(20 + s, Tensor.Count(outShape));
        using var x = Seeded.Tensor(dev, xd, shape);
        using var y = Upsample.Nearest(x, f);
        Assert.That(y.Shape, Is.EqualTo(outShape), "nearest shape");
        Compare.Close(y.ToArray(), UpsampleReference.Nearest(Seeded.ToDouble(xd), planes, h, w, f), what: $"nearest ×{f}");

        using var dy = Seeded.Tensor(dev, gd, outShape);
        using var dx = Upsample.NearestBackward(dy, f);
        Assert.That(dx.Shape, Is.EqualTo(shape), "nearest backward shape");
        Compare.Close(dx.ToArray(), UpsampleReference.NearestBackward(Seeded.ToDouble(gd), planes, h, w, f), what: $"nearest backward ×{f}");
    }

    [Test]
    public void Bilinear_ForwardAndBackward_MatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Range(0, 2)] int s, [Values(1, 2, 3, 4)] int f)
    {
        var dev = Backends.Get(backend);
        var shape = Shapes[s]; var (planes, h, w) = Dims(shape);
        int[] outShape = [shape[0], shape[1], h * f, w * f];
        var xd = Seeded.Floats(30 + s, Tensor.Count(shape)); var gd = Seeded.Floats(40 + s, Tensor.Count(outShape));
        using var x = Seeded.Tensor(dev, xd, shape);
        using var y = Upsample.Bilinear(x, f);
        Assert.That(y.Shape, Is.EqualTo(outShape), "bilinear shape");
        Compare.Close(y.ToArray(), UpsampleReference.Bilinear(Seeded.ToDouble(xd), planes, h, w, h * f, w * f), what: $"bilinear ×{f}");

        using var dy = Seeded.Tensor(dev, gd, outShape);
        using var dx = Upsample.BilinearBackward(dy, f);
        Assert.That(dx.Shape, Is.EqualTo(shape), "bilinear backward shape");
        Compare.Close(dx.ToArray(), UpsampleReference.BilinearBackward(Seeded.ToDouble(gd), planes, h, w, h * f, w * f),
            atol: 1e-5 * f * f, what: $"bilinear backward ×{f}");
    }

    /// <summary>The managed backend at widths past its SIMD lanes with odd tails and many planes per thread: every
    /// mode and factor, forward and backward, against the twins.</summary>
    [TestCase(3, 5, 13, 21)]
    [TestCase(1, 7, 9, 35)]
    [TestCase(2, 3, 4, 9)]   // ×2 rows one short of an AVX block: all taps
    [TestCase(2, 3, 4, 10)]  // exactly one block
    [TestCase(1, 2, 5, 18)]  // two blocks, no overlap
    [TestCase(1, 2, 3, 19)]  // the last block overlaps the one before
    public void Cpu_WideRows_MatchTwin(int n, int c, int h, int w)
    {
        var dev = Device.Cpu;
        int planes = n * c;
        var xd = Seeded.Floats(70, planes * h * w);
        using var x = Seeded.Tensor(dev, xd, n, c, h, w);
        foreach (int f in new[] { 2, 3 })
        {
            var gd = Seeded.Floats(71 + f, planes * h * f * w * f);
            using var dy = Seeded.Tensor(dev, gd, n, c, h * f, w * f);
            using var yn = Upsample.Nearest(x, f);
            Compare.Close(yn.ToArray(), UpsampleReference.Nearest(Seeded.ToDouble(xd), planes, h, w, f), what: $"cpu nearest ×{f}");
            using var dxn = Upsample.NearestBackward(dy, f);
            Compare.Close(dxn.ToArray(), UpsampleReference.NearestBackward(Seeded.ToDouble(gd), planes, h, w, f), what: $"cpu nearest backward ×{f}");
            using var yb = Upsample.Bilinear(x, f);
            Compare.Close(yb.ToArray(), UpsampleReference.Bilinear(Seeded.ToDouble(xd), planes, h, w, h * f, w * f), what: $"cpu bilinear ×{f}");
            using var dxb = Upsample.BilinearBackward(dy, f);
            Compare.Close(dxb.ToArray(), UpsampleReference.BilinearBackward(Seeded.ToDouble(gd), planes, h, w, h * f, w * f),
                atol: 1e-5 * f * f, what: $"cpu bilinear backward ×{f}");
        }
    }

    /// <summary>×2 bilinear on planes cut into blocks of output rows: 163 rows of 100 (two blocks), 5 rows of 3000,
    /// one row of 16400; the source rows a block needs do not start at the plane's first row. Only ×2: at these sizes
    /// a float scale of ⅓ already moves source positions by 10⁻⁵–10⁻⁴, on every backend and in PyTorch.</summary>
    [TestCase(2, 1, 120, 50)]
    [TestCase(1, 2, 7, 1500)]
    [TestCase(1, 1, 3, 8200)]
    public void Cpu_BilinearVeryWideRows_MatchTwin(int n, int c, int h, int w)
    {
        int planes = n * c;
        var xd = Seeded.Floats(75, planes * h * w);
        using var x = Seeded.Tensor(Device.Cpu, xd, n, c, h, w);
        using var y = Upsample.Bilinear(x, 2);
        Compare.Close(y.ToArray(), UpsampleReference.Bilinear(Seeded.ToDouble(xd), planes, h, w, 2 * h, 2 * w), what: "cpu bilinear ×2, wide");
    }

    /// <summary>General resizes, down as well as up and by non-integer ratios (the gather's contributor ranges).</summary>
    [Category("EveryBackend")] // loops over the backends itself (CUDA where present): the GPU runner selects it by this
    [TestCase(5, 7, 8, 3)]
    [TestCase(5, 7, 1, 1)]
    [TestCase(2, 3, 5, 5)]
    [TestCase(7, 6, 3, 4)]
    [TestCase(1, 1, 3, 2)]
    public void BilinearResize_ForwardAndBackward_MatchTwin(int h, int w, int oh, int ow)
    {
        foreach (var backend in Backends.All.Where(b => b != Backends.Cuda || Device.CudaDeviceCount() > 0))
        {
            var dev = Backends.Get(backend);
            var xd = Seeded.Floats(50, 2 * h * w); var gd = Seeded.Floats(51, 2 * oh * ow);
            using var x = Seeded.Tensor(dev, xd, 1, 2, h, w);
            using var y = Upsample.Bilinear(x, oh, ow);
            Compare.Close(y.ToArray(), UpsampleReference.Bilinear(Seeded.ToDouble(xd), 2, h, w, oh, ow), what: $"{backend} resize");
            using var dy = Seeded.Tensor(dev, gd, 1, 2, oh, ow);
            using var dx = Upsample.BilinearBackward(dy, h, w);
            Compare.Close(dx.ToArray(), UpsampleReference.BilinearBackward(Seeded.ToDouble(gd), 2, h, w, oh, ow), what: $"{backend} resize backward");
        }
    }

    /// <summary>Pins the twin to PyTorch: <c>F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)</c>
    /// of [[1, 2], [3, 4]], and <c>size=(1, 5)</c> of [0, 1, 2] (src = max(0, (dst + ½)·0.6 − ½)).</summary>
    [Test]
    public void Twin_MatchesPyTorchValues()
    {
        double[] want =
        [
            1.00, 1.25, 1.75, 2.00,
            1.50, 1.75, 2.25, 2.50,
            2.50, 2.75, 3.25, 3.50,
            3.00, 3.25, 3.75, 4.00,
        ];
        Compare.Close(UpsampleReference.Bilinear([1, 2, 3, 4], 1, 2, 2, 4, 4), want, 1e-7, 1e-7, "bilinear ×2 of [[1,2],[3,4]]");
        Compare.Close(UpsampleReference.Bilinear([0, 1, 2], 1, 1, 3, 1, 5), [0, 0.4, 1.0, 1.6, 2.0], 1e-7, 1e-7, "resize [0,1,2] to 5");
        Compare.Close(UpsampleReference.Nearest([1, 2, 3, 4, 5, 6], 1, 2, 3, 2), new double[]
        {
            1, 1, 2, 2, 3, 3,  1, 1, 2, 2, 3, 3,  4, 4, 5, 5, 6, 6,  4, 4, 5, 5, 6, 6,
        }, 0, 0, "nearest ×2");
    }

    [TestCase(1, 3, 4, 3)]
    [TestCase(2, 5, 7, 2)]
    [TestCase(1, 1, 1, 4)]
    public void TwinBackward_MatchesFiniteDifferences(int planes, int h, int w, int f)
    {
        var x = Seeded.ToDouble(Seeded.Floats(60, planes * h * w));
        var g = FiniteDiff.Weights(61, planes * h * f * w * f);
        FiniteDiff.Check(inp => UpsampleReference.Nearest(inp[0], planes, h, w, f), [x], g,
            [UpsampleReference.NearestBackward(g, planes, h, w, f)], what: "nearest twin");
        FiniteDiff.Check(inp => UpsampleReference.Bilinear(inp[0], planes, h, w, h * f, w * f), [x], g,
            [UpsampleReference.BilinearBackward(g, planes, h, w, h * f, w * f)], what: "bilinear twin");
        var gr = FiniteDiff.Weights(62, planes * 3 * 5);
        FiniteDiff.Check(inp => UpsampleReference.Bilinear(inp[0], planes, h, w, 3, 5), [x], gr,
            [UpsampleReference.BilinearBackward(gr, planes, h, w, 3, 5)], what: "bilinear resize twin");
    }

    [Test]
    public void BadShapes_GiveClearErrors()
    {
        using var x = Seeded.Tensor(Device.Cpu, 1, 1, 2, 5, 7);
        using var x3 = Seeded.Tensor(Device.Cpu, 2, 2, 5, 7);
        void Throws(Action act, params string[] parts)
        {
            var e = Assert.Throws<ArgumentException>(() => act())!;
            foreach (var s in parts) Assert.That(e.Message, Does.Contain(s));
        }
        Throws(() => Upsample.Nearest(x, 0).Dispose(), "Upsample.Nearest", "factor", "0");
        Throws(() => Upsample.Bilinear(x, -2).Dispose(), "Upsample.Bilinear", "factor", "-2");
        Throws(() => Upsample.Nearest(x3, 2).Dispose(), "Upsample.Nearest", "rank 4", "[2, 5, 7]");
        Throws(() => Upsample.Bilinear(x3, 2).Dispose(), "Upsample.Bilinear", "rank 4", "[2, 5, 7]");
        Throws(() => Upsample.NearestBackward(x, 2).Dispose(), "Upsample.NearestBackward", "[1, 2, 5, 7]", "divisible", "2");
        Throws(() => Upsample.BilinearBackward(x, 4).Dispose(), "Upsample.BilinearBackward", "[1, 2, 5, 7]", "divisible", "4");
        Throws(() => Upsample.Bilinear(x, 0, 3).Dispose(), "Upsample.Bilinear", "0×3");
        Throws(() => Upsample.BilinearBackward(x, 3, 0).Dispose(), "Upsample.BilinearBackward", "3×0");
    }
}
