using System.Numerics;

namespace Boost.Kernels.Cpu;

/// <summary>Small SIMD loops the managed ops share.</summary>
internal static class Simd
{
    /// <summary>acc += v, in SIMD lanes.</summary>
    public static void AddTo(Span<float> acc, ReadOnlySpan<float> v)
    {
        int width = Vector<float>.Count, i = 0;
        for (; i <= acc.Length - width; i += width)
            (new Vector<float>(acc.Slice(i, width)) + new Vector<float>(v.Slice(i, width))).CopyTo(acc.Slice(i, width));
        for (; i < acc.Length; i++) acc[i] += v[i];
    }
}
