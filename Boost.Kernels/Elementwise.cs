using System.Numerics;
using System.Runtime.InteropServices;
using Boost.Kernels.Cpu;
using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Elementwise ops: y = op(x) and broadcast y = op(a, b), with the operator a readonly struct
///. Kernel → launcher; the managed backend runs the same structs in a loop.
/// </summary>
public static class Elementwise
{
    // ---------------------------------------------------------------- kernels

    [Kernel]
    public static void FillKernel(Index1D i, ArrayView<float> y, float value) => y[i] = value;

    [Kernel]
    public static void UnaryKernel<TOp>(Index1D i, TOp op, ArrayView<float> x, ArrayView<float> y)
        where TOp : struct, IUnaryOp
        => y[i] = op.Apply(x[i]);

    [Kernel]
    public static void BinaryKernel<TOp>(Index1D i, TOp op, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y)
        where TOp : struct, IBinaryOp
        => y[i] = op.Apply(a[i], b[i]);

    [Kernel]
    public static void BroadcastKernel<TOp>(Index1D i, TOp op, BroadcastLayout m, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y)
        where TOp : struct, IBinaryOp
    {
        var (ia, ib) = m.Offsets(i);
        y[i] = op.Apply(a[ia], b[ib]);
    }

    // ---------------------------------------------------------------- launchers

    internal static void FillIlgpu(Tensor y, float value)
    {
        var dev = (IlgpuDevice)y.Device;
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(FillKernel));
        k((int)y.Length, y.View, value);
    }

    /// <summary>y = op(x), a new tensor of x's shape.</summary>
    public static Tensor Map<TOp>(Tensor x, TOp op) where TOp : struct, IUnaryOp
    {
        var y = Tensor.Empty(x.Device, x.Shape);
        MapInto(x, op, y);
        return y;
    }

    /// <summary>y = op(x) into an existing tensor of x's shape (y may be x).</summary>
    public static void MapInto<TOp>(Tensor x, TOp op, Tensor y) where TOp : struct, IUnaryOp
    {
        Check.SameDevice("Map", x, y);
        Check.SameShape("Map", x, y, "x", "y");
        if (x.Device is IlgpuDevice dev)
        {
            var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, TOp, ArrayView<float>, ArrayView<float>>(UnaryKernel));
            k((int)x.Length, op, x.View, y.View);
            return;
        }
        var xa = x.Storage.Array!; var ya = y.Storage.Array!;
        CpuParallel.For(x.Length, 1 << 15, (s, e) =>
        {
            long i = s, w = Vector<float>.Count;
            ref float x0 = ref MemoryMarshal.GetArrayDataReference(xa); ref float y0 = ref MemoryMarshal.GetArrayDataReference(ya);
            for (; i + w <= e; i += w) op.Apply(Vector.LoadUnsafe(ref x0, (nuint)i)).StoreUnsafe(ref y0, (nuint)i);
            for (; i < e; i++) ya[i] = op.Apply(xa[i]);
        });
    }

    /// <summary>y = op(a, b) with numpy broadcasting (rank ≤ 4); a new tensor of the broadcast shape.</summary>
    public static Tensor Zip<TOp>(Tensor a, Tensor b, TOp op) where TOp : struct, IBinaryOp
    {
        var (_, shape) = BroadcastLayout.Create(a.ShapeSpan, b.ShapeSpan, "Zip");
        var y = Tensor.Empty(a.Device, shape);
        ZipInto(a, b, op, y);
        return y;
    }

    /// <summary>y = op(a, b) with broadcasting into an existing tensor of the broadcast shape (y may alias a or b
    /// when it has that operand's shape).</summary>
    public static void ZipInto<TOp>(Tensor a, Tensor b, TOp op, Tensor y) where TOp : struct, IBinaryOp
    {
        Check.SameDevice("Zip", a, b, y);
        bool same = a.ShapeSpan.SequenceEqual(b.ShapeSpan);
        var (m, shape) = same ? (default, a.Shape) : BroadcastLayout.Create(a.ShapeSpan, b.ShapeSpan, "Zip");
        if (!y.ShapeSpan.SequenceEqual(shape))
            throw new ArgumentException($"Zip: output is {y.ShapeString}, broadcast shape is {Tensor.Format(shape)}.");
        if (a.Device is IlgpuDevice dev)
        {
            if (same)
            {
                var k = dev.Kernel(static acc => acc.LoadAutoGroupedStreamKernel<Index1D, TOp, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BinaryKernel));
                k((int)y.Length, op, a.View, b.View, y.View);
            }
            else
            {
                var k = dev.Kernel(static acc => acc.LoadAutoGroupedStreamKernel<Index1D, TOp, BroadcastLayout, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BroadcastKernel));
                k((int)y.Length, op, m, a.View, b.View, y.View);
            }
            return;
        }
        var aa = a.Storage.Array!; var ba = b.Storage.Array!; var ya = y.Storage.Array!;
        if (same)
            CpuParallel.For(y.Length, 1 << 15, (s, e) =>
            {
                long i = s, w = Vector<float>.Count;
                ref float a0 = ref MemoryMarshal.GetArrayDataReference(aa); ref float b0 = ref MemoryMarshal.GetArrayDataReference(ba);
                ref float y0 = ref MemoryMarshal.GetArrayDataReference(ya);
                for (; i + w <= e; i += w) op.Apply(Vector.LoadUnsafe(ref a0, (nuint)i), Vector.LoadUnsafe(ref b0, (nuint)i)).StoreUnsafe(ref y0, (nuint)i);
                for (; i < e; i++) ya[i] = op.Apply(aa[i], ba[i]);
            });
        else if (RowBroadcast(a.ShapeSpan, b.ShapeSpan, out int inner) is { } full)
        {
            // One operand is the other's shape with trailing 1s ([N, C, 1, 1] against [N, C, H, W]: a bias or time
            // embedding): each of its values meets a contiguous row of `inner` values, in SIMD lanes.
            var rows = full == 0 ? aa : ba; var per = full == 0 ? ba : aa;
            CpuParallel.For(y.Length / inner, Math.Max(1, (1 << 15) / inner), (s, e) =>
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
        else
            CpuParallel.For(y.Length, 1 << 15, (s, e) =>
            {
                for (long i = s; i < e; i++) { var (ia, ib) = m.Offsets((int)i); ya[i] = op.Apply(aa[ia], ba[ib]); }
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

    // ---------------------------------------------------------------- named ops

    public static Tensor Add(Tensor a, Tensor b) => Zip(a, b, new LinearCombOp(1f, 1f));
    public static Tensor Sub(Tensor a, Tensor b) => Zip(a, b, new LinearCombOp(1f, -1f));
    public static Tensor Mul(Tensor a, Tensor b) => Zip(a, b, new MulOp());
    /// <summary>α·a + β·b</summary>
    public static Tensor Axpby(float alpha, Tensor a, float beta, Tensor b) => Zip(a, b, new LinearCombOp(alpha, beta));
    /// <summary>s·x + c</summary>
    public static Tensor Affine(Tensor x, float s, float c = 0f) => Map(x, new AffineOp(s, c));
    public static Tensor SiLU(Tensor x) => Map(x, new SiLUOp());
    /// <summary>dx = dy·σ(x)·(1 + x(1 − σ(x)))</summary>
    public static Tensor SiLUBackward(Tensor x, Tensor dy) => Zip(x, dy, new SiLUGradOp());
}
