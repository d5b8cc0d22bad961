using Boost.Kernels;

namespace Boost.Train.Sampling;

/// <summary>How an adaptive solve ends at t1.</summary>
public enum EndRule
{
    /// <summary>Shorten the last step to land on t1 (and stretch one by up to 1 % rather than leave a sliver:
    /// Hairer's DOPRI5 rule). Every f evaluation lies in [t0, t1].</summary>
    Clip,
    /// <summary>torchdiffeq's rule: steps are never shortened; the step that passes t1 is accepted as usual and x(t1)
    /// is its fourth-order dense-output interpolant (from x and f at both ends and the midpoint estimate). Needs a
    /// tableau with dense output (dopri5); f may be evaluated past t1.</summary>
    Interpolate,
}

/// <summary>
/// How <see cref="Samplers.Solve"/> integrates. Fixed-step methods (euler, midpoint, rk4, rk38) take
/// <see cref="Steps"/> equal steps; dopri5 adapts its steps to <see cref="Rtol"/>/<see cref="Atol"/>.
/// </summary>
public sealed record SolverOptions
{
    public SolverMethod Method { get; init; } = SolverMethod.Dopri5;
    /// <summary>Fixed-step methods: the number of equal steps (required, &gt; 0). Adaptive methods: must stay 0.</summary>
    public int Steps { get; init; }
    /// <summary>Adaptive: relative tolerance (&gt; 0).</summary>
    public double Rtol { get; init; } = 1e-5;
    /// <summary>Adaptive: absolute tolerance (≥ 0).</summary>
    public double Atol { get; init; } = 1e-5;
    /// <summary>Adaptive: the most step attempts (accepted + rejected) before giving up with an exception.</summary>
    public int MaxSteps { get; init; } = 10_000;
    /// <summary>Adaptive: the error norm of the batch's one shared step: over the whole batch (torchdiffeq) or the
    /// worst sample's (max over dim 0).</summary>
    public ErrorNorm Norm { get; init; } = ErrorNorm.Batch;
    /// <summary>Adaptive: land on t1 by shortening the last step (<see cref="EndRule.Clip"/>) or by interpolating
    /// past it as torchdiffeq does (<see cref="EndRule.Interpolate"/>).</summary>
    public EndRule EndRule { get; init; } = EndRule.Clip;
    /// <summary>Adaptive: |h| of the first step; null selects it by Hairer's algorithm (one extra evaluation).</summary>
    public double? FirstStep { get; init; }
    /// <summary>Adaptive: β of the PI step-size controller; 0 is torchdiffeq's I controller, 0.04 Hairer's PI.</summary>
    public double PiBeta { get; init; }

    public static SolverOptions Fixed(SolverMethod method, int steps) => new() { Method = method, Steps = steps };
    public static SolverOptions Adaptive(double rtol, double atol, ErrorNorm norm = ErrorNorm.Batch, EndRule endRule = EndRule.Clip)
        => new() { Method = SolverMethod.Dopri5, Rtol = rtol, Atol = atol, Norm = norm, EndRule = endRule };
}

/// <summary>The end state x(t1) (owned: dispose the result) and what reaching it cost.</summary>
public sealed class SampleResult(Tensor x, string method, int evaluations, int accepted, int rejected, double[] times) : IDisposable
{
    /// <summary>[x0's shape] the state at t1.</summary>
    public Tensor X { get; } = x;
    public string Method { get; } = method;
    /// <summary>NFE: how many times the vector field ran (stages, FSAL reuse and the initial-step probe counted).</summary>
    public int Evaluations { get; } = evaluations;
    public int AcceptedSteps { get; } = accepted;
    public int RejectedSteps { get; } = rejected;
    /// <summary>The time grid: t0, then the end of every accepted step. The last entry is t1 exactly, except with
    /// <see cref="EndRule.Interpolate"/>, where the last step may end past t1 (X is then interpolated at t1).</summary>
    public IReadOnlyList<double> Times { get; } = times;
    public void Dispose() => X.Dispose();
    public override string ToString() => $"{Method}: NFE {Evaluations}, {AcceptedSteps} accepted, {RejectedSteps} rejected steps";
}

/// <summary>
/// The ODE samplers of the flow-matching upsampler: integrate dx/dt = f(t, x) from t0 to t1 (either direction),
/// every method through one signature, one Runge–Kutta routine and its tableau, and, for adaptive methods, a
/// <see cref="StepSizeController"/>. Time is double throughout; the state is a float tensor on any device.
/// </summary>
public static class Samplers
{
    private static readonly Dictionary<string, ButcherTableau> FixedMethods = SolverRegistry.All.Where(e => !e.Adaptive).ToDictionary(e => e.Name, e => e.Tableau);
    private static readonly Dictionary<string, ButcherTableau> AdaptiveMethods = SolverRegistry.All.Where(e => e.Adaptive).ToDictionary(e => e.Name, e => e.Tableau);

