using Boost.Kernels;

namespace Boost.Autograd.Optim;

/// <summary>
/// AdamW (decoupled weight decay, PyTorch's defaults) over a list of parameters, with optional global-norm gradient
/// clipping folded into the update kernel's gradient scale. Moments live on the parameters' device.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<Parameter> _params;
    private readonly Tensor[] _m, _v;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float Eps { get; init; } = 1e-8f;
    public float WeightDecay { get; init; } = 0.01f;
    /// <summary>Clip the global gradient norm to this (≤ 0: no clipping).</summary>
    public float MaxGradNorm { get; init; }
    public int Step { get; private set; }

    public AdamW(IEnumerable<Parameter> parameters)
    {
        _params = parameters.ToList();
        _m = _params.Select(p => Tensor.Zeros(p.Device, p.Shape)).ToArray();
        _v = _params.Select(p => Tensor.Zeros(p.Device, p.Shape)).ToArray();
    }

    /// <summary>The moment buffers, for checkpoints (exp_avg, exp_avg_sq per parameter).</summary>
    public IReadOnlyList<Tensor> ExpAvg => _m;
    public IReadOnlyList<Tensor> ExpAvgSq => _v;

    /// <summary>Restores the step count when resuming (the moments are restored through <see cref="ExpAvg"/>).</summary>
    public void SetStep(int step) => Step = step;

    /// <summary>The global L2 norm of all gradients (parameters without a gradient count as zero).</summary>
    public double GradNorm()
    {
        double s = 0;
        foreach (var p in _params)
        {
            if (p.Grad is null) continue;
            using var ss = Reduce.SumOfSquares(p.Grad);
            s += ss.ToArray()[0];
        }
        return Math.Sqrt(s);
    }

    /// <summary>One update at learning rate <paramref name="lr"/>; returns the gradient norm before clipping.</summary>
    public double Update(float lr)
    {
        double norm = GradNorm();
        if (!double.IsFinite(norm)) throw new ArithmeticException($"AdamW: the gradient norm is {norm}; refusing to update the weights.");
        float scale = MaxGradNorm > 0 && norm > MaxGradNorm ? (float)(MaxGradNorm / (norm + 1e-6)) : 1f;
        Step++;
        var h = AdamWParams.At(Step, lr, Beta1, Beta2, Eps, WeightDecay, scale);
        for (int i = 0; i < _params.Count; i++)
            if (_params[i].Grad is { } g) Boost.Kernels.Optim.AdamW(_params[i].Value, g, _m[i], _v[i], h);
        return norm;
    }

    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}

/// <summary>Exponential moving average of weights (used for sampling): ema ← ema + (1 − decay)(p − ema).</summary>
public sealed class Ema : IDisposable
{
    private readonly IReadOnlyList<Parameter> _params;
    public IReadOnlyList<Tensor> Shadow { get; }
    public float Decay { get; }

    public Ema(IEnumerable<Parameter> parameters, float decay = 0.999f)
    {
        _params = parameters.ToList();
        Decay = decay;
        Shadow = _params.Select(p => p.Value.Clone()).ToArray();
    }

    public void Update() => Update(Decay);

    /// <summary>One update with an explicit decay (for EMA warm-up schedules).</summary>
    public void Update(float decay)
    {
        for (int i = 0; i < _params.Count; i++) Boost.Kernels.Optim.Ema(Shadow[i], _params[i].Value, decay);
    }

    public void Dispose()
    {
        foreach (var t in Shadow) t.Dispose();
    }
}

/// <summary>Learning rate: linear warm-up from 0, then constant or cosine decay to <c>minLr</c>.</summary>
public static class LrSchedule
{
    public static float At(int step, float lr, int warmup, int total = 0, bool cosine = false, float minLr = 0f)
    {
        if (warmup > 0 && step < warmup) return lr * (step + 1) / warmup;
        if (!cosine || total <= warmup) return lr;
        double progress = Math.Clamp((double)(step - warmup) / (total - warmup), 0, 1);
        return (float)(minLr + 0.5 * (lr - minLr) * (1 + Math.Cos(Math.PI * progress)));
    }
}
