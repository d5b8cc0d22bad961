using System.Text.Json;
using BenchmarkDotNet.Running;
using Boost.Bench;
using Boost.Kernels;

// dotnet run -c Release --project Boost.Bench                      → BenchmarkDotNet over every case
// dotnet run -c Release --project Boost.Bench -- --quick --json F  → short median timings, one JSON object
// dotnet run -c Release --project Boost.Bench -- --check [--small] --device cuda [--json F] → device vs CPU (GpuCheck.cs)
// dotnet run -c Release --project Boost.Bench -- --counts --device sim [--json F] → launches / host reads per step (StepCounts.cs)
string? device = null, json = null; bool quick = false, check = false, small = false, gpuShapes = false, countsOnly = false; string? filter = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--quick": quick = true; break;
        case "--check": check = true; break;
        case "--counts": countsOnly = true; break;
        case "--small": small = true; break;
        case "--gpu-shapes": gpuShapes = true; break;
        case "--json" when i + 1 < args.Length: json = args[++i]; break;
        case "--device" when i + 1 < args.Length: device = args[++i]; break;
        case "--filter" when i + 1 < args.Length: filter = args[++i]; break;
    }
}
if (check)
{
    using var checkDevice = Device.Select(device);
    return GpuCheck.Run(checkDevice, small, json);
}
if (countsOnly)
{
    using var countDevice = Device.Select(device);
    var only = StepCounts.Measure(countDevice, Console.Out);
    if (only is null) { Console.Error.WriteLine($"--counts needs an ILGPU device (cuda, sim or sim-nvidia), not {countDevice.Name}"); return 2; }
    if (json is not null)
    {
        File.WriteAllText(json, JsonSerializer.Serialize(new { device = countDevice.Name, step_counts = StepCounts.Json(only) }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {json}");
    }
    return 0;
}
if (!quick)
{
    BenchmarkRunner.Run<OpBenchmarks>(args: args.Where(a => a is not "--quick").ToArray());
    return 0;
}

using var dev = Device.Select(device);
Console.WriteLine($"device: {dev.Name}");
bool noTorch = args.Contains("--no-torch");
// On a GPU PyTorch runs first: its fp32 (TF32 off) matmul and device copy are the peaks there (ours where it has none).
var torchRuns = dev is CpuDevice || noTorch ? null : TorchHere.Runs(dev, filter, gpuShapes, Console.Out);
var torchCeiling = torchRuns?.Select(r => r.Ceiling).FirstOrDefault(c => c is not null);
var (peakGflops, peakGbs, peakHow) = torchCeiling is { } tc ? (tc.Fp32Gflops, tc.CopyGbs, tc.How) : Peak.Measure(dev);
Console.WriteLine($"practical peak: {peakGflops:F1} GFLOP/s, {peakGbs:F1} GB/s ({peakHow})");
var cases = (gpuShapes ? Cases.Gpu() : Cases.All()).Where(c => Cases.Matches(c.Id, filter));
var rows = QuickBench.Run(dev, cases, peakGflops, peakGbs, Console.Out);
var stepCounts = StepCounts.Measure(dev, Console.Out);
var medians = rows.ToDictionary(r => r.Key, r => r.Value.MedianMs);
var results = rows.ToDictionary(r => r.Key, r => QuickBench.Json(r.Value));
// PyTorch on this machine, right after our cases (CPU): the like-for-like reference (the libtorch anchor was measured on another CPU).
torchRuns ??= noTorch ? [] : TorchHere.Runs(dev, filter, gpuShapes, Console.Out);
if (torchRuns.Count > 0)
{
    var first = torchRuns[0];
    Console.WriteLine($"PyTorch {first.Version} on {first.Device} (oneDNN {(first.Mkldnn ? "on" : "off")}, BLAS {first.Blas}): speed = torch ms / ours");
    foreach (var id in medians.Keys.Where(id => torchRuns.Any(r => r.Ms.ContainsKey(id))))
    {
        double ours = medians[id];
        var cells = torchRuns.Where(r => r.Ms.ContainsKey(id)).Select(r => $"{r.Label} {r.Ms[id],10:F3} ms {r.Ms[id] / ours,6:F2}×");
        Console.WriteLine($"{id,-26} ours {ours,10:F3} ms  {string.Join("  ", cells)}");
    }
}
if (json is not null)
{
    var doc = new { peak = new { gflops = peakGflops, gbs = peakGbs, how = peakHow }, torch_ceiling = torchCeiling is { } tcj ? new { fp32_gflops = tcj.Fp32Gflops, tf32_gflops = tcj.Tf32Gflops, bf16_gflops = tcj.Bf16Gflops, copy_gbs = tcj.CopyGbs, how = tcj.How } : null,
        torch_runs = torchRuns.Select(r => new { label = r.Label, version = r.Version, device = r.Device, tf32 = r.Tf32, mkldnn = r.Mkldnn, blas = r.Blas, ms = r.Ms }), machine = $"{Environment.MachineName}, {Environment.ProcessorCount} threads, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}", device = dev.Name, step_counts = stepCounts is null ? null : StepCounts.Json(stepCounts), cases = results };
    File.WriteAllText(json, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {json}");
}
return 0;
