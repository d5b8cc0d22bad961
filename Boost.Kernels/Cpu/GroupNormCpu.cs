using System.Numerics;
using System.Runtime.InteropServices;

namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed backend's group norm (see <see cref="GroupNorm"/>): (n, g) groups split across the cores, every inner
/// loop over one channel's contiguous plane in SIMD lanes. Memory-bound, so each group is read from the outer caches
/// once: the forward takes a group's statistics (sums of x − x₀ and its square, x₀ the group's first value, so the
/// variance does not cancel) in the same loop that writes the group before it, and then writes y from L1/L2; the
/// backward likewise takes a group's per-channel sums of dy and dy·(x − μ), which serve both dx and the affine
/// gradients, while the group before it writes dx. Lanes accumulate in float over short runs
/// (<see cref="Run"/> values) that are then added in double, so a 64k-element group loses no more than the kernels.
/// </summary>
public static class GroupNormCpu
{
    /// <summary>Values accumulated in float lanes before the partial sums move to double.</summary>
    private const int Run = 512;

    /// <param name="x">[N, C, HW]</param>
    /// <param name="weight">[C] or null</param>
    /// <param name="mean">[N, G] (written)</param>
    /// <param name="rstd">[N, G] (written)</param>
    /// <param name="silu">y = SiLU of the normalised value, applied to each plane right after it is written (in cache)</param>
    public static void Forward(float[] x, float[]? weight, float[]? bias, float[] y, float[] mean, float[] rstd,
        int n, int c, int hw, int groups, float eps, bool silu = false)
    {
        int cpg = c / groups, count = cpg * hw;
        if (ReferenceEquals(x, y)) throw new ArgumentException("GroupNormCpu.Forward: y must not be x (a group's y is written before it is read).");
        if (count == 0) { for (int i = 0; i < n * groups; i++) { mean[i] = 0; rstd[i] = (float)(1 / Math.Sqrt(eps)); } return; }
        CpuParallel.For((long)n * groups, Math.Max(1, (1 << 15) / count), (s, e) =>
        {
            // Each group's statistics are taken while the one before it is written; the chunk's first group's by a pass
            // that writes zeros where its y will go.
            int first = (int)(s * count);
            float shift = x[first];
            double sum = 0, squares = 0;
            for (int k = 0; k < cpg; k++)
            {
                var (s1, s2) = Normalize(x.AsSpan(first + k * hw, hw), y.AsSpan(first + k * hw, hw), 0f, 0f, 0f, x.AsSpan(first + k * hw, hw), shift);
                sum += s1; squares += s2;
            }
            for (long ng = s; ng < e; ng++)
            {
                int start = (int)(ng * count), next = start + count;
                double meanShifted = sum / count;
                double variance = Math.Max(0, squares / count - meanShifted * meanShifted);
                float r = (float)(1 / Math.Sqrt(variance + eps));
                float m = (float)(shift + meanShifted);
                mean[ng] = m; rstd[ng] = r;
                bool last = ng + 1 == e;
                shift = last ? m : x[next];
                sum = squares = 0;
                int c0 = (int)(ng % groups) * cpg;
                for (int k = 0; k < cpg; k++)
                {
                    // y = (x − μ)·a + b with rstd and the affine folded per channel (not x·a + (b − μ·a), which
                    // cancels badly when |μ|·rstd is large).
                    float a = weight is null ? r : r * weight[c0 + k];
                    float b = bias is null ? 0f : bias[c0 + k];
                    var (s1, s2) = Normalize(x.AsSpan(start + k * hw, hw), y.AsSpan(start + k * hw, hw), m, a, b,
                        x.AsSpan(last ? start + k * hw : next + k * hw, hw), shift); // the last group sums itself, unused
                    sum += s1; squares += s2;
                    if (silu) SiLUInPlace(y.AsSpan(start + k * hw, hw));
                }
            }
        });
    }

