using Boost.Autograd;
using Boost.Autograd.Optim;
using Boost.Kernels;
using Boost.Tests.Support;

namespace Boost.Tests.Autograd;

/// <summary>The flat parameter arena: one-launch AdamW and EMA, one-read gradient norm, against the per-tensor path.</summary>
public class ArenaTests
{
    private static readonly int[][] Shapes = [[3, 4], [3], [2, 3, 3], [5], [6]];

    private static List<Parameter> MakeParams(Device d) => Shapes.Select((s, i) => new Parameter(Seeded.Tensor(d, 100 + i, s), $"p{i}")).ToList();

    /// <summary>A loss over all parameters (the last only when <paramref name="useLast"/>): a linear layer, and
    /// parameters used twice so their gradient has two contributions.</summary>
    private static void Backward(List<Parameter> p, Device d, int step, bool useLast = true)
    {
        using var tape = Tape.Record();
        var x = Ops.Constant(Seeded.Tensor(d, 200 + step, 2, 4));
        var target = Ops.Constant(Seeded.Tensor(d, 300 + step, 2, 3));
        var loss = Ops.MseLoss(Ops.Linear(x, p[0], p[1]), target);
        loss = Ops.Add(loss, Ops.Affine(Ops.SumAll(Ops.Mul(Ops.SiLU(p[2]), p[2])), 0.01f));
        loss = Ops.Add(loss, Ops.SumAll(Ops.Mul(p[3], p[3])));
        if (useLast) loss = Ops.Add(loss, Ops.SumAll(Ops.Affine(p[4], 0.5f)));
        tape.Backward(loss);
    }

    private static void AssertBitEqual(IReadOnlyList<Tensor> a, IReadOnlyList<Tensor> b, string what)
    {
        Assert.That(a.Count, Is.EqualTo(b.Count));
        for (int i = 0; i < a.Count; i++)
        {
            var x = a[i].ToArray(); var y = b[i].ToArray();
            Assert.That(Array.ConvertAll(x, BitConverter.SingleToInt32Bits), Is.EqualTo(Array.ConvertAll(y, BitConverter.SingleToInt32Bits)), $"{what}[{i}]");
        }
    }

    private static void AssertClose(IReadOnlyList<Tensor> a, IReadOnlyList<Tensor> b, double tol, string what)
    {
        for (int i = 0; i < a.Count; i++)
            Assert.That(a[i].ToArray(), Is.EqualTo(b[i].ToArray()).Within(tol), $"{what}[{i}]");
    }

    private static IReadOnlyList<Tensor> Values(List<Parameter> p) => p.Select(q => q.Value).ToList();

    /// <summary>Runs <paramref name="steps"/> AdamW + EMA steps on the simulator with and without an arena; the
    /// per-step usage of the last parameter follows <paramref name="useLast"/>.</summary>
    private static void CompareWithPerTensor(float maxGradNorm, Func<int, bool> useLast, bool bitExact, string backend = Backends.Sim)
    {
        var d = Backends.Get(backend);
        var plain = MakeParams(d); var flat = MakeParams(d);
        using var arena = new ParameterArena(flat);
        using var optPlain = new AdamW(plain) { MaxGradNorm = maxGradNorm, WeightDecay = 0.1f };
        using var optFlat = new AdamW(flat) { MaxGradNorm = maxGradNorm, WeightDecay = 0.1f };
        using var emaPlain = new Ema(plain, 0.9f);
        using var emaFlat = new Ema(flat, 0.9f);
        Assert.That(optFlat.Arena, Is.SameAs(arena));
        Assert.That(optPlain.Arena, Is.Null);
        try
        {
            for (int step = 0; step < 4; step++)
            {
                foreach (var p in plain.Concat(flat)) p.ZeroGrad();
                Backward(plain, d, step, useLast(step));
                Backward(flat, d, step, useLast(step));
                Assert.That(flat[4].Grad is null, Is.EqualTo(!useLast(step)));
                double nPlain = optPlain.Update(1e-2f), nFlat = optFlat.Update(1e-2f);
                Assert.That(nFlat, Is.EqualTo(nPlain).Within(1e-5 * nPlain), $"norm at step {step}");
                emaPlain.Update(); emaFlat.Update();
            }
            if (bitExact)
            {
                AssertBitEqual(Values(flat), Values(plain), "value");
                AssertBitEqual(optFlat.ExpAvg, optPlain.ExpAvg, "exp_avg");
                AssertBitEqual(optFlat.ExpAvgSq, optPlain.ExpAvgSq, "exp_avg_sq");
                AssertBitEqual(emaFlat.Shadow, emaPlain.Shadow, "ema");
            }
            else
            {
                AssertClose(Values(flat), Values(plain), 1e-5, "value");
                AssertClose(optFlat.ExpAvg, optPlain.ExpAvg, 1e-5, "exp_avg");
                AssertClose(optFlat.ExpAvgSq, optPlain.ExpAvgSq, 1e-6, "exp_avg_sq");
                AssertClose(emaFlat.Shadow, emaPlain.Shadow, 1e-5, "ema");
            }
        }
        finally
        {
            foreach (var p in plain.Concat(flat)) p.Dispose();
        }
    }

