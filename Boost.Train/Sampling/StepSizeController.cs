using Boost.Kernels;

namespace Boost.Train.Sampling;

/// <summary>
/// Which elements one error norm pools (dim 0 of the state is the batch). Either way the whole batch takes one shared
/// step sequence; only the number that accepts or shrinks the step differs.
/// </summary>
public enum ErrorNorm
{
    /// <summary>RMS over the whole tensor, as torchdiffeq: one tolerance for the batch, easy samples can hide a hard one.</summary>
    Batch,
    /// <summary>RMS within each sample, then the max over the batch: the shared step is sized for the worst sample, so
    /// every sample meets the tolerance, and easy samples take the hard one's (smaller) steps.</summary>
    WorstSample,
}

/// <summary>
/// Adaptive step-size control for embedded Runge–Kutta pairs, separate from the stepping routine (torchdiffeq's
/// <c>_compute_error_ratio</c>, <c>_optimal_step_size</c>, <c>_select_initial_step</c>). The error ratio is
/// ‖err / (atol + rtol·max(|x₀|, |x₁|))‖ in the chosen <see cref="ErrorNorm"/>; a step is accepted when it is ≤ 1.
/// The next step is h·clamp(safety·r^(−α)·r_prev^β), with α = 1/(q+1) − 0.75β, q the lower order of the pair:
/// β = 0 is the I controller of torchdiffeq, β = 0.04 Hairer's PI controller (DOPRI5 code). After an accepted step
/// the factor is in [1, growth limit] (torchdiffeq never shrinks after a success), after a rejection in
/// [shrink limit, growth limit]. Holds the PI memory: one controller per solve.
/// </summary>
public sealed class StepSizeController
{
    public double Rtol { get; }
    public double Atol { get; }
    public ErrorNorm Norm { get; }
    public double Safety { get; }
    public double MaxFactor { get; }
    public double MinFactor { get; }
    /// <summary>1/(q+1): the error of a step of size h scales as h^(q+1).</summary>
    public double Exponent { get; }
    /// <summary>β of the PI controller; 0 for the plain I controller.</summary>
    public double PiBeta { get; }

    private double _previousRatio = 1e-4; // Hairer's initial "facold"

    /// <param name="order">q: the lower order of the pair (4 for Dormand–Prince 5(4))</param>
    public StepSizeController(double rtol, double atol, int order, ErrorNorm norm = ErrorNorm.Batch,
        double piBeta = 0, double safety = 0.9, double maxFactor = 10, double minFactor = 0.2)
    {
        if (!(rtol > 0) || double.IsInfinity(rtol)) throw new ArgumentOutOfRangeException(nameof(rtol), rtol, "StepSizeController: rtol must be a finite number > 0.");
        if (!(atol >= 0) || double.IsInfinity(atol)) throw new ArgumentOutOfRangeException(nameof(atol), atol, "StepSizeController: atol must be a finite number ≥ 0.");
        if (order < 1) throw new ArgumentOutOfRangeException(nameof(order), order, "StepSizeController: the order must be ≥ 1.");
        if (!(piBeta >= 0 && piBeta < 1.0 / (order + 1))) throw new ArgumentOutOfRangeException(nameof(piBeta), piBeta, "StepSizeController: PI β must be in [0, 1/(q+1)).");
        if (!(safety > 0 && safety <= 1) || !(minFactor > 0 && minFactor < 1) || !(maxFactor > 1))
            throw new ArgumentException($"StepSizeController: need 0 < safety ≤ 1, 0 < shrink limit < 1 < growth limit; got {safety}, {minFactor}, {maxFactor}.");
        Rtol = rtol; Atol = atol; Norm = norm; PiBeta = piBeta;
        Safety = safety; MaxFactor = maxFactor; MinFactor = minFactor;
        Exponent = 1.0 / (order + 1);
    }

    /// <summary>‖err / (atol + rtol·max(|x₀|, |x₁|))‖; a step is accepted when this is ≤ 1.</summary>
    /// <param name="error">[N, ...] the step's error estimate</param>
    /// <param name="x0">[N, ...] the state before the step</param>
    /// <param name="x1">[N, ...] the state after it</param>
    public double ErrorRatio(Tensor error, Tensor x0, Tensor x1)
    {
        using var scale = Elementwise.Zip(x0, x1, new ToleranceScaleOp(Atol, Rtol));
        return ScaledNorm(error, scale);
    }

