using Boost.Kernels;
using Boost.Train.Data;
using Boost.Train.Imaging;
using Boost.Train.Pipeline;

namespace Boost.Train.Cli;

public static partial class Commands
{
    /// <summary><c>eval</c>: every method on the held-out photos (or <c>--data</c>), JSON + grid.</summary>
    public static int Eval(Args a, Device device, TextWriter log)
    {
        string data = a.String("data", Paths.ValPhotos);
        string weights = a.String("weights", Paths.Weights);
        string cfmDir = a.String("cfm", "cfm"), regDir = a.String("regression", "regression");
        string json = a.String("json", Path.Combine(Paths.Runs, $"eval-{DateTime.Now:yyyyMMdd-HHmmss}", "eval.json"));
        string grid = a.String("grid", Path.ChangeExtension(json, ".png"));
        int size = a.Int("size", 128), max = a.Int("max-images", int.MaxValue), bp = a.Int("back-projection", 0);
        if (bp < 0) throw new UsageException("--back-projection takes a number of iterations ≥ 0.");
        double rtol = a.Double("rtol", TrainDefaults.Rtol), atol = a.Double("atol", TrainDefaults.Atol);
        ReadPrecision(a);
        var solvers = a.String("solvers", TrainDefaults.EvalSolvers).Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => { try { return Evaluator.ParseSolver(s, rtol, atol); } catch (ArgumentException e) { throw new UsageException(e.Message); } }).ToList();
        a.CheckAllUsed();
        ImageOutput.CheckFile(json, [], createFolder: true); ImageOutput.Check(grid, [json], createFolder: true);
        RunEval(device, data, weights, cfmDir, regDir, json, grid, size, max, solvers, log, bp);
        return 0;
    }

    private static void RunEval(Device device, string data, string weights, string cfmDir, string regDir, string json, string grid, int size, int max,
        List<(string, Sampling.SolverOptions, float)> solvers, TextWriter log, int backProjection = 0)
    {
        Upsampler? Try(string dir)
        {
            string full = Path.IsPathRooted(dir) ? dir : Path.Combine(weights, dir);
            if (File.Exists(Path.Combine(full, WeightsDir.ModelFile))) return Upsampler.Load(full, Path.Combine(weights, "ae"), device);
            log.WriteLine($"note: no model in {full}: its rows are left out");
            return null;
        }
        var cfm = Try(cfmDir);
        var reg = Try(regDir);
        using var images = ImageFolder.Load(data, warnings: log);
        int scale = (cfm ?? reg)?.Config.Scale ?? 4;
        int multiple = (cfm ?? reg)?.HrMultiple ?? scale;
        var methods = Evaluator.Methods(cfm, reg, solvers, scale);
        Evaluator.Run(images, size, scale, multiple, methods, json, grid, log, max, backProjection);
        log.WriteLine($"wrote {json} and {grid}");
    }

}
