using System.Globalization;
using Boost.Autograd;
using Boost.Autograd.Optim;
using Boost.Kernels;
using Boost.Models;
using Boost.Models.SafeTensors;

namespace Boost.Train.Pipeline;

/// <summary>Training stopped because the loss or the gradients stopped being finite.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// The loop every trainer shares: warm-up learning rate, AdamW with global-norm clipping, EMA, budgets, progress,
/// <c>metrics.jsonl</c>, atomic checkpoints and exact resume.
/// <para>
/// Exact resume needs no RNG state in the file: every random draw of step s (data crops, noise, t) is derived from
/// (seed, s) by the trainer, so restoring weights, EMA, the Adam moments and s continues the same run bit for bit.
/// </para>
/// The checkpoint (<c>checkpoint.safetensors</c>) holds <c>model.*</c>, <c>ema.*</c>, <c>adam_m.*</c>, <c>adam_v.*</c>
/// in float32 and metadata: kind, step, seed and the model/objective configuration, which must match on resume.
/// <para>
/// One process per run folder: the session holds <see cref="RunLock"/> (<c>run.lock</c>) from construction to
/// <see cref="Dispose"/>. Resuming a run that already reached its step budget (<see cref="Finished"/>) writes nothing.
/// </para>
/// </summary>
public sealed class TrainSession : IDisposable
{
    private readonly Module _model;
    private readonly List<(string key, Parameter param)> _params;
    private readonly AdamW _opt;
    private readonly Ema _ema;
    /// <summary>On a GPU, the parameters and their gradients in two flat buffers, so the optimizer step is a few
    /// launches and one host read (null on the CPU backend).</summary>
    private readonly ParameterArena? _arena;
    private readonly string _kind, _configJson;
    private readonly TextWriter _log;
    private readonly RunLock _lock;
    public TrainOptions Options { get; }
    public MetricsLog Metrics { get; }
    public int Step { get; private set; }
    public int LastCheckpointStep { get; private set; } = -1;
    public string CheckpointPath => Path.Combine(Options.RunDir, "checkpoint.safetensors");
    /// <summary>Seconds spent training over all invocations of this run (restored on resume).</summary>
    public double TrainSeconds { get; private set; }
    /// <summary>Resumed at or past <see cref="TrainOptions.Steps"/>: <see cref="Run"/> does nothing, and callers should
    /// write nothing either (no validation, metrics, checkpoint or weights).</summary>
    public bool Finished { get; private set; }