    /// <summary>‖v / scale‖ in this controller's norm: the mean squares per sample are reduced on v's device, and
    /// only those (one float per sample, or one for the batch) are read back.</summary>
    /// <param name="v">[N, ...]</param>
    /// <param name="scale">[N, ...] positive</param>
    public double ScaledNorm(Tensor v, Tensor scale)
    {
        Check.SameShape("ScaledNorm", v, scale, "v", "scale");
        if (v.Length == 0) throw new ArgumentException("ScaledNorm: empty tensor.");
        int samples = Norm == ErrorNorm.WorstSample && v.Rank > 0 && v.Dim(0) > 0 ? v.Dim(0) : 1;
        int per = checked((int)(v.Length / samples));
        using var rows = v.Reshape(samples, per);
        using var scales = scale.Reshape(samples, per);
        using var meanSquares = Reduce.MapReduce(rows, scales, [1], new ScaledSquareOp(), 1f / per, false, "ScaledNorm");
        double worst = 0;
        foreach (float ms in meanSquares.ToArray())
        {
            double rms = Math.Sqrt(ms);
            if (double.IsNaN(rms)) return double.NaN;
            worst = Math.Max(worst, rms);
        }
        return worst;
    }

    /// <summary>
    /// Decides on a step of size <paramref name="h"/> whose error ratio is <paramref name="ratio"/> and proposes
    /// the next step (same sign as h). A NaN or infinite ratio is a rejection at the shrink limit.
    /// </summary>
    public double Propose(double h, double ratio, out bool accept)
    {
        accept = ratio <= 1; // false for NaN
        double factor;
        if (ratio == 0) factor = MaxFactor;
        else if (!double.IsFinite(ratio)) factor = MinFactor;
        else
        {
            double alpha = Exponent - 0.75 * PiBeta;
            factor = Safety * Math.Pow(ratio, -alpha);
            if (accept && PiBeta > 0) factor *= Math.Pow(_previousRatio, PiBeta);
            factor = Math.Clamp(factor, accept ? 1.0 : MinFactor, MaxFactor);
        }
        if (accept) _previousRatio = Math.Max(ratio, 1e-4);
        return h * factor;
    }

    /// <summary>
    /// Hairer's starting step (Hairer, Nørsett &amp; Wanner, Solving ODEs I, II.4; torchdiffeq's
    /// <c>_select_initial_step</c>), with sc = atol + rtol·|x₀|: d₀ = ‖x₀/sc‖, d₁ = ‖f₀/sc‖,
    /// h₀ = 0.01·d₀/d₁ (10⁻⁶ when either is below 10⁻⁵), an Euler step x₁ = x₀ + h₀f₀, d₂ = ‖(f(t₀+h₀, x₁) − f₀)/sc‖/h₀,
    /// h₁ = (0.01/max(d₁, d₂))^(1/(q+1)) (max(10⁻⁶, 10⁻³h₀) when both are ≤ 10⁻¹⁵); returns min(100·h₀, h₁)·direction.
    /// Evaluates f once.
    /// </summary>
    /// <param name="f0">f(t0, x0)</param>
    /// <param name="direction">+1 forward in time, −1 backward</param>
    public double InitialStep(Func<double, Tensor, Tensor> f, double t0, Tensor x0, Tensor f0, int direction)
    {
        using var scale = Elementwise.Zip(x0, x0, new ToleranceScaleOp(Atol, Rtol));
        double d0 = ScaledNorm(x0, scale), d1 = ScaledNorm(f0, scale);
        double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
        double d2;
        using (var x1 = Elementwise.Axpby(1f, x0, (float)(direction * h0), f0))
        using (var f1 = RungeKutta.Evaluate(f, t0 + direction * h0, x1))
        using (var df = Elementwise.Sub(f1, f0))
            d2 = ScaledNorm(df, scale) / h0;
        double h1 = d1 <= 1e-15 && d2 <= 1e-15
            ? Math.Max(1e-6, h0 * 1e-3)
            : Math.Pow(0.01 / Math.Max(d1, d2), Exponent);
        double h = Math.Min(100 * h0, h1);
        if (!(h > 0)) throw new InvalidOperationException($"InitialStep: no usable starting step (d0 {d0}, d1 {d1}, d2 {d2}); is the state finite?");
        return direction * h;
    }
}

/// <summary>y = atol + rtol·max(|a|, |b|): the per-element tolerance of the error ratio.</summary>
public readonly struct ToleranceScaleOp(double atol, double rtol) : IBinaryOp
{
    public readonly float Atol = (float)atol, Rtol = (float)rtol;
    public float Apply(float a, float b)
    {
        float ma = a < 0 ? -a : a, mb = b < 0 ? -b : b;
        return Atol + Rtol * (ma > mb ? ma : mb);
    }
    public System.Numerics.Vector<float> Apply(System.Numerics.Vector<float> a, System.Numerics.Vector<float> b)
    {
        var ma = System.Numerics.Vector.Abs(a); var mb = System.Numerics.Vector.Abs(b);
        return new System.Numerics.Vector<float>(Atol) + new System.Numerics.Vector<float>(Rtol) * System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.GreaterThan(ma, mb), ma, mb);
    }
}

/// <summary>y = (a / b)²</summary>
public readonly struct ScaledSquareOp : IBinaryOp
{
    public float Apply(float a, float b) { float r = a / b; return r * r; }
    public System.Numerics.Vector<float> Apply(System.Numerics.Vector<float> a, System.Numerics.Vector<float> b) { var r = a / b; return r * r; }
}
