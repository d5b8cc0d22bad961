using Boost.Kernels;

namespace Boost.Tests.Support;

/// <summary>Seeded random inputs, uniform in [lo, hi] (by default [-2, 2]); never zeros.</summary>
public static class Seeded
{
    public static float[] Floats(int seed, long n, float lo = -2f, float hi = 2f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)r.NextDouble();
        return a;
    }

    public static Tensor Tensor(Device d, int seed, params int[] shape)
        => global::Boost.Kernels.Tensor.FromArray(d, Floats(seed, global::Boost.Kernels.Tensor.Count(shape)), shape);

    public static Tensor Tensor(Device d, float[] data, params int[] shape) => global::Boost.Kernels.Tensor.FromArray(d, data, shape);

    public static double[] ToDouble(float[] a) => Array.ConvertAll(a, x => (double)x);
}
