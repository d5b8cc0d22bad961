using System.Diagnostics;
using System.Text.Json;
using Boost.Kernels;
using Upsample = Boost.Kernels.Upsample;

namespace Boost.Bench;

/// <summary>
/// A device check: every op family at the model's real shapes (Cases.cs) run on the chosen device and on the managed
/// CPU backend (itself tested against the double twins), outputs compared element by element.
///
/// Usage: <c>dotnet run -c Release --project Boost.Bench -- --check [--small] --device cuda [--json F]</c>, or on a machine
/// without the .NET SDK the GPU runner (scripts/gpu-run.sh): <c>boost-gpu check --shapes small|odd|real --json F</c>;
/// <c>--device ilgpu-cpu</c> with small shapes proves the logic without a GPU.
/// Prints one table (op, shape, max abs err, max rel err, worst index, err/tol, device ms, cpu ms, PASS/FAIL) and
/// returns 1 if any row fails. Times are the median of 5 runs after one warm-up, each ended by Synchronize().
///
/// Inputs: seeded uniform [-2, 2] made on the CPU and copied to the device (Tensor.To).
/// Rule: |a − r| ≤ atol + rtol·|r| for every element, with K the length of the reduction behind the output
/// (1 for pure element maps and copies; Cin·k² for conv, the inner dim for GEMM, the group size for GroupNorm, ...):
///   rtol = 1e-5·√K,  atol = rtol·rms(r)
/// float32 summation error grows about as √K·ε·(size of the terms), and rms(r) stands for the terms' size, so a
/// correct kernel with another summation order lands ~100x inside the bound while a wrong index or a lost term
/// (errors of order rms(r)) does not. Ops built on exp/log/sin/cos count at least K = 16: GPU fast intrinsics are a
/// few ulp per call. "max rel err" is |a − r| / max(|r|, rms(r)) so near-zero references do not blow it up.
/// </summary>
public static class GpuCheck
{
    /// <summary>One case: <paramref name="Setup"/> gets the inputs on a device (and a list for tensors it must keep
    /// alive, disposed after the case) and returns the timed action, which returns fresh outputs.</summary>
    private sealed record Case(string Op, string Shape, string[] Outputs, int[] Reduce, int[][] Inputs,
        Func<Device, Tensor[], List<IDisposable>, Func<Tensor[]>> Setup);

    public sealed record Row(string Op, string Shape, double MaxAbs, double MaxRel, string WorstIndex, double ErrOverTol,
        double DeviceMs, double CpuMs, bool Pass);

    /// <summary>Shapes: the real ones, or tiny ones for the CPU simulator (odd sizes, channels off the tiles).</summary>
    private sealed record Sizes(int N, int C, int Hw, int Groups, int Gm, int Gk, int Gn, int[] Batched,
        int[] Attn1, int[] Attn2, int LinRows, int LinIn, int LinOut, int Params)
    {
        public static readonly Sizes Real = new(8, 128, 32, 32, 1024, 1024, 1024, [8, 256, 256, 256],
            [8, 4, 256, 64], [2, 1, 64, 128], 2048, 512, 512, 1 << 20);
        public static readonly Sizes Small = new(2, 8, 7, 4, 33, 19, 17, [3, 9, 7, 5],
            [1, 2, 12, 8], [1, 1, 8, 16], 11, 9, 6, 1000);
        /// <summary>Real-sized but off every tile: 33² maps, 40 channels, GEMM 1000, head dims 256 and 128 at odd
        /// lengths, a parameter count that is not a multiple of 4.</summary>
        public static readonly Sizes Odd = new(3, 40, 33, 8, 1000, 1000, 1000, [3, 100, 77, 129],
            [2, 3, 300, 256], [1, 5, 77, 128], 1000, 300, 257, 1_000_003);

        public static Sizes Named(string name) => name switch
        {
            "small" => Small, "real" => Real, "odd" => Odd,
            _ => throw new ArgumentException($"unknown shape set '{name}': small, real or odd"),
        };
    }

    public static int Run(Device dev, bool small, string? json) => Run(dev, small ? "small" : "real", json);