    /// <param name="dweight">[C] or null (written with dbias when given)</param>
    public static void Backward(float[] dy, float[] x, float[] mean, float[] rstd, float[]? weight,
        float[] dx, float[]? dweight, float[]? dbias, int n, int c, int hw, int groups)
    {
        int cpg = c / groups, count = cpg * hw;
        if (ReferenceEquals(dx, dy) || ReferenceEquals(dx, x)) throw new ArgumentException("GroupNormCpu.Backward: dx must not be dy or x (a group's dx is written before it is read).");
        // Per (image, channel): Σ dy and Σ dy·x̂, x̂ = (x − μ)·rstd. They give dx's group means and, summed over the
        // images in order, the affine gradients: one read of dy and x for both.
        // Kept between calls (taken, so a concurrent call makes its own): no allocation in steady state.
        var sums = Interlocked.Exchange(ref s_rowSums, null);
        if (sums is null || sums.Length < 2 * n * c) sums = new double[2 * n * c];
        int gx0 = n * c; // sums[i]: Σ dy of row i; sums[gx0 + i]: Σ dy·x̂
        void RecordGradSums(long ng, int k, (double g, double gx) s)
        {
            int row = (int)(ng / groups) * c + (int)(ng % groups) * cpg + k;
            sums[row] = s.g; sums[gx0 + row] = s.gx * rstd[ng];
        }
        CpuParallel.For((long)n * groups, Math.Max(1, (1 << 15) / Math.Max(1, count)), (s, e) =>
        {
            // Each group's sums are taken while the one before it writes dx; the chunk's first group's by a pass that
            // writes zeros where its dx will go.
            for (int k = 0; k < cpg; k++)
            {
                var plane = (int)(s * count) + k * hw;
                RecordGradSums(s, k, InputGrad(dy.AsSpan(plane, hw), x.AsSpan(plane, hw), dx.AsSpan(plane, hw), 0f, 0f, 0f, 0f,
                    dy.AsSpan(plane, hw), x.AsSpan(plane, hw), mean[s]));
            }
            for (long ng = s; ng < e; ng++)
            {
                int start = (int)(ng * count), next = start + count, img = (int)(ng / groups);
                float mu = mean[ng], r = rstd[ng];
                int c0 = (int)(ng % groups) * cpg;
                double sumG = 0, sumGX = 0;
                for (int k = 0; k < cpg; k++)
                {
                    float w = weight is null ? 1f : weight[c0 + k];
                    sumG += w * sums[img * c + c0 + k]; sumGX += w * sums[gx0 + img * c + c0 + k];
                }
                float meanG = count == 0 ? 0f : (float)(sumG / count), meanGX = count == 0 ? 0f : (float)(sumGX / count);
                bool last = ng + 1 == e;
                for (int k = 0; k < cpg; k++)
                {
                    float w = weight is null ? 1f : weight[c0 + k];
                    // dx = r·(dy·w − meanG − (x − μ)·r·meanGX), kept centred on μ (expanding it cancels).
                    var nextSums = InputGrad(dy.AsSpan(start + k * hw, hw), x.AsSpan(start + k * hw, hw), dx.AsSpan(start + k * hw, hw),
                        r * w, mu, r * r * meanGX, r * meanG,
                        dy.AsSpan(last ? start + k * hw : next + k * hw, hw), x.AsSpan(last ? start + k * hw : next + k * hw, hw),
                        last ? mu : mean[ng + 1]); // the last group sums itself, unused
                    if (!last) RecordGradSums(ng + 1, k, nextSums);
                }
            }
        });
        if (dweight is not null && dbias is not null)
            for (int ch = 0; ch < c; ch++)
            {
                double sumW = 0, sumB = 0;
                for (int b = 0; b < n; b++) { sumW += sums[gx0 + b * c + ch]; sumB += sums[b * c + ch]; }
                dweight[ch] = (float)sumW; dbias[ch] = (float)sumB;
            }
        s_rowSums = sums;
    }

