using Boost.Kernels;
using Boost.Models.SafeTensors;
using Boost.Train.Data;
using Boost.Train.Pipeline;

namespace Boost.Train.Cli;

/// <summary>The <c>Boost.Train</c> command line: one method per command, sharing option parsing and error handling.</summary>
public static partial class Commands
{
    private static readonly HashSet<string> Flags = ["resume", "help", "per-sample"];

    public const string Usage = """
        Boost: flow-matching latent upsampling (CFM, arXiv 2312.07360).

        dotnet run -c Release --project Boost.Train -- [command] [options]

          (no command)   the main job: train the CFM on the shipped photos with the shipped autoencoder for a
                         budget that suits the device, then evaluate it; prints where its outputs are
          train          train the CFM (or --objective regression) on a folder of photos
          train-ae       train the small autoencoder on a folder of photos
          boost          4x upscale one image (or a latent) with the shipped (or given) weights
          eval           PSNR / SSIM / high-frequency ratio of every method on held-out photos, as JSON and a grid

        every command: --device auto|cpu|cuda|cuda:N|ilgpu-cpu|ilgpu-cpu-nvidia   (or BOOST_DEVICE)
        COMMAND --help (or help COMMAND) lists that command's options with their defaults; --help alone: this text.
        """;

    public static int Run(string[] argv)
    {
        var log = Console.Out;
        try
        {
            if (argv is ["help", var topic, ..])
            {
                if (!CommandOptions.ContainsKey(topic)) throw new UsageException($"help {topic}: no such command; commands: {string.Join(", ", CommandOptions.Keys.Where(k => k != ""))}.");
                log.WriteLine(Help(topic));
                return 0;
            }
            string command = argv.Length > 0 && !argv[0].StartsWith("--", StringComparison.Ordinal) ? argv[0] : "";
            var a = CommandOptions.TryGetValue(command, out var table) ? new Args(argv, [.. table, .. GlobalOptions]) : new Args(argv, Flags);
            if (a.Command is "help" || (a.Flag("help") && a.Command == "")) { log.WriteLine(Usage); log.WriteLine(Help("")); return 0; }
            if (a.Flag("help")) { log.WriteLine(Help(a.Command)); return 0; }
            using var device = Device.Select(a.String("device"));
            // Always applied: the CPU device is process-wide, so an earlier command's precision must not linger.
            try { PrecisionCheck.Apply(a.Has("precision") ? ReadPrecision(a) : TrainDefaults.Precision, device); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            log.WriteLine($"device: {device.Name}{PrecisionCheck.Describe(device)}");
            return a.Command switch
            {
                "" => MainJob(a, device, log),
                "train" => Train(a, device, log),
                "train-ae" => TrainAe(a, device, log),
                "boost" => BoostImage(a, device, log),
                "eval" => Eval(a, device, log),
                _ => throw new UsageException($"unknown command '{a.Command}'. Commands: train, train-ae, boost, eval (none: the main job)."),
            };
        }
        catch (UsageException e) { Console.Error.WriteLine($"error: {e.Message}"); return 2; }
        catch (TrainingDivergedException e) { Console.Error.WriteLine($"error: {e.Message}"); return 3; }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException
                                       or SafeTensorsException or InvalidDataException or ImageLoadException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
