using System.Diagnostics;
using System.Text.Json.Nodes;
using Boost.Train.Data;
using Boost.Train.Imaging;
using Boost.Train.Sampling;

namespace Boost.Train.Pipeline;

/// <summary>A method <c>eval</c> compares: its name in the JSON, and how it turns an LR image into an HR one.</summary>
/// <param name="PostProcess">when set, Run is not called: the output is this function of the preceding method's output
/// and the LR image (its NFE and time carried over, the post-processing's time added)</param>
/// <param name="Family">the curve this row belongs to in the NFE plot (one solver and temperature, with or without
/// back-projection); null: not plotted</param>
public sealed record EvalMethod(string Name, Func<ChwImage, (ChwImage hr, int nfe)> Run, bool ReportCost = false,
    Func<ChwImage, ChwImage, ChwImage>? PostProcess = null, string? Family = null);

/// <summary>
/// <c>eval</c>: HR = centre crop of each image (side a multiple of the models' need), LR = antialiased ↓scale; each
/// method's output is scored against HR with PSNR, SSIM and the high-frequency energy ratio, averaged over images.
/// </summary>
public static class Evaluator
{
    /// <summary>The methods for an upsampler pair: bicubic, latent bilinear, the autoencoder's ceiling, regression, and CFM per solver.</summary>
    public static List<EvalMethod> Methods(Upsampler? cfm, Upsampler? regression, IEnumerable<(string name, SolverOptions solver, float temperature)> solvers, int scale)
    {
        var list = new List<EvalMethod>
        {
            new("bicubic", lr => { var y = Resample.UpscaleBicubic(lr, scale); Resample.Clamp(y); return (y, 0); }),
        };
        var any = cfm ?? regression;
        if (any is not null)
        {
            list.Add(new("latent_bilinear", lr => (any.LatentBilinear(lr), 0)));
            list.Add(new("bicubic_through_autoencoder", lr =>
            {
                using var z = any.Encode(Resample.UpscaleBicubic(lr, scale));
                return (any.Decode(z), 0);
            }));
        }
        if (regression is not null) list.Add(new("regression", lr => regression.Boost(lr, SolverOptions.Fixed(SolverMethod.Euler, 1)), ReportCost: true));
        if (cfm is not null)
            foreach (var (name, solver, temperature) in solvers)
                list.Add(new("cfm_" + name, lr => cfm.Boost(lr, solver, 0, temperature), ReportCost: true,
                    Family: $"{solver.Method.ToString().ToLowerInvariant()} T{temperature.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)}"));
        return list;
    }

    /// <summary>Each costed method followed by its back-projected twin "name_bp", which post-processes its output.</summary>
    private static IReadOnlyList<EvalMethod> WithBackProjection(IReadOnlyList<EvalMethod> methods, int iterations)
    {
        if (iterations <= 0) return methods;
        var list = new List<EvalMethod>();
        foreach (var m in methods)
        {
            list.Add(m);
            if (m.ReportCost && m.PostProcess is null)
                list.Add(new(m.Name + "_bp", _ => throw new InvalidOperationException("post-processing row"), true, (hr, lr) => Resample.BackProject(hr, lr, iterations),
                    m.Family is null ? null : m.Family + " bp"));
        }
        return list;
    }

    /// <summary>Parses "dopri5", "euler40", "rk4_10", "midpoint20"… (see <see cref="SolverRegistry.ParseSpec"/>).</summary>
    public static (string name, SolverOptions solver, float temperature) ParseSolver(string spec, double rtol, double atol)
        => SolverRegistry.ParseSpec(spec, rtol, atol);

