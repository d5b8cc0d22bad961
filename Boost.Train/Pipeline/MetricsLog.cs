using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Boost.Train.Imaging;

namespace Boost.Train.Pipeline;

/// <summary>
/// <c>metrics.jsonl</c> in a run folder: one JSON object per line (<c>{"step":…,"loss":…}</c>, validation lines
/// carry <c>"val_…"</c> fields). On resume, lines after the checkpoint's step are dropped, so the curve continues
/// from where the weights are rather than from where the killed process happened to be.
/// </summary>
public sealed class MetricsLog
{
    public string Path { get; }
    public MetricsLog(string runDir) => Path = System.IO.Path.Combine(runDir, "metrics.jsonl");

    public void Append(int step, IReadOnlyDictionary<string, double> values)
    {
        var o = new JsonObject { ["step"] = step };
        foreach (var (k, v) in values) o[k] = double.IsFinite(v) ? v : null;
        File.AppendAllText(Path, o.ToJsonString() + "\n");
    }

    /// <summary>Every parsable line, in order (a torn last line from a kill is skipped).</summary>
    public List<JsonObject> ReadAll()
    {
        var list = new List<JsonObject>();
        if (!File.Exists(Path)) return list;
        foreach (var line in File.ReadLines(Path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { if (JsonNode.Parse(line) is JsonObject o) list.Add(o); }
            catch (JsonException) { }
        }
        return list;
    }

    /// <summary>Keeps the lines with step ≤ <paramref name="step"/> (atomically rewritten).</summary>
    public void TruncateAfter(int step)
    {
        var keep = ReadAll().Where(o => (int?)o["step"] <= step).Select(o => o.ToJsonString()).ToList();
        Boost.Models.IO.AtomicFile.WriteAllLines(Path, keep);
    }

    /// <summary>Draws every numeric series named in <paramref name="keys"/> against step into a PNG.</summary>
    public void Plot(string pngPath, string title, params string[] keys)
    {
        var rows = ReadAll();
        var plot = new LinePlot { Title = title, XLabel = "step", YLabel = string.Join(", ", keys), LogY = true };
        int drawn = 0;
        foreach (var key in keys)
        {
            var pts = rows.Where(o => o[key] is JsonValue v && v.TryGetValue<double>(out double d) && d > 0)
                .Select(o => ((double)(int)o["step"]!, (double)o[key]!)).ToList();
            if (pts.Count < 2) continue;
            // Training losses are noisy: draw a running mean over ~1/50 of the run so the trend reads.
            var ys = Smooth(pts.Select(p => p.Item2).ToArray(), key.StartsWith("val_", StringComparison.Ordinal) ? 1 : Math.Max(1, pts.Count / 50));
            plot.Add(key, pts.Select(p => p.Item1).ToArray(), ys);
            drawn++;
        }
        if (drawn > 0) plot.Save(pngPath);
    }

    private static double[] Smooth(double[] y, int window)
    {
        if (window <= 1) return y;
        var s = new double[y.Length];
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            sum += y[i];
            if (i >= window) sum -= y[i - window];
            s[i] = sum / Math.Min(i + 1, window);
        }
        return s;
    }

    public static string Format(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
}
