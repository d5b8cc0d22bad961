namespace Boost.Train.Sampling;

/// <summary>
/// An explicit Runge–Kutta method as data (torchdiffeq's <c>_ButcherTableau</c>): stage times <see cref="C"/>,
/// the strictly lower-triangular stage matrix <see cref="A"/> (row i has i entries), solution weights
/// <see cref="B"/> and, for embedded pairs, error weights <see cref="E"/> = b − b̂ (the difference between the
/// propagated solution and the embedded one of order <see cref="EmbeddedOrder"/>). One routine,
/// <see cref="RungeKutta.Step"/>, runs them all. Coefficients are double; the stepper casts h·aᵢⱼ to float.
/// </summary>
public sealed class ButcherTableau
{
    public string Name { get; }
    /// <summary>Order of the propagated solution.</summary>
    public int Order { get; }
    /// <summary>Order of the embedded solution (0 when there is none).</summary>
    public int EmbeddedOrder { get; }
    public IReadOnlyList<double> C => _c;
    public IReadOnlyList<IReadOnlyList<double>> A => _a;
    public IReadOnlyList<double> B => _b;
    /// <summary>b − b̂, or null for a method without an error estimate.</summary>
    public IReadOnlyList<double>? E => _e;

    // Raw arrays for the stepper (never handed out: the tableaus are shared, immutable singletons).
    internal double[] CArray => _c;
    internal double[][] AArray => _a;
    internal double[] BArray => _b;
    internal double[]? EArray => _e;
    internal double[]? MidArray => _mid;
    /// <summary>Weights m of the midpoint estimate x(t + h/2) ≈ x + h·Σ mᵢkᵢ, for dense output (torchdiffeq's
    /// <c>c_mid</c>); null when the method has none.</summary>
    public IReadOnlyList<double>? Mid => _mid;
    /// <summary>Has <see cref="Mid"/> and is FSAL: a step yields x, f at both ends and the midpoint, enough for the
    /// fourth-order interpolant <see cref="Samplers"/> uses to end exactly at t1 after stepping past it.</summary>
    public bool HasDenseOutput => _mid is not null && IsFsal;
    public int Stages => _c.Length;
    public bool HasErrorEstimate => _e is not null;

    /// <summary>
    /// First Same As Last: the last stage is evaluated at t + h on the new solution (c = 1, its A row equals b),
    /// so its derivative is the next step's first stage and each accepted step costs one evaluation less.
    /// </summary>
    public bool IsFsal { get; }

    private readonly double[] _c, _b;
    private readonly double[][] _a;
    private readonly double[]? _e, _mid;

    public ButcherTableau(string name, int order, double[] c, double[][] a, double[] b, double[]? e = null, int embeddedOrder = 0, double[]? mid = null)
    {
        int s = c.Length;
        if (s == 0 || a.Length != s || b.Length != s || (e is not null && e.Length != s))
            throw new ArgumentException($"Tableau {name}: c, A, b (and e) must all have one entry per stage ({s}).");
        for (int i = 0; i < s; i++)
        {
            if (a[i].Length != i) throw new ArgumentException($"Tableau {name}: row {i} of A must have {i} entries (explicit method), has {a[i].Length}.");
            // Consistency Σⱼ aᵢⱼ = cᵢ: a mistyped coefficient shows up here rather than as a lost order.
            if (Math.Abs(a[i].Sum() - c[i]) > 1e-12) throw new ArgumentException($"Tableau {name}: row {i} of A sums to {a[i].Sum()}, c is {c[i]}.");
        }
        if (Math.Abs(b.Sum() - 1) > 1e-12) throw new ArgumentException($"Tableau {name}: b sums to {b.Sum()}, not 1.");
        if (e is not null && Math.Abs(e.Sum()) > 1e-12) throw new ArgumentException($"Tableau {name}: e = b − b̂ sums to {e.Sum()}, not 0.");
        if (mid is not null && (mid.Length != s || Math.Abs(mid.Sum() - 0.5) > 1e-12)) throw new ArgumentException($"Tableau {name}: midpoint weights need one entry per stage and must sum to 1/2.");
        if (e is not null && embeddedOrder <= 0) throw new ArgumentException($"Tableau {name}: an error estimate needs its embedded order.");

        Name = name; Order = order; EmbeddedOrder = e is null ? 0 : embeddedOrder;
        _c = (double[])c.Clone(); _b = (double[])b.Clone(); _e = (double[]?)e?.Clone(); _mid = (double[]?)mid?.Clone();
        _a = a.Select(r => (double[])r.Clone()).ToArray();
        IsFsal = s > 1 && c[s - 1] == 1 && b[s - 1] == 0 && a[s - 1].SequenceEqual(b.Take(s - 1));
    }

