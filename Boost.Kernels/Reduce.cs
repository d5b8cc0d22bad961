using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Sums over axes (rank ≤ 4) of a mapped pair, y[o] = scale·Σ_r map(a[o,r], b[o,r]) + beta·y[o]: plain sums and means
/// (map = first), the MSE loss (squared difference), dot products and squared norms (product). One grouped kernel
/// does every reduction; long ones (few outputs, many terms) run in two passes over per-group partial sums.
/// </summary>
public static class Reduce
{
    /// <summary>Largest group the kernel's shared memory holds.</summary>
    public const int MaxGroup = 256;

    // ---------------------------------------------------------------- kernel

    /// <summary>
    /// Group g reduces output o = g / parts over its part (g % parts) of the reduced range (<see cref="GroupReduce.Sum"/>).
    /// Group size must be a power of two ≤ <see cref="MaxGroup"/>.
    /// </summary>
    [Kernel(Grouped = true)]
    public static void ReduceKernel<TMap>(TMap map, ReduceLayout layout, int parts, ArrayView<float> a, ArrayView<float> b,
        ArrayView<float> y, float scale, float beta) where TMap : struct, IBinaryOp
    {
        var partial = SharedMemory.Allocate<float>(MaxGroup);
        int o = Grid.IdxX / parts, part = Grid.IdxX % parts;
        int tid = Group.IdxX, size = Group.DimX;
        int count = layout.ReduceCount;
        int chunk = (count + parts - 1) / parts;
        int begin = part * chunk, end = XMathMin(begin + chunk, count);
        int kept = layout.KeptOffset(o);
        float acc = 0f;
        for (int r = begin + tid; r < end; r += size)
        {
            int at = kept + layout.ReducedOffset(r);
            acc += map.Apply(a[at], b[at]);
        }
        float total = GroupReduce.Sum(acc, partial);
        if (tid == 0)
        {
            int at = Grid.IdxX;
            y[at] = beta == 0f ? total * scale : total * scale + beta * y[at];
        }
    }

    private static int XMathMin(int a, int b) => a < b ? a : b;

    // ---------------------------------------------------------------- launchers

    /// <summary>Σ over <paramref name="axes"/>; the result drops those dims (or keeps them as 1s).</summary>
    public static Tensor Sum(Tensor x, int[] axes, bool keepDims = false) => MapReduce(x, x, axes, new FirstOp(), 1f, keepDims, "Sum");

    /// <summary>Mean over <paramref name="axes"/>.</summary>
    public static Tensor Mean(Tensor x, int[] axes, bool keepDims = false)
    {
        long count = 1;
        foreach (int ax in axes) count *= x.Dim(ax);
        return MapReduce(x, x, axes, new FirstOp(), 1f / count, keepDims, "Mean");
    }

    /// <summary>Σ of all elements → [1].</summary>
    public static Tensor SumAll(Tensor x) => MapReduce(x, x, AllAxes(x), new FirstOp(), 1f, false, "SumAll").Reshaped(1);

    /// <summary>Σ x² → [1] (squared L2 norm, for gradient clipping).</summary>
    public static Tensor SumOfSquares(Tensor x) => MapReduce(x, x, AllAxes(x), new MulOp(), 1f, false, "SumOfSquares").Reshaped(1);

    /// <summary>Σ a·b → [1].</summary>
    public static Tensor Dot(Tensor a, Tensor b)
    {
        Check.SameShape("Dot", a, b);
        return MapReduce(a, b, AllAxes(a), new MulOp(), 1f, false, "Dot").Reshaped(1);
    }

    /// <summary>MSE loss mean((a − b)²) → [1], as PyTorch's <c>mse_loss(a, b)</c> with reduction "mean".</summary>
    public static Tensor MseLoss(Tensor a, Tensor b)
    {
        Check.SameShape("MseLoss", a, b, "input", "target");
        return MapReduce(a, b, AllAxes(a), new SquaredDiffOp(), 1f / a.Length, false, "MseLoss").Reshaped(1);
    }

