using ILGPU;

namespace Boost.Kernels;

/// <summary>
/// The block reduction every kernel that sums over its thread group shares (group norm's statistics and gradients,
/// <see cref="Reduce"/>, the conv bias gradient): a shared-memory tree, deterministic (a fixed order for a given group
/// size), correct for any group size that is a power of two, warp or not.
/// </summary>
/// <remarks>
/// The scratch array is the caller's: allocated at the top of its kernel (ILGPU gives each allocation site its own
/// array, so an allocation inside a helper called under divergent control flow could split in two; see README's
/// "Writing a kernel"), at least <c>Group.DimX</c> floats. Every thread of the group must call it (it holds barriers).
/// </remarks>
public static class GroupReduce
{
    /// <summary>Σ of <paramref name="value"/> over the thread group (Group.DimX a power of two ≤ scratch.Length),
    /// returned to every thread. Ends with a barrier, so <paramref name="scratch"/> can be reused at once.</summary>
    public static float Sum(float value, ArrayView<float> scratch)
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
