namespace Boost.Kernels.Cpu;

/// <summary>The managed backend's transpose of the last two axes (see <see cref="Transpose"/>): 32×32 blocks, so
/// both the rows read and the rows written stay in cache.</summary>
internal static class TransposeCpu
{
    /// <summary>y [b, n, m] = x [b, m, n] transposed per batch item.</summary>
    public static void LastTwo(float[] x, float[] y, int b, int m, int n)
    {
        const int Block = 32;
        int blocksM = (m + Block - 1) / Block;
        CpuParallel.For((long)b * blocksM, 1, (s, e) =>
        {
            for (long q = s; q < e; q++)
            {
                long batch = q / blocksM * (long)m * n; int i0 = (int)(q % blocksM) * Block;
                for (int j0 = 0; j0 < n; j0 += Block)
                    for (int i = i0; i < Math.Min(i0 + Block, m); i++)
                        for (int j = j0; j < Math.Min(j0 + Block, n); j++)
                            y[batch + (long)j * m + i] = x[batch + (long)i * n + j];
            }
        });
    }
}
