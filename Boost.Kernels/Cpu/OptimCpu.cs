using System.Numerics;

namespace Boost.Kernels.Cpu;

/// <summary>The managed backend's optimizer updates (see <see cref="Optim"/>), bit-identical to the scalar formulas.</summary>
internal static class OptimCpu
{
    public static void AdamW(float[] p, float[] g, float[] m, float[] v, long n, AdamWParams h)
        => CpuParallel.For(n, 1 << 15, (s, e) => AdamWRange(p, g, m, v, (int)s, (int)e, h));

    /// <summary><see cref="Optim.AdamWUpdate"/> over [s, e) in SIMD lanes: the same operations in the same order (no
    /// fused multiply-adds; square root and division are correctly rounded in lanes too), so every element comes out
    /// bit-identical to the scalar update.</summary>
    public static void AdamWRange(float[] p, float[] g, float[] m, float[] v, int s, int e, in AdamWParams h)
    {
        int width = Vector<float>.Count, i = s;
        var scale = new Vector<float>(h.GradScale); var decay = new Vector<float>(1f - h.Lr * h.WeightDecay);
        var b1 = new Vector<float>(h.Beta1); var c1 = new Vector<float>(1f - h.Beta1);
        var b2 = new Vector<float>(h.Beta2); var c2 = new Vector<float>(1f - h.Beta2);
        var sqrtBc2 = new Vector<float>(MathF.Sqrt(h.Bc2)); var eps = new Vector<float>(h.Eps); var step = new Vector<float>(h.Lr / h.Bc1);
        for (; i <= e - width; i += width)
        {
            var gi = new Vector<float>(g, i) * scale;
            var mi = b1 * new Vector<float>(m, i) + c1 * gi;
            var vi = b2 * new Vector<float>(v, i) + c2 * gi * gi;
            var pi = new Vector<float>(p, i) * decay;
            (pi - step * mi / (Vector.SquareRoot(vi) / sqrtBc2 + eps)).CopyTo(p, i);
            mi.CopyTo(m, i); vi.CopyTo(v, i);
        }
        for (; i < e; i++) Optim.AdamWUpdate(ref p[i], g[i], ref m[i], ref v[i], h);
    }

    /// <summary>ema ← ema + (1 − decay)·(p − ema) in lanes, in the scalar formula's order (bit-identical).</summary>
    public static void Ema(float[] ea, float[] pa, long n, float decay)
        => CpuParallel.For(n, 1 << 15, (s, e) =>
        {
            int width = Vector<float>.Count, i = (int)s;
            var k = new Vector<float>(1f - decay);
            for (; i <= e - width; i += width)
            {
                var ei = new Vector<float>(ea, i);
                (ei + k * (new Vector<float>(pa, i) - ei)).CopyTo(ea, i);
            }
            for (; i < e; i++) ea[i] = ea[i] + (1f - decay) * (pa[i] - ea[i]);
        });
}
