using Boost.Kernels;

namespace Boost.Autograd.Optim;

/// <summary>
/// AdamW (decoupled weight decay, PyTorch's defaults) over a list of parameters, with optional global-norm gradient
/// clipping folded into the update kernel's gradient scale. Moments live on the parameters' device.
/// <para>
/// Over exactly the parameters of a <see cref="ParameterArena"/> (same list, same order; make the arena first) the
/// moments are flat buffers of its layout and <see cref="ExpAvg"/>/<see cref="ExpAvgSq"/> views into them: a step is
/// then one reduction and one host read for the global norm and one update launch over all parameters (per element
/// the same formula as the per-tensor kernel, so bit-identical for the same scale). Otherwise, and on the managed CPU
/// device, every parameter has its own moments and its own reduction, read and launch.
/// </para>
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<Parameter> _params;
    private readonly Tensor[] _m, _v;
    private readonly ParameterArena? _arena;
    private readonly Tensor? _mFlat, _vFlat;
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
        _arena = ParameterArena.Of(_params);
        if (_arena is not null)
        {
            _mFlat = _arena.NewFlat();
            _vFlat = _arena.NewFlat();
            _m = _arena.ViewsOf(_mFlat);
            _v = _arena.ViewsOf(_vFlat);
            return;
        }
        _m = _params.Select(p => Tensor.Zeros(p.Device, p.Shape)).ToArray();
        _v = _params.Select(p => Tensor.Zeros(p.Device, p.Shape)).ToArray();
    }

    /// <summary>The arena whose flat layout this optimizer updates in one launch, or null (per-tensor updates).</summary>
    public ParameterArena? Arena => _arena;

    /// <summary>The moment buffers, for checkpoints (exp_avg, exp_avg_sq per parameter).</summary>
    public IReadOnlyList<Tensor> ExpAvg => _m;
    public IReadOnlyList<Tensor> ExpAvgSq => _v;

    /// <summary>Restores the step count when resuming (the moments are restored through <see cref="ExpAvg"/>).</summary>
    public void SetStep(int step) => Step = step;

    /// <summary>The global L2 norm of all gradients (parameters without a gradient count as zero).</summary>
    public double GradNorm() => GradNorm(out _);

    /// <summary>The global norm; <paramref name="allFresh"/>: every parameter has a gradient this step.</summary>
    private double GradNorm(out bool allFresh)
    {
        if (_arena is not null)
        {
            allFresh = _arena.PrepareGradients();
            using var flat = Reduce.SumOfSquares(_arena.Grads);
            return Math.Sqrt(flat.ToArray()[0]);
        }
        allFresh = false;
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
        double norm = GradNorm(out bool allFresh);
        if (!double.IsFinite(norm)) throw new ArithmeticException($"AdamW: the gradient norm is {norm}; refusing to update the weights.");
        float scale = MaxGradNorm > 0 && norm > MaxGradNorm ? (float)(MaxGradNorm / (norm + 1e-6)) : 1f;
        Step++;
        var h = AdamWParams.At(Step, lr, Beta1, Beta2, Eps, WeightDecay, scale);
        if (allFresh)
        {
            Boost.Kernels.Optim.AdamW(_arena!.Values, _arena.Grads, _mFlat!, _vFlat!, h);
            return norm;
        }
        for (int i = 0; i < _params.Count; i++)
            if (_params[i].Grad is { } g) Boost.Kernels.Optim.AdamW(_params[i].Value, g, _m[i], _v[i], h);
        return norm;
    }

    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
        _mFlat?.Dispose();
        _vFlat?.Dispose();
    }
}

/// <summary>Exponential moving average of weights (used for sampling): ema ← ema + (1 − decay)(p − ema). Over exactly
/// a <see cref="ParameterArena"/>'s parameters the shadow is one flat buffer of its layout (<see cref="Shadow"/> views
/// into it) and an update is one launch.</summary>
public sealed class Ema : IDisposable
{
    private readonly IReadOnlyList<Parameter> _params;
    private readonly ParameterArena? _arena;
    private readonly Tensor? _flat;
    public IReadOnlyList<Tensor> Shadow { get; }
    public float Decay { get; }

    public Ema(IEnumerable<Parameter> parameters, float decay = 0.999f)
    {
        _params = parameters.ToList();
        Decay = decay;
        _arena = ParameterArena.Of(_params);
        if (_arena is not null)
        {
            _flat = _arena.Values.Clone();
            Shadow = _arena.ViewsOf(_flat);
            return;
        }
        Shadow = _params.Select(p => p.Value.Clone()).ToArray();
    }

    public void Update() => Update(Decay);

    /// <summary>One update with an explicit decay (for EMA warm-up schedules).</summary>
    public void Update(float decay)
    {
        if (_arena is not null)
        {
            Boost.Kernels.Optim.Ema(_flat!, _arena.Values, decay);
            return;
        }
        for (int i = 0; i < _params.Count; i++) Boost.Kernels.Optim.Ema(Shadow[i], _params[i].Value, decay);
    }

    public void Dispose()
    {
        foreach (var t in Shadow) t.Dispose();
        _flat?.Dispose();
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
