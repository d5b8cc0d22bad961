using Boost.Kernels;
using Boost.Models.Vae;
using Boost.Train.Data;
using Boost.Train.Pipeline;

namespace Boost.Train.Cli;

public static partial class Commands
{
    /// <summary>The options every trainer takes, with the command's defaults.</summary>
    internal static TrainOptions ReadTrainOptions(Args a, string command, TrainOptions defaults)
    {
        string? run = a.String("run");
        return defaults with
        {
            RunDir = run ?? Paths.NewRun(command),
            Resume = a.Flag("resume"),
            LrSchedule = a.Choice("lr-schedule", defaults.LrSchedule),
            Precision = ReadPrecision(a),
            Steps = a.Int("steps", defaults.Steps),
            Minutes = a.Double("minutes", defaults.Minutes),
            Batch = a.Int("batch", defaults.Batch),
            Lr = a.Float("lr", defaults.Lr),
            Warmup = a.Int("warmup", defaults.Warmup),
            WeightDecay = a.Float("weight-decay", defaults.WeightDecay),
            EmaDecay = a.Float("ema", defaults.EmaDecay),
            ClipNorm = a.Float("clip", defaults.ClipNorm),
            Seed = a.ULong("seed", defaults.Seed),
            CheckpointEvery = a.Int("checkpoint-every", defaults.CheckpointEvery),
            CheckpointMinutes = a.Double("checkpoint-minutes", defaults.CheckpointMinutes),
            ValidateEvery = a.Int("validate-every", defaults.ValidateEvery),
        };
    }

    /// <summary>The photo folders: <c>--data</c> (default: the shipped training photos) and <c>--val-data</c> (default:
    /// the shipped validation photos when --data is not given, else the training folder itself).</summary>
    private static (string train, string? val) PhotoDirs(Args a)
    {
        string trainDir = a.String("data", Paths.TrainPhotos);
        string? valDir = a.String("val-data") ?? (a.Has("data") ? null : Paths.ValPhotos);
        return (trainDir, valDir);
    }

    private static (ImageFolder train, ImageFolder val) LoadPhotos((string train, string? val) dirs, TextWriter log)
    {
        var train = ImageFolder.Load(dirs.train, warnings: log);
        if (train.Count == 0) throw new UsageException($"no readable images under {dirs.train}.");
        var val = ImageFolder.LoadOrShare(dirs.val ?? dirs.train, train, warnings: log);
        log.WriteLine($"data: {train.Count} training images from {dirs.train}, {val.Count} validation images{(dirs.val is null ? " (no --val-data: validating on the training photos)" : " from " + dirs.val)}");
        return (train, val);
    }

    public static int TrainAe(Args a, Device device, TextWriter log)
    {
        var o = ReadTrainOptions(a, "train-ae", TrainDefaults.Ae);
        var ae = new AeOptions
        {
            Crop = a.Int("crop", TrainDefaults.AeCrop),
            KlWeight = a.Float("kl", TrainDefaults.AeKlWeight),
            EdgeWeight = a.Float("edge", TrainDefaults.AeEdgeWeight),
            LogvarInit = a.Has("logvar-init") ? a.Float("logvar-init", 0f) : null,
            DecoderOnly = a.Flag("decoder-only"),
        };
        string? init = a.String("init");
        if (ae.DecoderOnly && init is null) throw new UsageException("--decoder-only needs --init DIR: the fixed encoder comes from there.");
        var config = a.String("ae-config") is { } cfg ? AutoencoderKLConfig.Load(cfg)
            : init is not null ? AutoencoderKLConfig.Load(Path.Combine(init, WeightsDir.ConfigFile)) : AeTrainer.Small;
        string output = a.String("out", Path.Combine(o.RunDir, "ae"));
        var dirs = PhotoDirs(a);
        a.CheckAllUsed();
        var (train, val) = LoadPhotos(dirs, log);
        using (train)
        using (val)
        {
            log.WriteLine($"run folder: {o.RunDir}");
            AeTrainer.Train(device, train, val, config, o, ae, output, log, string.Join(' ', Environment.GetCommandLineArgs().Skip(1)), init);
        }
        return 0;
    }
}
