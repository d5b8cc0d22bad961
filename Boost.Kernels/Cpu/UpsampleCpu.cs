using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed backend's resizing (see <see cref="Upsample"/>), with the same index maps as the kernels. Every op
/// works along H first, where whole rows combine in SIMD lanes, then along W with per-column taps; forwards split
/// output rows across the cores, backwards gather (never scatter) within rows or planes that one thread owns.
/// </summary>
public static class UpsampleCpu
{
    /// <param name="x">[planes, h, w]</param>
    /// <param name="y">[planes, h·f, w·f]</param>
    public static void Nearest(float[] x, float[] y, int planes, int h, int w, int factor)
    {
        int outW = w * factor;
        CpuParallel.For((long)planes * h, Math.Max(1, (1 << 14) / (outW * factor)), (s, e) =>
        {
            for (long row = s; row < e; row++)
            {
                // One widened row, then copies of it for the other f − 1 output rows.
                var src = x.AsSpan((int)(row * w), w);
                var first = y.AsSpan((int)(row * factor * outW), outW);
                if (factor == 2) Widen2(src, first);
                else for (int ix = 0; ix < w; ix++) first.Slice(ix * factor, factor).Fill(src[ix]);
                for (int a = 1; a < factor; a++) first.CopyTo(y.AsSpan((int)((row * factor + a) * outW), outW));
            }
        });
    }

    /// <summary>dst[2i] = dst[2i + 1] = src[i]: 8 values become 16 with two unpacks and two lane permutes.</summary>
    private static unsafe void Widen2(ReadOnlySpan<float> src, Span<float> dst)
    {
        int i = 0;
        if (Avx.IsSupported && src.Length >= 8)
        {
            fixed (float* s = src, d = dst)
                for (; i <= src.Length - 8; i += 8)
                {
                    var v = Avx.LoadVector256(s + i);
                    var (first, second) = Simd.Interleave(v, v);
                    Avx.Store(d + 2 * i, first);
                    Avx.Store(d + 2 * i + 8, second);
                }
        }
        for (; i < src.Length; i++) dst[2 * i] = dst[2 * i + 1] = src[i];
    }

    /// <param name="dy">[planes, h·f, w·f]</param>
    /// <param name="dx">[planes, h, w]</param>
    public static void NearestBackward(float[] dy, float[] dx, int planes, int h, int w, int factor)
    {
        int outH = h * factor, outW = w * factor;
        CpuParallel.For((long)planes * h, Math.Max(1, (1 << 14) / (outW * factor)), (s, e) =>
        {
            var sum = Scratch.Floats(outW).AsSpan(0, outW);
            for (long row = s; row < e; row++)
            {
                // The f source rows summed in SIMD lanes, then each run of f columns.
                long first = (row / h * outH + row % h * factor) * outW;
                dy.AsSpan((int)first, outW).CopyTo(sum);
                for (int a = 1; a < factor; a++) Simd.AddTo(sum, dy.AsSpan((int)(first + (long)a * outW), outW));
                var dst = dx.AsSpan((int)(row * w), w);
                if (factor == 2) PairSums(sum, dst);
                else
                    for (int ix = 0; ix < w; ix++)
                    {
                        float t = 0f;
                        for (int a = 0; a < factor; a++) t += sum[ix * factor + a];
                        dst[ix] = t;
                    }
            }
        });
    }

    /// <summary>acc += a·v, in SIMD lanes.</summary>
    private static void AddScaled(Span<float> acc, ReadOnlySpan<float> v, float a)
    {
        int width = Vector<float>.Count, i = 0;
        var va = new Vector<float>(a);
        for (; i <= acc.Length - width; i += width)
            (new Vector<float>(acc.Slice(i, width)) + new Vector<float>(v.Slice(i, width)) * va).CopyTo(acc.Slice(i, width));
        for (; i < acc.Length; i++) acc[i] += a * v[i];
    }

