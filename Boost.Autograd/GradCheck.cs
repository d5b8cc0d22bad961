using Boost.Kernels;

namespace Boost.Autograd;

/// <summary>
/// Checks a whole differentiable computation by directional central differences: for random directions d over the
/// inputs θ, the analytic directional derivative Σᵢ⟨∂L/∂θᵢ, dᵢ⟩ from one backward pass must match
/// (L(θ + εd) − L(θ − εd)) / 2ε. The computation runs in float32, so the tolerance is relative to the larger of the
/// two and loose by design (default rtol 2e-2): it catches wrong gradients (sign, scale, index), not rounding.
/// </summary>
public static class GradCheck
{
    public sealed record Result(double Analytic, double Numeric, double RelativeError);

    /// <param name="loss">Builds the scalar loss from the current values of <paramref name="inputs"/>; called under
    /// a tape this method provides.</param>
    /// <param name="inputs">Leaves (parameters or inputs) that require grad.</param>
    public static Result[] Directional(Func<Var> loss, IReadOnlyList<Var> inputs, int directions = 3, float eps = 1e-2f, int seed = 1)
    {
        foreach (var v in inputs)
        {
            if (!v.RequiresGrad) throw new ArgumentException($"GradCheck: input {v} does not require grad.");
            v.ZeroGrad();
        }
        using (var tape = Tape.Record()) tape.Backward(loss());
        var grads = inputs.Select(v => v.Grad?.ToArray() ?? new float[v.Value.Length]).ToArray();
        var originals = inputs.Select(v => v.Value.ToArray()).ToArray();
        var rng = new Random(seed);
        var results = new Result[directions];
        for (int k = 0; k < directions; k++)
        {
            var dirs = originals.Select(o => o.Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
            double analytic = 0;
            for (int i = 0; i < inputs.Count; i++)
                for (int j = 0; j < dirs[i].Length; j++) analytic += (double)grads[i][j] * dirs[i][j];
            double plus = Evaluate(loss, inputs, originals, dirs, eps), minus = Evaluate(loss, inputs, originals, dirs, -eps);
            double numeric = (plus - minus) / (2.0 * eps);
            double rel = Math.Abs(analytic - numeric) / Math.Max(1e-6, Math.Max(Math.Abs(analytic), Math.Abs(numeric)));
            results[k] = new Result(analytic, numeric, rel);
        }
        for (int i = 0; i < inputs.Count; i++) inputs[i].Value.CopyFrom(originals[i]);
        return results;
    }

    private static double Evaluate(Func<Var> loss, IReadOnlyList<Var> inputs, float[][] originals, float[][] dirs, float step)
    {
        for (int i = 0; i < inputs.Count; i++)
        {
            var shifted = new float[originals[i].Length];
            for (int j = 0; j < shifted.Length; j++) shifted[j] = originals[i][j] + step * dirs[i][j];
            inputs[i].Value.CopyFrom(shifted);
        }
        using var scope = Tape.NoGrad();
        return loss().Value.ToArray()[0];
    }
}
