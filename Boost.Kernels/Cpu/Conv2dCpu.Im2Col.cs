// The managed conv2d's general path: im2col over blocks of output pixels, then a GEMM per block (and their
// adjoints for the gradients). Every conv the Winograd paths do not take runs here.

namespace Boost.Kernels.Cpu;

internal static partial class Conv2dCpu
{
    private static bool IsPointwise(in ConvDims d) => d.K == 1 && d.Stride == 1 && d.Pad == 0;

    /// <summary>Output pixels per block: enough columns for an efficient GEMM, few enough rows·columns to stay in cache,
    /// and blocks of equal size.</summary>
    private static int BlockPixels(in ConvDims d)
    {
        int fit = BlockFloats / (d.Cin * d.KK);
        // A quarter over budget still goes whole: a tail block of a few pixels would pack all of w again for little
        // work (stride 2, 128 channels at 16²: one block of 256 pixels, not 224 + 32).
        if (fit * 5L / 4 >= d.HWo) return d.HWo;
        int blocks = (d.HWo + fit - 1) / fit, even = (d.HWo + blocks - 1) / blocks;
        return Math.Min(d.HWo, Math.Max(64, (even + 15) / 16 * 16)); // equal blocks of whole micro-tiles (16 columns)
    }

    /// <summary>y[n] = w · im2col(x[n]) + b (+ beta·y[n]). 1×1 stride-1 unpadded convs skip the unfolding (x is
    /// already the matrix).</summary>
    private static void Im2ColForward(ConvDims d, float[] x, float[] w, float[]? b, float[] y, float beta)
    {
        int depth = d.Cin * d.KK, block = IsPointwise(d) ? d.HWo : BlockPixels(d);
        // w is the A operand of every block's product: packed once here when there are several (a GEMM packs its A
        // per call, and small maps have one block per image).
        int blocks = d.N * ((d.HWo + block - 1) / block);
        float[]? packed = null;
        if (blocks > 1 && d.Cout > 4)
        {
            packed = Interlocked.Exchange(ref s_packedWeights, null);
            long size = Gemm.PackedSize(d.Cout, depth, forA: true);
            if (packed is null || packed.Length < size) packed = GC.AllocateUninitializedArray<float>((int)size);
            Gemm.PackA(w, 0, depth, d.Cout, depth, packed, 0);
        }
        ForImages(d, (n, threads) =>
        {
            for (int p0 = 0; p0 < d.HWo; p0 += block)
            {
                int count = Math.Min(block, d.HWo - p0), yOff = n * d.Cout * d.HWo + p0;
                float[] b0 = x;
                int bOff = n * d.Cin * d.HW + p0, ldb = d.HW;
                if (!IsPointwise(d))
                {
                    b0 = Scratch.Floats(depth * count); bOff = 0; ldb = count;
                    Im2Col(d, x, n, p0, count, b0);
                }
                if (packed is not null) Gemm.SgemmPackedA(threads, d.Cout, count, depth, packed, 0, b0, bOff, ldb, beta, y, yOff, d.HWo);
                else Gemm.Sgemm(Gemm.Best, threads, false, false, d.Cout, count, depth, 1f, w, 0, depth, b0, bOff, ldb, beta, y, yOff, d.HWo);
            }
            if (b is not null)
                for (int co = 0; co < d.Cout; co++)
                    AddScalar(y.AsSpan(n * d.Cout * d.HWo + co * d.HWo, d.HWo), b[co]);
        });
        if (packed is not null) s_packedWeights = packed;
    }

