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

    /// <summary>Block <paramref name="block"/> of a uniform draw: elements 4·block … 4·block + 3, in (lo, hi). The one
    /// body both the kernel and the managed loop run, so every device draws the same numbers.</summary>
    public static (float, float, float, float) UniformBlock(ulong seed, ulong stream, uint block, float lo, float hi)
    {
        var (w0, w1, w2, w3) = Philox(block, 0u, (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
        float span = hi - lo;
        return (lo + span * ToUnit(w0), lo + span * ToUnit(w1), lo + span * ToUnit(w2), lo + span * ToUnit(w3));
    }

    /// <summary>Block <paramref name="block"/> of a normal draw: two Box–Muller pairs, times std plus mean.</summary>
    public static (float, float, float, float) NormalBlock(ulong seed, ulong stream, uint block, float mean, float std)
    {
        var (w0, w1, w2, w3) = Philox(block, 0u, (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
        float r0 = MathF.Sqrt(-2f * LnUnit(ToUnit(w0))), a0 = 2f * MathF.PI * ToUnit(w1);
        float r1 = MathF.Sqrt(-2f * LnUnit(ToUnit(w2))), a1 = 2f * MathF.PI * ToUnit(w3);
        return (mean + std * r0 * MathF.Cos(a0), mean + std * r0 * MathF.Sin(a0), mean + std * r1 * MathF.Cos(a1), mean + std * r1 * MathF.Sin(a1));
    }

    // ---------------------------------------------------------------- kernels

    /// <summary>Thread i fills elements 4i..4i+3 of y with uniforms in (lo, hi).</summary>
    [Kernel]
    public static void UniformKernel(Index1D i, ArrayView<float> y, ulong seed, ulong stream, float lo, float hi)
    {
        var (v0, v1, v2, v3) = UniformBlock(seed, stream, (uint)i.X, lo, hi);
        long n = y.Length, at = 4L * i.X;
        if (at < n) y[at] = v0;
        if (at + 1 < n) y[at + 1] = v1;
        if (at + 2 < n) y[at + 2] = v2;
        if (at + 3 < n) y[at + 3] = v3;
    }

    /// <summary>Thread i fills elements 4i..4i+3 of y with normals N(mean, std²).</summary>
    [Kernel]
    public static void NormalKernel(Index1D i, ArrayView<float> y, ulong seed, ulong stream, float mean, float std)
    {
        var (v0, v1, v2, v3) = NormalBlock(seed, stream, (uint)i.X, mean, std);
        long n = y.Length, at = 4L * i.X;
        if (at < n) y[at] = v0;
        if (at + 1 < n) y[at + 1] = v1;
        if (at + 2 < n) y[at + 2] = v2;
        if (at + 3 < n) y[at + 3] = v3;
    }

    // ---------------------------------------------------------------- ops

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
        _ = Blocks(y); // the block counter is 32-bit: a longer draw throws here, on every device
        if (y.Length > 0) y.Device.Backend.Uniform(y, seed, stream, lo, hi);
    }

    public static void FillNormal(Tensor y, ulong seed, ulong stream, float mean = 0f, float std = 1f)
    {
        _ = Blocks(y); // the block counter is 32-bit: a longer draw throws here, on every device
        if (y.Length > 0) y.Device.Backend.Normal(y, seed, stream, mean, std);
    }

    /// <summary>Philox blocks of four elements covering y; the counter is 32-bit.</summary>
    internal static int Blocks(Tensor y) => checked((int)((y.Length + 3) / 4));

    // ---------------------------------------------------------------- launchers

    internal static void LaunchUniform(IlgpuDevice dev, Tensor y, ulong seed, ulong stream, float lo, float hi)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ulong, ulong, float, float>(UniformKernel));
        k(Blocks(y), y.View, seed, stream, lo, hi);
    }

    internal static void LaunchNormal(IlgpuDevice dev, Tensor y, ulong seed, ulong stream, float mean, float std)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ulong, ulong, float, float>(NormalKernel));
        k(Blocks(y), y.View, seed, stream, mean, std);
    }
}
