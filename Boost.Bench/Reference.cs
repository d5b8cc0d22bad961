using Boost.Kernels;

namespace Boost.Bench;

/// <summary>
/// The libtorch anchor: libtorch 2.10 (MKL/oneDNN), float32, 2 threads, on the developers' machine type (2 cores of AMD
/// EPYC Zen 5 with AVX-512), median of many runs; the midpoint of each quoted range. Not measured in our run: the
/// ratio compares against the anchor's figure, so it is only like for like on that machine type.
/// </summary>
public static class Reference
{
    public static readonly IReadOnlyDictionary<string, double> LibtorchMs = new Dictionary<string, double>
    {
        ["matmul_1024"] = 12.85,
        ["conv3x3_c128_32_fwd"] = 7.65,
        ["conv3x3_c128_32_bwd"] = 15.95,
        ["conv3x3_c64_64_fwd"] = 8.45,
        ["conv3x3_c64_64_bwd"] = 17.75,
        ["conv3x3s2_c128_32_fwd"] = 2.15,
        ["groupnorm_fwd"] = 0.165,
        ["groupnorm_bwd"] = 0.28,
        ["attention_fwd"] = 5.5,
        ["attention_bwd"] = 12.7,
        ["upsample_nearest_fwd"] = 10.95,
        ["upsample_nearest_bwd"] = 2.85,
        ["upsample_bilinear_fwd"] = 10.75,
        ["upsample_bilinear_bwd"] = 12.75,
        ["unet_bench_forward"] = 123,      // 118–128 ms over repeated runs
        ["unet_bench_train_step"] = 430,
    };

    /// <summary>The target for each case, as a speed ratio (libtorch ms / ours): conv and attention ≥ 0.5,
    /// group norm ≥ 1, upsampling ≥ 2; null where there is none.</summary>
    public static double? Target(string id) =>
        id.StartsWith("conv") || id.StartsWith("attention") ? 0.5
        : id.StartsWith("groupnorm") ? 1.0
        : id.StartsWith("upsample") ? 2.0
        : null;
}

/// <summary>
/// PyTorch measured on this machine in the same run: <c>scripts/torch_bench.py</c> times the op cases with
/// <c>torch</c> (Debian: <c>apt install python3-torch libopenblas0-pthread</c>) on as many threads as we use. Absent torch is not an error:
/// the run says so and keeps the anchor's figures only.
/// </summary>
public static class TorchHere
{
    /// <summary>The script's measured peaks on a CUDA device (its "ceiling"): torch.mm 8192² in fp32 with TF32 off,
    /// in TF32 and in bf16 (GFLOP/s), and a device-to-device copy (GB/s, read + write).</summary>
    public sealed record Ceiling(double Fp32Gflops, double? Tf32Gflops, double? Bf16Gflops, double CopyGbs, string How);

    public sealed record Result(string Label, string Version, bool Mkldnn, string Blas, string Device, bool Tf32, IReadOnlyDictionary<string, double> Ms, Ceiling? Ceiling = null);

    /// <summary>The PyTorch runs that match a Boost device: the CPU once (same thread count); a CUDA GPU once in three
    /// precision modes, each its own result: "torch default" (PyTorch's defaults: cuDNN convolutions in TF32, matmul
    /// fp32), "torch fp32" (TF32 off) and "torch bf16" (bf16 autocast), with the ceiling. Empty when torch is absent
    /// (said in the log).</summary>
    public static List<Result> Runs(Device dev, string? filter, bool gpuShapes, TextWriter log) => dev switch
    {
        CpuDevice => Measure(filter, Boost.Kernels.Cpu.CpuParallel.Threads, "cpu", gpuShapes, null, log),
        IlgpuDevice { IsSimulator: false } => Measure(filter, 1, "cuda", gpuShapes, "default,fp32,bf16", log),
        _ => [],
    };

