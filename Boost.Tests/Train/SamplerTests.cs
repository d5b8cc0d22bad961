using Boost.Kernels;
using Boost.Tests.Kernels;
using Boost.Tests.Support;
using Boost.Train.Sampling;
using ILGPU.Runtime.Cuda;

namespace Boost.Tests.Train;

/// <summary>
/// The ODE samplers on analytic problems: error AND evaluation-count bounds. The expected dopri5 counts come from
/// a double-precision re-implementation of torchdiffeq's rules (rk_common.py, misc.py: same tableau, I controller
/// with safety 0.9, growth ≤ 10, shrink ≥ 0.2, no shrink after a success, Hairer's first step with order 4,
/// RMS norm over the batch, steps run past t1 and interpolate). Ours differs by default (EndRule.Clip) in clipping the last
/// step to t1 (stretching it by up to 1%), and always in its float32 state: the error estimate of the tiny first step is then
/// float noise (≈ 2e-5 instead of 5e-6 of the tolerance), so the step grows by ≈ 7× instead of 10× and a run can
/// need one step more. Hence the bounds: the double-precision count ± one step (6 evaluations).
/// </summary>
public class SamplerTests
{
    private static readonly double E1 = Math.Exp(-1);

    /// <summary>dx/dt = −rate·x on any device.</summary>
    private static Func<double, Tensor, Tensor> Decay(double rate = 1) => (_, x) => Elementwise.Affine(x, (float)-rate);

    /// <summary>A field evaluated on the host in double (CPU tests of non-elementwise systems).</summary>
    private static Func<double, Tensor, Tensor> Host(Func<double, double[], double[]> g)
        => (t, x) => Tensor.FromArray(x.Device, Array.ConvertAll(g(t, Array.ConvertAll(x.ToArray(), v => (double)v)), v => (float)v), x.Shape);

    private static Tensor Vec(params float[] v) => Tensor.FromArray(Device.Cpu, v, v.Length);

    // ------------------------------------------------------------------ tableaus

    /// <summary>
    /// The Runge–Kutta order conditions (Butcher trees up to order 5) in double: each tableau has exactly its declared
    /// order, and dopri5's embedded b̂ = b − e exactly order 4.
    /// </summary>
    [Test]
    public void Tableaus_SatisfyExactlyTheirOrderConditions()
    {
        foreach (var tab in new[] { ButcherTableau.Euler, ButcherTableau.Midpoint, ButcherTableau.Rk4, ButcherTableau.Rk4ThreeEighths, ButcherTableau.DormandPrince5 })
        {
            var b = tab.B.ToArray();
            Assert.That(OrderOf(tab, b), Is.EqualTo(tab.Order), $"{tab.Name}: order of b");
            if (tab.E is { } e)
                Assert.That(OrderOf(tab, b.Zip(e, (bi, ei) => bi - ei).ToArray()), Is.EqualTo(tab.EmbeddedOrder), $"{tab.Name}: order of b̂");
            Assert.That(tab.IsFsal, Is.EqualTo(tab == ButcherTableau.DormandPrince5), $"{tab.Name}: FSAL");
        }
        Assert.Throws<ArgumentException>(() => new ButcherTableau("bad", 2, [0, 0.5], [[], [0.4]], [0, 1]), "row sum ≠ c");
    }