    private static double[]? s_rowSums;

    /// <summary>ĝ = dy·SiLU′(ŷ), ŷ = (x − μ)·rstd·w + b computed as <see cref="Forward"/> computes it: the gradient that
    /// reaches the normalised value of a forward run with silu. (n, g) groups split across the cores.</summary>
    /// <param name="g">[N, C, HW] (written; may be longer)</param>
    public static void SiLUGrad(float[] dy, float[] x, float[] mean, float[] rstd, float[]? weight, float[]? bias, float[] g,
        int n, int c, int hw, int groups)
    {
        int cpg = c / groups, count = cpg * hw;
        CpuParallel.For((long)n * groups, Math.Max(1, (1 << 15) / Math.Max(1, count)), (s, e) =>
        {
            var op = new SiLUGradOp();
            int width = Vector<float>.Count;
            for (long ng = s; ng < e; ng++)
            {
                float m = mean[ng], r = rstd[ng];
                int c0 = (int)(ng % groups) * cpg;
                for (int k = 0; k < cpg; k++)
                {
                    float a = weight is null ? r : r * weight[c0 + k], b = bias is null ? 0f : bias[c0 + k];
                    int p = (int)(ng * count) + k * hw, i = 0;
                    var xs = x.AsSpan(p, hw); var ds = dy.AsSpan(p, hw); var gs = g.AsSpan(p, hw);
                    var vm = new Vector<float>(m); var va = new Vector<float>(a); var vb = new Vector<float>(b);
                    for (; i <= hw - width; i += width)
                        op.Apply(Vector.FusedMultiplyAdd(new Vector<float>(xs[i..]) - vm, va, vb), new Vector<float>(ds[i..])).CopyTo(gs[i..]);
                    for (; i < hw; i++) gs[i] = op.Apply(MathF.FusedMultiplyAdd(xs[i] - m, a, b), ds[i]);
                }
            }
        });
    }

    /// <summary>y = SiLU(y) in SIMD lanes (<see cref="SiLUOp"/>: the same bits as the separate elementwise op).</summary>
    private static void SiLUInPlace(Span<float> y)
    {
        var op = new SiLUOp();
        int width = Vector<float>.Count, i = 0;
        for (; i <= y.Length - width; i += width) op.Apply(new Vector<float>(y[i..])).CopyTo(y[i..]);
        for (; i < y.Length; i++) y[i] = op.Apply(y[i]);
    }

