namespace Boost.Kernels.Cpu;

/// <summary>The managed backend's draws (see <see cref="Rng"/>): the kernels' per-block bodies over ranges of blocks.</summary>
internal static class RandomCpu
{
    public static void Uniform(float[] y, long n, ulong seed, ulong stream, float lo, float hi)
        => CpuParallel.For((n + 3) / 4, 4096, (s, e) =>
        {
            for (long b = s; b < e; b++) Store(y, n, 4 * b, Rng.UniformBlock(seed, stream, (uint)b, lo, hi));
        });

    public static void Normal(float[] y, long n, ulong seed, ulong stream, float mean, float std)
        => CpuParallel.For((n + 3) / 4, 2048, (s, e) =>
        {
            for (long b = s; b < e; b++) Store(y, n, 4 * b, Rng.NormalBlock(seed, stream, (uint)b, mean, std));
        });

    private static void Store(float[] y, long n, long at, (float, float, float, float) v)
    {
        if (at < n) y[at] = v.Item1;
        if (at + 1 < n) y[at + 1] = v.Item2;
        if (at + 2 < n) y[at + 2] = v.Item3;
        if (at + 3 < n) y[at + 3] = v.Item4;
    }
}