    /// <param name="kind">what is trained ("cfm", "regression", "ae"), checked on resume</param>
    /// <param name="configJson">the model and objective configuration, checked on resume</param>
    public TrainSession(Module model, TrainOptions options, string kind, string configJson, TextWriter? log = null)
    {
        options.Validate();
        _model = model;
        Options = options;
        _kind = kind;
        _configJson = configJson;
        _log = log ?? Console.Out;
        _params = model.NamedParameters().ToList();
        Directory.CreateDirectory(options.RunDir);
        _lock = RunLock.Acquire(options.RunDir, _log);
        try
        {
            _arena = ParameterArena.TryAdopt(_params.Select(p => p.param));
            _opt = new AdamW(_params.Select(p => p.param)) { WeightDecay = options.WeightDecay, MaxGradNorm = options.ClipNorm };
            _ema = new Ema(_params.Select(p => p.param), options.EmaDecay);
            Metrics = new MetricsLog(options.RunDir);
            if (File.Exists(CheckpointPath))
            {
                if (!options.Resume)
                    throw new InvalidOperationException($"{options.RunDir} already holds a run; pass --resume to continue it or choose another --run folder.");
                LoadCheckpoint();
            }
            else
            {
                if (options.Resume) _log.WriteLine($"no checkpoint in {options.RunDir} yet: starting from step 0");
                File.Delete(Metrics.Path);
            }
        }
        catch
        {
            _opt?.Dispose();
            _ema?.Dispose();
            _arena?.Dispose();
            _lock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Trains until <see cref="TrainOptions.Steps"/> or the time budget: <paramref name="loss"/> builds step s's loss
    /// on the current (recording) tape. <paramref name="validate"/> runs every <see cref="TrainOptions.ValidateEvery"/>
    /// steps and at the end, and returns values for <c>metrics.jsonl</c>.
    /// </summary>
    /// <returns>true when the step budget was reached (false: stopped by the time budget)</returns>
    public bool Run(Func<int, Var> loss, Func<int, IReadOnlyDictionary<string, double>>? validate = null, string label = "train")
    {
        var o = Options;
        if (Finished) return true;
        var progress = new Progress(label, Step, o.Steps) { BudgetSeconds = o.Minutes * 60 };
        var sinceCheckpoint = System.Diagnostics.Stopwatch.StartNew();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double trainedBefore = TrainSeconds;
        while (Step < o.Steps && (o.Minutes <= 0 || clock.Elapsed.TotalMinutes < o.Minutes))
        {
            float lr = LrSchedule.At(Step, o.Lr, o.Warmup, o.Steps, cosine: o.LrSchedule == LrScheduleKind.Cosine);
            _model.ZeroGrad();
            double value, norm;
            using (var tape = Tape.Record())
            {
                var l = loss(Step);
                value = l.Value.ToArray()[0];
                if (!double.IsFinite(value)) Diverged(progress, $"the loss is {value} at step {Step + 1}");
                tape.Backward(l);
            }
            try { norm = _opt.Update(lr); }
            catch (ArithmeticException e) { Diverged(progress, e.Message); throw; }
            // EMA warm-up (as in many diffusion codebases): early weights are averaged over fewer steps.
            _ema.Update(Math.Min(o.EmaDecay, (1f + Step) / (10f + Step)));
            Step++;
            TrainSeconds = trainedBefore + clock.Elapsed.TotalSeconds;
            Metrics.Append(Step, new Dictionary<string, double> { ["loss"] = value, ["lr"] = lr, ["grad_norm"] = norm });
            progress.Report(Step, value);
            bool last = Step >= o.Steps || (o.Minutes > 0 && clock.Elapsed.TotalMinutes >= o.Minutes);
            if (validate is not null && o.ValidateEvery > 0 && Step % o.ValidateEvery == 0 && !last)
            {
                progress.Break();
                Metrics.Append(Step, validate(Step));
            }
            if (last || Step % o.CheckpointEvery == 0 || sinceCheckpoint.Elapsed.TotalMinutes >= o.CheckpointMinutes)
            {
                SaveCheckpoint();
                sinceCheckpoint.Restart();
            }
        }
        progress.Report(Step, double.NaN, force: true);
        progress.Break();
        if (validate is not null)
        {
            var v = validate(Step);
            Metrics.Append(Step, v);
            _log.WriteLine("validation: " + string.Join(", ", v.Select(kv => $"{kv.Key} {MetricsLog.Format(kv.Value)}")));
        }
        Metrics.Plot(Path.Combine(o.RunDir, "loss.png"), $"{_kind} training loss", "loss", "val_loss");
        return Step >= o.Steps;
    }

    private void Diverged(Progress progress, string why)
    {
        progress.Break();
        string kept = LastCheckpointStep >= 0 ? $"the last good checkpoint (step {LastCheckpointStep}) is kept in {CheckpointPath}" : "no checkpoint had been written yet";
        throw new TrainingDivergedException($"training stopped: {why}; {kept}. Lower --lr or raise --warmup, then --resume.");
    }

    /// <summary>The EMA weights swapped into the model until the returned scope is disposed (for sampling).</summary>
    public IDisposable UseEma()
    {
        var saved = _params.Select(p => p.param.Value.Clone()).ToArray();
        for (int i = 0; i < _params.Count; i++) _params[i].param.Value.CopyFrom(_ema.Shadow[i]);
        return new Restore(() =>
        {
            for (int i = 0; i < _params.Count; i++) { _params[i].param.Value.CopyFrom(saved[i]); saved[i].Dispose(); }
        });
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        private Action? _undo = undo;
        public void Dispose() { _undo?.Invoke(); _undo = null; }
    }

    /// <summary>The EMA weights under the model's keys (what gets shipped).</summary>
    public IEnumerable<(string Name, int[] Shape, float[] Data)> EmaTensors()
        => _params.Select((p, i) => (p.key, p.param.Value.Shape, _ema.Shadow[i].ToArray()));

    public void SaveCheckpoint()
    {
        var meta = new Dictionary<string, string>
        {
            ["kind"] = _kind,
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
            ["train_seconds"] = TrainSeconds.ToString("R", CultureInfo.InvariantCulture),
            ["config"] = _configJson,
        };
        IEnumerable<(string, int[], float[])> All()
        {
            for (int i = 0; i < _params.Count; i++)
            {
                var (key, p) = _params[i];
                yield return ("model." + key, p.Value.Shape, p.Value.ToArray());
                yield return ("ema." + key, p.Value.Shape, _ema.Shadow[i].ToArray());
                yield return ("adam_m." + key, p.Value.Shape, _opt.ExpAvg[i].ToArray());
                yield return ("adam_v." + key, p.Value.Shape, _opt.ExpAvgSq[i].ToArray());
            }
        }
        SafeTensorsFile.Write(CheckpointPath, All(), meta);
        LastCheckpointStep = Step;
    }

    private void LoadCheckpoint()
    {
        using var file = SafeTensorsFile.Read(CheckpointPath);
        string Meta(string k) => file.Metadata.TryGetValue(k, out var v) ? v : throw new SafeTensorsException(CheckpointPath, null, $"metadata '{k}' is missing: not a Boost training checkpoint");
        if (Meta("kind") != _kind)
            throw new InvalidOperationException($"{CheckpointPath} is a '{Meta("kind")}' run, not '{_kind}'; use another --run folder.");
        if (Meta("config") != _configJson)
            throw new InvalidOperationException($"{CheckpointPath} was trained with a different configuration:\n  checkpoint: {Meta("config")}\n  now:        {_configJson}\nresume with the same options or use another --run folder.");
        if (ulong.Parse(Meta("seed"), CultureInfo.InvariantCulture) != Options.Seed)
            throw new InvalidOperationException($"{CheckpointPath} was trained with --seed {Meta("seed")}; resume with the same seed.");
        var expected = new List<(string, int[])>();
        foreach (var prefix in new[] { "model.", "ema.", "adam_m.", "adam_v." })
            expected.AddRange(_params.Select(p => (prefix + p.key, p.param.Value.Shape)));
        var data = StateDict.ReadStrict(file, expected);
        for (int i = 0; i < _params.Count; i++)
        {
            var key = _params[i].key;
            _params[i].param.Value.CopyFrom(data["model." + key]);
            _ema.Shadow[i].CopyFrom(data["ema." + key]);
            _opt.ExpAvg[i].CopyFrom(data["adam_m." + key]);
            _opt.ExpAvgSq[i].CopyFrom(data["adam_v." + key]);
        }
        Step = int.Parse(Meta("step"), CultureInfo.InvariantCulture);
        TrainSeconds = double.Parse(file.Metadata.GetValueOrDefault("train_seconds", "0"), CultureInfo.InvariantCulture);
        _opt.SetStep(Step);
        LastCheckpointStep = Step;
        if (Step >= Options.Steps)
        {
            Finished = true;
            _log.WriteLine($"{Options.RunDir}: already finished at step {Step} of {Options.Steps}; nothing to do (raise --steps to train further).");
            return;
        }
        Metrics.TruncateAfter(Step);
        _log.WriteLine($"resumed {_kind} from {CheckpointPath} at step {Step}");
    }

    public void Dispose()
    {
        _opt.Dispose();
        _ema.Dispose();
        _arena?.Dispose();
        _lock.Dispose();
    }
}
