namespace Boost.Train.Pipeline;

/// <summary>What every trainer shares: budgets, optimiser, EMA, seeds and the run folder.</summary>
public sealed record TrainOptions
{
    /// <summary>Total optimiser steps (the run stops at whichever budget ends first).</summary>
    public int Steps { get; init; } = 20_000;
    /// <summary>Wall-clock budget in minutes for this invocation (0: none).</summary>
    public double Minutes { get; init; }
    public int Batch { get; init; } = 8;
    public float Lr { get; init; } = 2e-4f;
    public int Warmup { get; init; } = 200;
    /// <summary>After warm-up: constant, or cosine decay to 0 at <see cref="Steps"/> (the step budget, not the time one).</summary>
    public LrScheduleKind LrSchedule { get; init; } = TrainDefaults.LrSchedule;
    /// <summary>fp32 everywhere, tf32 on CUDA (set on the device by the CLI); <see cref="Validate"/> refuses bf16.</summary>
    public Precision Precision { get; init; } = TrainDefaults.Precision;
    public float WeightDecay { get; init; }
    public float EmaDecay { get; init; } = 0.999f;
    /// <summary>Global gradient-norm clip (≤ 0: none).</summary>
    public float ClipNorm { get; init; } = 1f;
    public ulong Seed { get; init; } = 1;
    /// <summary>Checkpoint at least every this many steps and at least every <see cref="CheckpointMinutes"/>.</summary>
    public int CheckpointEvery { get; init; } = 500;
    public double CheckpointMinutes { get; init; } = 3;
    /// <summary>Validation (held-out loss, grids) every this many steps (0: only at the end).</summary>
    public int ValidateEvery { get; init; } = 1000;
    public required string RunDir { get; init; }
    /// <summary>Continue from <c>RunDir/checkpoint.safetensors</c> when it exists.</summary>
    public bool Resume { get; init; }

    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException("--steps must be ≥ 1.");
        if (Minutes < 0) throw new ArgumentException("--minutes must be ≥ 0.");
        if (Batch < 1) throw new ArgumentException("--batch must be ≥ 1.");
        if (!(Lr > 0) || !float.IsFinite(Lr)) throw new ArgumentException("--lr must be a positive number.");
        if (Warmup < 0) throw new ArgumentException("--warmup must be ≥ 0.");
        if (EmaDecay is < 0 or >= 1) throw new ArgumentException("--ema must be in [0, 1).");
        if (CheckpointEvery < 1) throw new ArgumentException("--checkpoint-every must be ≥ 1.");
        if (!Enum.IsDefined(LrSchedule)) throw new ArgumentException($"--lr-schedule must be one of {Choice<LrScheduleKind>.Names}.");
        PrecisionCheck.Require(Precision);
    }
}