    /// <summary>dst = a·u + b·v, in SIMD lanes.</summary>
    private static void Blend(Span<float> dst, ReadOnlySpan<float> u, float a, ReadOnlySpan<float> v, float b)
    {
        if (u.Length < dst.Length || v.Length < dst.Length) throw new ArgumentException("Blend: a source row is shorter than dst.");
        int width = Vector<float>.Count, i = 0;
        var va = new Vector<float>(a); var vb = new Vector<float>(b);
        ref float d0 = ref MemoryMarshal.GetReference(dst);
        ref float u0 = ref MemoryMarshal.GetReference(u); ref float v0 = ref MemoryMarshal.GetReference(v);
        for (; i <= dst.Length - width; i += width)
            (Vector.LoadUnsafe(ref u0, (nuint)i) * va + Vector.LoadUnsafe(ref v0, (nuint)i) * vb).StoreUnsafe(ref d0, (nuint)i);
        for (; i < dst.Length; i++) dst[i] = a * u[i] + b * v[i];
    }

    private readonly record struct Tap(int I0, int I1, float Lambda);

    /// <summary>The taps of one axis (outSize ← inSize at this scale), built once per process and shared: a model
    /// resizes a handful of shapes over and over, and the steady state should allocate nothing.</summary>
    private static Tap[] Taps(int outSize, int inSize, float scale)
    {
        if (s_taps.Count > CachedShapes) s_taps.Clear(); // many one-off sizes (a folder of photos): start over
        return s_taps.GetOrAdd((outSize, inSize, scale), static k =>
        {
            var taps = new Tap[k.Out];
            for (int o = 0; o < k.Out; o++)
            {
                Upsample.SourceIndex(o, k.Scale, k.In, out int i0, out int i1, out float lambda);
                taps[o] = new Tap(i0, i1, lambda);
            }
            return taps;
        });
    }

    /// <summary>Axis shapes kept in each cache before it is emptied.</summary>
    private const int CachedShapes = 256;

    private static readonly ConcurrentDictionary<(int Out, int In, float Scale), Tap[]> s_taps = new();

    /// <param name="x">[planes, h, w]</param>
    /// <param name="y">[planes, outH, outW]</param>
    public static void Bilinear(float[] x, float[] y, int planes, int h, int w, int outH, int outW, float scaleH, float scaleW)
    {
        var rows = Taps(outH, h, scaleH); var cols = Taps(outW, w, scaleW);
        bool double2 = outW == 2 * w && scaleW == 0.5f && Avx.IsSupported;
        if (outH >= h) { BilinearUp(x, y, planes, h, w, outH, outW, rows, cols, double2); return; }
        CpuParallel.For((long)planes * outH, Math.Max(1, (1 << 13) / outW), (s, e) =>
        {
            var mixed = Scratch.Floats(w).AsSpan(0, w);
            for (long row = s; row < e; row++)
            {
                // Shrinking along H: each output row blends its two source rows (in SIMD lanes), then widens.
                long plane = row / outH; var ty = rows[row % outH];
                Blend(mixed, x.AsSpan((int)((plane * h + ty.I0) * w), w), 1f - ty.Lambda, x.AsSpan((int)((plane * h + ty.I1) * w), w), ty.Lambda);
                ResizeRow(mixed, y.AsSpan((int)(row * outW), outW), cols, double2);
            }
        });
    }

    /// <summary>Growing along H: every source row a block of output rows needs is resized along W once (into
    /// <c>wide</c>, which stays in cache), then each output row is a blend of two wide rows, full-width SIMD with no
    /// edge cases; the W taps then run on h rows instead of outH. Blocks of one plane's rows split across the cores.</summary>
    private static void BilinearUp(float[] x, float[] y, int planes, int h, int w, int outH, int outW, Tap[] rows, Tap[] cols, bool double2)
    {
        int block = Math.Clamp((1 << 14) / outW, 1, outH), blocksPerPlane = (outH + block - 1) / block;
        // With outH ≥ h the source position advances at most one row per output row: a block spans ≤ block + 1 rows.
        int spanRows = Math.Min(h, block + 1);
        CpuParallel.For((long)planes * blocksPerPlane, 1, (s, e) =>
        {
            var wide = Scratch.Floats(spanRows * outW);
            for (long unit = s; unit < e; unit++)
            {
                long plane = unit / blocksPerPlane;
                int o0 = (int)(unit % blocksPerPlane) * block, o1 = Math.Min(outH, o0 + block);
                int r0 = rows[o0].I0, r1 = rows[o1 - 1].I1;
                for (int iy = r0; iy <= r1; iy++)
                    ResizeRow(x.AsSpan((int)((plane * h + iy) * w), w), wide.AsSpan((iy - r0) * outW, outW), cols, double2);
                for (int oy = o0; oy < o1; oy++)
                {
                    var ty = rows[oy];
                    Blend(y.AsSpan((int)((plane * outH + oy) * outW), outW), wide.AsSpan((ty.I0 - r0) * outW, outW), 1f - ty.Lambda,
                        wide.AsSpan((ty.I1 - r0) * outW, outW), ty.Lambda);
                }
            }
        });
    }

