namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed conv2d: im2col over blocks of output pixels + <see cref="Gemm.Sgemm"/>. A block holds at most
/// <see cref="BlockFloats"/> unfolded values, so the scratch (one thread-local buffer, reused across calls) stays
/// cache-sized however large the image. 1×1 stride-1 unpadded convs skip the unfolding (x is already the matrix).
/// </summary>
internal static class Conv2dCpu
{
    private const int BlockFloats = 1 << 18;

    [ThreadStatic] private static float[]? t_scratch;

    private static float[] Scratch(int n)
    {
        var s = t_scratch;
        if (s is null || s.Length < n) t_scratch = s = GC.AllocateUninitializedArray<float>(Math.Max(n, 1024));
        return s;
    }

    private static bool IsPointwise(in ConvDims d) => d.K == 1 && d.Stride == 1 && d.Pad == 0;

    /// <summary>Output pixels per block: enough columns for an efficient GEMM, few enough rows·columns to stay in cache.</summary>
    private static int BlockPixels(in ConvDims d) => Math.Clamp(BlockFloats / (d.Cin * d.KK), Math.Min(d.HWo, 64), d.HWo);

    /// <summary>y[n] = w · im2col(x[n]) + b, in parallel over (image, pixel block) units.</summary>
    public static void Forward(ConvDims d, float[] x, float[] w, float[]? b, float[] y)
    {
        int depth = d.Cin * d.KK, block = IsPointwise(d) ? d.HWo : BlockPixels(d);
        int blocks = (d.HWo + block - 1) / block;
        CpuParallel.For((long)d.N * blocks, 1, (s, e) =>
        {
            for (long u = s; u < e; u++)
            {
                int n = (int)(u / blocks), p0 = (int)(u % blocks) * block, count = Math.Min(block, d.HWo - p0);
                int yOff = n * d.Cout * d.HWo + p0;
                if (IsPointwise(d))
                    Gemm.Sgemm(false, false, d.Cout, count, depth, 1f, w, 0, depth, x, n * d.Cin * d.HW + p0, d.HW, 0f, y, yOff, d.HWo);
                else
                {
                    var col = Scratch(depth * count);
                    Im2Col(d, x, n, p0, count, col);
                    Gemm.Sgemm(false, false, d.Cout, count, depth, 1f, w, 0, depth, col, 0, count, 0f, y, yOff, d.HWo);
                }
                if (b is not null)
                    for (int co = 0; co < d.Cout; co++)
                    {
                        var row = y.AsSpan(yOff + co * d.HWo, count);
                        float bias = b[co];
                        for (int i = 0; i < row.Length; i++) row[i] += bias;
                    }
            }
        });
    }

    /// <summary>dx[n] = col2im(wᵀ · dy[n]) + beta·dx[n], in parallel over images (col2im scatters within an image).</summary>
    public static void BackwardInput(ConvDims d, float[] dy, float[] w, float[] dx, float beta)
    {
        int depth = d.Cin * d.KK;
        CpuParallel.For(d.N, 1, (s, e) =>
        {
            for (int n = (int)s; n < e; n++)
            {
                int dyOff = n * d.Cout * d.HWo, dxOff = n * d.Cin * d.HW;
                if (IsPointwise(d))
                {
                    Gemm.Sgemm(true, false, d.Cin, d.HW, d.Cout, 1f, w, 0, d.Cin, dy, dyOff, d.HWo, beta, dx, dxOff, d.HW);
                    continue;
                }
                var image = dx.AsSpan(dxOff, d.Cin * d.HW);
                if (beta == 0f) image.Clear();
                else if (beta != 1f) foreach (ref float v in image) v *= beta;
                int block = BlockPixels(d);
                for (int p0 = 0; p0 < d.HWo; p0 += block)
                {
                    int count = Math.Min(block, d.HWo - p0);
                    var col = Scratch(depth * count);
                    Gemm.Sgemm(true, false, depth, count, d.Cout, 1f, w, 0, depth, dy, dyOff + p0, d.HWo, 0f, col, 0, count);
                    Col2ImAdd(d, col, p0, count, image);
                }
            }
        });
    }

    /// <summary>dw = Σ_n dy[n] · im2colᵀ(x[n]) + beta·dw: blocks in sequence (each GEMM accumulates into dw, so the
    /// sum order is fixed), the unfolding and the GEMM each parallel inside.</summary>
    public static void BackwardWeight(ConvDims d, float[] dy, float[] x, float[] dw, float beta)
    {
        int depth = d.Cin * d.KK, block = BlockPixels(d);
        float b = beta;
        for (int n = 0; n < d.N; n++)
            for (int p0 = 0; p0 < d.HWo; p0 += block)
            {
                int count = Math.Min(block, d.HWo - p0);
                var colT = Scratch(count * depth);
                int nn = n, pp = p0;
                CpuParallel.For(count, Math.Max(1, 4096 / depth), (s, e) => Im2ColT(d, x, nn, pp + (int)s, (int)(e - s), colT, (int)s * depth));
                Gemm.Sgemm(false, false, d.Cout, depth, count, 1f, dy, n * d.Cout * d.HWo + p0, d.HWo, colT, 0, depth, b, dw, 0, depth);
                b = 1f;
            }
    }

