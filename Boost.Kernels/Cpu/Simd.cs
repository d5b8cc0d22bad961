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
        => Deinterleave(Avx.LoadVector256(p), Avx.LoadVector256(p + 8));

    /// <summary>AVX2: the 16 values a0 … a7 b0 … b7 → (a0, a2, …, b6) and (a1, a3, …, b7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<float> even, Vector256<float> odd) Deinterleave(Vector256<float> a, Vector256<float> b)
    {
        var e = Avx.Shuffle(a, b, 0b10_00_10_00); // a0 a2 b0 b2 | a4 a6 b4 b6
        var o = Avx.Shuffle(a, b, 0b11_01_11_01); // a1 a3 b1 b3 | a5 a7 b5 b7
        return (Avx2.Permute4x64(e.AsDouble(), 0b11_01_10_00).AsSingle(), Avx2.Permute4x64(o.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    /// <summary>AVX: the inverse of <see cref="Deinterleave"/>, (e, o) → the 16 values e0 o0 e1 o1 … e7 o7, as two vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<float> first, Vector256<float> second) Interleave(Vector256<float> even, Vector256<float> odd)
    {
        var lo = Avx.UnpackLow(even, odd);   // e0 o0 e1 o1 | e4 o4 e5 o5
        var hi = Avx.UnpackHigh(even, odd);  // e2 o2 e3 o3 | e6 o6 e7 o7
        return (Avx.Permute2x128(lo, hi, 0x20), Avx.Permute2x128(lo, hi, 0x31));
    }

    /// <summary>dst[t] = src[2t] for t &lt; n, reading src[0 .. 2n − 1) only: 8 outputs per deinterleave, the last
    /// block (which cannot read src[2n − 1]) starting one float early and keeping the odd half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void EveryOther(float* src, float* dst, int n)
    {
        int t = 0;
        if (Avx2.IsSupported && n >= 9)
        {
            for (; t + 8 < n; t += 8) Avx.Store(dst + t, Deinterleave(src + 2 * t).even); // reads src[2t + 15] ≤ src[2n − 3]
            if (t < n) Avx.Store(dst + n - 8, Deinterleave(src + 2 * (n - 8) - 1).odd);  // src[2n − 17 … 2n − 2]
            return;
        }
        for (; t < n; t++) dst[t] = src[2 * t];
    }

    /// <summary>dst[0 .. n) = src[0 .. n): an image row's worth inline in SIMD lanes, long runs through the runtime's copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Copy(float* src, float* dst, int n)
    {
        if (n >= 256) { Buffer.MemoryCopy(src, dst, (long)n * sizeof(float), (long)n * sizeof(float)); return; }
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) Vector256.Load(src + i).Store(dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }
}
