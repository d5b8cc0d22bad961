using Boost.Kernels;
using Boost.Train.Pipeline;

namespace Boost.Train.Cli;

public static partial class Commands
{
    /// <summary>
    /// The main job (no command): trains the CFM on the shipped photos with the shipped autoencoder for a budget that
    /// suits the device (CPU: 6 minutes, so clone → build → latent cache → train → eval stays within 15 minutes on 2
    /// cores with the f = 2 autoencoder, whose cache and evaluation cost more than f = 4's; GPU:
    /// 10 minutes), then evaluates it beside bicubic, latent bilinear and the shipped regression model: at the
    /// trained temperature and at boost's default one, each raw and back-projected.
    /// </summary>
    public static int MainJob(Args a, Device device, TextWriter log)
    {
        bool cpu = device is CpuDevice || device is IlgpuDevice { IsSimulator: true };
        var defaults = CfmDefaults(device) with
        {
            Minutes = cpu ? 6 : 10, Steps = cpu ? 20_000 : 50_000, Batch = cpu ? 8 : 32, ValidateEvery = cpu ? 400 : 2000,
            CheckpointEvery = cpu ? 200 : 2000, CheckpointMinutes = 2,
        };
        var o = ReadTrainOptions(a, "main", defaults);
        var opts = new CfmTrainOptions
        {
            Crop = 128, CropsPerImage = a.Int("crops-per-image", cpu ? 16 : 32), LatentCrop = a.Int("latent-crop", 16),
            CacheDir = a.String("cache", Path.Combine(Paths.Runs, "latent-cache")),
        };
        string weights = a.String("weights", Paths.Weights);
        int max = a.Int("max-images", int.MaxValue);
        var (ae, aeFile) = LoadAe(a, weights, device);
        var config = ReadCfmConfig(a, ae.Config.LatentChannels);
        var dirs = PhotoDirs(a);
        a.CheckAllUsed();
        log.WriteLine($"main job: train the CFM for {(o.Minutes > 0 ? $"{o.Minutes:G} minutes or " : "")}{o.Steps} steps on the shipped photos, then evaluate; outputs in {o.RunDir}");
        var (train, val) = LoadPhotos(dirs, log);
        string model = Path.Combine(o.RunDir, config.Objective);
        using (ae)
        using (train)
        using (val)
            CfmTrainer.Train(device, ae, aeFile, train, val, config, o, opts, model, log, "(main job) " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)));
        string json = Path.Combine(o.RunDir, "eval.json"), grid = Path.Combine(o.RunDir, "eval.png");
        RunEval(device, Paths.ValPhotos, weights, model, "regression", json, grid, 128, max,
            [Evaluator.ParseSolver("dopri5", 1e-3, 1e-3), Evaluator.ParseSolver("euler40", 0, 0),
             Evaluator.ParseSolver(FormattableString.Invariant($"dopri5@{DefaultTemperature}"), 1e-3, 1e-3)], log, DefaultBackProjection);
        log.WriteLine($"""

            done. outputs in {o.RunDir}:
              {config.Objective}/          the trained model (EMA weights, config.json, record.json)
              checkpoint.safetensors  resumable state (--resume --run {o.RunDir})
              metrics.jsonl, loss.png  the loss curve; val-*.png validation grids
              eval.json, eval.png   scores against bicubic and the baselines, and the comparison grid
            """);
        return 0;
    }
}
