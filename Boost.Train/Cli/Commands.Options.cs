using System.Globalization;
using Boost.Train.Pipeline;
using Boost.Train.Sampling;

namespace Boost.Train.Cli;

/// <summary>One option of a command: <c>--Name VALUE</c> (or a flag when <see cref="Value"/> is empty), its default and meaning.</summary>
public sealed record OptionSpec(string Name, string Value, string Default, string Help)
{
    public bool IsFlag => Value == "";
}

public static partial class Commands
{
    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Options every command takes.</summary>
    public static readonly OptionSpec[] GlobalOptions =
    [
        new("device", "auto|cpu|cuda|cuda:N|ilgpu-cpu|ilgpu-cpu-nvidia", "auto (or BOOST_DEVICE)", "where to compute"),
        new("help", "", "", "print this command's options and exit"),
    ];

    private static string Name<T>(T value) where T : struct, Enum => Choice<T>.Name(value);

    /// <summary>"X (CPU), Y (GPU)" when a default differs by device, else the one value.</summary>
    private static string ByDevice<T>(Func<bool, T> value)
    {
        string cpu = Inv($"{value(true)}"), gpu = Inv($"{value(false)}");
        return cpu == gpu ? cpu : $"{cpu} (CPU), {gpu} (GPU)";
    }

    private static OptionSpec[] TrainingOptions(string command, Func<bool, TrainOptions> defaults)
    {
        var d = defaults(true);
        return
    [
        new("run", "DIR", Inv($"runs/{command}-DATE-TIME"), "run folder (checkpoint, metrics, grids)"),
        new("resume", "", "", "continue the run in --run from its checkpoint, bit for bit"),
        new("steps", "N", ByDevice(c => defaults(c).Steps), "training steps"),
        new("minutes", "M", d.Minutes > 0 ? ByDevice(c => defaults(c).Minutes) : "0 (no limit)", "stop after M minutes (whichever of --steps/--minutes ends first)"),
        new("batch", "N", ByDevice(c => defaults(c).Batch), "batch size"),
        new("lr", "R", Inv($"{d.Lr}"), "peak learning rate (AdamW)"),
        new("warmup", "N", Inv($"{d.Warmup}"), "linear warm-up steps"),
        new("lr-schedule", Choice<LrScheduleKind>.Names, Name(d.LrSchedule), "after warm-up: constant, or cosine decay to 0 at --steps"),
        new("weight-decay", "W", Inv($"{d.WeightDecay}"), "AdamW weight decay"),
        new("ema", "D", Inv($"{d.EmaDecay}"), "EMA decay of the saved weights"),
        new("clip", "C", Inv($"{d.ClipNorm}"), "gradient norm clip"),
        new("seed", "S", Inv($"{d.Seed}"), "seed of every random draw"),
        new("checkpoint-every", "N", ByDevice(c => defaults(c).CheckpointEvery), "checkpoint every N steps"),
        new("checkpoint-minutes", "M", Inv($"{d.CheckpointMinutes}"), "and at least every M minutes"),
        new("validate-every", "N", ByDevice(c => defaults(c).ValidateEvery), "validation grid every N steps (0: never)"),
        new("data", "DIR", "data/photos/train", "training photos (read recursively)"),
        new("val-data", "DIR", "data/photos/val without --data, else --data", "validation photos"),
        PrecisionOption,
    ];
    }

    private static readonly OptionSpec PrecisionOption =
        new("precision", Choice<Precision>.Names, Name(TrainDefaults.Precision), "GEMM inputs: fp32, or tf32/bf16 on a CUDA GPU's tensor cores (emulated on the CPU)");

    private static readonly OptionSpec[] AeSource =
    [
        new("weights", "DIR", "weights", "weights root: its ae/ is the autoencoder"),
        new("vae", "FILE", "(WEIGHTS/ae)", "another autoencoder's safetensors (e.g. Stable Diffusion's VAE)"),
        new("vae-config", "FILE", "", "its diffusers config.json (needed with --vae)"),
    ];

    private static readonly OptionSpec[] CfmModel =
    [
        new("unet", "bench|paper|tiny", TrainDefaults.UNet, "UNet size"),
        new("unet-config", "FILE", "", "a UNet config JSON instead of --unet"),
        new("objective", Choice<Objective>.Names, Name(TrainDefaults.Objective), "flow matching, or the one-call regression baseline"),
        new("lr-path", Choice<LrPath>.Names, Name(TrainDefaults.LrPath), "condition: bicubic in pixels then encode, or bilinear in latent space"),
        new("noise-step", "N", Inv($"{TrainDefaults.NoiseStep}"), "source noise level (0: none)"),
    ];

    private static readonly OptionSpec[] SolverOptionsTable =
    [
        new("solver", SolverRegistry.Names, Name(TrainDefaults.Solver), "ODE solver"),
        new("steps", "N", Inv($"{TrainDefaults.SolverSteps} with the default solver; ") + string.Join(", ", SolverRegistry.All.Where(e => !e.Adaptive).Select(e => Inv($"{e.Name} {e.DefaultSteps}"))) + " when --solver is given", "steps of a fixed-step solver"),
        new("rtol", "R", Inv($"{TrainDefaults.Rtol}"), "relative tolerance of an adaptive solver"),
        new("atol", "A", Inv($"{TrainDefaults.Atol}"), "absolute tolerance of an adaptive solver"),
        new("norm", Choice<ErrorNorm>.Names, Name(TrainDefaults.Norm),
            "adaptive error norm; the batch always takes one shared step: RMS over the whole batch, or the worst sample's RMS (smaller steps for all)"),
        new("per-sample", "", "", "same as --norm worst-sample"),
        new("end-rule", Choice<EndRule>.Names, Name(TrainDefaults.EndRule),
            "adaptive: shorten the last step to land on t1, or step past t1 and interpolate back (torchdiffeq's rule)"),
        PrecisionOption,
    ];