    /// <summary>The highest p ≤ 5 whose conditions (Σ b·Φ(tree) = 1/γ(tree) for every tree of order ≤ p) all hold.</summary>
    private static int OrderOf(ButcherTableau tab, double[] b)
    {
        int s = tab.Stages;
        var c = tab.C.ToArray();
        double[] A(double[] v) { var r = new double[s]; for (int i = 0; i < s; i++) for (int j = 0; j < i; j++) r[i] += tab.A[i][j] * v[j]; return r; }
        double[] M(params double[][] vs) { var r = Enumerable.Repeat(1.0, s).ToArray(); foreach (var v in vs) for (int i = 0; i < s; i++) r[i] *= v[i]; return r; }
        double Sum(double[] v) { double r = 0; for (int i = 0; i < s; i++) r += b[i] * v[i]; return r; }
        var one = Enumerable.Repeat(1.0, s).ToArray();
        var c2 = M(c, c); var c3 = M(c, c, c); var Ac = A(c); var Ac2 = A(c2); var AAc = A(Ac);
        var conditions = new (int order, double lhs, double rhs)[]
        {
            (1, Sum(one), 1),
            (2, Sum(c), 1 / 2.0),
            (3, Sum(c2), 1 / 3.0), (3, Sum(Ac), 1 / 6.0),
            (4, Sum(c3), 1 / 4.0), (4, Sum(M(c, Ac)), 1 / 8.0), (4, Sum(Ac2), 1 / 12.0), (4, Sum(AAc), 1 / 24.0),
            (5, Sum(M(c3, c)), 1 / 5.0), (5, Sum(M(c2, Ac)), 1 / 10.0), (5, Sum(M(c, Ac2)), 1 / 15.0), (5, Sum(M(c, AAc)), 1 / 30.0),
            (5, Sum(M(Ac, Ac)), 1 / 20.0), (5, Sum(A(c3)), 1 / 20.0), (5, Sum(A(M(c, Ac))), 1 / 40.0), (5, Sum(A(Ac2)), 1 / 60.0),
            (5, Sum(A(AAc)), 1 / 120.0),
        };
        for (int p = 1; p <= 5; p++)
            if (conditions.Where(k => k.order == p).Any(k => Math.Abs(k.lhs - k.rhs) > 1e-13)) return p - 1;
        return 5;
    }

    /// <summary>One tensor step of every tableau on a nonlinear field against a scalar double twin of the same formulas.</summary>
    [Test]
    public void Step_MatchesDoubleTwin_OnANonlinearField()
    {
        static double G(double t, double x) => Math.Cos(t) * x - 0.5 * x * x * x;
        var data = Seeded.Floats(7, 6);
        foreach (var tab in new[] { ButcherTableau.Euler, ButcherTableau.Midpoint, ButcherTableau.Rk4, ButcherTableau.Rk4ThreeEighths, ButcherTableau.DormandPrince5 })
        {
            double t = 0.3, tNext = 0.45;
            using var x = Tensor.FromArray(Device.Cpu, data, 2, 3);
            var step = RungeKutta.Step(tab, Host((tt, v) => Array.ConvertAll(v, xi => G(tt, xi))), t, tNext, x);
            try
            {
                var wantX = new double[data.Length]; var wantErr = new double[data.Length]; var wantLast = new double[data.Length];
                for (int n = 0; n < data.Length; n++)
                {
                    int s = tab.Stages; double h = tNext - t;
                    var k = new double[s]; double xi = 0;
                    for (int i = 0; i < s; i++)
                    {
                        xi = data[n]; for (int j = 0; j < i; j++) xi += h * tab.A[i][j] * k[j];
                        k[i] = G(t + tab.C[i] * h, xi);
                    }
                    wantX[n] = data[n]; for (int i = 0; i < s; i++) wantX[n] += h * tab.B[i] * k[i];
                    if (tab.E is { } e) for (int i = 0; i < s; i++) wantErr[n] += h * e[i] * k[i];
                    wantLast[n] = k[s - 1];
                }
                Compare.Close(step.X.ToArray(), wantX, rtol: 1e-5, atol: 1e-6, what: $"{tab.Name} x(t+h)");
                Assert.That(step.Evaluations, Is.EqualTo(tab.Stages), $"{tab.Name} NFE");
                Assert.That(step.Error is null, Is.EqualTo(!tab.HasErrorEstimate), $"{tab.Name} error estimate present");
                if (step.Error is { } err)
                {
                    Assert.That(wantErr.Max(Math.Abs), Is.GreaterThan(1e-6), "the twin's error estimate must be testable");
                    Compare.Close(err.ToArray(), wantErr, rtol: 1e-3, atol: 1e-8, what: $"{tab.Name} error estimate");
                }
                Assert.That(step.KLast is null, Is.EqualTo(!tab.IsFsal), $"{tab.Name} FSAL stage returned");
                if (step.KLast is { } kl) Compare.Close(kl.ToArray(), wantLast, rtol: 1e-5, atol: 1e-6, what: $"{tab.Name} f(t+h, x(t+h))");
            }
            finally { step.X.Dispose(); step.Error?.Dispose(); step.KLast?.Dispose(); }
        }
    }

