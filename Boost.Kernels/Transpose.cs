using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Batched transpose of the last two dims: [B, M, N] → [B, N, M] (rank 2 treated as B = 1). The attention block
/// uses it to move between channel-first [B, C, T] and token-major [B, T, C]. Its backward is itself.
/// </summary>
public static class Transpose
{
    /// <summary>One thread per output element; TILE×TILE shared-memory tiles make both the read and the write coalesced.</summary>
    [Kernel(Grouped = true)]
    public static void TransposeKernel(ArrayView<float> x, ArrayView<float> y, int m, int n, SpecializedValue<int> tile)
    {
        int t = tile.Value;
        var buffer = SharedMemory.GetDynamic<float>();
        int tilesN = (n + t - 1) / t;
        int b = Grid.IdxY, tm = Grid.IdxX / tilesN, tn = Grid.IdxX % tilesN;
        int lx = Group.IdxX % t, ly = Group.IdxX / t;
        long batch = (long)b * m * n;
        int rows = Group.DimX / t;
        for (int r = ly; r < t; r += rows)
        {
            int i = tm * t + r, j = tn * t + lx;
            if (i < m && j < n) buffer[r * (t + 1) + lx] = x[batch + (long)i * n + j];
        }
        Group.Barrier();
        for (int r = ly; r < t; r += rows)
        {
            int j = tn * t + r, i = tm * t + lx;
            if (i < m && j < n) y[batch + (long)j * m + i] = buffer[lx * (t + 1) + r];
        }
    }

    /// <param name="x">[B, M, N] or [M, N]</param>
    /// <returns>[B, N, M] or [N, M]</returns>
    public static Tensor LastTwo(Tensor x)
    {
        if (x.Rank is not (2 or 3)) throw new ArgumentException($"Transpose: expected rank 2 or 3, got {x.ShapeString}.");
        int b = x.Rank == 3 ? x.Dim(0) : 1, m = x.Dim(-2), n = x.Dim(-1);
        var y = Tensor.Empty(x.Device, x.Rank == 3 ? [b, n, m] : [n, m]);
        if (x.Length == 0) return y;
        x.Device.Backend.TransposeLastTwo(x, y, b, m, n);
        return y;
    }

    /// <summary>The tile is the caller's (its device's tile set): t·(group/t) threads walk the rows of a t×t tile in turn.</summary>
    internal static void Launch(IlgpuDevice dev, Tensor x, Tensor y, int b, int m, int n, int t, int group)
    {
        var k = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int, SpecializedValue<int>>(TransposeKernel));
        var grid = new Index2D(((m + t - 1) / t) * ((n + t - 1) / t), b);
        k(new KernelConfig(grid, new Index2D(group, 1), SharedMemoryConfig.RequestDynamic<float>(t * (t + 1))), x.View, y.View, m, n, SpecializedValue.New(t));
    }
}