    /// <summary>One row through the W taps; ×2 rows take the AVX interior and leave the taps only the clamped ends.</summary>
    private static void ResizeRow(ReadOnlySpan<float> src, Span<float> dst, Tap[] cols, bool double2)
    {
        int done = double2 ? Double2Interior(src, dst) : 0; // outputs [2, 2 + done) when ×2
        for (int ox = 0; ox < dst.Length; ox++)
        {
            if (ox == 2 && done > 0) { ox += done - 1; continue; }
            var tx = cols[ox];
            dst[ox] = (1f - tx.Lambda) * src[tx.I0] + tx.Lambda * src[tx.I1];
        }
    }

    /// <param name="dy">[planes, outH, outW]</param>
    /// <param name="dx">[planes, h, w] (overwritten)</param>
    public static void BilinearBackward(float[] dy, float[] dx, int planes, int h, int w, int outH, int outW, float scaleH, float scaleW)
    {
        var rows = Taps(outH, h, scaleH);
        if (s_gathers.Count > CachedShapes) s_gathers.Clear();
        var (starts, sources, weights) = s_gathers.GetOrAdd((outW, w, scaleW), static k => Gather(Taps(k.Out, k.In, k.Scale), k.In));
        bool half2 = outW == 2 * w && scaleW == 0.5f && Avx2.IsSupported;
        CpuParallel.For(planes, Math.Max(1, (1 << 14) / Math.Max(1, outH * outW)), (s, e) =>
        {
            // Along H first: every output row spread over its two source rows, in SIMD lanes over the output width
            // (rows [h, outW]); then each input column gathers its few output columns (no scatter, no races).
            var spread = Scratch.Floats(h * outW);
            for (long plane = s; plane < e; plane++)
            {
                spread.AsSpan(0, h * outW).Clear();
                for (int oy = 0; oy < outH; oy++)
                {
                    var ty = rows[oy];
                    var g = dy.AsSpan((int)((plane * outH + oy) * outW), outW);
                    var r0 = spread.AsSpan(ty.I0 * outW, outW);
                    if (ty.I1 == ty.I0) Simd.AddTo(r0, g);
                    else
                    {
                        AddScaled(r0, g, 1f - ty.Lambda);
                        AddScaled(spread.AsSpan(ty.I1 * outW, outW), g, ty.Lambda);
                    }
                }
                var d = dx.AsSpan((int)(plane * h * w), h * w);
                for (int iy = 0; iy < h; iy++)
                {
                    var src = spread.AsSpan(iy * outW, outW);
                    var dst = d.Slice(iy * w, w);
                    int done = half2 ? Half2Interior(src, dst) : 0; // inputs [1, 1 + done) when ×2
                    for (int ix = 0; ix < w; ix++)
                    {
                        if (ix == 1 && done > 0) { ix += done - 1; continue; }
                        float t = 0f;
                        for (int k = starts[ix]; k < starts[ix + 1]; k++) t += weights[k] * src[sources[k]];
                        dst[ix] = t;
                    }
                }
            }
        });
    }

    private static readonly ConcurrentDictionary<(int Out, int In, float Scale), (int[], int[], float[])> s_gathers = new();

    /// <summary>The taps along one axis inverted: for input i, the outputs sources[starts[i]..starts[i+1]) reach it
    /// with weights[…] (CSR), summed in output order as the scatter would.</summary>
    private static (int[] starts, int[] sources, float[] weights) Gather(Tap[] taps, int inSize)
    {
        var lists = new List<(int o, float wt)>[inSize];
        for (int i = 0; i < inSize; i++) lists[i] = [];
        for (int o = 0; o < taps.Length; o++)
        {
            var t = taps[o];
            lists[t.I0].Add((o, 1f - t.Lambda));
            lists[t.I1].Add((o, t.Lambda));
        }
        var starts = new int[inSize + 1];
        for (int i = 0; i < inSize; i++) starts[i + 1] = starts[i] + lists[i].Count;
        var sources = new int[starts[inSize]]; var weights = new float[starts[inSize]];
        for (int i = 0; i < inSize; i++)
            for (int k = 0; k < lists[i].Count; k++) { sources[starts[i] + k] = lists[i][k].o; weights[starts[i] + k] = lists[i][k].wt; }
        return (starts, sources, weights);
    }