    [Test]
    public void Arena_AdamWAndEma_BitIdenticalToPerTensor([ValueSource(typeof(Backends), nameof(Backends.Ilgpu))] string backend)
        => CompareWithPerTensor(0f, _ => true, bitExact: true, backend);

    [Test]
    public void Arena_Clipping_MatchesPerTensor()
    {
        // The clip scale comes from the norm, whose summation order differs: equal within rounding, not bit for bit.
        CompareWithPerTensor(0.05f, _ => true, bitExact: false);
    }

    [Test]
    public void Arena_ParameterWithoutGradient_IsLeftUntouched_AsPerTensor()
    {
        // Step 1 has no gradient for the last parameter: AdamW must skip it (no decay, no moment update), and its stale
        // slot must neither count in the norm nor leak into step 2's gradient.
        CompareWithPerTensor(0f, step => step != 1, bitExact: true);
    }

    [Test]
    public void Arena_StaleParameter_KeepsValueAndMoments()
    {
        var d = Backends.Get(Backends.Sim);
        var p = MakeParams(d);
        try
        {
            using var arena = new ParameterArena(p);
            using var opt = new AdamW(p);
            Backward(p, d, 0);
            opt.Update(1e-2f);
            foreach (var q in p) q.ZeroGrad();
            var before = p[4].Value.ToArray(); var m = opt.ExpAvg[4].ToArray(); var v = opt.ExpAvgSq[4].ToArray();
            Backward(p, d, 1, useLast: false);
            opt.Update(1e-2f);
            Assert.That(p[4].Value.ToArray(), Is.EqualTo(before));
            Assert.That(opt.ExpAvg[4].ToArray(), Is.EqualTo(m));
            Assert.That(opt.ExpAvgSq[4].ToArray(), Is.EqualTo(v));
            using var initial = Seeded.Tensor(Device.Cpu, 103, 5);
            Assert.That(p[3].Value.ToArray(), Is.Not.EqualTo(initial.ToArray()));
        }
        finally { foreach (var q in p) q.Dispose(); }
    }

    [Test]
    public void Arena_MatchesCpuPerTensor_WithinRounding()
    {
        var sim = Backends.Get(Backends.Sim);
        var onCpu = MakeParams(Device.Cpu); var onSim = MakeParams(sim);
        try
        {
            Assert.That(ParameterArena.TryAdopt(onCpu), Is.Null, "no arena on the managed CPU device");
            Assert.Throws<ArgumentException>(() => new ParameterArena(onCpu));
            using var arena = ParameterArena.TryAdopt(onSim);
            Assert.That(arena, Is.Not.Null);
            using var optCpu = new AdamW(onCpu); using var optSim = new AdamW(onSim);
            using var emaCpu = new Ema(onCpu); using var emaSim = new Ema(onSim);
            for (int step = 0; step < 3; step++)
            {
                foreach (var p in onCpu.Concat(onSim)) p.ZeroGrad();
                Backward(onCpu, Device.Cpu, step); Backward(onSim, sim, step);
                double a = optCpu.Update(1e-2f), b = optSim.Update(1e-2f);
                Assert.That(b, Is.EqualTo(a).Within(1e-4 * a));
                emaCpu.Update(); emaSim.Update();
            }
            AssertClose(Values(onSim), Values(onCpu), 1e-4, "value");
            AssertClose(emaSim.Shadow, emaCpu.Shadow, 1e-4, "ema");
        }
        finally { foreach (var p in onCpu.Concat(onSim)) p.Dispose(); }
    }