    // ------------------------------------------------------------------ fixed steps

    /// <summary>
    /// dx/dt = −x on [0, 1]: a p-th order method with p ≤ 4 stages multiplies x by R(−h) = Σₖ≤ₚ (−h)ᵏ/k! per step, so
    /// the float result must equal R(−h)ᴺ; halving h divides the error by ≈ 2ᵖ (2, 4, 16). NFE = stages·N.
    /// </summary>
    [TestCase("euler", 1, 16)]
    [TestCase("midpoint", 2, 8)]
    [TestCase("rk4", 4, 4)]
    [TestCase("rk38", 4, 4)]
    public void FixedStep_ExponentialDecay_ConvergesAtItsOrder(string method, int order, int n)
    {
        using var x0 = Vec(1f);
        var errors = new double[2];
        for (int r = 0; r < 2; r++)
        {
            int steps = n << r;
            using var res = Samplers.Solve(Decay(), x0, 0, 1, SolverOptions.Fixed(SolverRegistry.Find(method).Method, steps));
            double h = 1.0 / steps, R = 0, term = 1;
            for (int k = 0; k <= order; k++) { R += term; term *= -h / (k + 1); }
            double discrete = Math.Pow(R, steps), got = res.X.ToArray()[0];
            Assert.That(got, Is.EqualTo(discrete).Within(3e-7), $"{method} N={steps}: the float run vs the exact discrete solution R(−h)^N");
            Assert.That(res.Evaluations, Is.EqualTo(order * steps), $"{method} N={steps}: NFE");
            Assert.That(res.AcceptedSteps, Is.EqualTo(steps));
            Assert.That(res.Times, Has.Count.EqualTo(steps + 1));
            Assert.That(res.Times[^1], Is.EqualTo(1.0), "the grid ends exactly at t1");
            errors[r] = Math.Abs(got - E1);
        }
        double observed = Math.Log2(errors[0] / errors[1]);
        TestContext.Out.WriteLine($"{method}: errors {errors[0]:G3} (N={n}), {errors[1]:G3} (N={2 * n}); observed order {observed:F3}");
        Assert.That(observed, Is.EqualTo(order).Within(0.2), $"{method}: observed order");
    }

    /// <summary>
    /// x'' = −x as (x, v): after one period (2π) the state is back at (1, 0). RK4 with 64 steps (NFE 256) loses
    /// ≈ N·h⁶/72 ≈ 1e-6 of energy; dopri5 at 1e-6 needs 22 steps, NFE 134 (torchdiffeq's count, no rejections);
    /// with Hairer's PI controller (β = 0.04, same rules simulated in double) 25 steps, NFE 152: smoother, more cautious.
    /// </summary>
    [Test]
    public void HarmonicOscillator_OnePeriod_KeepsEnergyAndPhase()
    {
        var field = Host((_, y) => [y[1], -y[0]]);
        using var x0 = Vec(1f, 0f);
        foreach (var (options, nfeLo, nfeHi, tol) in new[]
        {
            (SolverOptions.Fixed(SolverMethod.Rk4, 64), 256, 256, 2e-5),
            (SolverOptions.Adaptive(1e-6, 1e-6), 134 - 6, 134 + 6, 2e-5),
            (SolverOptions.Adaptive(1e-6, 1e-6) with { PiBeta = 0.04 }, 152 - 6, 152 + 6, 2e-5),
        })
        {
            using var res = Samplers.Solve(field, x0, 0, 2 * Math.PI, options);
            var y = res.X.ToArray();
            double energy = y[0] * (double)y[0] + y[1] * (double)y[1], phase = Math.Atan2(y[1], y[0]);
            TestContext.Out.WriteLine($"{res} (PI β {options.PiBeta}): x {y[0]:G9} v {y[1]:G9}, energy − 1 = {energy - 1:G3}, phase {phase:G3}");
            Assert.That(energy, Is.EqualTo(1).Within(tol), $"{options.Method}: energy after one period");
            Assert.That(phase, Is.EqualTo(0).Within(tol), $"{options.Method}: phase after one period");
            Assert.That(res.Evaluations, Is.InRange(nfeLo, nfeHi), $"{options.Method}: NFE");
            Assert.That(res.RejectedSteps, Is.EqualTo(0));
            Assert.That(res.Times[^1], Is.EqualTo(2 * Math.PI));
        }
    }

