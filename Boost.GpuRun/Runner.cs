using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Boost.Bench;
using Boost.Kernels;
using ILGPU.Runtime.Cuda;

namespace Boost.GpuRun;

/// <summary>The runner's commands (see Program.cs). Every JSON it writes is saved atomically and, for long commands,
/// after each case, so a crash or a time-out keeps what finished.</summary>
public static class Runner
{
    public static int Run(string[] args)
    {
        string command = args.Length > 0 ? args[0] : "help";
        var rest = args.Skip(1).ToArray();
        try
        {
            return command switch
            {
                "env" => Env(Option(rest, "--device"), Option(rest, "--json")),
                "ptx" => Ptx(rest.FirstOrDefault(a => !a.StartsWith("--")) ?? throw new ArgumentException("ptx needs an output folder"), Option(rest, "--device")),
                "check" => Check(rest),
                "bench" => Bench(rest),
                "tests" => TestRun.Run(Option(rest, "--backend") ?? "cuda", Option(rest, "--where"), Option(rest, "--json")),
                "crop" => Crop(rest),
                "psnr" => Psnr(rest, Option(rest, "--json")),
                "train" or "boost" or "eval" or "train-ae" => Boost.Train.Cli.Commands.Run(args),
                _ => Help(),
            };
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (Exception e)
        {
            // Anything else (a CUDA fault, a bad image): one line with its type, then the stack for the log; no abort.
            Console.Error.WriteLine($"error: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e.StackTrace);
            return 1;
        }
    }

    private static int Help()
    {
        Console.WriteLine("usage: boost-gpu env|ptx|check|bench|tests|train|boost|eval [options] (see Boost.GpuRun/Program.cs)");
        return 2;
    }

    internal static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Writes JSON atomically (<see cref="Boost.Models.IO.AtomicFile"/>): readers see the old or the new
    /// file, never half of one.</summary>
    internal static void Save(string? path, object doc)
    {
        if (path is null) return;
        Boost.Models.IO.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(doc, JsonOptions));
    }

    // ------------------------------------------------------------------ env

    private static int Env(string? device, string? json)
    {
        int cudaDevices = Device.CudaDeviceCount();
        var info = new Dictionary<string, object?>
        {
            ["os"] = RuntimeInformation.OSDescription, ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["processors"] = Environment.ProcessorCount, ["machine"] = Environment.MachineName,
            ["cuda_devices"] = cudaDevices, ["cuda_unavailable_reason"] = Device.CudaUnavailableReason,
            ["utc"] = DateTime.UtcNow.ToString("u"),
        };
        using var dev = Device.Select(device);
        info["device"] = dev.Name;
        if (dev is IlgpuDevice { Accelerator: CudaAccelerator a })
        {
            info["cuda"] = new Dictionary<string, object?>
            {
                ["name"] = a.Name, ["architecture"] = a.Architecture.ToString(), ["instruction_set"] = a.InstructionSet.ToString(),
                ["driver_version"] = $"{a.DriverVersion.Major}.{a.DriverVersion.Minor}", ["memory_mib"] = a.MemorySize >> 20,
                ["multiprocessors"] = a.NumMultiprocessors, ["warp_size"] = a.WarpSize, ["max_group_size"] = a.MaxNumThreadsPerGroup,
                ["max_shared_per_group"] = a.MaxSharedMemoryPerGroup, ["max_shared_per_multiprocessor"] = a.MaxSharedMemoryPerMultiprocessor,
                ["l2_bytes"] = a.L2CacheSize, ["clock_khz"] = a.ClockRate, ["memory_clock_khz"] = a.MemoryClockRate,
                ["memory_bus_bits"] = a.MemoryBusWidth, ["registers_per_multiprocessor"] = a.TotalNumRegistersPerMultiprocessor,
            };
        }
        else if (dev is IlgpuDevice other)
            info["ilgpu"] = new { name = other.Accelerator.Name, warp_size = other.Accelerator.WarpSize, max_group_size = other.Accelerator.MaxNumThreadsPerGroup };
        Console.WriteLine(JsonSerializer.Serialize(info, JsonOptions));
        Save(json, info);
        return 0;
    }

    // ------------------------------------------------------------------ ptx

    /// <summary>Every kernel instance's PTX, compiled for the device's architecture and the ISA its driver gets (without
    /// a GPU: SM_90 and ISA 8.8, what an H100/H200 on a CUDA 12.9+/13 driver gets), one file each, plus audit.json: the
    /// source's shared allocation sites and the PTX's shared, local and extern declarations (KernelCatalog).</summary>
    private static int Ptx(string dir, string? device)
    {
        var (arch, isa) = (CudaArchitecture.SM_90, KernelCatalog.RuntimeIsa);
        if (device is not null || Device.CudaDeviceCount() > 0)
        {
            using var dev = Device.Select(device);
            if (dev is IlgpuDevice { Accelerator: CudaAccelerator a }) (arch, isa) = (a.Architecture, a.InstructionSet);
        }
        Directory.CreateDirectory(dir);
        var rows = new List<object>();
        int i = 0, bad = 0;
        foreach (var (method, label) in KernelCatalog.Instances())
        {
            string file = $"{i++:D3}_{new string(label.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_').ToArray())}.ptx";
            try
            {
                string ptx = KernelCatalog.CompilePtx(method, arch, isa);
                File.WriteAllText(Path.Combine(dir, file), ptx);
                var facts = KernelCatalog.Read(ptx);
                var (sites, dynamic) = KernelCatalog.SharedAllocationSites(method);
                bool ok = facts.Shared.Count == sites && facts.DynamicShared == dynamic && facts.SharedBytes <= KernelCatalog.StaticSharedLimit
                          && facts.Local.All(l => KernelCatalog.IsInlineAsmSlot(facts, l)) && facts.Externs.Count == 0;
                if (!ok) bad++;
                rows.Add(new
                {
                    label, file, ok, source_sites = sites, source_dynamic = dynamic, shared = facts.Shared.Select(s => new { name = s.Name, bytes = s.Bytes }),
                    shared_bytes = facts.SharedBytes, dynamic_shared = facts.DynamicShared, local = facts.Local.Select(s => new { name = s.Name, bytes = s.Bytes }),
                    externs = facts.Externs,
                });
            }
            catch (Exception e) { bad++; rows.Add(new { label, file, ok = false, error = $"{e.GetType().Name}: {e.Message}" }); }
        }
        Save(Path.Combine(dir, "audit.json"), new { arch = arch.ToString(), isa = isa.ToString(), kernels = rows.Count, failed = bad, rows });
        Console.WriteLine($"{rows.Count} kernel instances compiled for {arch}, {isa} into {dir}; audit: {rows.Count - bad} ok, {bad} failed");
        return bad > 0 ? 1 : 0;
    }

    // ------------------------------------------------------------------ images

    /// <summary><c>crop IN OUT SIZE</c>: the centre SIZE×SIZE square of an image, as PNG (a small LR input for boost).</summary>
    private static int Crop(string[] args)
    {
        if (args.Length < 3) throw new ArgumentException("usage: crop IN OUT SIZE");
        int size = int.Parse(args[2]);
        using var image = Boost.Train.Data.ImageLoader.Load(args[0]);
        if (image.Width < size || image.Height < size) throw new ArgumentException($"{args[0]} is {image.Width}×{image.Height}, smaller than {size}²");
        var chw = Boost.Train.Imaging.ImageConvert.ToChw(image, (image.Height - size) / 2, (image.Width - size) / 2, size, size);
        Boost.Train.Imaging.ImageConvert.SavePng(chw, args[1]);
        return 0;
    }

    /// <summary><c>psnr A B [--json F]</c>: PSNR of A against B (same size), in dB.</summary>
    private static int Psnr(string[] args, string? json)
    {
        var files = args.Where(a => !a.StartsWith("--") && a != json).ToArray();
        if (files.Length != 2) throw new ArgumentException("usage: psnr A B [--json F]");
        var a = Boost.Train.Data.ImageLoader.LoadChw(files[0]);
        var b = Boost.Train.Data.ImageLoader.LoadChw(files[1]);
        if (a.Width != b.Width || a.Height != b.Height) throw new ArgumentException($"sizes differ: {a.Width}×{a.Height} vs {b.Width}×{b.Height}");
        double db = Boost.Train.Imaging.Metrics.Psnr(a, b);
        Console.WriteLine($"PSNR {files[0]} vs {files[1]}: {db:F2} dB");
        Save(json, new { a = files[0], b = files[1], psnr_db = db });
        return 0;
    }

    // ------------------------------------------------------------------ check, bench

    /// <summary>The fp32 (TF32 off) matmul GFLOP/s and copy GB/s from torch_bench.py's JSON; null if absent.</summary>
    private static (double, double, string)? ReadCeiling(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (!doc.RootElement.TryGetProperty("ceiling", out var c) || !c.TryGetProperty("fp32_gflops", out var f) || !c.TryGetProperty("copy_gbs", out var g))
                return null;
            return (f.GetDouble(), g.GetDouble(), c.TryGetProperty("how", out var h) ? h.GetString() ?? path : path);
        }
        catch (Exception e) when (e is IOException or JsonException) { Console.WriteLine($"ceiling: {path} unreadable ({e.Message}); measuring our own"); return null; }
    }

