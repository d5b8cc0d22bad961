using Boost.Kernels;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class TransposeTests
{
    [Category("EveryBackend")] // loops over the backends itself (CUDA where present): the GPU runner selects it by this
    [TestCase(1, 1, 1)]
    [TestCase(1, 5, 7)]
    [TestCase(3, 9, 4)]
    [TestCase(2, 33, 37)]
    public void LastTwo_MatchesTwin(int b, int m, int n)
    {
        foreach (var backend in Backends.All.Where(x => x != Backends.Cuda || Device.CudaDeviceCount() > 0))
        {
            var dev = Backends.Get(backend);
            var xd = Seeded.Floats(b * 100 + m, (long)b * m * n);
            using var x = Seeded.Tensor(dev, xd, b, m, n);
            using var y = Transpose.LastTwo(x);
            Assert.That(y.Shape, Is.EqualTo(new[] { b, n, m }));
            var want = new double[xd.Length];
            for (int q = 0; q < b; q++) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++)
                want[q * m * n + j * m + i] = xd[q * m * n + i * n + j];
            Compare.Close(y.ToArray(), want, rtol: 0, atol: 0, what: $"{backend} transpose");
        }
    }

    [Test]
    public void RejectsRank4() => Assert.Throws<ArgumentException>(() => Transpose.LastTwo(Tensor.Zeros(Device.Cpu, 1, 2, 3, 4)));
}