    // ------------------------------------------------------------------ dopri5

    /// <summary>
    /// dx/dt = −x on [0, 1]. torchdiffeq's dopri5 (derived as in the class comment): rtol = atol = 1e-6 → 5 accepted
    /// steps, 0 rejected, NFE 32 = 2 (f(t0) and the initial-step probe) + 6 per step; 1e-5 → 4 steps, NFE 26.
    /// </summary>
    [TestCase(1e-6, 5, 32, 1e-6)]
    [TestCase(1e-5, 4, 26, 1e-5)]
    public void Dopri5_ExponentialDecay_ErrorAndTorchdiffeqCount(double tol, int torchSteps, int torchNfe, double maxError)
    {
        using var x0 = Vec(1f);
        using var res = Samplers.Solve(Decay(), x0, 0, 1, SolverOptions.Adaptive(tol, tol));
        double err = Math.Abs(res.X.ToArray()[0] - E1);
        TestContext.Out.WriteLine($"{res}; error {err:G3}; grid {string.Join(", ", res.Times.Select(t => t.ToString("G4")))}");
        Assert.That(err, Is.LessThan(maxError), "error at t = 1");
        Assert.That(res.Evaluations, Is.EqualTo(2 + 6 * (res.AcceptedSteps + res.RejectedSteps)), "NFE bookkeeping (FSAL: 6 per attempt)");
        Assert.That(res.Evaluations, Is.InRange(torchNfe - 6, torchNfe + 6), "NFE within one step of torchdiffeq");
        Assert.That(res.AcceptedSteps, Is.InRange(torchSteps - 1, torchSteps + 1));
        Assert.That(res.RejectedSteps, Is.EqualTo(0));
        Assert.That(res.Times[0], Is.EqualTo(0.0));
        Assert.That(res.Times[^1], Is.EqualTo(1.0), "the last step is clipped to end exactly at t1");
        Assert.That(res.Times.Zip(res.Times.Skip(1)).All(p => p.Second > p.First), "the grid increases");
    }

    /// <summary>
    /// x₁' = −x₁, x₂' = 49x₁ − 50x₂ (eigenvalues −1, −50), x(0) = (1, 2): x₁ = e⁻ᵗ, x₂ = e⁻ᵗ + e⁻⁵⁰ᵗ. The fast mode
    /// limits the step by stability long after it has decayed, so the controller probes, fails and shrinks.
    /// torchdiffeq at 1e-6: 30 accepted, 3 rejected, NFE 200; with the clipped last step 30/2, NFE 194.
    /// </summary>
    [Test]
    public void Dopri5_StiffishLinearSystem_RejectsStepsButStaysAccurate()
    {
        using var x0 = Vec(1f, 2f);
        using var res = Samplers.Solve(Host((_, y) => [-y[0], 49 * y[0] - 50 * y[1]]), x0, 0, 1, SolverOptions.Adaptive(1e-6, 1e-6));
        var y = res.X.ToArray();
        TestContext.Out.WriteLine($"{res}; x = ({y[0]:G9}, {y[1]:G9})");
        Assert.That(res.RejectedSteps, Is.InRange(1, 6), "the stability limit shows up as rejected steps");
        Assert.That(res.AcceptedSteps, Is.InRange(26, 34));
        Assert.That(res.Evaluations, Is.InRange(194 - 12, 200 + 12));
        Assert.That(y[0], Is.EqualTo(E1).Within(1e-5), "slow component");
        Assert.That(y[1], Is.EqualTo(E1 + Math.Exp(-50)).Within(1e-5), "coupled component");
    }

