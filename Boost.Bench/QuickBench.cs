using System.Diagnostics;
using Boost.Kernels;

namespace Boost.Bench;

/// <summary>
/// Short median timings of bench cases on one device: one warm-up run (JIT, kernel loads, pools), then at least 3 and
/// at most 30 timed runs within ~4 s, each ended by Synchronize. Used by Boost.Bench's <c>--quick</c> mode and by the
/// GPU runner; <paramref name="onCase"/> sees each result as soon as it is measured (the runner saves as it goes).
/// </summary>
public static class QuickBench
{
    public sealed record Row(string Id, double MedianMs, int Runs, double? Gflops, double? Gbs, double? PctOfPeak,
        double? LibtorchMs, double? SpeedVsLibtorch, double? TargetSpeed, IReadOnlyDictionary<string, double>? Extra, string? Note,
        string? Error = null);

    public static Dictionary<string, Row> Run(Device dev, IEnumerable<BenchCase> cases, double peakGflops, double peakGbs, TextWriter log,
        Action<Row>? onCase = null, double budgetSeconds = 4)
    {
        var rows = new Dictionary<string, Row>();
        foreach (var c in cases)
        {
            Action run; IDisposable state;
            try { (run, state) = c.Setup(dev); }
            catch (FileNotFoundException e) { log.WriteLine($"{c.Id,-26} skipped: {e.Message}"); continue; }
            try { Measure(c, run, state); }
            catch (Exception e)
            {
                // A case that throws is reported and the rest go on, except after a CUDA fault: that error is sticky
                // and would fail every later case in its own name.
                log.WriteLine($"{c.Id,-26} FAILED: {e.GetType().Name}: {e.Message}");
                var row = new Row(c.Id, double.NaN, 0, null, null, null, null, null, null, null, null, $"{e.GetType().Name}: {e.Message}");
                rows[c.Id] = row;
                onCase?.Invoke(row);
                if (GpuCheck.IsCudaFault(e)) { log.WriteLine("stopping: CUDA fault"); break; }
            }
        }
        return rows;

        void Measure(BenchCase c, Action run, IDisposable state)
        {
            using (state)
            {
                run(); dev.Synchronize();
                var times = new List<double>();
                var budget = Stopwatch.StartNew();
                while (times.Count < 3 || (times.Count < 30 && budget.Elapsed.TotalSeconds < budgetSeconds))
                {
                    var sw = Stopwatch.StartNew();
                    run(); dev.Synchronize();
                    times.Add(sw.Elapsed.TotalMilliseconds);
                }
                times.Sort();
                double ms = times[times.Count / 2];
                double? gflops = c.Flops > 0 ? c.Flops / ms / 1e6 : null, gbs = c.Bytes > 0 ? c.Bytes / ms / 1e6 : null;
                double? pct = gflops is { } gf ? 100 * gf / peakGflops : gbs is { } gb ? 100 * gb / peakGbs : null;
                double? torchMs = Reference.LibtorchMs.TryGetValue(c.Id, out var t) ? t : null, speed = torchMs / ms, target = Reference.Target(c.Id);
                var row = new Row(c.Id, ms, times.Count, gflops, gbs, pct, torchMs, speed, target, c.Extra?.Invoke(), c.Note?.Invoke(dev));
                string vsTorch = speed is { } sp ? $"{sp,5:F2}× libtorch{(target is { } tg ? sp >= tg ? $" (≥ {tg:G2}: met)" : $" (< {tg:G2})" : "")}" : "";
                log.WriteLine($"{c.Id,-26} {ms,10:F3} ms {(gflops is { } g ? $"{g,8:F1} GFLOP/s" : ""),-16} {(gbs is { } b ? $"{b,8:F1} GB/s" : ""),-12} {(pct is { } p ? $"{p,5:F1}% of peak" : ""),-14} {vsTorch,-30}{(row.Extra is null ? "" : string.Join(" ", row.Extra.Select(kv => $"{kv.Key} {kv.Value:G4}")))}  ({times.Count} runs){(row.Note is null ? "" : $"  [{row.Note}]")}");
                rows[c.Id] = row;
                onCase?.Invoke(row);
            }
        }
    }

    /// <summary>The JSON shape of one row (the keys BENCHMARKS.md's table script reads).</summary>
    public static object Json(Row r) => new
    {
        median_ms = r.MedianMs, runs = r.Runs, gflops = r.Gflops, gbs = r.Gbs, pct_of_peak = r.PctOfPeak, libtorch_ms = r.LibtorchMs,
        speed_vs_libtorch = r.SpeedVsLibtorch, target_speed = r.TargetSpeed, extra = r.Extra, note = r.Note, error = r.Error,
    };
}