    /// <summary>
    /// y = (x − m)·a + b, and in the same loop (Σ (v − shift), Σ (v − shift)²) over <paramref name="next"/>, the next
    /// group's plane: its loads from the outer caches overlap this plane's stores. Two accumulator pairs, so
    /// consecutive vectors do not wait on each other's adds.
    /// </summary>
    private static (double sum, double squares) Normalize(ReadOnlySpan<float> x, Span<float> y, float m, float a, float b,
        ReadOnlySpan<float> next, float shift)
    {
        if (y.Length < x.Length || next.Length < x.Length) throw new ArgumentException("Normalize: y or next shorter than x.");
        double sum = 0, squares = 0;
        int width = Vector<float>.Count, i = 0;
        var vm = new Vector<float>(m); var va = new Vector<float>(a); var vb = new Vector<float>(b); var k = new Vector<float>(shift);
        ref float x0 = ref MemoryMarshal.GetReference(x); ref float y0 = ref MemoryMarshal.GetReference(y);
        ref float n0 = ref MemoryMarshal.GetReference(next);
        while (i <= x.Length - 2 * width)
        {
            Vector<float> s1 = default, s2 = default, t1 = default, t2 = default;
            int end = Math.Min(x.Length - 2 * width, i + Run);
            for (; i <= end; i += 2 * width)
            {
                var d = Vector.LoadUnsafe(ref n0, (nuint)i) - k;
                var e = Vector.LoadUnsafe(ref n0, (nuint)(i + width)) - k;
                s1 += d; s2 = Vector.FusedMultiplyAdd(d, d, s2); t1 += e; t2 = Vector.FusedMultiplyAdd(e, e, t2);
                Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref x0, (nuint)i) - vm, va, vb).StoreUnsafe(ref y0, (nuint)i);
                Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref x0, (nuint)(i + width)) - vm, va, vb).StoreUnsafe(ref y0, (nuint)(i + width));
            }
            sum += Vector.Sum(s1 + t1); squares += Vector.Sum(s2 + t2);
        }
        for (; i < x.Length; i++)
        {
            y[i] = MathF.FusedMultiplyAdd(x[i] - m, a, b);
            double d = next[i] - shift; sum += d; squares += d * d;
        }
        return (sum, squares);
    }

    /// <summary>
    /// dx = g·a − (x − μ)·b − c, and in the same loop (Σ g, Σ g·(x − μ)) over the next group's planes
    /// (<paramref name="nextG"/>, <paramref name="nextX"/> about <paramref name="nextMu"/>), like <see cref="Normalize"/>.
    /// </summary>
    private static (double g, double gx) InputGrad(ReadOnlySpan<float> g, ReadOnlySpan<float> x, Span<float> dx,
        float a, float mu, float b, float c, ReadOnlySpan<float> nextG, ReadOnlySpan<float> nextX, float nextMu)
    {
        if (x.Length < g.Length || dx.Length < g.Length || nextG.Length < g.Length || nextX.Length < g.Length)
            throw new ArgumentException("InputGrad: x, dx or the next planes shorter than g.");
        double sumG = 0, sumGX = 0;
        int width = Vector<float>.Count, i = 0;
        var va = new Vector<float>(a); var vmu = new Vector<float>(mu); var vb = new Vector<float>(b); var vc = new Vector<float>(c);
        var vnmu = new Vector<float>(nextMu);
        ref float g0 = ref MemoryMarshal.GetReference(g); ref float x0 = ref MemoryMarshal.GetReference(x); ref float d0 = ref MemoryMarshal.GetReference(dx);
        ref float ng0 = ref MemoryMarshal.GetReference(nextG); ref float nx0 = ref MemoryMarshal.GetReference(nextX);
        while (i <= g.Length - 2 * width)
        {
            Vector<float> s1 = default, s2 = default, t1 = default, t2 = default;
            int end = Math.Min(g.Length - 2 * width, i + Run);
            for (; i <= end; i += 2 * width)
            {
                var p = Vector.LoadUnsafe(ref ng0, (nuint)i);
                var q = Vector.LoadUnsafe(ref ng0, (nuint)(i + width));
                s1 += p; s2 += p * (Vector.LoadUnsafe(ref nx0, (nuint)i) - vnmu);
                t1 += q; t2 += q * (Vector.LoadUnsafe(ref nx0, (nuint)(i + width)) - vnmu);
                (Vector.LoadUnsafe(ref g0, (nuint)i) * va - (Vector.LoadUnsafe(ref x0, (nuint)i) - vmu) * vb - vc).StoreUnsafe(ref d0, (nuint)i);
                (Vector.LoadUnsafe(ref g0, (nuint)(i + width)) * va - (Vector.LoadUnsafe(ref x0, (nuint)(i + width)) - vmu) * vb - vc)
                    .StoreUnsafe(ref d0, (nuint)(i + width));
            }
            sumG += Vector.Sum(s1 + t1); sumGX += Vector.Sum(s2 + t2);
        }
        for (; i < g.Length; i++)
        {
            dx[i] = g[i] * a - (x[i] - mu) * b - c;
            sumG += nextG[i]; sumGX += nextG[i] * (double)(nextX[i] - nextMu);
        }
        return (sumG, sumGX);
    }
}