    /// <summary>
    /// A batch of two decays, rates 1 and 10 ([2, 3]). With the worst-sample norm the error is the worse sample's, so the batch
    /// takes exactly the steps of the fast decay alone (20, NFE 122); the batch norm averages in the easy sample
    /// (ratio ≈ 1/√2 of it) and takes fewer (19, NFE 116), yet at least the slow decay's 5.
    /// </summary>
    [Test]
    public void Dopri5_WorstSampleNorm_FollowsTheHardestSample_BatchNormAverages()
    {
        using var rates = Tensor.FromArray(Device.Cpu, [1f, 10f], 2, 1);
        Func<double, Tensor, Tensor> field = (_, x) =>
        {
            var y = Elementwise.Mul(x, rates);
            Elementwise.MapInto(y, new AffineOp(-1f, 0f), y);
            return y;
        };
        using var x0 = Tensor.Full(Device.Cpu, 1f, 2, 3);
        using var one0 = Tensor.Full(Device.Cpu, 1f, 1, 3);

        using var worst = Samplers.Solve(field, x0, 0, 1, SolverOptions.Adaptive(1e-6, 1e-6, ErrorNorm.WorstSample));
        using var batch = Samplers.Solve(field, x0, 0, 1, SolverOptions.Adaptive(1e-6, 1e-6, ErrorNorm.Batch));
        using var fastAlone = Samplers.Solve(Decay(10), one0, 0, 1, SolverOptions.Adaptive(1e-6, 1e-6));
        using var slowAlone = Samplers.Solve(Decay(1), one0, 0, 1, SolverOptions.Adaptive(1e-6, 1e-6));
        TestContext.Out.WriteLine($"worst-sample {worst}\nbatch {batch}\nfast alone {fastAlone}\nslow alone {slowAlone}");

        Assert.That(worst.Evaluations, Is.EqualTo(fastAlone.Evaluations), "worst-sample norm: steps of the hardest sample");
        Assert.That(fastAlone.Evaluations, Is.InRange(122 - 6, 122 + 6), "fast decay vs torchdiffeq");
        Assert.That(batch.Evaluations, Is.LessThan(worst.Evaluations), "batch norm: the easy sample relaxes the tolerance");
        Assert.That(batch.Evaluations, Is.GreaterThan(slowAlone.Evaluations));
        Assert.That(batch.Evaluations, Is.InRange(116 - 6, 116 + 6), "batch norm vs torchdiffeq");
        foreach (var (res, what) in new[] { (worst, "worst-sample"), (batch, "batch") })
        {
            var y = res.X.ToArray();
            for (int i = 0; i < 6; i++)
                Assert.That(y[i], Is.EqualTo(Math.Exp(i < 3 ? -1 : -10)).Within(i < 3 ? 2e-6 : 2e-7), $"{what}: element {i}");
        }
    }