    /// <summary>Runs every case at the named shapes (small, real, odd) with every new tensor poisoned (NaN), saving the
    /// JSON after each case; stops at the first CUDA fault (a sticky error that would fail every later case in its own
    /// name) and names the case that raised it. Returns 1 if any row failed.</summary>
    public static int Run(Device dev, string shapes, string? json)
    {
        // TF32 inputs carry 10 mantissa bits (rounding ≤ 2⁻¹¹ each), BF16 7 (≤ 2⁻⁸), FP32 23: the rule scales with the unit.
        _rtolUnit = dev.Precision switch { MatmulPrecision.Tf32 => 1e-3, MatmulPrecision.Bf16 => 8e-3, _ => 1e-5 };
        var s = Sizes.Named(shapes);
        bool small = shapes == "small";
        bool poisoned = Tensor.PoisonNewTensors;
        Tensor.PoisonNewTensors = true;
        try { return RunPoisoned(dev, s, shapes, json); }
        finally { Tensor.PoisonNewTensors = poisoned; }
    }

    private static int RunPoisoned(Device dev, Sizes s, string shapes, string? json)
    {
        Console.WriteLine($"device: {dev.Name}   reference: {Device.Cpu.Name}   shapes: {shapes}   new tensors poisoned (NaN)");
        Console.WriteLine($"rule: |a-r| <= atol + rtol*|r|, rtol = {_rtolUnit:G1}*sqrt(K), atol = rtol*rms(r), K = reduction length");
        string header = $"{"op",-30} {"shape",-34} {"max abs",10} {"max rel",10} {"worst index",-18} {"err/tol",8} {"dev ms",9} {"cpu ms",9}  result";
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));
        var rows = new List<Row>();
        string? fault = null;
        ulong seed = 1000;
        foreach (var c in Build(s))
        {
            seed += 10;
            if (fault is not null) break;
            try
            {
                var (devOut, devMs) = Execute(c, dev, seed);
                var (cpuOut, cpuMs) = Execute(c, Device.Cpu, seed);
                for (int o = 0; o < c.Outputs.Length; o++)
                {
                    var row = Compare(c.Op + (c.Outputs[o].Length > 0 ? " " + c.Outputs[o] : ""), cpuOut[o].shape,
                        devOut[o].data, cpuOut[o].data, c.Reduce[o], devMs, cpuMs);
                    rows.Add(row);
                    Print(row);
                }
            }
            catch (Exception e)
            {
                var row = new Row(c.Op, c.Shape, double.NaN, double.NaN, e.GetType().Name + ": " + e.Message, double.NaN, 0, 0, false);
                rows.Add(row);
                Print(row);
                if (IsCudaFault(e)) fault = $"{c.Op} {c.Shape}: {e.Message}";
            }
            Save(json, dev, shapes, rows, fault, done: false);
        }
        int failed = rows.Count(r => !r.Pass);
        Console.WriteLine($"{rows.Count - failed}/{rows.Count} PASS{(failed > 0 ? $", {failed} FAIL" : "")}");
        if (fault is not null) Console.WriteLine($"stopped at the first CUDA fault, raised in {fault}");
        Save(json, dev, shapes, rows, fault, done: true);
        if (json is not null) Console.WriteLine($"wrote {json}");
        return failed > 0 ? 1 : 0;
    }

    /// <summary>Writes the JSON so far (atomically, <see cref="Boost.Models.IO.AtomicFile"/>), so a crash keeps every
    /// case that finished.</summary>
    private static void Save(string? json, Device dev, string shapes, List<Row> rows, string? fault, bool done)
    {
        if (json is null) return;
        var doc = new
        {
            device = dev.Name, reference = Device.Cpu.Name, shapes, small = shapes == "small", poisoned = true, complete = done && fault is null,
            cuda_fault = fault, passed = rows.Count(r => r.Pass), failed = rows.Count(r => !r.Pass),
            precision = dev.Precision.ToString(),
            rule = $"rtol = {_rtolUnit:G1}*sqrt(K), atol = rtol*rms(ref)", rows,
        };
        Boost.Models.IO.AtomicFile.WriteAllText(json, JsonSerializer.Serialize(doc, new JsonSerializerOptions
        {
            WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
    }

    private static void Print(Row r) => Console.WriteLine(
        $"{r.Op,-30} {r.Shape,-34} {r.MaxAbs,10:E2} {r.MaxRel,10:E2} {r.WorstIndex,-18} {r.ErrOverTol,8:F3} {r.DeviceMs,9:F3} {r.CpuMs,9:F3}  {(r.Pass ? "PASS" : "FAIL")}");

    /// <summary>Runs a case on one device: warm-up (its outputs are the ones compared), then 5 timed runs.</summary>
    private static ((float[] data, int[] shape)[] outputs, double ms) Execute(Case c, Device d, ulong seed)
    {
        var keep = new List<IDisposable>();
        var inputs = new Tensor[c.Inputs.Length];
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                using var host = Rng.Uniform(Device.Cpu, seed + (ulong)i, 0, c.Inputs[i], -2f, 2f);
                inputs[i] = host.To(d);
            }
            var run = c.Setup(d, inputs, keep);
            var first = run(); d.Synchronize();
            var outputs = first.Select(t => (t.ToArray(), t.Shape)).ToArray();
            foreach (var t in first) t.Dispose();
            var times = new double[5];
            for (int r = 0; r < times.Length; r++)
            {
                var sw = Stopwatch.StartNew();
                var outs = run(); d.Synchronize();
                times[r] = sw.Elapsed.TotalMilliseconds;
                foreach (var t in outs) t.Dispose();
            }
            Array.Sort(times);
            return (outputs, times[2]);
        }
        finally
        {
            foreach (var t in inputs) t?.Dispose();
            foreach (var k in keep) k.Dispose();
        }
    }

    /// <summary>An exception of ILGPU's CUDA runtime (or wrapping one): the context's error is sticky, so every later
    /// launch would fail in its own name.</summary>
    internal static bool IsCudaFault(Exception e)
        => e.GetType().FullName?.StartsWith("ILGPU.Runtime.Cuda.") == true || e.InnerException?.GetType().FullName?.StartsWith("ILGPU.Runtime.Cuda.") == true;

    /// <summary>rtol per √K: 1e-5 for FP32, 1e-3 when the device's GEMMs run in TF32, 8e-3 in BF16.</summary>
    private static double _rtolUnit = 1e-5;

    private static Row Compare(string op, int[] shape, float[] a, float[] r, int k, double devMs, double cpuMs)
    {
        if (a.Length != r.Length) return new Row(op, Tensor.Format(shape), double.NaN, double.NaN, $"length {a.Length} vs {r.Length}", double.NaN, devMs, cpuMs, false);
        double sumSq = 0;
        foreach (float v in r) sumSq += (double)v * v;
        double rms = r.Length > 0 ? Math.Sqrt(sumSq / r.Length) : 0;
        double rtol = _rtolUnit * Math.Sqrt(k), atol = Math.Max(rtol * rms, 1e-30);
        double maxAbs = 0, maxRel = 0, worst = 0; long worstAt = -1;
        for (long i = 0; i < a.Length; i++)
        {
            double diff = Math.Abs((double)a[i] - r[i]);
            double ratio = diff / (atol + rtol * Math.Abs(r[i]));
            if (double.IsNaN(diff)) ratio = double.PositiveInfinity; // NaN on either side fails
            maxAbs = Math.Max(maxAbs, double.IsNaN(diff) ? double.PositiveInfinity : diff);
            maxRel = Math.Max(maxRel, double.IsNaN(diff) ? double.PositiveInfinity : diff / Math.Max(Math.Abs(r[i]), Math.Max(rms, 1e-30)));
            if (ratio > worst || worstAt < 0) { worst = ratio; worstAt = i; }
        }
        return new Row(op, Tensor.Format(shape), maxAbs, maxRel, worstAt < 0 ? "-" : Unravel(worstAt, shape), worst, devMs, cpuMs, worst <= 1);
    }

    private static string Unravel(long flat, int[] shape)
    {
        var idx = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--) { idx[d] = flat % shape[d]; flat /= shape[d]; }
        return "[" + string.Join(",", idx) + "]";
    }

    private static string Fmt(params int[][] shapes) => string.Join(" ", shapes.Select(x => Tensor.Format(x).Replace(" ", "")));

    private static Case C(string op, int[][] inputs, string[] outputs, int[] reduce, Func<Device, Tensor[], List<IDisposable>, Func<Tensor[]>> setup)
        => new(op, Fmt(inputs), outputs, reduce, inputs, setup);

    private static Case C1(string op, int[][] inputs, int reduce, Func<Tensor[], Tensor> f)
        => C(op, inputs, [""], [reduce], (_, x, _) => () => [f(x)]);

    private static IEnumerable<Case> Build(Sizes s)
    {
        int n = s.N, c = s.C, hw = s.Hw;
        int[] img = [n, c, hw, hw];
        const int Exp = 16; // K floor for ops built on transcendental functions (see the class comment)

        // Convolutions: 3x3 stride 1 and 2 (padding 1), 1x1 (padding 0); forward, dX, dW, db.
        foreach (var (k, stride, pad) in new[] { (3, 1, 1), (3, 2, 1), (1, 1, 0) })
        {
            int ho = Conv2d.OutputSize(hw, k, stride, pad);
            int[] w = [c, c, k, k], dy = [n, c, ho, ho];
            string tag = $"conv{k}x{k} s{stride}";
            int dxTerms = c * ((k + stride - 1) / stride) * ((k + stride - 1) / stride);
            yield return C1($"{tag} fwd", [img, w, [c]], c * k * k, x => Conv2d.Forward(x[0], x[1], x[2], stride, pad));
            yield return C1($"{tag} dX", [dy, w], dxTerms, x => Conv2d.BackwardInput(x[0], x[1], img, stride, pad));
            yield return C1($"{tag} dW", [dy, img], n * ho * ho, x => Conv2d.BackwardWeight(x[0], x[1], k, stride, pad));
            if (k == 3 && stride == 1) yield return C1($"{tag} db", [dy], n * ho * ho, x => Conv2d.BackwardBias(x[0]));
        }

        // The UNet's conv_in: 8 input channels (latent + upsampled condition), so dW's GEMM has Cin·k² = 72 columns.
        {
            int[] x8 = [n, 8, hw, hw], w8 = [c, 8, 3, 3], dy8 = [n, c, hw, hw];
            yield return C1("conv3x3 cin8 fwd", [x8, w8, [c]], 8 * 9, x => Conv2d.Forward(x[0], x[1], x[2], 1, 1));
            yield return C1("conv3x3 cin8 dX", [dy8, w8], c * 9, x => Conv2d.BackwardInput(x[0], x[1], x8, 1, 1));
            yield return C1("conv3x3 cin8 dW", [dy8, x8], n * hw * hw, x => Conv2d.BackwardWeight(x[0], x[1], 3, 1, 1));
        }

        // GEMM: every transpose (A stored [K, M] when transposed, B stored [N, K]), a batched one, Linear fwd/bwd.
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            int[] a = ta ? [s.Gk, s.Gm] : [s.Gm, s.Gk], b = tb ? [s.Gn, s.Gk] : [s.Gk, s.Gn];
            yield return C1($"gemm {(ta ? 'T' : 'N')}{(tb ? 'T' : 'N')}", [a, b], s.Gk, x => MatMul.Gemm(x[0], x[1], ta, tb));
        }
        {
            int bt = s.Batched[0], m = s.Batched[1], kk = s.Batched[2], nn = s.Batched[3];
            yield return C1("gemm batched", [[bt, m, kk], [bt, kk, nn]], kk, x => MatMul.Gemm(x[0], x[1]));
            int rows = s.LinRows, fin = s.LinIn, fout = s.LinOut;
            yield return C1("linear fwd", [[rows, fin], [fout, fin], [fout]], fin, x => MatMul.Linear(x[0], x[1], x[2]));
            yield return C("linear bwd", [[rows, fout], [rows, fin], [fout, fin]], ["dx", "dw", "db"], [fout, rows, rows], (_, x, _) => () =>
            {
                MatMul.LinearBackward(x[0], x[1], x[2], true, out var dx, out var dw, out var db);
                return [dx, dw, db!];
            });
        }

        // GroupNorm: forward (y, mean, rstd) and backward from the device's own saved statistics.
        int groupSize = c / s.Groups * hw * hw;
        yield return C("groupnorm fwd", [img, [c], [c]], ["y", "mean", "rstd"], [groupSize, groupSize, groupSize], (_, x, _) => () =>
        {
            var y = GroupNorm.Forward(x[0], s.Groups, x[1], x[2], 1e-6f, out var mean, out var rstd);
            return [y, mean, rstd];
        });
        yield return C("groupnorm bwd", [img, img, [c], [c]], ["dx", "dw", "db"], [groupSize, n * hw * hw, n * hw * hw], (_, x, keep) =>
        {
            keep.Add(GroupNorm.Forward(x[1], s.Groups, x[2], x[3], 1e-6f, out var mean, out var rstd)); keep.Add(mean); keep.Add(rstd);
            return () => { var (dx, dw, db) = GroupNorm.Backward(x[0], x[1], mean, rstd, x[2], s.Groups); return [dx, dw!, db!]; };
        });

        // Attention: forward (O, lse) and backward from the device's own forward.
        foreach (var q in new[] { s.Attn1, s.Attn2 })
        {
            int t = q[2], dh = q[3]; float scale = 1f / MathF.Sqrt(dh);
            int kf = Math.Max(Exp, t + dh);
            yield return C("attention fwd", [q, q, q], ["O", "lse"], [kf, kf], (_, x, _) => () =>
            {
                var o = Attention.Forward(x[0], x[1], x[2], scale, out var lse);
                return [o, lse];
            });
            yield return C("attention bwd", [q, q, q, q], ["dq", "dk", "dv"], [kf, kf, kf], (_, x, keep) =>
            {
                var o = Attention.Forward(x[1], x[2], x[3], scale, out var lse); keep.Add(o); keep.Add(lse);
                return () => { var (dq, dk, dv) = Attention.Backward(x[0], x[1], x[2], x[3], o, lse, scale); return [dq, dk, dv]; };
            });
        }

        // Upsampling ×2.
        int[] big = [n, c, 2 * hw, 2 * hw];
        yield return C1("upsample nearest fwd", [img], 1, x => Upsample.Nearest(x[0], 2));
        yield return C1("upsample nearest bwd", [big], 4, x => Upsample.NearestBackward(x[0], 2));
        yield return C1("upsample bilinear fwd", [img], 4, x => Upsample.Bilinear(x[0], 2));
        yield return C1("upsample bilinear bwd", [big], 16, x => Upsample.BilinearBackward(x[0], 2));

        // Layout: concat / slice (the UNet's skip connections), pad and its crop, transpose.
        int[] half = [n, c / 2, hw, hw];
        yield return C1("concat", [img, half], 1, x => Channels.Concat(x[0], x[1]));
        yield return C1("slice", [img], 1, x => Channels.Slice(x[0], c / 4, c / 2));
        yield return C1("pad fwd", [img], 1, x => Pad.Forward(x[0], 1, 2, 1, 2));
        yield return C1("pad bwd (crop)", [[n, c, hw + 3, hw + 3]], 1, x => Pad.Backward(x[0], 1, 2, 1, 2));
        yield return C1("transpose last two", [[n, c, hw * hw]], 1, x => Transpose.LastTwo(x[0]));

        // Reductions.
        yield return C1("sum axes (0,2,3)", [img], n * hw * hw, x => Reduce.Sum(x[0], [0, 2, 3]));
        yield return C1("sum axis 1", [img], c, x => Reduce.Sum(x[0], [1]));
        yield return C1("mse loss", [img, img], n * c * hw * hw, x => Reduce.MseLoss(x[0], x[1]));

        // Elementwise.
        yield return C1("add broadcast [1,C,1,1]", [img, [1, c, 1, 1]], 1, x => Elementwise.Add(x[0], x[1]));
        yield return C1("silu", [img], Exp, x => Elementwise.SiLU(x[0]));
        yield return C1("silu bwd", [img, img], Exp, x => Elementwise.SiLUBackward(x[0], x[1]));

        // Optimizer updates, in place on copies (v made non-negative: it is a mean of squares).
        int[] p = [s.Params];
        yield return C("adamw", [p, p, p, p], ["p", "m", "v"], [1, 1, 1], (d, x, keep) =>
        {
            var v0 = Elementwise.Mul(x[3], x[3]); keep.Add(v0);
            var h = AdamWParams.At(10, 1e-3f);
            return () =>
            {
                Tensor pp = x[0].Clone(), m = x[2].Clone(), v = v0.Clone();
                Optim.AdamW(pp, x[1], m, v, h);
                return [pp, m, v];
            };
        });
        yield return C("ema", [p, p], [""], [1], (_, x, _) => () => { var e = x[0].Clone(); Optim.Ema(e, x[1], 0.999f); return [e]; });

        // Counter-based random numbers: the same seed must give the same numbers on every device.
        yield return C("rng uniform", [], [""], [1], (d, _, _) => () => [Rng.Uniform(d, 7, 3, img, -1f, 1f)]);
        yield return C("rng normal", [], [""], [Exp], (d, _, _) => () => [Rng.Normal(d, 7, 3, img)]);
    }
}
