using System.Numerics;
using System.Runtime.InteropServices;

namespace Boost.Kernels.Cpu;

/// <summary>The managed backend's elementwise loops (see <see cref="Elementwise"/>): the operator structs' Vector
/// overloads over SIMD lanes, the scalar overload for the tail.</summary>
internal static class ElementwiseCpu
{
    /// <summary>y = op(x) over n elements (y may be x).</summary>
    public static void Map<TOp>(float[] xa, float[] ya, long n, TOp op) where TOp : struct, IUnaryOp
        => CpuParallel.For(n, 1 << 15, (s, e) =>
        {
            long i = s, w = Vector<float>.Count;
            ref float x0 = ref MemoryMarshal.GetArrayDataReference(xa); ref float y0 = ref MemoryMarshal.GetArrayDataReference(ya);
            for (; i + w <= e; i += w) op.Apply(Vector.LoadUnsafe(ref x0, (nuint)i)).StoreUnsafe(ref y0, (nuint)i);
            for (; i < e; i++) ya[i] = op.Apply(xa[i]);
        });

    /// <summary>y = op(a, b) over n elements of one shape.</summary>
    public static void Zip<TOp>(float[] aa, float[] ba, float[] ya, long n, TOp op) where TOp : struct, IBinaryOp
        => CpuParallel.For(n, 1 << 15, (s, e) =>
        {
            long i = s, w = Vector<float>.Count;
            ref float a0 = ref MemoryMarshal.GetArrayDataReference(aa); ref float b0 = ref MemoryMarshal.GetArrayDataReference(ba);
            ref float y0 = ref MemoryMarshal.GetArrayDataReference(ya);
            for (; i + w <= e; i += w) op.Apply(Vector.LoadUnsafe(ref a0, (nuint)i), Vector.LoadUnsafe(ref b0, (nuint)i)).StoreUnsafe(ref y0, (nuint)i);
            for (; i < e; i++) ya[i] = op.Apply(aa[i], ba[i]);
        });

    /// <summary>y = op(a, b) with broadcasting: y's shape is <paramref name="yShape"/>, a's and b's are given.</summary>
    public static void ZipBroadcast<TOp>(float[] aa, ReadOnlySpan<int> aShape, float[] ba, ReadOnlySpan<int> bShape, float[] ya, long n,
        BroadcastLayout m, TOp op) where TOp : struct, IBinaryOp
    {
        if (RowBroadcast(aShape, bShape, out int inner) is not { } full)
        {
            CpuParallel.For(n, 1 << 15, (s, e) =>
            {
                for (long i = s; i < e; i++) { var (ia, ib) = m.Offsets((int)i); ya[i] = op.Apply(aa[ia], ba[ib]); }
            });
            return;
        }
        // One operand is the other's shape with trailing 1s ([N, C, 1, 1] against [N, C, H, W]: a bias or time
        // embedding): each of its values meets a contiguous row of `inner` values, in SIMD lanes.
        var rows = full == 0 ? aa : ba; var per = full == 0 ? ba : aa;
        CpuParallel.For(n / inner, Math.Max(1, (1 << 15) / inner), (s, e) =>
        {
            int w = Vector<float>.Count;
            ref float r0 = ref MemoryMarshal.GetArrayDataReference(rows); ref float y0 = ref MemoryMarshal.GetArrayDataReference(ya);
            for (long o = s; o < e; o++)
            {
                float c = per[o]; var vc = new Vector<float>(c);
                long i = o * inner, end = i + inner;
                if (full == 0)
                {
                    for (; i + w <= end; i += w) op.Apply(Vector.LoadUnsafe(ref r0, (nuint)i), vc).StoreUnsafe(ref y0, (nuint)i);
                    for (; i < end; i++) ya[i] = op.Apply(rows[i], c);
                }
                else
                {
                    for (; i + w <= end; i += w) op.Apply(vc, Vector.LoadUnsafe(ref r0, (nuint)i)).StoreUnsafe(ref y0, (nuint)i);
                    for (; i < end; i++) ya[i] = op.Apply(c, rows[i]);
                }
            }
        });
    }

    /// <summary>0 when b is a's shape with its trailing t ≥ 1 dims set to 1 (1 for the mirror case), with
    /// <paramref name="inner"/> = the product of those dims; null for any other broadcast.</summary>
    private static int? RowBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, out int inner)
    {
        inner = 1;
        if (a.Length != b.Length) return null;
        for (int full = 0; full < 2; full++)
        {
            ReadOnlySpan<int> big = full == 0 ? a : b, small = full == 0 ? b : a;
            int t = big.Length;
            while (t > 0 && small[t - 1] == 1) t--;
            if (t == big.Length || !big[..t].SequenceEqual(small[..t])) continue;
            inner = 1;
            for (int i = t; i < big.Length; i++) inner *= big[i];
            if (inner > 1) return full;
        }
        return null;
    }
}