    public static IEnumerable<string> Methods => FixedMethods.Keys.Concat(AdaptiveMethods.Keys);

    /// <summary>Integrates from <paramref name="t0"/> to <paramref name="t1"/> and returns x(t1) with the step statistics.</summary>
    /// <param name="f">the vector field: f(t, x) returns a new tensor dx/dt of x's shape on x's device, which the
    /// sampler disposes; it must neither modify nor dispose x</param>
    /// <param name="x0">[N, ...] the initial state (borrowed: not modified, not disposed); dim 0 is the batch for <see cref="ErrorNorm.WorstSample"/></param>
    public static SampleResult Solve(Func<double, Tensor, Tensor> f, Tensor x0, double t0, double t1, SolverOptions options)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x0);
        ArgumentNullException.ThrowIfNull(options);
        x0.ThrowIfDisposed();
        if (!double.IsFinite(t0) || !double.IsFinite(t1)) throw new ArgumentException($"Solve: t0 and t1 must be finite, got {t0} and {t1}.");
        if (x0.Length == 0) throw new ArgumentException($"Solve: empty state {x0.ShapeString}.");
        var entry = SolverRegistry.All.FirstOrDefault(e => e.Method == options.Method)
                    ?? throw new ArgumentException($"Solve: unknown method {options.Method}; known: {string.Join(", ", Methods)}.", nameof(options));
        string method = entry.Name;

        if (FixedMethods.TryGetValue(method, out var fixedTableau))
        {
            if (options.Steps <= 0)
                throw new ArgumentOutOfRangeException(nameof(options), options.Steps, $"Solve: {method} is a fixed-step method and needs Steps > 0, got {options.Steps}.");
            return t0 == t1 ? Trivial(x0, t0, method) : SolveFixed(fixedTableau, f, x0, t0, t1, options.Steps, method);
        }
        if (AdaptiveMethods.TryGetValue(method, out var adaptiveTableau))
        {
            if (options.Steps != 0)
                throw new ArgumentException($"Solve: {method} chooses its own steps; set Rtol/Atol instead of Steps ({options.Steps}).", nameof(options));
            if (options.MaxSteps <= 0)
                throw new ArgumentOutOfRangeException(nameof(options), options.MaxSteps, $"Solve: MaxSteps must be > 0, got {options.MaxSteps}.");
            if (options.FirstStep is { } h0 && !(h0 > 0 && double.IsFinite(h0)))
                throw new ArgumentOutOfRangeException(nameof(options), h0, $"Solve: FirstStep must be a finite |h| > 0, got {h0}.");
            if (!Enum.IsDefined(options.EndRule) || !Enum.IsDefined(options.Norm))
                throw new ArgumentOutOfRangeException(nameof(options), $"Solve: EndRule {options.EndRule} / Norm {options.Norm} is not a defined value.");
            if (options.EndRule == EndRule.Interpolate && !adaptiveTableau.HasDenseOutput)
                throw new ArgumentException($"Solve: {method} has no dense output; EndRule.Interpolate needs one.", nameof(options));
            int q = Math.Min(adaptiveTableau.Order, adaptiveTableau.EmbeddedOrder);
            var controller = new StepSizeController(options.Rtol, options.Atol, q, options.Norm, options.PiBeta); // validates the tolerances
            return t0 == t1 ? Trivial(x0, t0, method) : SolveAdaptive(adaptiveTableau, controller, f, x0, t0, t1, options, method);
        }
        throw new InvalidOperationException($"Solve: the registry's {method} is in neither method table.");
    }

    private static SampleResult Trivial(Tensor x0, double t0, string method) => new(x0.Clone(), method, 0, 0, 0, [t0]);

    private static SampleResult SolveFixed(ButcherTableau tableau, Func<double, Tensor, Tensor> f, Tensor x0, double t0, double t1, int steps, string method)
    {
        var times = new double[steps + 1];
        for (int i = 0; i <= steps; i++) times[i] = i == steps ? t1 : t0 + (t1 - t0) * i / steps; // no drift, exact end
        Tensor x = x0.Clone();
        Tensor? k1 = null;
        int evaluations = 0;
        try
        {
            for (int i = 0; i < steps; i++)
            {
                var step = RungeKutta.Step(tableau, f, times[i], times[i + 1], x, k1);
                evaluations += step.Evaluations;
                step.Error?.Dispose();
                x.Dispose(); k1?.Dispose();
                x = step.X; k1 = step.KLast;
            }
            var result = new SampleResult(x, method, evaluations, steps, 0, times);
            x = null!;
            return result;
        }
        finally
        {
            x?.Dispose(); k1?.Dispose();
        }
    }

    /// <summary>
    /// x(t) inside the step [ta, tb] from torchdiffeq's fourth-order interpolant (<c>_interp_fit</c>): the quartic
    /// through x(ta), x(tb) and the midpoint estimate with slopes f(ta), f(tb), written as weights on those five tensors
    /// (s = (t − ta)/(tb − ta), h = tb − ta).
    /// </summary>
    internal static Tensor DenseOutput(Tensor xa, Tensor xb, Tensor xMid, Tensor fa, Tensor fb, double ta, double tb, double t)
    {
        double h = tb - ta, s = (t - ta) / h, s2 = s * s, s3 = s2 * s, s4 = s3 * s;
        double[] w =
        [
            1 - 11 * s2 + 18 * s3 - 8 * s4,
            -5 * s2 + 14 * s3 - 8 * s4,
            16 * s2 - 32 * s3 + 16 * s4,
            h * (s - 4 * s2 + 5 * s3 - 2 * s4),
            h * (s2 - 3 * s3 + 2 * s4),
        ];
        return RungeKutta.Combine(null, 1, w, [xa, xb, xMid, fa, fb]);
    }

    private static SampleResult SolveAdaptive(ButcherTableau tableau, StepSizeController controller, Func<double, Tensor, Tensor> f,
        Tensor x0, double t0, double t1, SolverOptions options, string method)
    {
        int direction = t1 > t0 ? 1 : -1;
        bool interpolate = options.EndRule == EndRule.Interpolate;
        var times = new List<double> { t0 };
        Tensor? x = x0.Clone(), k1 = null;
        int evaluations = 0, accepted = 0, rejected = 0;
        try
        {
            k1 = RungeKutta.Evaluate(f, t0, x); evaluations++;
            double h;
            if (options.FirstStep is { } first) h = direction * first;
            else { h = controller.InitialStep(f, t0, x, k1, direction); evaluations++; }

            double t = t0;
            while (direction * (t1 - t) > 0)
            {
                if (accepted + rejected >= options.MaxSteps)
                    throw new InvalidOperationException($"Solve: {method} reached MaxSteps = {options.MaxSteps} at t = {t} of [{t0}, {t1}] " +
                                                        $"({accepted} accepted, {rejected} rejected, last |h| {Math.Abs(h):G3}); loosen rtol/atol or raise MaxSteps.");
                // Clip: end exactly at t1; stretch a step by up to 1% rather than leave a sliver (Hairer's DOPRI5 rule).
                // Interpolate: take the step as proposed; the one that passes t1 is interpolated back to it below.
                double tNext = !interpolate && direction * (t + 1.01 * h - t1) >= 0 ? t1 : t + h;
                if (tNext == t)
                    throw new InvalidOperationException($"Solve: {method} step size underflow at t = {t} (h = {h:G3}); the problem may be stiff or the state non-finite.");

                var step = RungeKutta.Step(tableau, f, t, tNext, x, k1, midpoint: interpolate);
                evaluations += step.Evaluations;
                Tensor? end = null;
                bool accept;
                try
                {
                    double ratio = controller.ErrorRatio(step.Error!, x, step.X);
                    h = controller.Propose(tNext - t, ratio, out accept);
                    if (accept && interpolate && direction * (tNext - t1) > 0)
                        end = DenseOutput(x, step.X, step.Mid!, k1, step.KLast!, t, tNext, t1);
                }
                catch { step.X.Dispose(); step.KLast?.Dispose(); throw; }
                finally { step.Error!.Dispose(); step.Mid?.Dispose(); }
                if (accept)
                {
                    x.Dispose(); k1.Dispose();
                    x = step.X;
                    k1 = step.KLast;
                    if (k1 is null) { k1 = RungeKutta.Evaluate(f, tNext, x); evaluations++; } // a non-FSAL pair pays for its next first stage
                    t = tNext;
                    times.Add(t);
                    accepted++;
                    if (end is not null) { x.Dispose(); x = end; break; }
                }
                else
                {
                    step.X.Dispose(); step.KLast?.Dispose();
                    rejected++;
                }
            }
            var result = new SampleResult(x, method, evaluations, accepted, rejected, times.ToArray());
            x = null;
            return result;
        }
        finally
        {
            x?.Dispose(); k1?.Dispose();
        }
    }
}
