using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class ElementwiseTests
{
    private static readonly int[][] Shapes = [[1], [7], [1, 3, 5, 7], [2, 3, 17, 9]];

    [Test]
    public void SiLU_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend, [Values(0, 1, 2, 3)] int s)
    {
        var dev = Backends.Get(backend);
        var data = Seeded.Floats(10 + s, Tensor.Count(Shapes[s]));
        using var x = Seeded.Tensor(dev, data, Shapes[s]);
        using var y = Elementwise.SiLU(x);
        Compare.Close(y.ToArray(), ElementwiseReference.Map(Seeded.ToDouble(data), ElementwiseReference.SiLU), what: "silu");
    }

    [Test]
    public void SiLUBackward_MatchesTwin_AndTwinMatchesFiniteDifferences([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        int[] shape = [2, 3, 5, 7];
        var xd = Seeded.Floats(1, Tensor.Count(shape)); var gd = Seeded.Floats(2, Tensor.Count(shape));
        using var x = Seeded.Tensor(dev, xd, shape);
        using var g = Seeded.Tensor(dev, gd, shape);
        using var dx = Elementwise.SiLUBackward(x, g);
        var X = Seeded.ToDouble(xd); var G = Seeded.ToDouble(gd);
        var want = new double[X.Length];
        for (int i = 0; i < X.Length; i++) want[i] = ElementwiseReference.SiLUGrad(X[i], G[i]);
        Compare.Close(dx.ToArray(), want, what: "silu backward");
        FiniteDiff.Check(inp => ElementwiseReference.Map(inp[0], ElementwiseReference.SiLU), [X], G, [want], what: "silu twin");
    }

    [Category("EveryBackend")] // loops over the backends itself (CUDA where present): the GPU runner selects it by this
    [TestCase(new[] { 2, 3, 5, 7 }, new[] { 2, 3, 5, 7 })]
    [TestCase(new[] { 2, 3, 5, 7 }, new[] { 2, 3, 1, 1 })]
    [TestCase(new[] { 1, 3, 1, 7 }, new[] { 5, 1 })]
    [TestCase(new[] { 9 }, new[] { 4, 1 })]
    [TestCase(new[] { 2, 3, 1, 1 }, new[] { 2, 3, 9, 13 })]   // the row operand first (sub is not symmetric), SIMD rows with tails
    [TestCase(new[] { 3, 1 }, new[] { 3, 37 })]
    public void BroadcastOps_MatchTwin(int[] aShape, int[] bShape)
    {
        foreach (var backend in Backends.All.Where(b => b != Backends.Cuda || Device.CudaDeviceCount() > 0))
        {
            var dev = Backends.Get(backend);
            var ad = Seeded.Floats(3, Tensor.Count(aShape)); var bd = Seeded.Floats(4, Tensor.Count(bShape));
            using var a = Seeded.Tensor(dev, ad, aShape);
            using var b = Seeded.Tensor(dev, bd, bShape);
            var A = Seeded.ToDouble(ad); var B = Seeded.ToDouble(bd);
            foreach (var (name, got, f) in new (string, Func<Tensor>, Func<double, double, double>)[]
            {
                ("add", () => Elementwise.Add(a, b), (p, q) => p + q),
                ("sub", () => Elementwise.Sub(a, b), (p, q) => p - q),
                ("mul", () => Elementwise.Mul(a, b), (p, q) => p * q),
                ("axpby", () => Elementwise.Axpby(0.5f, a, -1.5f, b), (p, q) => 0.5 * p - 1.5 * q),
            })
            {
                using var y = got();
                var want = ElementwiseReference.Zip(A, aShape, B, bShape, f, out var shape);
                Assert.That(y.Shape, Is.EqualTo(shape), $"{backend} {name} shape");
                Compare.Close(y.ToArray(), want, what: $"{backend} {name}");
            }
        }
    }

    [Test]
    public void Affine_And_Fill([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        var xd = Seeded.Floats(5, 37);
        using var x = Seeded.Tensor(dev, xd, 37);
        using var y = Elementwise.Affine(x, -3f, 0.25f);
        Compare.Close(y.ToArray(), ElementwiseReference.Map(Seeded.ToDouble(xd), v => -3 * v + 0.25), what: "affine");
        y.Fill(1.5f);
        Assert.That(y.ToArray(), Is.All.EqualTo(1.5f));
    }

    [Test]
    public void IncompatibleShapes_GiveClearErrors()
    {
        using var a = Tensor.Zeros(Device.Cpu, 2, 3);
        using var b = Tensor.Zeros(Device.Cpu, 4);
        var e = Assert.Throws<ArgumentException>(() => Elementwise.Add(a, b).Dispose());
        Assert.That(e!.Message, Does.Contain("[2, 3]").And.Contain("[4]"));
    }
}
