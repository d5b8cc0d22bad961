using System.Diagnostics;
using System.Numerics;
using System.Runtime.Intrinsics;
using Boost.Kernels;

namespace Boost.Bench;

/// <summary>
/// The machine's practical peaks, measured in the same run as the cases so "% of peak" compares like with like.
/// CPU: compute = independent FMA chains in registers on every thread (the widest vectors the JIT accelerates),
/// bandwidth = a 256 MiB copy on every thread (read + write counted). ILGPU devices: compute = the best of a large
/// GEMM (our fastest kernel: a practical, not a datasheet, peak), bandwidth = a device-to-device copy of 256 MiB.
/// </summary>
public static class Peak
{
    public static (double gflops, double gbs, string how) Measure(Device device)
    {
        if (device is CpuDevice) return (CpuFma(), CpuCopy(), $"FMA chains ({(Vector512.IsHardwareAccelerated ? 512 : 256)}-bit) and a 256 MiB copy, {Environment.ProcessorCount} threads");
        using var a = Rng.Uniform(device, 1, 0, [4096, 4096]);
        using var b = Rng.Uniform(device, 2, 0, [4096, 4096]);
        MatMul.Gemm(a, b).Dispose(); device.Synchronize();
        double best = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            MatMul.Gemm(a, b).Dispose(); device.Synchronize();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        using var src = Rng.Uniform(device, 3, 0, [64 << 20]);
        using var dst = Tensor.Empty(device, 64 << 20);
        dst.CopyFrom(src); device.Synchronize();
        double copy = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            dst.CopyFrom(src); device.Synchronize(); // a device-to-device copy is queued, not waited for
            copy = Math.Min(copy, sw.Elapsed.TotalSeconds);
        }
        return (2.0 * 4096 * 4096 * 4096 / best / 1e9, 2.0 * src.Length * 4 / copy / 1e9, "our 4096³ GEMM and a 256 MiB device copy");
    }

    private static double CpuFma()
    {
        const long iters = 20_000_000;
        int threads = Environment.ProcessorCount;
        int lanes = Vector512.IsHardwareAccelerated ? 16 : 8;
        double best = double.MaxValue;
        for (int rep = 0; rep < 3; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, _ => Sink += lanes == 16 ? Fma512(iters) : Fma256(iters));
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * 8 * lanes * iters * threads / best / 1e9; // 8 chains × lanes FMAs per iteration, 2 FLOPs each
    }

    private static float Sink;

    private static float Fma256(long n)
    {
        var m = Vector256.Create(0.999999f); var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = Vector256.FusedMultiplyAdd(a2, m, c); a3 = Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
    }

    private static float Fma512(long n)
    {
        var m = Vector512.Create(0.999999f); var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
    }

    private static double CpuCopy()
    {
        int threads = Environment.ProcessorCount;
        const int n = 64 << 20; // floats: 256 MiB per buffer
        var src = new float[n]; var dst = new float[n];
        src.AsSpan().Fill(1f); dst.AsSpan().Fill(2f);
        double best = double.MaxValue;
        for (int rep = 0; rep < 4; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, t =>
            {
                int per = n / threads, start = t * per, len = t == threads - 1 ? n - start : per;
                src.AsSpan(start, len).CopyTo(dst.AsSpan(start, len));
            });
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * 4 / best / 1e9;
    }
}