    [Test]
    public void GradNorm_EqualsPerTensorNorm()
    {
        var d = Backends.Get(Backends.Sim);
        var p = MakeParams(d);
        try
        {
            Backward(p, d, 0);
            using var perTensor = new AdamW(p);
            double expected = perTensor.GradNorm();
            using var arena = new ParameterArena(p); // adopts the gradients already there
            using var opt = new AdamW(p);
            Assert.That(opt.GradNorm(), Is.EqualTo(expected).Within(1e-6 * expected));
            double sum = p.Sum(q => q.Grad!.ToArray().Sum(x => (double)x * x));
            Assert.That(opt.GradNorm(), Is.EqualTo(Math.Sqrt(sum)).Within(1e-5 * expected));
        }
        finally { foreach (var q in p) q.Dispose(); }
    }

    /// <summary>Launches and host reads of one AdamW update and one EMA update over <paramref name="count"/> parameters.</summary>
    private static (CounterSnapshot adam, CounterSnapshot ema, CounterSnapshot backward) CountStep(int count, bool arena, string backend)
    {
        var d = Backends.Get(backend);
        var p = Enumerable.Range(0, count).Select(i => new Parameter(Seeded.Tensor(d, 400 + i, 7))).ToList();
        try
        {
            using var a = arena ? new ParameterArena(p) : null;
            using var opt = new AdamW(p) { MaxGradNorm = 1f };
            using var ema = new Ema(p);
            CounterSnapshot adam = default, emaCount = default, backward = default;
            for (int step = 0; step < 2; step++)
            {
                foreach (var q in p) q.ZeroGrad();
                var s0 = d.Counters.Snapshot();
                using (var tape = Tape.Record())
                {
                    var loss = Ops.SumAll(Ops.Mul(p[0], p[0]));
                    for (int i = 1; i < count; i++) loss = Ops.Add(loss, Ops.SumAll(Ops.Mul(p[i], p[i])));
                    tape.Backward(loss);
                }
                var s1 = d.Counters.Snapshot();
                opt.Update(1e-3f);
                var s2 = d.Counters.Snapshot();
                ema.Update();
                var s3 = d.Counters.Snapshot();
                (backward, adam, emaCount) = (s1 - s0, s2 - s1, s3 - s2);
            }
            return (adam, emaCount, backward);
        }
        finally { foreach (var q in p) q.Dispose(); }
    }

    [Test]
    public void Arena_OneHostReadPerStep_AndLaunchesIndependentOfParameterCount([ValueSource(typeof(Backends), nameof(Backends.Ilgpu))] string backend)
    {
        // 12 and 48 parameters of 7 floats: the flat reduction takes its two-pass form for both sizes.
        var (adam12, ema12, back12) = CountStep(12, arena: true, backend);
        var (adam48, ema48, _) = CountStep(48, arena: true, backend);
        TestContext.Out.WriteLine($"arena, 12 params: AdamW {adam12}; EMA {ema12}; backward {back12}");
        TestContext.Out.WriteLine($"arena, 48 params: AdamW {adam48}; EMA {ema48}");
        Assert.That(adam12.HostReads, Is.EqualTo(1));
        Assert.That(adam48.HostReads, Is.EqualTo(1));
        Assert.That(adam48.Launches, Is.EqualTo(adam12.Launches));
        Assert.That(adam12.Launches, Is.LessThanOrEqualTo(5)); // reduction (≤ 2 passes, poisoned outputs in tests) + 1 update
        Assert.That(ema12.Launches, Is.EqualTo(1));
        Assert.That(ema48.Launches, Is.EqualTo(1));
        Assert.That(ema48.HostReads, Is.EqualTo(0));

        var (adamPlain, emaPlain, backPlain) = CountStep(12, arena: false, backend);
        TestContext.Out.WriteLine($"per tensor, 12 params: AdamW {adamPlain}; EMA {emaPlain}; backward {backPlain}");
        Assert.That(adamPlain.HostReads, Is.EqualTo(12));
        Assert.That(emaPlain.Launches, Is.EqualTo(12));
        Assert.That(back12.DeviceCopies - backPlain.DeviceCopies, Is.EqualTo(12), "each first gradient contribution is copied into its slot");
        Assert.That(back12.Launches, Is.EqualTo(backPlain.Launches));
    }