    /// <returns>the JSON document (also written to <paramref name="jsonPath"/>) and the grid's path</returns>
    /// <param name="backProjection">when &gt; 0, every model's row (regression, CFM) gets a twin "<c>name</c>_bp": the same
    /// output after that many iterations of <see cref="Resample.BackProject"/> (its time included)</param>
    public static JsonObject Run(ImageFolder images, int size, int scale, int multiple, IReadOnlyList<EvalMethod> methods, string jsonPath, string? gridPath, TextWriter log,
        int maxImages = int.MaxValue, int backProjection = 0)
    {
        methods = WithBackProjection(methods, backProjection);
        var crops = AeTrainer.ValidationCrops(images, size, multiple, out var sources).Take(maxImages).ToList();
        if (crops.Count == 0) throw new ArgumentException($"eval: no image in {images.Root} is at least {multiple}×{multiple}.");
        var sums = methods.ToDictionary(m => m.Name, _ => new double[6]); // psnr, ssim, hf, nfe, seconds, LR consistency
        var rows = new List<IReadOnlyList<ChwImage?>>();
        for (int i = 0; i < crops.Count; i++)
        {
            var hr = crops[i];
            var lr = Resample.Downscale(hr, scale);
            var row = new List<ChwImage?> { Resample.Nearest(lr, hr.Height, hr.Width) };
            (ChwImage hr, int nfe, double sec) previous = default;
            foreach (var m in methods)
            {
                var sw = Stopwatch.StartNew();
                var (sr, nfe) = m.PostProcess is null ? m.Run(lr)
                    : (m.PostProcess(previous.hr ?? throw new InvalidOperationException($"eval: {m.Name} post-processes the method before it, and is first."), lr), previous.nfe);
                double sec = sw.Elapsed.TotalSeconds + (m.PostProcess is null ? 0 : previous.sec);
                previous = (sr, nfe, sec);
                var s = sums[m.Name];
                s[0] += Metrics.Psnr(sr, hr); s[1] += Metrics.Ssim(sr, hr); s[2] += Metrics.HighFrequencyRatio(sr, hr); s[3] += nfe; s[4] += sec;
                s[5] += Metrics.Psnr(Resample.Downscale(sr, scale), lr);
                row.Add(sr);
            }
            row.Add(hr);
            if (rows.Count < 8) rows.Add(row);
            log.WriteLine($"eval: image {i + 1}/{crops.Count} ({Path.GetFileName(images.Paths[sources[i]])})");
        }
        var json = new JsonObject { ["images"] = crops.Count, ["scale"] = scale, ["size"] = crops[0].Height };
        var ms = new JsonObject();
        int n = crops.Count;
        foreach (var m in methods)
        {
            var s = sums[m.Name];
            var o = new JsonObject
            {
                ["psnr"] = Math.Round(s[0] / n, 4), ["ssim"] = Math.Round(s[1] / n, 5), ["hf_ratio"] = Math.Round(s[2] / n, 4),
                ["lr_psnr"] = Math.Round(s[5] / n, 4),
            };
            if (m.ReportCost) { o["nfe"] = Math.Round(s[3] / n, 2); o["sec_per_image"] = Math.Round(s[4] / n, 4); }
            ms[m.Name] = o;
            log.WriteLine($"  {m.Name,-28} PSNR {s[0] / n,7:F3}  SSIM {s[1] / n:F4}  HF {s[2] / n:F3}  LR {s[5] / n,6:F2}{(m.ReportCost ? $"  NFE {s[3] / n:F1}  {s[4] / n:F2} s/image" : "")}");
        }
        json["methods"] = ms;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!);
        Boost.Models.IO.AtomicFile.WriteAllText(jsonPath, json.ToJsonString(WeightsDir.Json));
        if (gridPath is not null)
            GridImage.Save(gridPath, rows, ["LR", .. methods.Select(m => m.Name), "ground truth"]);
        var curves = methods.Where(m => m.Family is not null).GroupBy(m => m.Family!)
            .Select(g => (family: g.Key, points: g.Select(m => sums[m.Name].Select(v => v / n).ToArray()).OrderBy(v => v[3]).ToArray()))
            .Where(c => c.points.Length >= 2).ToList();
        if (curves.Count > 0)
        {
            string plot = NfePlotPath(jsonPath);
            SaveNfePlot(plot, curves, sums.TryGetValue("bicubic", out var b) ? b.Select(v => v / n).ToArray() : null);
            log.WriteLine($"wrote {plot} ({curves.Count} curves against NFE)");
        }
        return json;
    }

    /// <summary>eval.json → eval-nfe.png beside it.</summary>
    public static string NfePlotPath(string jsonPath)
        => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!, Path.GetFileNameWithoutExtension(jsonPath) + "-nfe.png");

    /// <summary>Four panels (PSNR, SSIM, HF ratio, LR consistency) of each curve against its mean NFE, bicubic as a flat
    /// reference line; one PNG, written atomically.</summary>
    private static void SaveNfePlot(string path, List<(string family, double[][] points)> curves, double[]? bicubic)
    {
        (int index, string label)[] panels = [(0, "PSNR (dB)"), (1, "SSIM"), (2, "HF ratio (1 = ground truth's)"), (5, "LR consistency (dB)")];
        const int w = 640, h = 400;
        var sheet = new Canvas(2 * w, 2 * h, new SixLabors.ImageSharp.PixelFormats.Rgb24(255, 255, 255));
        double maxNfe = curves.Max(c => c.points.Max(p => p[3]));
        for (int k = 0; k < panels.Length; k++)
        {
            var (index, label) = panels[k];
            var plot = new LinePlot { Width = w, Height = h, Title = label + " against NFE", XLabel = "NFE (mean per image)", YLabel = label };
            foreach (var (family, points) in curves)
                plot.Add(family, points.Select(p => p[3]).ToArray(), points.Select(p => p[index]).ToArray());
            if (bicubic is not null) plot.Add("bicubic", [0, maxNfe], [bicubic[index], bicubic[index]]);
            var panel = plot.Render();
            int ox = k % 2 * w, oy = k / 2 * h;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) sheet.Set(ox + x, oy + y, panel[x, y]);
        }
        sheet.SavePng(path);
    }
}
