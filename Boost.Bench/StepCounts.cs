using Boost.Autograd;
using Boost.Autograd.Optim;
using Boost.Kernels;
using Boost.Models.UNet;
using Boost.Train.Sampling;

namespace Boost.Bench;

/// <summary>
/// Kernel launches and blocking host reads (<see cref="Device.Counters"/>) of one UNet training step — forward, MSE,
/// backward, AdamW with clipping, EMA — with and without a <see cref="ParameterArena"/>, of its optimizer part alone,
/// and of one Euler sampler step (one no-grad UNet evaluation and the update). ILGPU devices only (the managed CPU
/// device counts nothing). CUDA uses the bench UNet at batch 8, 32²; the simulators, too slow for it, the tiny UNet
/// at batch 1, 8². Counts depend on the model's structure and the tile set, not on timing.
/// </summary>
public static class StepCounts
{
    public sealed record Result(string Config, int Batch, int Res, int Parameters, CounterSnapshot TrainPerTensor, CounterSnapshot TrainArena,
        CounterSnapshot OptimizerPerTensor, CounterSnapshot OptimizerArena, CounterSnapshot EulerStep);

    public static Result? Measure(Device dev, TextWriter log)
    {
        if (dev is not IlgpuDevice gpu) return null;
        var (name, config, n, res) = gpu.IsSimulator ? ("tiny", UNetConfig.Tiny, 1, 8) : ("bench", UNetConfig.Bench, 8, 32);
        using var x = Rng.Uniform(dev, 11, 0, [n, 8, res, res], -2f, 2f);
        using var y = Rng.Uniform(dev, 12, 0, [n, 4, res, res], -2f, 2f);
        float[] t = Enumerable.Range(0, n).Select(i => i * 120f).ToArray();
        var (trainPlain, optPlain, count) = Train(dev, config, x, y, t, arena: false);
        var (trainArena, optArena, _) = Train(dev, config, x, y, t, arena: true);
        var euler = Euler(dev, config, n, res);
        var r = new Result(name, n, res, count, trainPlain, trainArena, optPlain, optArena, euler);
        log.WriteLine($"step counts ({name} UNet, batch {n}, {res}², {count} parameter tensors, {dev.Name}):");
        log.WriteLine($"  train step, per-tensor AdamW/EMA: {trainPlain}");
        log.WriteLine($"  train step, parameter arena:      {trainArena}");
        log.WriteLine($"  optimizer (AdamW + EMA), per tensor: {optPlain}; arena: {optArena}");
        log.WriteLine($"  Euler sampler step:               {euler}");
        return r;
    }

    /// <summary>The counts of the second of two training steps (the first warms pools and kernel caches).</summary>
    private static (CounterSnapshot step, CounterSnapshot optimizer, int parameters) Train(Device dev, UNetConfig config, Tensor x, Tensor y, float[] t, bool arena)
    {
        using var unet = new UNetModel(config, dev);
        var parameters = unet.Parameters().ToList();
        using var flat = arena ? ParameterArena.TryAdopt(parameters) : null;
        using var opt = new AdamW(parameters) { WeightDecay = 0.01f, MaxGradNorm = 1f };
        using var ema = new Ema(parameters);
        CounterSnapshot step = default, optimizer = default;
        for (int i = 0; i < 2; i++)
        {
            var s0 = dev.Counters.Snapshot();
            unet.ZeroGrad();
            using (var tape = Tape.Record())
                tape.Backward(Ops.MseLoss(unet.Forward(Ops.Constant(x.Clone()), t), Ops.Constant(y.Clone())));
            var s1 = dev.Counters.Snapshot();
            opt.Update(1e-4f);
            ema.Update();
            dev.Synchronize();
            var s2 = dev.Counters.Snapshot();
            (step, optimizer) = (s2 - s0, s2 - s1);
        }
        return (step, optimizer, parameters.Count);
    }

    /// <summary>Counts per step of a fixed-step Euler solve, as the sampler runs it: the difference between a 3-step
    /// and a 1-step solve over 2 (the solve's own set-up cancels).</summary>
    private static CounterSnapshot Euler(Device dev, UNetConfig config, int n, int res)
    {
        using var unet = new UNetModel(config, dev);
        using var c = Rng.Uniform(dev, 13, 0, [n, 4, res, res], -1f, 1f);
        using var x0 = Rng.Uniform(dev, 14, 0, [n, 4, res, res], -1f, 1f);
        Tensor F(double time, Tensor xt)
        {
            using var tape = Tape.NoGrad();
            var input = Ops.Concat(Ops.Constant(xt.Clone()), Ops.Constant(c.Clone()));
            var ts = new float[n];
            Array.Fill(ts, (float)(time * 1000));
            return unet.Forward(input, ts).Detach();
        }
        CounterSnapshot Solve(int steps)
        {
            var s0 = dev.Counters.Snapshot();
            using (Samplers.Solve(F, x0, 0, 1, SolverOptions.Fixed(SolverMethod.Euler, steps))) { }
            dev.Synchronize();
            return dev.Counters.Snapshot() - s0;
        }
        var d = Solve(3) - Solve(1);
        return new CounterSnapshot(d.Launches / 2, d.HostReads / 2, d.HostWrites / 2, d.DeviceCopies / 2);
    }

    /// <summary>The JSON shape of a result (per-step launches and host reads).</summary>
    public static object Json(Result r)
    {
        static object C(CounterSnapshot s) => new { launches = s.Launches, host_reads = s.HostReads, host_writes = s.HostWrites, device_copies = s.DeviceCopies };
        return new
        {
            unet = r.Config, batch = r.Batch, res = r.Res, parameter_tensors = r.Parameters,
            train_step_per_tensor = C(r.TrainPerTensor), train_step_arena = C(r.TrainArena),
            optimizer_per_tensor = C(r.OptimizerPerTensor), optimizer_arena = C(r.OptimizerArena), euler_step = C(r.EulerStep),
        };
    }
}
