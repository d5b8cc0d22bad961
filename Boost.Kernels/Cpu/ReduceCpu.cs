using System.Numerics;
using System.Runtime.InteropServices;

namespace Boost.Kernels.Cpu;

/// <summary>The managed backend's reductions (see <see cref="Reduce"/>): float SIMD lanes over runs of 512
/// elements, then double accumulation, so long sums stay accurate.</summary>
internal static class ReduceCpu
{
    /// <summary>Σ map(a[i], b[i]) over [start, start + count): float lanes over runs of 512, then double.</summary>
    private static double RunSum<TMap>(TMap map, float[] a, float[] b, int start, int count) where TMap : struct, IBinaryOp
    {
        double acc = 0;
        int w = Vector<float>.Count, i = start, end = start + count;
        ref float a0 = ref MemoryMarshal.GetArrayDataReference(a);
        ref float b0 = ref MemoryMarshal.GetArrayDataReference(b);
        while (i + w <= end)
        {
            var lanes = Vector<float>.Zero;
            int stop = Math.Min(end - w, i + 512);
            for (; i <= stop; i += w) lanes += map.Apply(Vector.LoadUnsafe(ref a0, (nuint)i), Vector.LoadUnsafe(ref b0, (nuint)i));
            acc += Vector.Sum(lanes);
        }
        for (; i < end; i++) acc += map.Apply(a[i], b[i]);
        return acc;
    }

    /// <summary>Σ map(a, b) over runs [q0, q1) of <paramref name="run"/> consecutive reduced elements (contiguous
    /// when run &gt; 1) of the output at <paramref name="kept"/>.</summary>
    private static double SumRuns<TMap>(TMap map, in ReduceLayout layout, float[] a, float[] b, int kept, int run, int q0, int q1)
        where TMap : struct, IBinaryOp
    {
        double acc = 0;
        for (int q = q0; q < q1; q++)
        {
            int at = kept + layout.ReducedOffset(q * run);
            acc += run > 1 ? RunSum(map, a, b, at, run) : map.Apply(a[at], b[at]);
        }
        return acc;
    }

    public static void Run<TMap>(TMap map, ReduceLayout layout, float[] a, float[] b, float[] y, float scale)
        where TMap : struct, IBinaryOp
    {
        int count = layout.ReduceCount;
        // Reduced axes that are the innermost, contiguous ones (sums over H·W, over the last axis): each output is
        // one contiguous run, summed in SIMD lanes.
        bool contiguous = count > 1 && layout.ReducedOffset(1) == 1 && layout.ReducedOffset(count - 1) == count - 1;
        if (contiguous && (layout.OutCount >= CpuParallel.Threads || count < 1 << 16))
        {
            CpuParallel.For(layout.OutCount, Math.Max(1, (1 << 14) / count), (s, e) =>
            {
                for (long o = s; o < e; o++)
                {
                    int kept = layout.KeptOffset((int)o);
                    y[o] = (float)(RunSum(map, a, b, kept, count) * scale);
                }
            });
            return;
        }
        // Otherwise the innermost reduced axis, when it is contiguous (a sum over the batch and H·W keeping channels),
        // is still summed a run at a time in SIMD lanes; only the runs' starts go through the index map, whose
        // divisions per element would dominate the loop.
        int run = layout.RS3 == 1 && count % Math.Max(1, layout.R3) == 0 ? Math.Max(1, layout.R3) : 1, runs = count / run;
        if (layout.OutCount >= CpuParallel.Threads || count < 1 << 16)
        {
            CpuParallel.For(layout.OutCount, Math.Max(1, (1 << 14) / Math.Max(1, count)), (s, e) =>
            {
                for (long o = s; o < e; o++)
                    y[o] = (float)(SumRuns(map, layout, a, b, layout.KeptOffset((int)o), run, 0, runs) * scale);
            });
            return;
        }
        // Few long reductions: split each one across the threads, a contiguous one by elements (as runs it would be
        // cut at its innermost dim: 3 for a 3×3 kernel's weights, whose squared norms the gradient clipping takes).
        for (int o = 0; o < layout.OutCount; o++)
        {
            int kept = layout.KeptOffset(o), threads = CpuParallel.Threads;
            var partial = new double[threads];
            CpuParallel.For(threads, 1, (s, e) =>
            {
                for (long p = s; p < e; p++)
                    partial[p] = contiguous
                        ? RunSum(map, a, b, kept + (int)(count * p / threads), (int)(count * (p + 1) / threads - count * p / threads))
                        : SumRuns(map, layout, a, b, kept, run, (int)(runs * p / threads), (int)(runs * (p + 1) / threads));
            });
            y[o] = (float)(partial.Sum() * scale);
        }
    }
}