    /// <summary>Forward Euler: one stage, order 1.</summary>
    public static readonly ButcherTableau Euler = new("euler", 1, [0], [[]], [1]);

    /// <summary>Explicit midpoint: order 2, two stages.</summary>
    public static readonly ButcherTableau Midpoint = new("midpoint", 2, [0, 0.5], [[], [0.5]], [0, 1]);

    /// <summary>The classic fourth-order method, weights 1/6, 1/3, 1/3, 1/6.</summary>
    public static readonly ButcherTableau Rk4 = new("rk4", 4,
        [0, 0.5, 0.5, 1],
        [[], [0.5], [0, 0.5], [0, 0, 1]],
        [1 / 6.0, 1 / 3.0, 1 / 3.0, 1 / 6.0]);

    /// <summary>Kutta's 3/8 rule: fourth order, weights 1/8, 3/8, 3/8, 1/8 (torchdiffeq's "rk4" uses it).</summary>
    public static readonly ButcherTableau Rk4ThreeEighths = new("rk38", 4,
        [0, 1 / 3.0, 2 / 3.0, 1],
        [[], [1 / 3.0], [-1 / 3.0, 1], [1, -1, 1]],
        [1 / 8.0, 3 / 8.0, 3 / 8.0, 1 / 8.0]);

    /// <summary>
    /// Dormand–Prince 5(4): 7 stages, FSAL, propagates the fifth-order solution (local extrapolation);
    /// e = b₅ − b̂₄ estimates the error of the embedded fourth-order one. b̂ is the one torchdiffeq uses
    /// (its <c>_DORMAND_PRINCE_SHAMPINE_TABLEAU</c>), so step counts match it; Hairer's original b̂ (scipy's RK45,
    /// MATLAB's ode45) is another fourth-order choice whose estimate is about 1.5× larger.
    /// </summary>
    public static readonly ButcherTableau DormandPrince5 = new("dopri5", 5,
        [0, 1 / 5.0, 3 / 10.0, 4 / 5.0, 8 / 9.0, 1, 1],
        [
            [],
            [1 / 5.0],
            [3 / 40.0, 9 / 40.0],
            [44 / 45.0, -56 / 15.0, 32 / 9.0],
            [19372 / 6561.0, -25360 / 2187.0, 64448 / 6561.0, -212 / 729.0],
            [9017 / 3168.0, -355 / 33.0, 46732 / 5247.0, 49 / 176.0, -5103 / 18656.0],
            [35 / 384.0, 0, 500 / 1113.0, 125 / 192.0, -2187 / 6784.0, 11 / 84.0],
        ],
        [35 / 384.0, 0, 500 / 1113.0, 125 / 192.0, -2187 / 6784.0, 11 / 84.0, 0],
        [
            35 / 384.0 - 1951 / 21600.0,
            0,
            500 / 1113.0 - 22642 / 50085.0,
            125 / 192.0 - 451 / 720.0,
            -2187 / 6784.0 + 12231 / 42400.0,
            11 / 84.0 - 649 / 6300.0,
            -1 / 60.0,
        ],
        embeddedOrder: 4,
        // torchdiffeq's DPS_C_MID (Shampine's dense output at h/2).
        mid:
        [
            6025192743 / 30085553152.0 / 2, 0, 51252292925 / 65400821598.0 / 2, -2691868925 / 45128329728.0 / 2,
            187940372067 / 1594534317056.0 / 2, -1776094331 / 19743644256.0 / 2, 11237099 / 235043384.0 / 2,
        ]);

    public override string ToString() => $"{Name} (order {Order}{(HasErrorEstimate ? $"({EmbeddedOrder})" : "")}, {Stages} stages{(IsFsal ? ", FSAL" : "")})";
}
