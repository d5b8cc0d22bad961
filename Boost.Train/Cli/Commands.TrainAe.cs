using Boost.Kernels;
using Boost.Models.Vae;
using Boost.Train.Data;
using Boost.Train.Pipeline;

namespace Boost.Train.Cli;

public static partial class Commands
{
    /// <summary>The options every trainer takes, with the command's defaults.</summary>
    private static TrainOptions ReadTrainOptions(Args a, string command, TrainOptions defaults)
    {
        string? run = a.String("run");
        return defaults with
        {
            RunDir = run ?? Paths.NewRun(command),
            Resume = a.Flag("resume"),
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

    private static (ImageFolder train, ImageFolder val) LoadPhotos(Args a, TextWriter log)
    {
        string trainDir = a.String("data", Paths.TrainPhotos);
        string? valDir = a.String("val-data") ?? (a.Has("data") ? null : Paths.ValPhotos);
        var train = ImageFolder.Load(trainDir, warnings: log);
        if (train.Count == 0) throw new UsageException($"no readable images under {trainDir}.");
        var val = valDir is null ? HoldOut(train) : ImageFolder.Load(valDir, warnings: log);
        log.WriteLine($"data: {train.Count} training images from {trainDir}, {val.Count} validation images{(valDir is null ? " (none given: validating on training photos)" : " from " + valDir)}");
        return (train, val);
    }

    private static ImageFolder HoldOut(ImageFolder train) => train;

    public static int TrainAe(Args a, Device device, TextWriter log)
    {
        var o = ReadTrainOptions(a, "train-ae", new TrainOptions
        {
            RunDir = "", Steps = 3000, Batch = 8, Lr = 4e-4f, Warmup = 100, EmaDecay = 0.999f, ValidateEvery = 500, CheckpointEvery = 250,
        });
        var ae = new AeOptions
        {
            Crop = a.Int("crop", 64),
            KlWeight = a.Float("kl", new AeOptions().KlWeight),
            EdgeWeight = a.Float("edge", new AeOptions().EdgeWeight),
        };
        var config = a.String("ae-config") is { } cfg ? AutoencoderKLConfig.Load(cfg) : AeTrainer.Small;
        string output = a.String("out", Path.Combine(o.RunDir, "ae"));
        a.CheckAllUsed();
        var (train, val) = LoadPhotos(a, log);
        using (train)
        using (val)
        {
            log.WriteLine($"run folder: {o.RunDir}");
            AeTrainer.Train(device, train, val, config, o, ae, output, log, string.Join(' ', Environment.GetCommandLineArgs().Skip(1)));
        }
        return 0;
    }
}