    [Test]
    public void Counters_CountLaunchesAndHostReads_OnIlgpuOnly()
    {
        var d = Backends.Get(Backends.Sim);
        using var t = Tensor.Zeros(d, 10);
        var s0 = d.Counters.Snapshot();
        t.Fill(2f);
        using var u = Elementwise.Add(t, t);
        var s1 = d.Counters.Snapshot();
        Assert.That((s1 - s0).Launches, Is.EqualTo(Tensor.PoisonNewTensors ? 3 : 2)); // fill, (poison of u,) add
        Assert.That(u.ToArray(), Is.All.EqualTo(4f));
        Assert.That((d.Counters.Snapshot() - s1).HostReads, Is.EqualTo(1));
        var c0 = Device.Cpu.Counters.Snapshot();
        using var c = Tensor.Full(Device.Cpu, 1f, 4);
        c.ToArray();
        Assert.That(Device.Cpu.Counters.Snapshot(), Is.EqualTo(c0));
    }

    [Test]
    public void Counters_Reset()
    {
        using var d = IlgpuDevice.CreateSimulator();
        using var t = Tensor.Zeros(d, 4);
        t.ToArray();
        Assert.That(d.Counters.Launches, Is.GreaterThan(0));
        Assert.That(d.Counters.HostReads, Is.EqualTo(1));
        d.Counters.Reset();
        Assert.That(d.Counters.Snapshot(), Is.EqualTo(default(CounterSnapshot)));
    }

    // ---------------------------------------------------------------- offset views