    /// <summary>
    /// Integrating dx/dt = −x from t = 1 down to 0 starting at e⁻¹ gives x(0) = 1, with the same steps as the mirrored
    /// forward problem y' = +y on [0, 1], and a round trip returns to x0. torchdiffeq in double: 4 steps, NFE 26;
    /// ours (float32) takes 5, NFE 32: the first-step growth case described on the class.
    /// </summary>
    [TestCase("dopri5")]
    [TestCase("rk4")]
    public void TimeReversed_IntegratesBackwards(string method)
    {
        var options = method == "dopri5" ? SolverOptions.Adaptive(1e-6, 1e-6) : SolverOptions.Fixed(SolverRegistry.Find(method).Method, 16);
        using var xEnd = Vec((float)E1);
        using var back = Samplers.Solve(Decay(), xEnd, 1, 0, options);
        using var mirrored = Samplers.Solve(Decay(-1), xEnd, 0, 1, options);
        TestContext.Out.WriteLine($"backwards {back}; mirrored {mirrored}; grid {string.Join(", ", back.Times.Select(t => t.ToString("G4")))}");
        Assert.That(back.X.ToArray()[0], Is.EqualTo(1.0).Within(2e-6), "x(0)");
        Assert.That(back.Evaluations, Is.EqualTo(mirrored.Evaluations), "NFE equals the mirrored forward problem's");
        Assert.That(back.X.ToArray()[0], Is.EqualTo(mirrored.X.ToArray()[0]).Within(1e-7));
        if (method == "dopri5") Assert.That(back.Evaluations, Is.InRange(26 - 6, 26 + 6), "NFE vs torchdiffeq");
        Assert.That(back.Times[0], Is.EqualTo(1.0));
        Assert.That(back.Times[^1], Is.EqualTo(0.0), "ends exactly at t1");
        Assert.That(back.Times.Zip(back.Times.Skip(1)).All(p => p.Second < p.First), "the grid decreases");

        using var x0 = Seeded.Tensor(Device.Cpu, 3, 2, 5);
        using var forward = Samplers.Solve(Decay(), x0, 0, 1, options);
        using var roundTrip = Samplers.Solve(Decay(), forward.X, 1, 0, options);
        Compare.Close(roundTrip.X.ToArray(), x0.ToArray(), rtol: 1e-5, atol: 1e-6, what: $"{method} round trip");
    }

    /// <summary>Every tensor the field returns is disposed by the sampler; x0 is neither modified nor disposed.</summary>
    [TestCase("dopri5")]
    [TestCase("midpoint")]
    public void Solve_DisposesEveryDerivative_AndLeavesX0Alone(string method)
    {
        var made = new List<Tensor>();
        Func<double, Tensor, Tensor> field = (t, x) => { var d = Elementwise.Affine(x, -1f, (float)t); made.Add(d); return d; };
        var data = Seeded.Floats(5, 4);
        using var x0 = Tensor.FromArray(Device.Cpu, data, 4);
        var options = method == "dopri5" ? SolverOptions.Adaptive(1e-5, 1e-5) : SolverOptions.Fixed(SolverRegistry.Find(method).Method, 5);
        using (var res = Samplers.Solve(field, x0, 0, 1, options))
        {
            Assert.That(made, Has.Count.EqualTo(res.Evaluations), "NFE counts every call");
            Assert.That(made.All(d => d.IsDisposed), "every derivative disposed");
            Assert.That(res.X.IsDisposed, Is.False);
        }
        Assert.That(x0.IsDisposed, Is.False);
        Assert.That(x0.ToArray(), Is.EqualTo(data), "x0 unchanged");
    }

