using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Group normalisation as PyTorch's <c>nn.GroupNorm</c>: the C channels of x [N, C, H, W] are split into G groups
/// of C/G consecutive channels; each (n, g) is normalised by its own mean and biased variance, then scaled and
/// shifted per channel: y = (x − μ)·rstd·w[c] + b[c], rstd = 1/√(σ² + eps). Forward saves μ and rstd [N, G] for
/// the backward. With <c>silu</c> the op is SiLU(GroupNorm(x)) in one pass (every ResBlock and the UNet's and
/// autoencoder's output heads normalise then activate): the backward recomputes the normalised value from x and the
/// saved statistics, so the pre-activation is neither written nor kept.
/// </summary>
/// <remarks>
/// GPU: one thread group per (n, g) over the group's contiguous C/G·H·W elements, statistics in two passes (the
/// mean first, then Σ(x − μ)², so inputs with a large common offset lose no precision) with a shared-memory tree
/// reduction. Backward: one group per (n, g) reduces Σdy·w and Σdy·w·x̂ and then writes dx; one group per channel
/// reduces dweight = Σ dy·x̂ and dbias = Σ dy over N, H, W (no atomics anywhere).
/// </remarks>
public static class GroupNorm
{
    /// <summary>Shared-memory slots of the tree reduction: the largest thread group the launchers use.</summary>
    public const int MaxGroupSize = 256;

    // ---------------------------------------------------------------- kernels

    /// <summary>Grid: N·G groups. x, y [N, C, H, W]; weight, bias [C] (read only when affine ≠ 0); mean, rstd [N, G];
    /// silu ≠ 0 activates y.</summary>
    [Kernel(Grouped = true)]
    public static void ForwardKernel(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, int affine,
        ArrayView<float> y, ArrayView<float> mean, ArrayView<float> rstd, int channelsPerGroup, int hw, int groups, float eps, int silu)
    {
        var scratch = SharedMemory.Allocate<float>(MaxGroupSize);
        int ng = Grid.IdxX;
        int count = channelsPerGroup * hw;
        int start = ng * count;

        float sum = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX) sum += x[start + i];
        float mu = GroupReduce.Sum(sum, scratch) / count;