    /// <summary>Interpreters tried in order: $BOOST_PYTHON, python3 on PATH, then Debian's /usr/bin/python3 (where
    /// apt's python3-torch lives when PATH points at another Python).</summary>
    private static IEnumerable<string> Pythons() =>
        new[] { Environment.GetEnvironmentVariable("BOOST_PYTHON"), "python3", "/usr/bin/python3" }.OfType<string>().Distinct();

    /// <param name="modes">CUDA precision modes (torch_bench.py --modes), null on the CPU</param>
    public static List<Result> Measure(string? filter, int threads, string device, bool gpuShapes, string? modes, TextWriter log)
    {
        string script = Path.Combine(Boost.Train.Cli.Paths.Root, "scripts", "torch_bench.py");
        if (!File.Exists(script)) { log.WriteLine($"PyTorch here: skipped ({script} not found)."); return []; }
        string why = "no python3";
        foreach (var python in Pythons())
        {
            var r = Run(python, script, filter, threads, device, gpuShapes, modes, log, out string? failure);
            if (r is not null) return r;
            why = failure ?? why;
        }
        log.WriteLine($"PyTorch here: skipped ({why}).");
        return [];
    }

    private static List<Result>? Run(string python, string script, string? filter, int threads, string device, bool gpuShapes, string? modes,
        TextWriter log, out string? failure)
    {
        failure = null;
        string json = Path.Combine(Path.GetTempPath(), $"boost-torch-{Environment.ProcessId}.json");
        var psi = new System.Diagnostics.ProcessStartInfo(python)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        var args = new List<string> { script, "--threads", threads.ToString(), "--json", json, "--device", device };
        if (modes is not null) args.AddRange(["--modes", modes]);
        if (filter is not null) args.AddRange(["--filter", filter]);
        if (gpuShapes) args.Add("--gpu-shapes");
        foreach (var arg in args)
            psi.ArgumentList.Add(arg);
        try
        {
            using var p = System.Diagnostics.Process.Start(psi)!;
            var errorsTask = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd(), errors = errorsTask.Result;
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                failure = errors.Contains("No module named 'torch'") ? $"{python} has no torch (apt install python3-torch)"
                    : $"{python}: {errors.Trim().Split('\n').LastOrDefault() ?? $"exit {p.ExitCode}"}";
                return null;
            }
            log.Write(output);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            var root = doc.RootElement;
            string version = root.GetProperty("torch").GetString() ?? "?";
            bool mkldnn = root.GetProperty("mkldnn").GetBoolean();
            string blas = root.TryGetProperty("blas", out var b) ? b.GetString() ?? "?" : "?";
            string where = root.TryGetProperty("device", out var dv) ? dv.GetString() ?? device : device;
            Ceiling? ceiling = root.TryGetProperty("ceiling", out var c) && c.TryGetProperty("fp32_gflops", out var fp32) && c.TryGetProperty("copy_gbs", out var copy)
                ? new Ceiling(fp32.GetDouble(), Number(c, "tf32_gflops"), Number(c, "bf16_gflops"), copy.GetDouble(),
                    c.TryGetProperty("how", out var how) ? how.GetString() ?? "PyTorch" : "PyTorch")
                : null;
            Result Read(System.Text.Json.JsonElement run, string label, bool tf32) => new(label, version, mkldnn, blas, where, tf32,
                run.GetProperty("cases").EnumerateObject().ToDictionary(k => k.Name, k => k.Value.GetDouble()), ceiling);
            return root.GetProperty("runs").EnumerateArray() // one per precision mode, labelled by the script
                .Select(r => Read(r, r.GetProperty("label").GetString() ?? "torch", r.GetProperty("tf32").GetBoolean())).ToList();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            failure = $"no {python}";
            return null;
        }
        finally { if (File.Exists(json)) File.Delete(json); }
    }

    private static double? Number(System.Text.Json.JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number ? v.GetDouble() : null;
}
