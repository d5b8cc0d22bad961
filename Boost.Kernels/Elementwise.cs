using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Elementwise ops: y = op(x) and broadcast y = op(a, b), with the operator a readonly struct (Operators.cs). The
/// kernels take the struct as a specialisation; the managed backend (Cpu/ElementwiseCpu.cs) runs the same structs
/// in SIMD loops.
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

    internal static void LaunchFill(IlgpuDevice dev, Tensor y, float value)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(FillKernel));
        k((int)y.Length, y.View, value);
    }

    internal static void LaunchMap<TOp>(IlgpuDevice dev, Tensor x, TOp op, Tensor y) where TOp : struct, IUnaryOp
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, TOp, ArrayView<float>, ArrayView<float>>(UnaryKernel));
        k((int)x.Length, op, x.View, y.View);
    }

    internal static void LaunchZip<TOp>(IlgpuDevice dev, Tensor a, Tensor b, TOp op, Tensor y) where TOp : struct, IBinaryOp
    {
        var k = dev.Kernel(static acc => acc.LoadAutoGroupedStreamKernel<Index1D, TOp, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BinaryKernel));
        k((int)y.Length, op, a.View, b.View, y.View);
    }

    internal static void LaunchZipBroadcast<TOp>(IlgpuDevice dev, Tensor a, Tensor b, TOp op, BroadcastLayout m, Tensor y) where TOp : struct, IBinaryOp
    {
        var k = dev.Kernel(static acc => acc.LoadAutoGroupedStreamKernel<Index1D, TOp, BroadcastLayout, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BroadcastKernel));
        k((int)y.Length, op, m, a.View, b.View, y.View);
    }

    // ---------------------------------------------------------------- ops

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
        if (x.Length > 0) x.Device.Backend.Map(x, op, y);
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
        if (y.Length == 0) return;
        if (same) a.Device.Backend.Zip(a, b, op, y);
        else a.Device.Backend.ZipBroadcast(a, b, op, m, y);
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