    /// <summary>Every command's options, the table <see cref="Args"/> parses against and <c>--help</c> prints.</summary>
    public static readonly IReadOnlyDictionary<string, OptionSpec[]> CommandOptions = new Dictionary<string, OptionSpec[]>
    {
        [""] =
        [
            .. TrainingOptions("main", TrainDefaults.MainJob),
            new("crops-per-image", "N", ByDevice(TrainDefaults.MainJobCropsPerImage), "random crops per photo in the latent cache"),
            new("latent-crop", "N", Inv($"{TrainDefaults.LatentCrop}"), "training window in latent pixels"),
            new("cache", "DIR", "runs/latent-cache", "latent cache folder"),
            new("max-images", "N", "all", "evaluate on at most N photos"),
            .. AeSource, .. CfmModel,
        ],
        ["train"] =
        [
            .. TrainingOptions("train", TrainDefaults.Cfm),
            new("crop", "N", Inv($"{TrainDefaults.Crop}"), "photo crop side in pixels"),
            new("crops-per-image", "N", Inv($"{TrainDefaults.CropsPerImage}"), "random crops per photo in the latent cache"),
            new("latent-crop", "N", Inv($"{TrainDefaults.LatentCrop}"), "training window in latent pixels"),
            new("cache", "DIR", "runs/latent-cache", "latent cache folder"),
            new("init", "DIR", "", "start from these weights"),
            new("out", "DIR", "RUN/OBJECTIVE", "where the trained model goes"),
            .. AeSource, .. CfmModel,
        ],
        ["train-ae"] =
        [
            .. TrainingOptions("train-ae", _ => TrainDefaults.Ae),
            new("crop", "N", Inv($"{TrainDefaults.AeCrop}"), "photo crop side in pixels"),
            new("kl", "B", Inv($"{TrainDefaults.AeKlWeight}"), "KL weight β"),
            new("edge", "L", Inv($"{TrainDefaults.AeEdgeWeight}"), "Sobel-gradient loss weight λ"),
            new("logvar-init", "V", "≈ 0", "initial posterior log-variance (e.g. -6)"),
            new("ae-config", "FILE", "the small f = 2 autoencoder", "a diffusers autoencoder config.json"),
            new("init", "DIR", "", "start from this autoencoder (its config.json is the model's)"),
            new("decoder-only", "", "off", "train post_quant_conv and the decoder; the encoder and latent scale stay fixed"),
            new("out", "DIR", "RUN/ae", "where the trained autoencoder goes"),
        ],
        ["boost"] =
        [
            new("in", "IMAGE", "", "the image to upscale (PNG/JPEG/WebP/BMP)"),
            new("out", "FILE.png", "", "the upscaled image"),
            new("latent-in", "FILE", "", "a scaled latent [C,h,w] or [N,C,h,w] (safetensors) instead of --in"),
            new("latent-out", "FILE", "", "write the ×4 latent (safetensors)"),
            new("weights", "DIR", "weights", "weights root with ae/ and cfm/"),
            new("model", "cfm|regression|PATH", "cfm", "the upsampler"),
            .. SolverOptionsTable,
            new("seed", "S", "0", "source noise seed"),
            new("temperature", "T", Inv($"{TrainDefaults.Temperature}"), "source noise scale (1: as trained, 0: none)"),
            new("back-projection", "N", Inv($"{TrainDefaults.BackProjection}"), "iterations of x ← x + bicubic↑(LR − ↓x) (0: off; image inputs only)"),
            new("tile", "N", Inv($"{TrainDefaults.Tile}"), "LR tile side for images larger than it (memory bounded by the tile; 0: whole image at once)"),
            new("overlap", "N", Inv($"{TrainDefaults.Overlap}"), "LR pixels neighbouring tiles share, blended with linear ramps"),
        ],
        ["eval"] =
        [
            new("data", "DIR", "data/photos/val", "held-out photos"),
            new("weights", "DIR", "weights", "weights root"),
            new("cfm", "DIR", "cfm", "CFM model (under --weights unless absolute)"),
            new("regression", "DIR", "regression", "regression model (under --weights unless absolute)"),
            new("json", "FILE", "runs/eval-DATE-TIME/eval.json", "scores"),
            new("grid", "FILE", "JSON with .png", "comparison grid"),
            new("size", "N", "128", "HR centre-crop side"),
            new("max-images", "N", "all", "at most N photos"),
            new("back-projection", "N", "0", "add back-projected \"_bp\" rows with N iterations"),
            new("solvers", "LIST", TrainDefaults.EvalSolvers, Inv($"comma-separated: {SolverRegistry.Names}, a fixed-step one with a step count (euler40, rk4_10), optionally @temperature (dopri5@0.5)")),
            new("rtol", "R", Inv($"{TrainDefaults.Rtol}"), "relative tolerance of adaptive solvers"),
            new("atol", "A", Inv($"{TrainDefaults.Atol}"), "absolute tolerance of adaptive solvers"),
            PrecisionOption,
        ],
    };

    /// <summary><c>COMMAND --help</c>: every option with its default and meaning, from <see cref="CommandOptions"/>.</summary>
    public static string Help(string command)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(Inv($"{(command == "" ? "(no command): the main job" : command)} options:"));
        foreach (var o in CommandOptions[command].Concat(GlobalOptions))
        {
            string left = "--" + o.Name + (o.IsFlag ? "" : " " + o.Value);
            sb.Append("  ").Append(left.PadRight(34)).Append(' ').Append(o.Help);
            if (o.Default != "") sb.Append(" (default: ").Append(o.Default).Append(')');
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