        float squares = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX) { float d = x[start + i] - mu; squares += d * d; }
        float r = 1f / MathF.Sqrt(GroupReduce.Sum(squares, scratch) / count + eps);

        if (Group.IdxX == 0) { mean[ng] = mu; rstd[ng] = r; }
        int c0 = (ng % groups) * channelsPerGroup;
        for (int i = Group.IdxX; i < count; i += Group.DimX)
        {
            float v = (x[start + i] - mu) * r;
            if (affine != 0) { int c = c0 + i / hw; v = v * weight[c] + bias[c]; }
            if (silu != 0) v = new SiLUOp().Apply(v);
            y[start + i] = v;
        }
    }

    /// <summary>Grid: N·G groups. dx = rstd·(ĝ·w − mean(ĝ·w) − x̂·mean(ĝ·w·x̂)) over the group's elements, ĝ = dy, or
    /// with silu ≠ 0 ĝ = dy·SiLU′(x̂·w + b).</summary>
    [Kernel(Grouped = true)]
    public static void BackwardInputKernel(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> weight, ArrayView<float> bias, int affine, ArrayView<float> dx, int channelsPerGroup, int hw, int groups, int silu)
    {
        var scratch = SharedMemory.Allocate<float>(MaxGroupSize);
        int ng = Grid.IdxX;
        int count = channelsPerGroup * hw;
        int start = ng * count;
        int c0 = (ng % groups) * channelsPerGroup;
        float mu = mean[ng], r = rstd[ng];

        float sumG = 0f, sumGX = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX)
        {
            float xhat = (x[start + i] - mu) * r;
            float g = NormGrad(dy[start + i], xhat, weight, bias, affine, silu, c0 + i / hw);
            sumG += g;
            sumGX += g * xhat;
        }
        float meanG = GroupReduce.Sum(sumG, scratch) / count;
        float meanGX = GroupReduce.Sum(sumGX, scratch) / count;

        for (int i = Group.IdxX; i < count; i += Group.DimX)
        {
            float xhat = (x[start + i] - mu) * r;
            float g = NormGrad(dy[start + i], xhat, weight, bias, affine, silu, c0 + i / hw);
            dx[start + i] = r * (g - meanG - xhat * meanGX);
        }
    }

    /// <summary>The gradient reaching x̂ through the affine and the activation: dy·w, or dy·SiLU′(x̂·w + b)·w.</summary>
    private static float NormGrad(float dy, float xhat, ArrayView<float> weight, ArrayView<float> bias, int affine, int silu, int c)
    {
        float w = affine != 0 ? weight[c] : 1f;
        if (silu != 0) dy = new SiLUGradOp().Apply(affine != 0 ? xhat * w + bias[c] : xhat, dy);
        return dy * w;
    }

    /// <summary>Grid: C groups. dweight[c] = Σ_{n,h,w} ĝ·x̂, dbias[c] = Σ_{n,h,w} ĝ (ĝ as in
    /// <see cref="BackwardInputKernel"/>, before the weight).</summary>
    [Kernel(Grouped = true)]
    public static void BackwardParamsKernel(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> dweight, ArrayView<float> dbias, int batch, int channels,
        int hw, int channelsPerGroup, int groups, int silu)
    {
        var scratch = SharedMemory.Allocate<float>(MaxGroupSize);
        int c = Grid.IdxX;
        int g = c / channelsPerGroup;
        int count = batch * hw;

        float sumW = 0f, sumB = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX)
        {
            int n = i / hw;
            int at = (n * channels + c) * hw + (i - n * hw);
            int ng = n * groups + g;
            float xhat = (x[at] - mean[ng]) * rstd[ng];
            float d = dy[at];
            if (silu != 0) d = new SiLUGradOp().Apply(xhat * weight[c] + bias[c], d);
            sumW += d * xhat;
            sumB += d;
        }
        float dw = GroupReduce.Sum(sumW, scratch);
        float db = GroupReduce.Sum(sumB, scratch);
        if (Group.IdxX == 0) { dweight[c] = dw; dbias[c] = db; }
    }

    // ---------------------------------------------------------------- launchers

    /// <summary>Group normalisation (PyTorch semantics, biased variance).</summary>
    /// <param name="x">[N, C, H, W]</param>
    /// <param name="groups">G, dividing C</param>
    /// <param name="weight">[C] or null (no affine; then bias must be null too)</param>
    /// <param name="bias">[C] or null</param>
    /// <param name="mean">[N, G], saved for <see cref="Backward"/></param>
    /// <param name="rstd">[N, G] = 1/√(σ² + eps), saved for <see cref="Backward"/></param>
    /// <param name="silu">return SiLU(y) instead (the fused activation)</param>
    /// <returns>y [N, C, H, W]</returns>
    public static Tensor Forward(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps, out Tensor mean, out Tensor rstd, bool silu = false)
    {
        const string op = "GroupNorm.Forward";
        Check.SameDevice(op, x, weight, bias);
        var (n, c, hw) = CheckInput(op, x, groups);
        if ((weight is null) != (bias is null))
            throw new ArgumentException($"{op}: weight and bias must be given together (affine) or both be null; got weight {weight?.ShapeString ?? "null"}, bias {bias?.ShapeString ?? "null"}.");
        if (weight is not null) { Check.Shape(op, weight, "weight", c); Check.Shape(op, bias!, "bias", c); }
        Check.That(eps >= 0f && float.IsFinite(eps), $"{op}: eps must be finite and ≥ 0, got {eps}.");

        var y = Tensor.Empty(x.Device, x.Shape);
        mean = Tensor.Empty(x.Device, n, groups);
        rstd = Tensor.Empty(x.Device, n, groups);
        if (x.Length > 0) x.Device.Backend.GroupNormForward(x, weight, bias, y, mean, rstd, n, c, hw, groups, eps, silu);
        return y;
    }

    /// <summary>Gradients of <see cref="Forward"/>. dweight and dbias are returned when <paramref name="weight"/> is
    /// given (the affine case), null otherwise; they are new tensors (the caller accumulates them into parameters).</summary>
    /// <param name="dy">[N, C, H, W]</param>
    /// <param name="x">[N, C, H, W], the forward input</param>
    /// <param name="mean">[N, G] from Forward</param>
    /// <param name="rstd">[N, G] from Forward</param>
    /// <param name="weight">[C] or null</param>
    /// <param name="bias">[C] with weight when <paramref name="silu"/> (the activation's input needs it), else unused</param>
    /// <param name="silu">dy is the gradient of SiLU(y) (the forward ran with silu)</param>
    /// <returns>dx [N, C, H, W], dweight [C], dbias [C]</returns>
    public static (Tensor dx, Tensor? dweight, Tensor? dbias) Backward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor? weight, int groups,
        Tensor? bias = null, bool silu = false)
    {
        const string op = "GroupNorm.Backward";
        Check.SameDevice(op, dy, x, mean, rstd, weight, bias);
        if (silu && (weight is null) != (bias is null))
            throw new ArgumentException($"{op}: with silu, weight and bias must be given together (affine) or both be null; got weight {weight?.ShapeString ?? "null"}, bias {bias?.ShapeString ?? "null"}.");
        if (!silu) bias = null;
        var (n, c, hw) = CheckInput(op, x, groups);
        Check.SameShape(op, dy, x, "dy", "x");
        Check.Shape(op, mean, "mean", n, groups);
        Check.Shape(op, rstd, "rstd", n, groups);
        if (weight is not null) Check.Shape(op, weight, "weight", c);
        if (bias is not null) Check.Shape(op, bias, "bias", c);

        var dx = Tensor.Empty(x.Device, x.Shape);
        Tensor? dweight = weight is null ? null : Tensor.Empty(x.Device, c);
        Tensor? dbias = weight is null ? null : Tensor.Empty(x.Device, c);
        if (n == 0 || c == 0 || hw == 0) { dweight?.Fill(0f); dbias?.Fill(0f); return (dx, dweight, dbias); } // sums over nothing
        x.Device.Backend.GroupNormBackward(dy, x, mean, rstd, weight, bias, dx, dweight, dbias, n, c, hw, groups, silu);
        return (dx, dweight, dbias);
    }

    internal static void LaunchForward(IlgpuDevice dev, Tensor x, Tensor? weight, Tensor? bias, Tensor y, Tensor mean, Tensor rstd,
        int n, int c, int hw, int groups, float eps, bool silu)
    {
        int cpg = c / groups;
        var k = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, int>(ForwardKernel));
        // An absent weight/bias is never read (affine = 0); x's view stands in for it.
        k(new KernelConfig(n * groups, GroupSize(dev, cpg * hw)), x.View, weight?.View ?? x.View, bias?.View ?? x.View,
            weight is null ? 0 : 1, y.View, mean.View, rstd.View, cpg, hw, groups, eps, silu ? 1 : 0);
    }

    internal static void LaunchBackward(IlgpuDevice dev, Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor? weight, Tensor? bias,
        Tensor dx, Tensor? dweight, Tensor? dbias, int n, int c, int hw, int groups, bool silu)
    {
        int cpg = c / groups;
        var kx = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, int, ArrayView<float>, int, int, int, int>(BackwardInputKernel));
        // An absent weight/bias is never read; x's view stands in for it.
        kx(new KernelConfig(n * groups, GroupSize(dev, cpg * hw)), dy.View, x.View, mean.View, rstd.View,
            weight?.View ?? x.View, bias?.View ?? x.View, weight is null ? 0 : 1, dx.View, cpg, hw, groups, silu ? 1 : 0);
        if (weight is null) return;
        var kp = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int, int>(BackwardParamsKernel));
        kp(new KernelConfig(c, GroupSize(dev, n * hw)), dy.View, x.View, mean.View, rstd.View, weight.View, bias?.View ?? x.View,
            dweight!.View, dbias!.View, n, c, hw, cpg, groups, silu ? 1 : 0);
    }

    private static (int n, int c, int hw) CheckInput(string op, Tensor x, int groups)
    {
        Check.Rank(x, 4, op, "x [N, C, H, W]");
        int c = x.Dim(1);
        if (groups <= 0 || c % groups != 0)
            throw new ArgumentException($"{op}: groups must be positive and divide the {c} channels of x {x.ShapeString}, got {groups}.");
        return (x.Dim(0), c, x.Dim(2) * x.Dim(3));
    }

    /// <summary>Threads per group: a power of two (the tree reduction needs one), no more than the work or the device
    /// allows; at most 256 on a GPU, and the simulator's small limit there.</summary>
    private static int GroupSize(IlgpuDevice dev, int work)
    {
        int cap = Math.Min(MaxGroupSize, dev.Accelerator.MaxNumThreadsPerGroup);
        int size = 1;
        while (size * 2 <= cap && size < work) size *= 2;
        return size;
    }
}
