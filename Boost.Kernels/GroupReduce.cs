using ILGPU;

namespace Boost.Kernels;

/// <summary>
/// The block reduction every kernel that sums over its thread group shares (group norm's statistics and gradients,
/// <see cref="Reduce"/>, the conv bias gradient): each warp sums its lanes with shuffles, then every warp sums the
/// per-warp partials the same way, so one barrier separates the two stages and every thread gets the same total.
/// Deterministic: a fixed order for a given group and warp size.
/// </summary>
/// <remarks>
/// The scratch array is the caller's: allocated at the top of its kernel (ILGPU gives each allocation site its own
/// array, so an allocation inside a helper called under divergent control flow could split in two; see
/// docs/adding-an-op.md), at least <c>Group.DimX</c> floats. Every thread of the group must call it (it holds
/// barriers). Groups that are not whole warps, or have more warps than a warp has lanes, take the shared-memory tree
/// (shuffles from lanes that do not exist are undefined).
/// </remarks>
public static class GroupReduce
{
    /// <summary>Σ of <paramref name="value"/> over the thread group (Group.DimX a power of two ≤ scratch.Length),
    /// returned to every thread. Ends with a barrier, so <paramref name="scratch"/> can be reused at once.</summary>
    public static float Sum(float value, ArrayView<float> scratch)
    {
        int size = Group.DimX, warp = Warp.WarpSize, warps = size / warp;
        if (size % warp != 0 || warps > warp) return TreeSum(value, scratch);
        value = WarpSum(value);
        if (Warp.LaneIdx == 0) scratch[Warp.WarpIdx] = value;
        Group.Barrier();
        float total = WarpSum(Warp.LaneIdx < warps ? scratch[Warp.LaneIdx] : 0f);
        total = Warp.Shuffle(total, 0);
        Group.Barrier();
        return total;
    }

    /// <summary>Σ over the warp's lanes, complete in lane 0 (other lanes hold partial sums).</summary>
    private static float WarpSum(float value)
    {
        for (int d = Warp.WarpSize / 2; d > 0; d >>= 1) value += Warp.ShuffleDown(value, d);
        return value;
    }

    /// <summary>The shared-memory tree: any power-of-two group size.</summary>
    private static float TreeSum(float value, ArrayView<float> scratch)
    {
        int t = Group.IdxX;
        scratch[t] = value;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half >>= 1)
        {
            if (t < half) scratch[t] += scratch[t + half];
            Group.Barrier();
        }
        float sum = scratch[0];
        Group.Barrier();
        return sum;
    }
}
