using Boost.Kernels;
using Boost.Models.SafeTensors;
using Boost.Train.Data;
using Boost.Train.Imaging;
using Boost.Train.Pipeline;
using Boost.Train.Sampling;

namespace Boost.Train.Cli;

public static partial class Commands
{
    /// <summary><c>--solver --steps --rtol --atol --norm --end-rule</c> (and <c>--per-sample</c>, the old spelling of
    /// <c>--norm worst-sample</c>). The norm and the end rule only matter to an adaptive solver.</summary>
    internal static SolverOptions ReadSolver(Args a)
    {
        string method = a.String("solver", Choice<SolverMethod>.Name(TrainDefaults.Solver));
        double rtol = a.Double("rtol", TrainDefaults.Rtol), atol = a.Double("atol", TrainDefaults.Atol);
        // The default solver comes with its own step count; a solver named on the command line with the registry's.
        int steps = a.Int("steps", a.Has("solver") || SolverRegistry.Find(method).Adaptive ? 0 : TrainDefaults.SolverSteps);
        var norm = a.Choice("norm", TrainDefaults.Norm);
        if (a.Flag("per-sample"))
        {
            if (a.Has("norm") && norm != ErrorNorm.WorstSample) throw new UsageException("--per-sample means --norm worst-sample; it contradicts --norm batch.");
            norm = ErrorNorm.WorstSample;
        }
        var endRule = a.Choice("end-rule", TrainDefaults.EndRule);
        ReadPrecision(a);
        try { return SolverRegistry.Options(method, steps, rtol, atol, norm, endRule); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    /// <summary><c>--precision</c>: parsed for every command that trains or samples (applied to the device by Run).</summary>
    internal static Precision ReadPrecision(Args a)
    {
        var p = a.Choice("precision", TrainDefaults.Precision);
        try { PrecisionCheck.Require(p); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        return p;
    }

    public const float DefaultTemperature = TrainDefaults.Temperature;
    public const int DefaultBackProjection = TrainDefaults.BackProjection;

    /// <summary><c>boost</c>: ×4 of one image (PNG/JPEG/… in; PNG, JPEG or WebP out by the extension), or of a latent (safetensors in and out).</summary>
    public static int BoostImage(Args a, Device device, TextWriter log)
    {
        string weights = a.String("weights", Paths.Weights);
        string model = a.String("model", "cfm");
        string? input = a.String("in"), output = a.String("out"), latentIn = a.String("latent-in"), latentOut = a.String("latent-out");
        var solver = ReadSolver(a);
        ulong seed = a.ULong("seed", 0);
        float temperature = a.Float("temperature", DefaultTemperature);
        if (!(temperature >= 0)) throw new UsageException("--temperature must be ≥ 0 (1: the trained source noise, 0: none).");
        int backProjection = a.Int("back-projection", DefaultBackProjection);
        if (backProjection < 0) throw new UsageException("--back-projection takes a number of iterations ≥ 0 (0: off).");
        int tile = a.Int("tile", TrainDefaults.Tile), overlap = a.Int("overlap", TrainDefaults.Overlap);
        if (tile < 0 || overlap < 0) throw new UsageException("--tile and --overlap take a number of LR pixels ≥ 0 (--tile 0: the whole image at once).");
        a.CheckAllUsed();
        if ((input is null) == (latentIn is null)) throw new UsageException("boost needs exactly one of --in IMAGE or --latent-in FILE.safetensors.");
        if (input is not null && output is null) throw new UsageException("boost --in needs --out FILE.png.");
        if (latentIn is not null && output is null && latentOut is null) throw new UsageException("boost --latent-in needs --latent-out FILE.safetensors and/or --out FILE.png.");
        if (output is not null) ImageOutput.Check(output, [input, latentIn, latentOut]);
        if (latentOut is not null) ImageOutput.CheckFile(latentOut, [input, latentIn]);

        var up = Upsampler.Load(Path.IsPathRooted(model) || model.Contains('/') ? model : Path.Combine(weights, model), Path.Combine(weights, "ae"), device);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        if (input is not null)
        {
            var lr = ImageLoader.LoadChw(input, tile == 0 ? up.InputLimits : up.TiledInputLimits);
            log.WriteLine($"boost: {input} {lr.Width}x{lr.Height} → {lr.Width * up.Config.Scale}x{lr.Height * up.Config.Scale} with {weights}/{model}, {Describe(solver, up)}{(up.Config.Objective == Objective.Cfm ? $", temperature {temperature:G3}" : "")}, back-projection {backProjection}{(tile > 0 && (lr.Width > tile || lr.Height > tile) ? $", tiles of {tile}² LR px overlapping by {overlap}" : "")}");
            var bar = new Progress("boost tile", 0, 1, log) { LogSeconds = 5 };
            var (hr, nfe) = tile == 0
                ? up.Boost(lr, solver, seed, temperature, backProjection)
                : up.BoostTiled(lr, solver, seed, temperature, backProjection, tile, overlap, (done, total) =>
                {
                    if (total > 1) bar.Report(done, double.NaN, $" ({lr.Width * up.Config.Scale * (long)lr.Height * up.Config.Scale / 1e6 / Math.Max(bar.Elapsed.TotalSeconds, 1e-9) * done / total:F3} MP/s)", force: done == total, total: total);
                });
            bar.Break();
            ImageOutput.Save(hr, output!);
            log.WriteLine($"wrote {output} (NFE {nfe}, {sw.Elapsed.TotalSeconds:F1} s)");
            return 0;
        }

        // A latent from any diffusion model with this autoencoder: [C, h, w] or [N, C, h, w], scaled (z·scaling_factor).
        using var file = SafeTensorsFile.Read(latentIn!);
        if (file.Names.Count != 1) throw new InvalidDataException($"{latentIn}: expected one tensor (the LR latent), found {file.Names.Count}: {string.Join(", ", file.Names.Take(5))}.");
        var info = file.Info(file.Names[0]);
        int[] shape = info.Shape.Length == 3 ? [1, .. info.Shape] : info.Shape;
        int c = up.Autoencoder.Config.LatentChannels;
        if (shape.Length != 4 || shape[1] != c)
            throw new InvalidDataException($"{latentIn}: tensor '{file.Names[0]}' is [{string.Join(", ", info.Shape)}]; expected [{c}, h, w] or [N, {c}, h, w].");
        int m = Math.Max(1, up.HrMultiple / up.Autoencoder.Config.DownFactor / up.Config.Scale);
        if (shape[2] % m != 0 || shape[3] % m != 0) throw new InvalidDataException($"{latentIn}: latent sides must be multiples of {m}, got {shape[2]}×{shape[3]}.");
        using var z = Tensor.FromArray(device, file.ReadFloat32(file.Names[0]), shape);
        using var cond = Boost.Kernels.Upsample.Bilinear(z, up.Config.Scale);
        if (up.Config.LrPath != LrPath.Latent) log.WriteLine("note: this model was trained with the pixel-space (psu) condition; a latent input uses the latent-bilinear condition.");
        var (x1, nfe2) = up.Generate(cond, solver, seed, temperature);
        using (x1)
        {
            if (latentOut is not null)
            {
                SafeTensorsFile.Write(latentOut, [("latent", x1.Shape, x1.ToArray())], new Dictionary<string, string> { ["scaling_factor"] = up.Autoencoder.Config.ScalingFactor.ToString("R", System.Globalization.CultureInfo.InvariantCulture) });
                log.WriteLine($"wrote {latentOut} {x1.ShapeString}");
            }
            if (output is not null)
            {
                if (shape[0] != 1) throw new UsageException("--out PNG takes a single latent; use --latent-out for a batch.");
                ImageOutput.Save(up.Decode(x1), output);
                log.WriteLine($"wrote {output}");
            }
        }
        log.WriteLine($"NFE {nfe2}, {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    private static string Describe(SolverOptions s, Upsampler up)
        => up.Config.Objective == Objective.Regression ? "regression (one UNet call)"
         : SolverRegistry.Get(s.Method).Adaptive ? $"{Choice<SolverMethod>.Name(s.Method)} rtol {s.Rtol:G3} atol {s.Atol:G3}{(s.Norm == ErrorNorm.WorstSample ? ", worst-sample norm" : "")}{(s.EndRule == EndRule.Interpolate ? ", interpolated end" : "")}"
         : $"{Choice<SolverMethod>.Name(s.Method)} {s.Steps} steps";
}
