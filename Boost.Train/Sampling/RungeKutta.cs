using Boost.Kernels;

namespace Boost.Train.Sampling;

/// <summary>
/// One explicit Runge–Kutta step, x(t) → x(tNext), of the ODE dx/dt = f(t, x), for every <see cref="ButcherTableau"/>
/// (torchdiffeq's <c>_runge_kutta_step</c>). Tensors: all own their memory; the caller disposes
/// <see cref="X"/>, <see cref="Error"/> and <see cref="KLast"/> (or keeps them).
/// </summary>
/// <param name="X">x(tNext), x's shape</param>
/// <param name="Error">h·Σ eᵢkᵢ, the local error estimate of the embedded solution; null without one</param>
/// <param name="KLast">f(tNext, X) for an FSAL tableau (the next step's first stage); null otherwise</param>
/// <param name="Evaluations">how many times f ran in this step</param>
/// <param name="Mid">x(t + h/2) from the tableau's dense-output weights when asked for; null otherwise (the caller disposes it)</param>
public readonly record struct RkStepResult(Tensor X, Tensor? Error, Tensor? KLast, int Evaluations, Tensor? Mid = null);

public static class RungeKutta
{
    /// <summary>
    /// Takes one step from (<paramref name="t"/>, <paramref name="x"/>) to <paramref name="tNext"/>
    /// (h = tNext − t, negative when integrating backwards). Stage i runs at t + cᵢ·h, except that stages with
    /// cᵢ = 1 run at exactly <paramref name="tNext"/>, so a step clipped to the end of the interval evaluates f at the end
    /// time itself. Time stays in double; the products h·aᵢⱼ are cast to float for the tensor ops.
    /// </summary>
    /// <param name="f">the vector field: f(t, x) returns a new tensor of x's shape on x's device (this routine
    /// disposes it) and must neither modify nor dispose x</param>
    /// <param name="x">[any shape] the state at t (borrowed: not modified, not disposed)</param>
    /// <param name="k1">f(t, x) when already known (FSAL: the previous step's <see cref="RkStepResult.KLast"/>);
    /// borrowed, not disposed</param>
    /// <param name="midpoint">also return <see cref="RkStepResult.Mid"/> (needs <see cref="ButcherTableau.Mid"/>)</param>
    public static RkStepResult Step(ButcherTableau tableau, Func<double, Tensor, Tensor> f, double t, double tNext, Tensor x, Tensor? k1 = null, bool midpoint = false)
    {
        ArgumentNullException.ThrowIfNull(tableau);
        ArgumentNullException.ThrowIfNull(f);
        x.ThrowIfDisposed();
        if (midpoint && tableau.MidArray is null) throw new ArgumentException($"RungeKutta.Step: {tableau.Name} has no midpoint weights.", nameof(midpoint));
        if (k1 is not null)
        {
            Check.SameDevice("RungeKutta.Step", x, k1);
            Check.SameShape("RungeKutta.Step", x, k1, "x", "k1");
        }
        double h = tNext - t;
        double[] c = tableau.CArray, b = tableau.BArray;
        double[][] a = tableau.AArray;
        int s = tableau.Stages;
        var k = new Tensor?[s];
        int evaluations = 0;
        Tensor? xNext = null, error = null, mid = null;
        bool done = false;
        try
        {
            if (k1 is null) { k[0] = Evaluate(f, t, x); evaluations++; }
            else k[0] = k1;
            for (int i = 1; i < s; i++)
            {
                double ti = c[i] == 1 ? tNext : t + c[i] * h;
                var xi = Combine(x, h, a[i], k);
                bool fsalStage = tableau.IsFsal && i == s - 1;
                if (fsalStage) xNext = xi; // the last stage's input is the new solution: disposed by the catch below on failure
                try { k[i] = Evaluate(f, ti, xi); evaluations++; }
                finally { if (!fsalStage) xi.Dispose(); }
            }
            xNext ??= Combine(x, h, b, k);
            if (tableau.EArray is { } e) error = Combine(null, h, e, k);
            if (midpoint) mid = Combine(x, h, tableau.MidArray!, k);
            done = true;
            return new RkStepResult(xNext, error, tableau.IsFsal ? k[s - 1] : null, evaluations, mid);
        }
        finally
        {
            // Stages are scratch, except a borrowed k1 and the FSAL stage handed to the caller.
            for (int i = 0; i < s; i++)
                if (k[i] is { } ki && !(i == 0 && k1 is not null) && !(done && tableau.IsFsal && i == s - 1)) ki.Dispose();
            if (!done) { xNext?.Dispose(); error?.Dispose(); mid?.Dispose(); }
        }
    }

    /// <summary>Runs f and checks that it kept the contract (a new tensor of x's shape on x's device).</summary>
    internal static Tensor Evaluate(Func<double, Tensor, Tensor> f, double t, Tensor x)
    {
        var dx = f(t, x) ?? throw new InvalidOperationException($"The vector field returned null at t = {t}.");
        if (ReferenceEquals(dx, x))
            throw new InvalidOperationException("The vector field returned its input tensor; it must return a new tensor (the sampler disposes it).");
        if (!ReferenceEquals(dx.Device, x.Device) || !dx.ShapeSpan.SequenceEqual(x.ShapeSpan))
        {
            string got = $"{dx.ShapeString} on {dx.Device.Name}", want = $"{x.ShapeString} on {x.Device.Name}";
            dx.Dispose();
            throw new InvalidOperationException($"The vector field returned {got} for a state {want}; dx/dt must match the state.");
        }
        return dx;
    }

    /// <summary>
    /// y = x + Σⱼ (h·wⱼ)·kⱼ over the nonzero weights (x null: the sum alone), a new tensor.
    /// One fused launch for the first term, then one in-place axpy per further term.
    /// </summary>
    internal static Tensor Combine(Tensor? x, double h, double[] w, Tensor?[] k)
    {
        Tensor? y = null;
        try
        {
            for (int j = 0; j < w.Length; j++)
            {
                if (w[j] == 0) continue;
                float hw = (float)(h * w[j]);
                var kj = k[j] ?? throw new InvalidOperationException($"Stage {j} is used before it is computed (not an explicit tableau).");
                if (y is not null) Elementwise.ZipInto(y, kj, new LinearCombOp(1f, hw), y);
                else y = x is null ? Elementwise.Affine(kj, hw) : Elementwise.Axpby(1f, x, hw, kj);
            }
            if (y is null) // all weights zero: the stage input is x itself (or zero)
                y = x is null ? Tensor.Zeros(k[0]!.Device, k[0]!.Shape) : x.Clone();
            return y;
        }
        catch
        {
            y?.Dispose();
            throw;
        }
    }
}