    /// <summary>dx[n] = col2im(wᵀ · dy[n]) + beta·dx[n].</summary>
    private static void Im2ColBackwardInput(ConvDims d, float[] dy, float[] w, float[] dx, float beta)
    {
        int depth = d.Cin * d.KK;
        ForImages(d, (n, threads) =>
        {
            int dyOff = n * d.Cout * d.HWo, dxOff = n * d.Cin * d.HW;
            if (IsPointwise(d))
            {
                Gemm.Sgemm(Gemm.Best, threads, true, false, d.Cin, d.HW, d.Cout, 1f, w, 0, d.Cin, dy, dyOff, d.HWo, beta, dx, dxOff, d.HW);
                return;
            }
            var image = dx.AsSpan(dxOff, d.Cin * d.HW);
            if (beta == 0f) image.Clear();
            else if (beta != 1f) foreach (ref float v in image) v *= beta;
            int block = BlockPixels(d);
            for (int p0 = 0; p0 < d.HWo; p0 += block)
            {
                int count = Math.Min(block, d.HWo - p0);
                var col = Scratch.Floats(depth * count);
                Gemm.Sgemm(Gemm.Best, threads, true, false, depth, count, d.Cout, 1f, w, 0, depth, dy, dyOff + p0, d.HWo, 0f, col, 0, count);
                Col2ImAdd(d, col, p0, count, image);
            }
        });
    }

    /// <summary>dw = Σ_n dy[n] · im2colᵀ(x[n]) + beta·dw. With whole images per core, each core sums its contiguous
    /// share of the batch into its own partial and the partials are added in core order: the sum order depends on
    /// the core count only, never on timing.</summary>
    private static void Im2ColBackwardWeight(ConvDims d, float[] dy, float[] x, float[] dw, float beta)
    {
        int depth = d.Cin * d.KK, block = BlockPixels(d), size = d.Cout * depth;
        if (!ImagesPerCore(d))
        {
            float b = beta;
            for (int n = 0; n < d.N; n++) { WeightGradImage(d, dy, x, n, block, dw, 0, b, CpuParallel.Threads); b = 1f; }
            return;
        }
        int chunks = Math.Min(CpuParallel.Threads, d.N);
        // Partials for cores 1.. (core 0 sums straight into dw), kept between calls: no allocation in steady state.
        var partials = Interlocked.Exchange(ref s_partials, null);
        if (partials is null || partials.Length < chunks * size) partials = GC.AllocateUninitializedArray<float>(chunks * size);
        CpuParallel.For(chunks, 1, (s, e) =>
        {
            for (long c = s; c < e; c++)
            {
                int first = (int)(d.N * c / chunks), last = (int)(d.N * (c + 1) / chunks);
                var acc = c == 0 ? dw : partials;
                int off = c == 0 ? 0 : (int)c * size;
                float b = c == 0 ? beta : 0f;
                for (int n = first; n < last; n++) { WeightGradImage(d, dy, x, n, block, acc, off, b, 1); b = 1f; }
            }
        });
        for (int c = 1; c < chunks; c++) Simd.AddTo(dw.AsSpan(0, size), partials.AsSpan(c * size, size));
        s_partials = partials;
    }

    private static float[]? s_partials;

    /// <summary>The forward's packed weights (<see cref="Gemm.PackA"/>), kept between calls (taken, so a concurrent call
    /// packs its own).</summary>
    private static float[]? s_packedWeights;

    /// <summary>acc (+)= dy[n] · im2col(x[n])ᵀ, blocks in sequence; beta scales acc before the first block. The
    /// unfolding is the forward's (contiguous runs per row) and the GEMM absorbs the transpose while packing.</summary>
    private static void WeightGradImage(in ConvDims d, float[] dy, float[] x, int n, int block, float[] acc, int accOff, float beta, int threads)
    {
        int depth = d.Cin * d.KK;
        for (int p0 = 0; p0 < d.HWo; p0 += block)
        {
            int count = Math.Min(block, d.HWo - p0);
            if (IsPointwise(d))
                Gemm.Sgemm(Gemm.Best, threads, false, true, d.Cout, depth, count, 1f, dy, n * d.Cout * d.HWo + p0, d.HWo, x, n * d.Cin * d.HW + p0, d.HW, beta, acc, accOff, depth);
            else
            {
                var col = Scratch.Floats(depth * count);
                Im2Col(d, x, n, p0, count, col);
                Gemm.Sgemm(Gemm.Best, threads, false, true, d.Cout, depth, count, 1f, dy, n * d.Cout * d.HWo + p0, d.HWo, col, 0, count, beta, acc, accOff, depth);
            }
            beta = 1f;
        }
    }