    /// <summary>∂/∂a of <c>g·MseLoss(a, b)</c> = 2g(a − b)/n with g a one-element tensor on a's device (read there,
    /// never copied to the host).</summary>
    public static Tensor MseLossBackward(Tensor a, Tensor b, Tensor g)
    {
        Check.SameShape("MseLossBackward", a, b, "input", "target");
        Check.That(g.Length == 1, $"MseLossBackward: the upstream gradient must have one element, got {g.ShapeString}.");
        float c = 2f / a.Length;
        using var diff = Elementwise.Axpby(c, a, -c, b);
        using var scale = g.Reshape(1);
        return Elementwise.Mul(diff, scale);
    }

    /// <summary>∂/∂a of <c>g·MseLoss(a, b)</c> = 2g(a − b)/n (the gradient for b is its negation).</summary>
    public static Tensor MseLossBackward(Tensor a, Tensor b, float g)
    {
        Check.SameShape("MseLossBackward", a, b, "input", "target");
        float c = 2f * g / a.Length;
        return Elementwise.Axpby(c, a, -c, b);
    }

    /// <summary>
    /// Sums <paramref name="x"/> down to <paramref name="shape"/>, which must broadcast to x's shape: the gradient of
    /// a broadcast operand. Returns a tensor of exactly <paramref name="shape"/>.
    /// </summary>
    public static Tensor SumTo(Tensor x, int[] shape)
    {
        var (_, full) = BroadcastLayout.Create(x.ShapeSpan, shape, "SumTo");
        if (!full.AsSpan().SequenceEqual(x.ShapeSpan))
            throw new ArgumentException($"SumTo: {Tensor.Format(shape)} does not broadcast to {x.ShapeString}.");
        var axes = new List<int>();
        int pad = x.Rank - shape.Length;
        for (int k = 0; k < x.Rank; k++)
            if (k < pad || (shape[k - pad] == 1 && x.Dim(k) != 1)) axes.Add(k);
        if (axes.Count == 0) return x.Clone();
        using var s = MapReduce(x, x, axes.ToArray(), new FirstOp(), 1f, false, "SumTo");
        return s.Reshape(shape);
    }

    private static int[] AllAxes(Tensor x) => Enumerable.Range(0, x.Rank).ToArray();

    /// <summary>y = scale·Σ_axes map(a, b), into a new tensor.</summary>
    public static Tensor MapReduce<TMap>(Tensor a, Tensor b, int[] axes, TMap map, float scale, bool keepDims, string op)
        where TMap : struct, IBinaryOp
    {
        Check.SameDevice(op, a, b);
        var (layout, kept) = ReduceLayout.Create(a.ShapeSpan, axes, op);
        int[] outShape = kept;
        if (keepDims)
        {
            outShape = a.Shape;
            foreach (int ax in axes) outShape[ax < 0 ? ax + a.Rank : ax] = 1;
        }
        var y = Tensor.Empty(a.Device, outShape);
        a.Device.Backend.MapReduce(a, b, map, layout, scale, y);
        return y;
    }

    internal static void Launch<TMap>(IlgpuDevice dev, TMap map, ReduceLayout layout, ArrayView<float> a, ArrayView<float> b,
        ArrayView<float> y, float scale) where TMap : struct, IBinaryOp
    {
        var kernel = dev.Kernel(static acc => acc.LoadStreamKernel<TMap, ReduceLayout, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float>(ReduceKernel));
        int group = (int)Math.Min(MaxGroup, dev.Accelerator.MaxNumThreadsPerGroup);
        group = 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount((uint)group)); // power of two
        // Few outputs over many terms: split each output's range into parts, then reduce the partial sums.
        int parts = layout.OutCount >= 4 * dev.Accelerator.NumMultiprocessors ? 1
            : Math.Clamp(layout.ReduceCount / (group * 16), 1, 1024);
        if (parts == 1)
        {
            if (layout.OutCount > 0) kernel(new KernelConfig(layout.OutCount, group), map, layout, 1, a, b, y, scale, 0f);
            return;
        }
        using var partial = Tensor.Empty(dev, layout.OutCount, parts);
        kernel(new KernelConfig(layout.OutCount * parts, group), map, layout, parts, a, b, partial.View, 1f, 0f);
        var (second, _) = ReduceLayout.Create([layout.OutCount, parts], [1], "Reduce");
        var first = dev.Kernel(static acc => acc.LoadStreamKernel<FirstOp, ReduceLayout, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float>(ReduceKernel));
        first(new KernelConfig(layout.OutCount, group), new FirstOp(), second, 1, partial.View, partial.View, y, scale, 0f);
    }
}
