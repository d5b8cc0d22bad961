using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Hyper-parameters of one AdamW step (PyTorch's <c>torch.optim.AdamW</c>, decoupled weight decay). Bias corrections
/// are computed on the host in double: Bc1 = 1 − β₁ᵗ, Bc2 = 1 − β₂ᵗ. GradScale multiplies the gradient first
/// (global-norm clipping folds its factor in here).
/// </summary>
public struct AdamWParams
{
    public float Lr, Beta1, Beta2, Eps, WeightDecay, Bc1, Bc2, GradScale;

    public static AdamWParams At(int step, float lr, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0.01f, float gradScale = 1f)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), "AdamW steps count from 1.");
        return new AdamWParams
        {
            Lr = lr, Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay, GradScale = gradScale,
            Bc1 = (float)(1 - Math.Pow(beta1, step)), Bc2 = (float)(1 - Math.Pow(beta2, step)),
        };
    }
}

/// <summary>Optimizer updates, in place, one thread per parameter element.</summary>
public static class Optim
{
    /// <summary>
    /// p ← p·(1 − lr·wd); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − (lr/Bc1)·m / (√v/√Bc2 + eps), with g scaled
    /// by GradScale: PyTorch's AdamW update in the same order.
    /// </summary>
    public static void AdamWUpdate(ref float p, float grad, ref float m, ref float v, in AdamWParams h)
    {
        float g = grad * h.GradScale;
        p *= 1f - h.Lr * h.WeightDecay;
        m = h.Beta1 * m + (1f - h.Beta1) * g;
        v = h.Beta2 * v + (1f - h.Beta2) * g * g;
        float denom = MathF.Sqrt(v) / MathF.Sqrt(h.Bc2) + h.Eps;
        p -= h.Lr / h.Bc1 * m / denom;
    }

    [Kernel]
    public static void AdamWKernel(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamWParams h)
    {
        float pi = p[i], mi = m[i], vi = v[i];
        AdamWUpdate(ref pi, g[i], ref mi, ref vi, h);
        p[i] = pi; m[i] = mi; v[i] = vi;
    }

    /// <summary>ema ← ema + (1 − decay)·(p − ema), as <c>ema.lerp_(p, 1 − decay)</c>.</summary>
    [Kernel]
    public static void EmaKernel(Index1D i, ArrayView<float> ema, ArrayView<float> p, float decay)
        => ema[i] = ema[i] + (1f - decay) * (p[i] - ema[i]);

    /// <summary>One AdamW step on a parameter tensor with its gradient and moment buffers (all the same shape).</summary>
    public static void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, AdamWParams h)
    {
        Check.SameDevice("AdamW", p, g, m, v);
        Check.SameShape("AdamW", p, g, "param", "grad");
        Check.SameShape("AdamW", p, m, "param", "exp_avg");
        Check.SameShape("AdamW", p, v, "param", "exp_avg_sq");
        if (p.Length > 0) p.Device.Backend.AdamW(p, g, m, v, h);
    }

    /// <summary>EMA of weights: ema ← ema + (1 − decay)·(p − ema).</summary>
    public static void Ema(Tensor ema, Tensor p, float decay)
    {
        Check.SameDevice("Ema", ema, p);
        Check.SameShape("Ema", ema, p, "ema", "param");
        if (p.Length > 0) p.Device.Backend.Ema(ema, p, decay);
    }

    // ---------------------------------------------------------------- launchers

    internal static void LaunchAdamW(IlgpuDevice dev, Tensor p, Tensor g, Tensor m, Tensor v, AdamWParams h)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWParams>(AdamWKernel));
        k((int)p.Length, p.View, g.View, m.View, v.View, h);
    }

    internal static void LaunchEma(IlgpuDevice dev, Tensor ema, Tensor p, float decay)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(EmaKernel));
        k((int)p.Length, ema.View, p.View, decay);
    }
}
