using System.Globalization;
using Boost.Train.Pipeline;

namespace Boost.Train.Sampling;

/// <summary>The ODE solvers; their command-line names (<see cref="Choice{T}"/>: dopri5, euler, …) are the registry's.</summary>
public enum SolverMethod { Dopri5, Euler, Midpoint, Rk4, Rk38 }

/// <summary>One solver the command line offers: its tableau, and for a fixed-step one the step count used when none is given.</summary>
public sealed record SolverEntry(SolverMethod Method, ButcherTableau Tableau, bool Adaptive, int DefaultSteps)
{
    /// <summary>The command-line name, e.g. "dopri5".</summary>
    public string Name => Choice<SolverMethod>.Name(Method);
}

/// <summary>
/// The one list of solver names: <see cref="Samplers.Solve"/>, <c>boost --solver</c>, <c>eval --solvers</c> and the
/// help text all read it, so a solver added here is accepted everywhere.
/// </summary>
public static class SolverRegistry
{
    public static IReadOnlyList<SolverEntry> All { get; } =
    [
        new(SolverMethod.Dopri5, ButcherTableau.DormandPrince5, Adaptive: true, DefaultSteps: 0),
        new(SolverMethod.Euler, ButcherTableau.Euler, Adaptive: false, DefaultSteps: 40),
        new(SolverMethod.Midpoint, ButcherTableau.Midpoint, Adaptive: false, DefaultSteps: 10),
        new(SolverMethod.Rk4, ButcherTableau.Rk4, Adaptive: false, DefaultSteps: 10),
        new(SolverMethod.Rk38, ButcherTableau.Rk4ThreeEighths, Adaptive: false, DefaultSteps: 10),
    ];

    /// <summary>The entry of a typed method (every <see cref="SolverMethod"/> has one).</summary>
    public static SolverEntry Get(SolverMethod method)
        => All.FirstOrDefault(e => e.Method == method) ?? throw new ArgumentOutOfRangeException(nameof(method), method, "not a registered solver.");

    /// <summary>"dopri5|euler|midpoint|rk4|rk38".</summary>
    public static string Names => string.Join("|", All.Select(e => e.Name));

    public static SolverEntry? TryFind(string name) => All.FirstOrDefault(e => e.Name == name.Trim().ToLowerInvariant());

    public static SolverEntry Find(string name) => TryFind(name) ?? throw new ArgumentException($"unknown solver '{name}': use one of {Names}.");

    /// <summary><c>boost</c>'s options: a name, a step count (0: the solver's default; adaptive solvers take none) and tolerances.</summary>
    public static SolverOptions Options(string name, int steps, double rtol, double atol, ErrorNorm norm = ErrorNorm.Batch, EndRule endRule = EndRule.Clip)
    {
        var e = Find(name);
        if (e.Adaptive)
        {
            if (steps != 0) throw new ArgumentException($"--steps is for fixed-step solvers; {e.Name} takes --rtol and --atol.");
            if (!(rtol > 0) || !(atol >= 0)) throw new ArgumentException("--rtol must be > 0 and --atol ≥ 0.");
            return new SolverOptions { Method = e.Method, Rtol = rtol, Atol = atol, Norm = norm, EndRule = endRule };
        }
        if (steps < 0) throw new ArgumentException("--steps must be positive.");
        return SolverOptions.Fixed(e.Method, steps == 0 ? e.DefaultSteps : steps);
    }

    /// <summary>
    /// <c>eval</c>'s syntax: "dopri5", "euler40", "rk4_10" (a fixed-step name, then its step count; a bare name takes
    /// its default count), optionally "@temperature" ("dopri5@0.5" → row name "dopri5_t0.5"; none: 1).
    /// </summary>
    public static (string name, SolverOptions solver, float temperature) ParseSpec(string spec, double rtol, double atol)
    {
        spec = spec.Trim().ToLowerInvariant();
        float temperature = 1f;
        string suffix = "";
        if (spec.IndexOf('@') is int at and >= 0)
        {
            string t = spec[(at + 1)..];
            if (!float.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out temperature) || !(temperature >= 0))
                throw new ArgumentException($"'{spec}': the temperature after '@' must be a number ≥ 0.");
            spec = spec[..at];
            suffix = "_t" + temperature.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var e in All.OrderByDescending(e => e.Name.Length))
        {
            if (!spec.StartsWith(e.Name, StringComparison.Ordinal)) continue;
            string count = spec[e.Name.Length..];
            if (e.Adaptive && count == "") return (e.Name + suffix, new SolverOptions { Method = e.Method, Rtol = rtol, Atol = atol }, temperature);
            if (e.Adaptive) continue;
            int n = e.DefaultSteps;
            if (count != "" && !(int.TryParse(count.StartsWith('_') ? count[1..] : count, NumberStyles.None, CultureInfo.InvariantCulture, out n) && n > 0)) continue;
            return ((char.IsDigit(e.Name[^1]) ? $"{e.Name}_{n}" : $"{e.Name}{n}") + suffix, SolverOptions.Fixed(e.Method, n), temperature);
        }
        throw new ArgumentException($"unknown solver '{spec}': use one of {Names}, a fixed-step one optionally followed by a step count (euler40, rk4_10), optionally @temperature (dopri5@0.5).");
    }
}