    /// <summary>The same solves on every backend (the error-norm ops run as ILGPU kernels) agree with the CPU run.</summary>
    [Test]
    public void Solve_OnEveryBackend_MatchesClosedForm([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        var data = Seeded.Floats(11, 2 * 3 * 5);
        var want = Array.ConvertAll(data, v => v * E1);
        foreach (var options in new[] { SolverOptions.Adaptive(1e-6, 1e-6, ErrorNorm.WorstSample), SolverOptions.Fixed(SolverMethod.Rk4, 8) })
        {
            using var xCpu = Tensor.FromArray(Device.Cpu, data, 2, 3, 5);
            using var x0 = Tensor.FromArray(dev, data, 2, 3, 5);
            using var onCpu = Samplers.Solve(Decay(), xCpu, 0, 1, options);
            using var res = Samplers.Solve(Decay(), x0, 0, 1, options);
            Assert.That(res.X.Device, Is.SameAs(dev));
            Compare.Close(res.X.ToArray(), want, rtol: 1e-5, atol: 1e-6, what: $"{backend} {options.Method} vs e⁻¹·x0");
            Compare.Close(res.X.ToArray(), onCpu.X.ToArray(), rtol: 1e-6, atol: 1e-7, what: $"{backend} {options.Method} vs cpu");
            Assert.That(res.Evaluations, Is.EqualTo(onCpu.Evaluations), $"{backend} {options.Method}: NFE as on the CPU");
        }
    }

    /// <summary>The error-norm operators live in Boost.Train, outside the PTX test's scan: compile their kernels here.</summary>
    [TestCase(typeof(ToleranceScaleOp))]
    [TestCase(typeof(ScaledSquareOp))]
    public void ErrorNormOperators_CompileToPtx(Type op)
    {
        var kernel = typeof(Elementwise).GetMethod(nameof(Elementwise.BinaryKernel))!.MakeGenericMethod(op);
        new PtxCompileTests().CompilesToPtx(kernel, CudaArchitecture.SM_80, CudaInstructionSet.ISA_70);
        new PtxCompileTests().CompilesToPtx(kernel, CudaArchitecture.SM_90, KernelCatalog.RuntimeIsa);
    }

    // ------------------------------------------------------------------ bad input

    [Test]
    public void BadOptions_FailClearly()
    {
        using var x0 = Vec(1f);
        var f = Decay();
        void Fails<T>(SolverOptions o, string fragment) where T : Exception
        {
            var e = Assert.Catch<T>(() => Samplers.Solve(f, x0, 0, 1, o).Dispose(), $"{o}");
            Assert.That(e!.Message, Does.Contain(fragment), $"{o}");
        }
        Fails<ArgumentException>(new SolverOptions { Method = (SolverMethod)99, Steps = 4 }, "unknown method 99; known: euler, midpoint, rk4, rk38, dopri5");
        Fails<ArgumentException>(SolverOptions.Fixed(SolverMethod.Rk4, 0), "needs Steps > 0, got 0");
        Fails<ArgumentException>(SolverOptions.Fixed(SolverMethod.Euler, -3), "needs Steps > 0, got -3");
        Fails<ArgumentException>(SolverOptions.Adaptive(0, 1e-6), "rtol must be a finite number > 0");
        Fails<ArgumentException>(SolverOptions.Adaptive(-1e-3, 1e-6), "rtol must be a finite number > 0");
        Fails<ArgumentException>(SolverOptions.Adaptive(1e-3, -1e-6), "atol must be a finite number ≥ 0");
        Fails<ArgumentException>(new SolverOptions { Method = SolverMethod.Dopri5, Steps = 10 }, "chooses its own steps");
        Fails<ArgumentException>(new SolverOptions { MaxSteps = 0 }, "MaxSteps must be > 0");
        Fails<ArgumentException>(new SolverOptions { FirstStep = -0.1 }, "FirstStep must be a finite |h| > 0");
        Fails<InvalidOperationException>(SolverOptions.Adaptive(1e-10, 1e-10) with { MaxSteps = 3 }, "reached MaxSteps = 3");

        Assert.That(Assert.Throws<InvalidOperationException>(() => Samplers.Solve((_, x) => Tensor.Zeros(x.Device, 2), x0, 0, 1, SolverOptions.Fixed(SolverMethod.Euler, 2)))!
            .Message, Does.Contain("returned [2] on").And.Contain("for a state [1] on"));
        Assert.Throws<ArgumentException>(() => Samplers.Solve(f, x0, 0, double.NaN, SolverOptions.Fixed(SolverMethod.Euler, 2)));
    }

    [Test]
    public void EmptyInterval_ReturnsACopyWithoutEvaluating()
    {
        using var x0 = Vec(0.5f, -1.5f);
        using var res = Samplers.Solve((_, _) => throw new AssertionException("f must not run"), x0, 0.25, 0.25, SolverOptions.Adaptive(1e-6, 1e-6));
        Assert.That(res.X, Is.Not.SameAs(x0));
        Assert.That(res.X.ToArray(), Is.EqualTo(new[] { 0.5f, -1.5f }));
        Assert.That(res.Evaluations, Is.EqualTo(0));
        Assert.That(res.Times, Is.EqualTo(new[] { 0.25 }));
    }
}