    [TestCase(Backends.Cpu)]
    [TestCase(Backends.Sim)]
    public void Slice_ReadsAndWritesItsRange(string backend)
    {
        var d = Backends.Get(backend);
        var data = Enumerable.Range(0, 20).Select(i => (float)i).ToArray();
        using var t = Tensor.FromArray(d, data, 20);
        using var s = t.Slice(5, 2, 3);
        Assert.That(s.Offset, Is.EqualTo(5));
        Assert.That(s.ToArray(), Is.EqualTo(data[5..11]));
        s.CopyFrom([-1f, -2f, -3f, -4f, -5f, -6f]);
        var all = t.ToArray();
        Assert.That(all[..5], Is.EqualTo(data[..5]));
        Assert.That(all[5..11], Is.EqualTo(new[] { -1f, -2f, -3f, -4f, -5f, -6f }));
        Assert.That(all[11..], Is.EqualTo(data[11..]));
        using var src = Tensor.FromArray(d, [9f, 8f, 7f, 6f, 5f, 4f], 6);
        s.CopyFrom(src);
        Assert.That(t.ToArray()[5..11], Is.EqualTo(new[] { 9f, 8f, 7f, 6f, 5f, 4f }));
        using var r = s.Reshape(6);
        Assert.That(r.Offset, Is.EqualTo(5));
        Assert.That(r.ToArray(), Is.EqualTo(new[] { 9f, 8f, 7f, 6f, 5f, 4f }));
        using var nested = s.Slice(2, 2);
        Assert.That(nested.Offset, Is.EqualTo(7));
        Assert.That(nested.ToArray(), Is.EqualTo(new[] { 7f, 6f }));
        using var copy = s.Clone();
        Assert.That(copy.Offset, Is.EqualTo(0));
        Assert.That(copy.ToArray(), Is.EqualTo(s.ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(15, 6));
    }

    [Test]
    public void Slice_OpsConsumeAndProduceIntoViews_OnIlgpu()
    {
        var d = Backends.Get(Backends.Sim);
        var data = Seeded.Floats(7, 40);
        using var t = Tensor.FromArray(d, data, 40);
        using var a = t.Slice(3, 2, 3);
        using var b = t.Slice(20, 3, 4);
        using var sum = Elementwise.Add(a, a);
        Assert.That(sum.ToArray(), Is.EqualTo(data[3..9].Select(x => x + x).ToArray()));
        using var ss = Reduce.SumOfSquares(b);
        Assert.That(ss.ToArray()[0], Is.EqualTo(data[20..32].Sum(x => x * x)).Within(1e-4));
        using var c = MatMul.Gemm(a, b);
        using var aCpu = Tensor.FromArray(Device.Cpu, data[3..9], 2, 3);
        using var bCpu = Tensor.FromArray(Device.Cpu, data[20..32], 3, 4);
        using var cCpu = MatMul.Gemm(aCpu, bCpu);
        Assert.That(c.ToArray(), Is.EqualTo(cCpu.ToArray()).Within(1e-5));
        // Writing through a view: an in-place update touches its range only.
        using var w = t.Slice(10, 5);
        w.Fill(1f);
        var all = t.ToArray();
        Assert.That(all[10..15], Is.All.EqualTo(1f));
        Assert.That(all[..10], Is.EqualTo(data[..10]));
        Assert.That(all[15..], Is.EqualTo(data[15..]));
    }

    [Test]
    public void CpuBackend_RefusesOffsetViews()
    {
        using var t = Tensor.FromArray(Device.Cpu, Seeded.Floats(8, 12), 12);
        using var s = t.Slice(4, 4);
        Assert.Throws<NotSupportedException>(() => Elementwise.Add(s, s).Dispose());
        Assert.Throws<NotSupportedException>(() => s.Fill(0f));
        using var head = t.Slice(0, 4);
        using var y = Elementwise.Add(head, head);
        Assert.That(y.ToArray(), Is.EqualTo(t.ToArray()[..4].Select(x => x + x).ToArray()));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Slice_DisposalInEitherOrder(bool parentFirst)
    {
        var d = Backends.Get(Backends.Sim);
        var t = Tensor.FromArray(d, Seeded.Floats(9, 16), 16);
        var s = t.Slice(8, 8);
        var expected = t.ToArray()[8..];
        if (parentFirst) t.Dispose(); else s.Dispose();
        if (parentFirst) Assert.That(s.ToArray(), Is.EqualTo(expected));
        else Assert.That(t.ToArray()[8..], Is.EqualTo(expected));
        Assert.Throws<ObjectDisposedException>(() => (parentFirst ? t : s).ToArray());
        if (parentFirst) s.Dispose(); else t.Dispose();
        Assert.That(t.Storage.IsAlive, Is.False);
    }

    [Test]
    public void Arena_ParametersOutliveIt_AndItOutlivesDisposedParameters()
    {
        var d = Backends.Get(Backends.Sim);
        var p = MakeParams(d);
        var expected = p.Select(q => q.Value.ToArray()).ToArray();
        var arena = new ParameterArena(p);
        for (int i = 0; i < p.Count; i++)
        {
            Assert.That(p[i].Value.Offset, Is.EqualTo(arena.Offset(i)));
            Assert.That(arena.Offset(i) % ParameterArena.Alignment, Is.EqualTo(0));
            Assert.That(p[i].Value.ToArray(), Is.EqualTo(expected[i]));
        }
        Backward(p, d, 0);
        Assert.That(p[0].Grad!.Offset, Is.EqualTo(arena.Offset(0)), "the gradient lands in the flat buffer");
        p[1].Dispose(); // a parameter disposed before its arena
        using (var opt = new AdamW(p)) opt.Update(1e-3f);
        arena.Dispose();
        Assert.That(p[0].Value.ToArray(), Is.Not.EqualTo(expected[0]));
        Assert.That(p[0].Grad, Is.Not.Null, "a gradient of this step stays with its parameter");
        // After the arena: parameters own their views and gradients, and the old rules apply.
        foreach (var q in p) q.ZeroGrad();
        using (var stand = new Parameter(Seeded.Tensor(d, 1, 3)))
            Backward(p.Select((q, i) => i == 1 ? stand : q).ToList(), d, 1);
        Assert.That(p[0].Grad!.Offset, Is.EqualTo(0));
        foreach (var q in p) q.Dispose();
    }

    [Test]
    public void Arena_SetValueCopiesIntoTheView_AndCheckpointAccessorsWork()
    {
        var d = Backends.Get(Backends.Sim);
        var p = MakeParams(d);
        try
        {
            using var arena = new ParameterArena(p);
            using var opt = new AdamW(p);
            using var ema = new Ema(p);
            var view = p[2].Value;
            var fresh = Seeded.Floats(55, 18);
            p[2].SetValue(Tensor.FromArray(d, fresh, 2, 3, 3));
            Assert.That(p[2].Value, Is.SameAs(view));
            Assert.That(arena.Values.ToArray()[(int)arena.Offset(2)..][..18], Is.EqualTo(fresh));
            opt.ExpAvg[3].CopyFrom([1f, 2f, 3f, 4f, 5f]);
            Assert.That(opt.ExpAvg[3].ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f, 5f }));
            Assert.That(opt.ExpAvg[4].ToArray(), Is.All.EqualTo(0f));
            Assert.That(ema.Shadow[2].ToArray(), Is.Not.EqualTo(fresh), "the shadow was taken before");
        }
        finally { foreach (var q in p) q.Dispose(); }
    }
}