    private static void AddScalar(Span<float> v, float a)
    {
        var va = new System.Numerics.Vector<float>(a);
        int i = 0, w = System.Numerics.Vector<float>.Count;
        for (; i <= v.Length - w; i += w) (new System.Numerics.Vector<float>(v.Slice(i, w)) + va).CopyTo(v.Slice(i, w));
        for (; i < v.Length; i++) v[i] += a;
    }

    /// <summary>col[(ci, kh, kw), q] = x[n, ci, oh·s − pad + kh, ow·s − pad + kw] for output pixels p0 + q, q &lt; count
    /// (zero outside the image). Rows of the output are walked in runs so there is no division per element.</summary>
    private static unsafe void Im2Col(in ConvDims d, float[] x, int n, int p0, int count, float[] col)
    {
        if (col.Length < (long)d.Cin * d.KK * count) throw new ArgumentException("Im2Col: scratch shorter than the block.");
        int ci = 0, kh = 0, kw = 0;
        fixed (float* x0 = x, c0 = col)
            for (int row = 0; row < d.Cin * d.KK; row++)
            {
                float* dst = c0 + (long)row * count, plane = x0 + ((long)n * d.Cin + ci) * d.HW;
                int q = 0, oh = p0 / d.Wo, ow = p0 % d.Wo;
                while (q < count)
                {
                    int run = Math.Min(d.Wo - ow, count - q);
                    int ih = oh * d.Stride - d.Pad + kh;
                    float* src = plane + (long)ih * d.W, o = dst + q;
                    if ((uint)ih >= (uint)d.H) new Span<float>(o, run).Clear();
                    else if (d.Stride == 1)
                    {
                        // iw = ow + t − pad + kw is contiguous: zero the part left and right of the image (a pad's width,
                        // written inline: a Clear call per row cost more than the zeros), copy the rest.
                        int iw0 = ow - d.Pad + kw;
                        int lo = Math.Clamp(-iw0, 0, run), hi = Math.Clamp(d.W - iw0, lo, run);
                        for (int t = 0; t < lo; t++) o[t] = 0f;
                        Simd.Copy(src + iw0 + lo, o + lo, hi - lo);
                        for (int t = hi; t < run; t++) o[t] = 0f;
                    }
                    else if (d.Stride == 2)
                    {
                        // iw = iw0 + 2t: zeros where it falls outside the row, every other value of the row between.
                        int iw0 = ow * 2 - d.Pad + kw;
                        int lo = Math.Clamp((1 - iw0) / 2, 0, run), hi = Math.Clamp((d.W - iw0 + 1) / 2, lo, run);
                        for (int t = 0; t < lo; t++) o[t] = 0f;
                        Simd.EveryOther(src + iw0 + 2 * lo, o + lo, hi - lo);
                        for (int t = hi; t < run; t++) o[t] = 0f;
                    }
                    else
                        for (int t = 0; t < run; t++)
                        {
                            int iw = (ow + t) * d.Stride - d.Pad + kw;
                            o[t] = (uint)iw < (uint)d.W ? src[iw] : 0f;
                        }
                    q += run; oh++; ow = 0;
                }
                if (++kw == d.K) { kw = 0; if (++kh == d.K) { kh = 0; ci++; } }
            }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/> for one image: image[ci, ih, iw] += col[(ci, kh, kw), q].</summary>
    private static void Col2ImAdd(in ConvDims d, float[] col, int p0, int count, Span<float> image)
    {
        for (int row = 0; row < d.Cin * d.KK; row++)
        {
            int ci = row / d.KK, kh = row % d.KK / d.K, kw = row % d.K;
            var src = col.AsSpan(row * count, count);
            int q = 0, oh = p0 / d.Wo, ow = p0 % d.Wo;
            while (q < count)
            {
                int run = Math.Min(d.Wo - ow, count - q);
                int ih = oh * d.Stride - d.Pad + kh;
                if ((uint)ih < (uint)d.H)
                {
                    var dst = image.Slice((ci * d.H + ih) * d.W, d.W);
                    for (int t = 0; t < run; t++)
                    {
                        int iw = (ow + t) * d.Stride - d.Pad + kw;
                        if ((uint)iw < (uint)d.W) dst[iw] += src[q + t];
                    }
                }
                q += run; oh++; ow = 0;
            }
        }
    }
}