    // ×2 along W, the common case, in AVX lanes. With scale ½ the taps are fixed: output 2i = ¼·m[i−1] + ¾·m[i],
    // output 2i + 1 = ¾·m[i] + ¼·m[i+1] (the same float expressions as the tap loop, so the same bits); the clamped
    // first and last columns stay with the taps.

    /// <summary>Writes outputs [2, 2w − 2) from m (w = m's length), in blocks of 16 outputs, the last block
    /// overlapping the one before (it rewrites the same values); returns 2w − 4, or 0 when w &lt; 10.</summary>
    private static unsafe int Double2Interior(ReadOnlySpan<float> m, Span<float> dst)
    {
        int w = m.Length;
        if (w < 10) return 0;
        var q = Vector256.Create(0.25f); var t = Vector256.Create(0.75f);
        fixed (float* s = m, d = dst)
            for (int i = 1; ; i += 8)
            {
                i = Math.Min(i, w - 9); // inputs i … i + 7 ⊂ [1, w − 1)
                float* c = s + i;
                var mid = Avx.LoadVector256(c);
                var even = Avx.Add(Avx.Multiply(q, Avx.LoadVector256(c - 1)), Avx.Multiply(t, mid));
                var odd = Avx.Add(Avx.Multiply(t, mid), Avx.Multiply(q, Avx.LoadVector256(c + 1)));
                var (first, second) = Simd.Interleave(even, odd);
                Avx.Store(d + 2 * i, first);
                Avx.Store(d + 2 * i + 8, second);
                if (i == w - 9) break;
            }
        return 2 * w - 4;
    }

    /// <summary>The adjoint of <see cref="Double2Interior"/>'s pattern: input i gathers ¼·g[2i−1] + ¾·g[2i] + ¾·g[2i+1] +
    /// ¼·g[2i+2] for i in [1, w − 1), in blocks of 8 (the last overlapping); returns w − 2, or 0 when w &lt; 10.</summary>
    private static unsafe int Half2Interior(ReadOnlySpan<float> g, Span<float> dst)
    {
        int w = dst.Length;
        if (w < 10) return 0;
        var q = Vector256.Create(0.25f); var t = Vector256.Create(0.75f);
        fixed (float* s = g, d = dst)
            for (int i = 1; ; i += 8)
            {
                i = Math.Min(i, w - 9);
                // even[k] = g[2(i+k)], odd[k] = g[2(i+k)+1]; oddPrev = g[2(i+k)−1], evenNext = g[2(i+k)+2].
                var (even, odd) = Simd.Deinterleave(s + 2 * i);
                var (_, oddPrev) = Simd.Deinterleave(s + 2 * i - 2);
                var (evenNext, _) = Simd.Deinterleave(s + 2 * i + 2);
                var sum = Avx.Add(Avx.Add(Avx.Multiply(q, oddPrev), Avx.Multiply(t, even)), Avx.Add(Avx.Multiply(t, odd), Avx.Multiply(q, evenNext)));
                Avx.Store(d + i, sum);
                if (i == w - 9) break;
            }
        return w - 2;
    }

    /// <summary>dst[i] = v[2i] + v[2i + 1].</summary>
    private static unsafe void PairSums(ReadOnlySpan<float> v, Span<float> dst)
    {
        int i = 0;
        if (Avx2.IsSupported)
            fixed (float* s = v, d = dst)
                for (; i <= dst.Length - 8; i += 8)
                {
                    var h = Avx.HorizontalAdd(Avx.LoadVector256(s + 2 * i), Avx.LoadVector256(s + 2 * i + 8)); // pairs, lanes interleaved
                    Avx.Store(d + i, Avx2.Permute4x64(h.AsDouble(), 0b11_01_10_00).AsSingle());
                }
        for (; i < dst.Length; i++) dst[i] = v[2 * i] + v[2 * i + 1];
    }
}