    /// <summary><c>--precision fp32|tf32|bf16</c> for check and bench: tf32 and bf16 run the GEMM-shaped kernels on
    /// tensor cores.</summary>
    private static void SetPrecision(Device dev, string? precision)
    {
        var p = precision switch
        {
            null or "fp32" => MatmulPrecision.Fp32, "tf32" => MatmulPrecision.Tf32, "bf16" => MatmulPrecision.Bf16,
            _ => throw new ArgumentException($"--precision must be fp32, tf32 or bf16, got '{precision}'."),
        };
        if (p == MatmulPrecision.Fp32) return;
        if (dev is not IlgpuDevice gpu) throw new ArgumentException($"--precision {precision} needs a CUDA device (or ilgpu-cpu-nvidia), not {dev.Name}.");
        gpu.Precision = p;
    }

    private static int Check(string[] args)
    {
        using var dev = Device.Select(Option(args, "--device"));
        SetPrecision(dev, Option(args, "--precision"));
        return GpuCheck.Run(dev, Option(args, "--shapes") ?? "small", Option(args, "--json"));
    }

    private static int Bench(string[] args)
    {
        string? json = Option(args, "--json"), filter = Option(args, "--filter");
        double budget = double.Parse(Option(args, "--budget-s") ?? "2", System.Globalization.CultureInfo.InvariantCulture);
        bool gpuShapes = args.Contains("--gpu-shapes");
        using var dev = Device.Select(Option(args, "--device"));
        SetPrecision(dev, Option(args, "--precision"));
        Console.WriteLine($"device: {dev.Name}{(dev.Precision != MatmulPrecision.Fp32 ? $", {dev.Precision.ToString().ToUpperInvariant()} tensor cores" : "")}");
        // "% of peak" against a ceiling measured in the same run: PyTorch's fp32 matmul and device copy (torch_bench.py's
        // JSON, --ceiling), else our own GEMM and copy. The simulator's "peak" would be minutes of nothing worth knowing.
        var (gflops, gbs, how) = Option(args, "--ceiling") is { } ceilingFile && ReadCeiling(ceilingFile) is { } c ? c
            : dev.Kind == DeviceKind.IlgpuCpu ? (double.NaN, double.NaN, "not measured on the simulator") : Peak.Measure(dev);
        Console.WriteLine($"practical peak: {gflops:F1} GFLOP/s, {gbs:F1} GB/s ({how})");
        var cases = (gpuShapes ? Cases.Gpu() : Cases.All()).Where(c => Cases.Matches(c.Id, filter)).ToList();
        var done = new Dictionary<string, object>();
        object Doc(bool complete) => new
        {
            device = dev.Name, complete, peak = new { gflops, gbs, how }, machine = $"{Environment.MachineName}, {Environment.ProcessorCount} threads, {RuntimeInformation.OSDescription}",
            cases = done,
        };
        QuickBench.Run(dev, cases, gflops, gbs, Console.Out, row => { done[row.Id] = QuickBench.Json(row); Save(json, Doc(false)); }, budget);
        Save(json, Doc(true));
        return 0;
    }
}
