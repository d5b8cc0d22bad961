using Boost.Kernels.Cpu;
using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011): value i of a draw is a pure function of
/// (seed, stream, i), so every device produces the same numbers and a resumed run only needs the stream counter.
/// Each Philox block gives four 32-bit words: four uniforms, or two Box–Muller pairs of normals.
/// </summary>
public static class Rng
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>Philox4x32 with 10 rounds: counter (c0..c3), key (k0, k1) → four words.</summary>
    public static (uint, uint, uint, uint) Philox(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0; c1 = lo1; c2 = hi0 ^ c3 ^ k1; c3 = lo0;
            k0 += W0; k1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>A word → a float uniform in (0, 1), exactly representable: (2k + 1)·2⁻²⁴ with k the top 23 bits.</summary>
    public static float ToUnit(uint word) => (word >> 9) * (1f / (1 << 23)) + 1f / (1 << 24);

    /// <summary>
    /// ln u for u in (0, 1), to a few float ulps relative everywhere. Near 1, MathF.Log becomes PTX's lg2.approx,
    /// whose absolute error (~2⁻²²) swamps ln u → 0 (and can turn its sign, making Box–Muller's √(−2 ln u) NaN); there
    /// ln u = ln(1 + x) = 2 atanh(s), s = x/(2 + x), x = u − 1 exact for u ≥ ½, |s| ≤ ⅓, by its odd series.
    /// </summary>
    public static float LnUnit(float u)
    {
        if (u < 0.5f) return MathF.Log(u);
        float x = u - 1f, s = x / (2f + x), s2 = s * s;
        float series = 1f + s2 * (1f / 3 + s2 * (1f / 5 + s2 * (1f / 7 + s2 * (1f / 9 + s2 * (1f / 11 + s2 * (1f / 13 + s2 * (1f / 15)))))));
        return 2f * s * series;
    }

    // ---------------------------------------------------------------- kernels

    /// <summary>Thread i fills elements 4i..4i+3 of y with uniforms in (lo, hi).</summary>
    [Kernel]
    public static void UniformKernel(Index1D i, ArrayView<float> y, ulong seed, ulong stream, float lo, float hi)
    {
        var (w0, w1, w2, w3) = Philox((uint)i.X, 0u, (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
        long n = y.Length, at = 4L * i.X;
        float span = hi - lo;
        if (at < n) y[at] = lo + span * ToUnit(w0);
        if (at + 1 < n) y[at + 1] = lo + span * ToUnit(w1);
        if (at + 2 < n) y[at + 2] = lo + span * ToUnit(w2);
        if (at + 3 < n) y[at + 3] = lo + span * ToUnit(w3);
    }

    /// <summary>Thread i fills elements 4i..4i+3 of y with standard normals (two Box–Muller pairs), times std plus mean.</summary>
    [Kernel]
    public static void NormalKernel(Index1D i, ArrayView<float> y, ulong seed, ulong stream, float mean, float std)
    {
        var (w0, w1, w2, w3) = Philox((uint)i.X, 0u, (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
        long n = y.Length, at = 4L * i.X;
        float r0 = MathF.Sqrt(-2f * LnUnit(ToUnit(w0))), a0 = 2f * MathF.PI * ToUnit(w1);
        float r1 = MathF.Sqrt(-2f * LnUnit(ToUnit(w2))), a1 = 2f * MathF.PI * ToUnit(w3);
        if (at < n) y[at] = mean + std * r0 * MathF.Cos(a0);
        if (at + 1 < n) y[at + 1] = mean + std * r0 * MathF.Sin(a0);
        if (at + 2 < n) y[at + 2] = mean + std * r1 * MathF.Cos(a1);
        if (at + 3 < n) y[at + 3] = mean + std * r1 * MathF.Sin(a1);
    }

    // ---------------------------------------------------------------- launchers

    /// <summary>Uniforms in (lo, hi); the same (seed, stream) gives the same numbers on every device.</summary>
    public static Tensor Uniform(Device device, ulong seed, ulong stream, int[] shape, float lo = 0f, float hi = 1f)
    {
        var y = Tensor.Empty(device, shape);
        FillUniform(y, seed, stream, lo, hi);
        return y;
    }

    /// <summary>Normals N(mean, std²); the same (seed, stream) gives the same numbers on every device.</summary>
    public static Tensor Normal(Device device, ulong seed, ulong stream, int[] shape, float mean = 0f, float std = 1f)
    {
        var y = Tensor.Empty(device, shape);
        FillNormal(y, seed, stream, mean, std);
        return y;
    }

    public static void FillUniform(Tensor y, ulong seed, ulong stream, float lo = 0f, float hi = 1f)
    {
        int blocks = checked((int)((y.Length + 3) / 4));
        if (y.Device is IlgpuDevice dev)
        {
            var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ulong, ulong, float, float>(UniformKernel));
            if (blocks > 0) k(blocks, y.View, seed, stream, lo, hi);
            return;
        }
        var arr = y.Storage.Array!; long n = y.Length;
        CpuParallel.For(blocks, 4096, (s, e) =>
        {
            for (long b = s; b < e; b++)
            {
                var (w0, w1, w2, w3) = Philox((uint)b, 0u, (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
                long at = 4 * b; float span = hi - lo;
                if (at < n) arr[at] = lo + span * ToUnit(w0);
                if (at + 1 < n) arr[at + 1] = lo + span * ToUnit(w1);
                if (at + 2 < n) arr[at + 2] = lo + span * ToUnit(w2);
                if (at + 3 < n) arr[at + 3] = lo + span * ToUnit(w3);
            }
        });
    }

    public static void FillNormal(Tensor y, ulong seed, ulong stream, float mean = 0f, float std = 1f)
    {
        int blocks = checked((int)((y.Length + 3) / 4));
        if (y.Device is IlgpuDevice dev)
        {
            var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ulong, ulong, float, float>(NormalKernel));
            if (blocks > 0) k(blocks, y.View, seed, stream, mean, std);
            return;
        }
        var arr = y.Storage.Array!; long n = y.Length;
        CpuParallel.For(blocks, 2048, (s, e) =>
        {
            for (long b = s; b < e; b++)
            {
                var (w0, w1, w2, w3) = Philox((uint)b, 0u, (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
                float r0 = MathF.Sqrt(-2f * LnUnit(ToUnit(w0))), a0 = 2f * MathF.PI * ToUnit(w1);
                float r1 = MathF.Sqrt(-2f * LnUnit(ToUnit(w2))), a1 = 2f * MathF.PI * ToUnit(w3);
                long at = 4 * b;
                if (at < n) arr[at] = mean + std * r0 * MathF.Cos(a0);
                if (at + 1 < n) arr[at + 1] = mean + std * r0 * MathF.Sin(a0);
                if (at + 2 < n) arr[at + 2] = mean + std * r1 * MathF.Cos(a1);
                if (at + 3 < n) arr[at + 3] = mean + std * r1 * MathF.Sin(a1);
            }
        });
    }
}
