using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>AVX2: 16 values at p → (p[0], p[2], …, p[14]) and (p[1], p[3], …, p[15]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe (Vector256<float> even, Vector256<float> odd) Deinterleave(float* p)
    {
        var a = Avx.LoadVector256(p); var b = Avx.LoadVector256(p + 8);
        var e = Avx.Shuffle(a, b, 0b10_00_10_00); // a0 a2 b0 b2 | a4 a6 b4 b6
        var o = Avx.Shuffle(a, b, 0b11_01_11_01); // a1 a3 b1 b3 | a5 a7 b5 b7
        return (Avx2.Permute4x64(e.AsDouble(), 0b11_01_10_00).AsSingle(), Avx2.Permute4x64(o.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    /// <summary>dst[t] = src[2t] for t &lt; dst.Length; reads src[0 .. 2·dst.Length − 1) only.</summary>
    public static unsafe void EveryOther(ReadOnlySpan<float> src, Span<float> dst)
    {
        int n = dst.Length, t = 0;
        if (src.Length < 2 * n - 1) throw new ArgumentException("EveryOther: src is shorter than 2·dst.Length − 1.");
        if (Avx2.IsSupported)
            fixed (float* s = src, d = dst)
                for (; t + 8 < n; t += 8) Avx.Store(d + t, Deinterleave(s + 2 * t).even); // reads s[2t + 15] ≤ s[2n − 3]
        for (; t < n; t++) dst[t] = src[2 * t];
    }
}
