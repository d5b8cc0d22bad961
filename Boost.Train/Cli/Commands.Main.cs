using Boost.Kernels;
using Boost.Train.Pipeline;
using Boost.Train.Sampling;

namespace Boost.Train.Cli;

public static partial class Commands
{
    /// <summary>
    /// The main job (no command): trains the CFM on the shipped photos with the shipped autoencoder for a budget that
    /// suits the device (<see cref="TrainDefaults.MainJob"/>), then evaluates it beside bicubic, latent bilinear and the
    /// shipped regression model: at the trained temperature and at boost's default one, each raw and back-projected.
    /// </summary>
    public static int MainJob(Args a, Device device, TextWriter log)
    {
        bool cpu = device is CpuDevice || device is IlgpuDevice { IsSimulator: true };
        var o = ReadTrainOptions(a, "main", TrainDefaults.MainJob(cpu));
        var opts = new CfmTrainOptions
        {
            Crop = TrainDefaults.Crop, CropsPerImage = a.Int("crops-per-image", TrainDefaults.MainJobCropsPerImage(cpu)),
            LatentCrop = a.Int("latent-crop", TrainDefaults.LatentCrop), CacheDir = a.String("cache", Path.Combine(Paths.Runs, "latent-cache")),
        };
        string weights = a.String("weights", Paths.Weights);
        int max = a.Int("max-images", int.MaxValue);
        var (ae, aeFile) = LoadAe(a, weights, device);
        var config = ReadCfmConfig(a, ae.Config.LatentChannels);
        var dirs = PhotoDirs(a);
        a.CheckAllUsed();
        log.WriteLine($"main job: train the CFM for {(o.Minutes > 0 ? $"{o.Minutes:G} minutes or " : "")}{o.Steps} steps on the shipped photos, then evaluate; outputs in {o.RunDir}");
        var (train, val) = LoadPhotos(dirs, log);
        string model = Path.Combine(o.RunDir, config.ObjectiveName);
        using (ae)
        using (train)
        using (val)
            CfmTrainer.Train(device, ae, aeFile, train, val, config, o, opts, model, log, "(main job) " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)));
        string json = Path.Combine(o.RunDir, "eval.json"), grid = Path.Combine(o.RunDir, "eval.png");
        RunEval(device, Paths.ValPhotos, weights, model, "regression", json, grid, 128, max,
            [.. TrainDefaults.EvalSolvers.Split(',').Select(s => Evaluator.ParseSolver(s, TrainDefaults.Rtol, TrainDefaults.Atol)),
             Evaluator.ParseSolver(Inv($"dopri5@{TrainDefaults.Temperature}"), TrainDefaults.Rtol, TrainDefaults.Atol),
             Evaluator.ParseSolver(Inv($"{TrainDefaults.SolverSpec}@{TrainDefaults.Temperature}"), TrainDefaults.Rtol, TrainDefaults.Atol)],
            log, TrainDefaults.BackProjection);
        log.WriteLine($"""

            done. outputs in {o.RunDir}:
              {config.ObjectiveName}/          the trained model (EMA weights, config.json, record.json)
              checkpoint.safetensors  resumable state (--resume --run {o.RunDir})
              metrics.jsonl, loss.png  the loss curve; val-*.png validation grids
              eval.json, eval.png   scores against bicubic and the baselines, and the comparison grid
            """);
        return 0;
    }
}