    /// <summary>db[c] = Σ_{n,p} dy[n, c, p] + beta·db[c], in parallel over channels.</summary>
    public static void BackwardBias(int batch, int channels, int hw, float[] dy, float[] db, float beta)
    {
        CpuParallel.For(channels, Math.Max(1, (1 << 14) / Math.Max(1, batch * hw)), (s, e) =>
        {
            for (int c = (int)s; c < e; c++)
            {
                float sum = 0f;
                for (int n = 0; n < batch; n++) sum += Sum(dy.AsSpan((n * channels + c) * hw, hw));
                db[c] = beta == 0f ? sum : sum + beta * db[c];
            }
        });
    }

    private static float Sum(ReadOnlySpan<float> v)
    {
        var acc = System.Numerics.Vector<float>.Zero;
        int i = 0, w = System.Numerics.Vector<float>.Count;
        for (; i <= v.Length - w; i += w) acc += new System.Numerics.Vector<float>(v.Slice(i, w));
        float s = System.Numerics.Vector.Sum(acc);
        for (; i < v.Length; i++) s += v[i];
        return s;
    }

    /// <summary>col[(ci, kh, kw), q] = x[n, ci, oh·s − pad + kh, ow·s − pad + kw] for output pixels p0 + q, q &lt; count
    /// (zero outside the image). Rows of the output are walked in runs so there is no division per element.</summary>
    private static void Im2Col(in ConvDims d, float[] x, int n, int p0, int count, float[] col)
    {
        int xOff = n * d.Cin * d.HW;
        for (int row = 0; row < d.Cin * d.KK; row++)
        {
            int ci = row / d.KK, kh = row % d.KK / d.K, kw = row % d.K;
            var dst = col.AsSpan(row * count, count);
            int q = 0, oh = p0 / d.Wo, ow = p0 % d.Wo;
            while (q < count)
            {
                int run = Math.Min(d.Wo - ow, count - q);
                int ih = oh * d.Stride - d.Pad + kh;
                if ((uint)ih >= (uint)d.H) dst.Slice(q, run).Clear();
                else if (d.Stride == 1)
                {
                    // iw = ow + t − pad + kw is contiguous: zero the part left and right of the image, copy the rest.
                    int iw0 = ow - d.Pad + kw;
                    int lo = Math.Clamp(-iw0, 0, run), hi = Math.Clamp(d.W - iw0, lo, run);
                    dst.Slice(q, lo).Clear();
                    x.AsSpan(xOff + (ci * d.H + ih) * d.W + iw0 + lo, hi - lo).CopyTo(dst.Slice(q + lo));
                    dst.Slice(q + hi, run - hi).Clear();
                }
                else
                {
                    int src = xOff + (ci * d.H + ih) * d.W;
                    for (int t = 0; t < run; t++)
                    {
                        int iw = (ow + t) * d.Stride - d.Pad + kw;
                        dst[q + t] = (uint)iw < (uint)d.W ? x[src + iw] : 0f;
                    }
                }
                q += run; oh++; ow = 0;
            }
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

    /// <summary>Transposed unfolding: colT[q, (ci, kh, kw)] for output pixels p0 + q, q &lt; count, written from
    /// element offset <paramref name="offset"/> (rows of depth Cin·k·k, so each pixel writes contiguously).</summary>
    private static void Im2ColT(in ConvDims d, float[] x, int n, int p0, int count, float[] colT, int offset)
    {
        int xOff = n * d.Cin * d.HW, depth = d.Cin * d.KK;
        for (int q = 0; q < count; q++)
        {
            int p = p0 + q, oh = p / d.Wo, ow = p % d.Wo;
            int ih0 = oh * d.Stride - d.Pad, iw0 = ow * d.Stride - d.Pad;
            var dst = colT.AsSpan(offset + q * depth, depth);
            int i = 0;
            for (int ci = 0; ci < d.Cin; ci++)
                for (int kh = 0; kh < d.K; kh++)
                {
                    int ih = ih0 + kh, src = xOff + (ci * d.H + ih) * d.W;
                    bool rowIn = (uint)ih < (uint)d.H;
                    for (int kw = 0; kw < d.K; kw++, i++)
                    {
                        int iw = iw0 + kw;
                        dst[i] = rowIn && (uint)iw < (uint)d.W ? x[src + iw] : 0f;
                    }
                }
        }
    }
}
