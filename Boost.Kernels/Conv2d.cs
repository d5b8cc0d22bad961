using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// 2-D convolution as in PyTorch's conv2d (NCHW, groups 1, dilation 1, zero padding, square odd kernel) and its
/// three gradients. Each op checks shapes and dispatches through its device's backend: on an
/// <see cref="IlgpuDevice"/> one tiled implicit GEMM (<see cref="ImplicitGemmKernel{TTile, TGemm}"/>, specialised
/// per <see cref="IImplicitGemm"/> struct in Conv2dGemm.cs); on the CPU device, Winograd F(4,3)/F(2,3) tiles where
/// they apply, else im2col blocks + GEMM (the choice in Cpu/Conv2dCpu.cs, im2col in Cpu/Conv2dCpu.Im2Col.cs).
/// </summary>
/// <remarks>
/// Gradient accumulation, the one rule of the <c>*Into</c> variants: <c>grad = result + beta·grad</c>; beta = 0
/// overwrites without reading the old contents (NaN there does not leak), beta = 1 accumulates (autograd).
/// Output size: Ho = (H + 2·pad − k)/stride + 1, likewise Wo.
/// </remarks>
public static class Conv2d
{
    // ---------------------------------------------------------------- kernels

    /// <summary>Results per thread along rows and along columns: a 4×4 block held in 16 named registers (loops over
    /// a local array stay in local memory: ILGPU does not unroll them).</summary>
    public const int Micro = 4;

    /// <summary>
    /// C = A·B for any <typeparamref name="TGemm"/>: group (x, y, z) computes the BM×BN output tile at row tile y,
    /// column tile x, over reduction slice z ([z·sliceLength, (z+1)·sliceLength) ∩ [0, Depth)). Each BK-chunk of the
    /// slice is loaded cooperatively into shared memory (A transposed, padded against bank conflicts; the chunk's
    /// reduction indices and each thread's column decoded once, so element loads do no division), then each
    /// thread accumulates its 4×4 register block; a thread's rows and columns are strided by the thread grid so a
    /// warp reads consecutive shared addresses and stores consecutive pixels.
    /// </summary>
    [Kernel(Grouped = true)]
    public static void ImplicitGemmKernel<TTile, TGemm>(TGemm g, int sliceLength)
        where TTile : struct, IConvTile
        where TGemm : struct, IImplicitGemm
    {
        var t = default(TTile);
        int bm = t.BM, bn = t.BN, bk = t.BK;
        int tm = bm / Micro, tn = bn / Micro, threads = tm * tn, aStride = bm + 1;
        // Every shared array is allocated here, before any branch: ILGPU gives each allocation site its own array,
        // and a site below divergent control flow (even a ?: on a per-thread value) became two arrays in the PTX.
        var sa = SharedMemory.Allocate<float>(t.BK * (t.BM + 1));
        var sb = SharedMemory.Allocate<float>(t.BK * t.BN);
        // Reduction steps decoded once per chunk by the first BK threads, double-buffered: the half for chunk i + 1
        // is written while chunk i computes, and was last read two barriers earlier.
        var steps = SharedMemory.Allocate<GemmIndex>(2 * t.BK);

        int tid = Group.IdxX;
        int ty = tid / tn, tx = tid - ty * tn;
        int row0 = Grid.IdxY * bm, col0 = Grid.IdxX * bn;
        int dBegin = Grid.IdxZ * sliceLength;
        int dEnd = g.Depth < dBegin + sliceLength ? g.Depth : dBegin + sliceLength;

        var loader = ChunkLoader.Create(g, tid, threads, bm, bn, bk, row0, col0);
        loader.FirstSteps(g, steps, dBegin, dEnd);
        Group.Barrier();

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

        int half = 0;
        for (int d0 = dBegin; d0 < dEnd; d0 += bk)
        {
            loader.Load(g, sa, sb, steps, d0, dEnd, ref half);
            Group.Barrier();

            for (int k = 0; k < bk; k++)
            {
                int ia = k * aStride + ty, ib = k * bn + tx;
                float a0 = sa[ia], a1 = sa[ia + tm], a2 = sa[ia + 2 * tm], a3 = sa[ia + 3 * tm];
                float b0 = sb[ib], b1 = sb[ib + tn], b2 = sb[ib + 2 * tn], b3 = sb[ib + 3 * tn];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        int row = row0 + ty, col = col0 + tx, split = Grid.IdxZ;
        StoreColumn(g, row, tm, col, split, c00, c10, c20, c30);
        StoreColumn(g, row, tm, col + tn, split, c01, c11, c21, c31);
        StoreColumn(g, row, tm, col + 2 * tn, split, c02, c12, c22, c32);
        StoreColumn(g, row, tm, col + 3 * tn, split, c03, c13, c23, c33);
    }

    /// <summary>Stores one column of a thread's register block (rows row, row + step, …), skipping the tile's
    /// overhang past Rows and Cols.</summary>
    private static void StoreColumn<TGemm>(TGemm g, int row, int step, int col, int split, float v0, float v1, float v2, float v3)
        where TGemm : struct, IImplicitGemm
    {
        if (col >= g.Cols) return;
        var c = g.Column(col);
        int rows = g.Rows;
        if (row < rows) g.Store(row, c, split, v0);
        if (row + step < rows) g.Store(row + step, c, split, v1);
        if (row + 2 * step < rows) g.Store(row + 2 * step, c, split, v2);
        if (row + 3 * step < rows) g.Store(row + 3 * step, c, split, v3);
    }

    /// <summary>db[c] = Σ_{n,p} dy[n, c, p] + beta·db[c]: one group per channel, strided partial sums, then
    /// <see cref="GroupReduce.Sum"/> (group size = the tile's thread count, a power of two).</summary>
    [Kernel(Grouped = true)]
    public static void BiasGradKernel<TTile>(ArrayView<float> dy, ArrayView<float> db, int batch, int channels, int hw, float beta)
        where TTile : struct, IConvTile
    {
        var t = default(TTile);
        int threads = t.BM / Micro * (t.BN / Micro);
        var partial = SharedMemory.Allocate<float>(t.BM / Micro * (t.BN / Micro));
        int tid = Group.IdxX, c = Grid.IdxX;
        float s = 0f;
        for (int n = 0; n < batch; n++)
        {
            int plane = (n * channels + c) * hw;
            for (int p = tid; p < hw; p += threads) s += dy[plane + p];
        }
        float total = GroupReduce.Sum(s, partial);
        if (tid == 0) db[c] = beta == 0f ? total : total + beta * db[c];
    }

    /// <summary>dst[i] = Σ_s partial[s·count + i] + beta·dst[i]: folds the reduction slices of the weight gradient
    /// in a fixed order (deterministic, unlike atomics).</summary>
    [Kernel]
    public static void SumSlicesKernel(Index1D i, ArrayView<float> partial, ArrayView<float> dst, int count, int slices, float beta)
    {
        float s = 0f;
        for (int k = 0; k < slices; k++) s += partial[k * count + i];
        dst[i] = beta == 0f ? s : s + beta * dst[i];
    }

    // ---------------------------------------------------------------- public ops

    /// <summary>Output size along one axis: (size + 2·padding − k)/stride + 1.</summary>
    public static int OutputSize(int size, int k, int stride, int padding) => (size + 2 * padding - k) / stride + 1;

    /// <summary>y = conv2d(x, w) + b.</summary>
    /// <param name="x">[N, Cin, H, W]</param>
    /// <param name="w">[Cout, Cin, k, k], k odd</param>
    /// <param name="b">[Cout] or null</param>
    /// <param name="epilogue">what the store adds besides b (see <see cref="ConvEpilogue"/>)</param>
    /// <returns>[N, Cout, Ho, Wo]</returns>
    public static Tensor Forward(Tensor x, Tensor w, Tensor? b, int stride = 1, int padding = 0, ConvEpilogue epilogue = default)
    {
        var d = Dims("Conv2d.Forward", x.ShapeSpan, w.ShapeSpan, stride, padding, "x");
        var y = Tensor.Empty(x.Device, d.N, d.Cout, d.Ho, d.Wo);
        try { ForwardInto(x, w, b, stride, padding, y, epilogue); }
        catch { y.Dispose(); throw; }
        return y;
    }

    /// <summary>y = conv2d(x, w) + b (+ e[n, co]) (+ r) into an existing y (overwritten).</summary>
    /// <param name="x">[N, Cin, H, W]</param>
    /// <param name="w">[Cout, Cin, k, k]</param>
    /// <param name="b">[Cout] or null</param>
    /// <param name="y">[N, Cout, Ho, Wo], not the residual's storage</param>
    public static void ForwardInto(Tensor x, Tensor w, Tensor? b, int stride, int padding, Tensor y, ConvEpilogue epilogue = default)
    {
        const string op = "Conv2d.Forward";
        Check.SameDevice(op, x, w, b, y, epilogue.ChannelBias, epilogue.Residual);
        var d = Dims(op, x.ShapeSpan, w.ShapeSpan, stride, padding, "x");
        if (b is not null) Check.Shape(op, b, "bias", d.Cout);
        Check.Shape(op, y, "y", d.N, d.Cout, d.Ho, d.Wo);
        if (epilogue.ChannelBias is { } e) Check.Shape(op, e, "channel bias", d.N, d.Cout);
        if (epilogue.Residual is { } r)
        {
            Check.Shape(op, r, "residual", d.N, d.Cout, d.Ho, d.Wo);
            // The CPU backend writes y before it adds the product; an aliased residual would be read after.
            Check.That(!r.SharesStorage(y), $"{op}: the residual {r.ShapeString} must not share y's storage.");
        }
        x.Device.Backend.ConvForward(d, x, w, b, y, epilogue);
    }

    /// <summary>dx = ∂L/∂x given dy = ∂L/∂y (a transposed convolution).</summary>
    /// <param name="dy">[N, Cout, Ho, Wo]</param>
    /// <param name="w">[Cout, Cin, k, k]</param>
    /// <param name="xShape">the forward input's shape [N, Cin, H, W] (needed: stride 2 maps two sizes to one Ho)</param>
    /// <returns>dx [N, Cin, H, W]</returns>
    public static Tensor BackwardInput(Tensor dy, Tensor w, int[] xShape, int stride, int padding)
    {
        Dims("Conv2d.BackwardInput", xShape, w.ShapeSpan, stride, padding, "xShape");
        var dx = Tensor.Empty(dy.Device, xShape);
        try { BackwardInputInto(dy, w, stride, padding, dx, 0f); }
        catch { dx.Dispose(); throw; }
        return dx;
    }

    /// <summary>dx = conv2d_input_grad(dy, w) + beta·dx.</summary>
    /// <param name="dy">[N, Cout, Ho, Wo]</param>
    /// <param name="w">[Cout, Cin, k, k]</param>
    /// <param name="dx">[N, Cin, H, W]</param>
    public static void BackwardInputInto(Tensor dy, Tensor w, int stride, int padding, Tensor dx, float beta)
    {
        const string op = "Conv2d.BackwardInput";
        Check.SameDevice(op, dy, w, dx);
        var d = Dims(op, dx.ShapeSpan, w.ShapeSpan, stride, padding, "dx");
        Check.Shape(op, dy, "dy", d.N, d.Cout, d.Ho, d.Wo);
        dy.Device.Backend.ConvBackwardInput(d, dy, w, dx, beta);
    }

    /// <summary>dw = ∂L/∂w given dy.</summary>
    /// <param name="dy">[N, Cout, Ho, Wo]</param>
    /// <param name="x">[N, Cin, H, W], the forward input</param>
    /// <param name="k">kernel size</param>
    /// <returns>dw [Cout, Cin, k, k]</returns>
    public static Tensor BackwardWeight(Tensor dy, Tensor x, int k, int stride, int padding)
    {
        const string op = "Conv2d.BackwardWeight";
        Check.Rank(dy, 4, op, "dy");
        Check.Rank(x, 4, op, "x");
        Check.That(k >= 1 && k % 2 == 1, $"{op}: kernel size {k} must be odd and positive (dy {dy.ShapeString}, x {x.ShapeString}).");
        var dw = Tensor.Empty(dy.Device, dy.Dim(1), x.Dim(1), k, k);
        try { BackwardWeightInto(dy, x, stride, padding, dw, 0f); }
        catch { dw.Dispose(); throw; }
        return dw;
    }

    /// <summary>dw = conv2d_weight_grad(dy, x) + beta·dw.</summary>
    /// <param name="dy">[N, Cout, Ho, Wo]</param>
    /// <param name="x">[N, Cin, H, W]</param>
    /// <param name="dw">[Cout, Cin, k, k]</param>
    public static void BackwardWeightInto(Tensor dy, Tensor x, int stride, int padding, Tensor dw, float beta)
    {
        const string op = "Conv2d.BackwardWeight";
        Check.SameDevice(op, dy, x, dw);
        var d = Dims(op, x.ShapeSpan, dw.ShapeSpan, stride, padding, "x", "dw");
        Check.Shape(op, dy, "dy", d.N, d.Cout, d.Ho, d.Wo);
        dy.Device.Backend.ConvBackwardWeight(d, dy, x, dw, beta);
    }

    /// <summary>db = Σ_{n,h,w} dy.</summary>
    /// <param name="dy">[N, Cout, Ho, Wo]</param>
    /// <returns>db [Cout]</returns>
    public static Tensor BackwardBias(Tensor dy)
    {
        Check.Rank(dy, 4, "Conv2d.BackwardBias", "dy");
        var db = Tensor.Empty(dy.Device, dy.Dim(1));
        try { BackwardBiasInto(dy, db, 0f); }
        catch { db.Dispose(); throw; }
        return db;
    }

    /// <summary>db = Σ_{n,h,w} dy + beta·db.</summary>
    /// <param name="dy">[N, Cout, Ho, Wo]</param>
    /// <param name="db">[Cout]</param>
    public static void BackwardBiasInto(Tensor dy, Tensor db, float beta)
    {
        const string op = "Conv2d.BackwardBias";
        Check.SameDevice(op, dy, db);
        Check.Rank(dy, 4, op, "dy");
        int n = dy.Dim(0), c = dy.Dim(1), hw = dy.Dim(2) * dy.Dim(3);
        Check.Shape(op, db, "db", c);
        if (c > 0) dy.Device.Backend.ConvBackwardBias(n, c, hw, dy, db, beta);
    }

    // ---------------------------------------------------------------- launchers

    /// <summary>Checks an input shape against a weight shape and the conv parameters; returns the dims.</summary>
    internal static ConvDims Dims(string op, ReadOnlySpan<int> x, ReadOnlySpan<int> w, int stride, int padding, string xName, string wName = "w")
    {
        Check.That(x.Length == 4, $"{op}: {xName} must be [N, Cin, H, W], got {Tensor.Format(x)}.");
        Check.That(w.Length == 4, $"{op}: {wName} must be [Cout, Cin, k, k], got {Tensor.Format(w)}.");
        Check.That(w[2] == w[3] && w[2] % 2 == 1, $"{op}: {wName} {Tensor.Format(w)} must have a square odd kernel (k×k, k = 1, 3, 5, …).");
        Check.That(x[1] == w[1], $"{op}: {xName} {Tensor.Format(x)} has {x[1]} channels but {wName} {Tensor.Format(w)} expects {w[1]}.");
        Check.That(stride >= 1 && padding >= 0, $"{op}: stride {stride} must be ≥ 1 and padding {padding} ≥ 0 ({xName} {Tensor.Format(x)}, {wName} {Tensor.Format(w)}).");
        for (int i = 0; i < 4; i++) Check.That(x[i] > 0 && w[i] > 0, $"{op}: empty dimension in {xName} {Tensor.Format(x)} or {wName} {Tensor.Format(w)}.");
        var d = new ConvDims
        {
            N = x[0], Cin = x[1], H = x[2], W = x[3], Cout = w[0], K = w[2], Stride = stride, Pad = padding,
        };
        Check.That(d.H + 2 * padding >= d.K && d.W + 2 * padding >= d.K,
            $"{op}: kernel {d.K}×{d.K} does not fit {xName} {Tensor.Format(x)} with padding {padding}.");
        d.Ho = OutputSize(d.H, d.K, stride, padding);
        d.Wo = OutputSize(d.W, d.K, stride, padding);
        Check.That((long)d.N * Math.Max(d.Cin, d.Cout) * Math.Max((long)d.HW, d.HWo) < int.MaxValue && (long)d.Cout * d.Cin * d.KK < int.MaxValue,
            $"{op}: {xName} {Tensor.Format(x)} with {wName} {Tensor.Format(w)} exceeds 2³¹ elements (32-bit indexing).");
        return d;
    }

    internal static void LaunchForward<TTile>(IlgpuDevice dev, ConvDims d, Tensor x, Tensor w, Tensor? b, Tensor y, ConvEpilogue e)
        where TTile : struct, IConvTile
    {
        var g = new ConvForwardGemm
        {
            X = x.View, Wt = w.View, Bias = (b ?? w).View, Y = y.View, D = d, HasBias = b is null ? 0 : 1,
            ChannelBias = (e.ChannelBias ?? w).View, HasChannelBias = e.ChannelBias is null ? 0 : 1,
            Residual = (e.Residual ?? w).View, HasResidual = e.Residual is null ? 0 : 1,
        };
        RunGemm<TTile, ConvForwardGemm>(dev, g, 1, g.Depth);
    }

    /// <summary>Launches the tiled kernel over all output tiles and <paramref name="slices"/> reduction slices of
    /// <paramref name="sliceLength"/> each.</summary>
    internal static void RunGemm<TTile, TGemm>(IlgpuDevice dev, TGemm g, int slices, int sliceLength)
        where TTile : struct, IConvTile where TGemm : struct, IImplicitGemm
    {
        ConvTile.Validate<TTile>();
        var t = default(TTile);
        var grid = new Index3D((g.Cols + t.BN - 1) / t.BN, (g.Rows + t.BM - 1) / t.BM, slices);
        if (dev.Precision != MatmulPrecision.Fp32)
        {
            // The tensor-core kernel has the CUDA tile's shape, so grid and slices are the same (Precision checks the tile set).
            MmaSteps.Run(dev, new MmaGemmLaunch<TGemm>(dev, new KernelConfig(grid, new Index3D(MmaGemm.Threads, 1, 1)), g, Math.Max(1, sliceLength)));
            return;
        }
        var kernel = dev.Kernel(static a => a.LoadStreamKernel<TGemm, int>(ImplicitGemmKernel<TTile, TGemm>));
        kernel(new KernelConfig(grid, new Index3D(ConvTile.Threads<TTile>(), 1, 1)), g, Math.Max(1, sliceLength));
    }

    private readonly record struct MmaGemmLaunch<TGemm>(IlgpuDevice Dev, KernelConfig Config, TGemm G, int SliceLength) : IMmaLaunch
        where TGemm : struct, IImplicitGemm
    {
        public void Run<TMma>() where TMma : struct, IMmaStep
            => Dev.Kernel(static a => a.LoadStreamKernel<TGemm, int>(MmaGemm.Kernel<TGemm, TMma>))(Config, G, SliceLength);
    }

    internal static void LaunchBackwardInput<TTile>(IlgpuDevice dev, Tensor dy, Tensor w, Tensor dx, ConvDims d, float beta)
        where TTile : struct, IConvTile
    {
        int s = d.Stride;
        for (int rh = 0; rh < s; rh++)
            for (int rw = 0; rw < s; rw++)
            {
                // Phase (rh, rw): input rows ih ≡ rh − pad (mod s), taps kh ≡ rh (mod s).
                int ih0 = ((rh - d.Pad) % s + s) % s, iw0 = ((rw - d.Pad) % s + s) % s;
                var g = new ConvInputGradGemm
                {
                    Dy = dy.View, Wt = w.View, Dx = dx.View, D = d, Rh = rh, Rw = rw, Ih0 = ih0, Iw0 = iw0,
                    Hc = ih0 < d.H ? (d.H - ih0 + s - 1) / s : 0,
                    Wc = iw0 < d.W ? (d.W - iw0 + s - 1) / s : 0,
                    KHc = rh < d.K ? (d.K - rh + s - 1) / s : 0,
                    KWc = rw < d.K ? (d.K - rw + s - 1) / s : 0,
                    Beta = beta,
                };
                if (g.Cols == 0) continue;
                RunGemm<TTile, ConvInputGradGemm>(dev, g, 1, g.Depth); // Depth 0 (k < s): writes beta·dx
            }
    }

    internal static void LaunchBackwardWeight<TTile>(IlgpuDevice dev, Tensor dy, Tensor x, Tensor dw, ConvDims d, float beta)
        where TTile : struct, IConvTile
    {
        var t = default(TTile);
        var g = new ConvWeightGradGemm { Dy = dy.View, X = x.View, D = d };
        int tiles = (g.Cols + t.BN - 1) / t.BN * ((g.Rows + t.BM - 1) / t.BM);
        int slices = WeightGradSlices(dev, tiles, g.Depth, t.BK, ConvTile.Threads<TTile>(), out int sliceLength);
        if (slices == 1)
        {
            g.Out = dw.View; g.Beta = beta;
            RunGemm<TTile, ConvWeightGradGemm>(dev, g, 1, sliceLength);
            return;
        }
        int count = g.Rows * g.Cols;
        using var partial = Tensor.Empty(dev, slices, count);
        g.Out = partial.View; g.Beta = 0f;
        RunGemm<TTile, ConvWeightGradGemm>(dev, g, slices, sliceLength);
        var sum = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, float>(SumSlicesKernel));
        sum(count, partial.View, dw.View, count, slices, beta);
    }

    /// <summary>
    /// The weight gradient reduces over N·Ho·Wo (long) into Cout·Cin·k² outputs (few tiles): split the reduction so
    /// about one wave of groups fills the device, keeping each slice at least a few K-chunks long.
    /// </summary>
    internal static int WeightGradSlices(IlgpuDevice dev, int tiles, int depth, int bk, int threads, out int sliceLength)
    {
        var acc = dev.Accelerator;
        int wave = acc.NumMultiprocessors * Math.Max(1, acc.MaxNumThreadsPerMultiprocessor / threads);
        int chunks = (depth + bk - 1) / bk;
        int minChunks = dev.Tiles == TileSet.Small ? 2 : 16;
        int slices = Math.Clamp((wave + tiles - 1) / tiles, 1, Math.Max(1, chunks / minChunks));
        sliceLength = (chunks + slices - 1) / slices * bk;
        return (depth + sliceLength - 1) / sliceLength;
    }

    internal static void LaunchBackwardBias<TTile>(IlgpuDevice dev, Tensor dy, Tensor db, int n, int c, int hw, float beta)
        where TTile : struct, IConvTile
    {
        ConvTile.Validate<TTile>();
        var kernel = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int, int, float>(BiasGradKernel<TTile>));
        kernel(new KernelConfig(c, ConvTile.Threads<TTile>()), dy.View, db.View, n, c, hw, beta);
    }
}

/// <summary>
/// What a convolution's store adds besides its bias: <see cref="ChannelBias"/> e [N, Cout] (one value per sample and
/// output channel: a ResBlock's time embedding) and <see cref="Residual"/> r [N, Cout, Ho, Wo] (a skip connection).
/// Folding them into the conv saves their launches and a read-modify-write of y each; their gradients are the
/// output gradient's per-(n, c) sums and the output gradient itself.
/// </summary>
public readonly record struct ConvEpilogue(Tensor? ChannelBias = null, Tensor? Residual = null)
{
    public bool IsEmpty => ChannelBias is null && Residual is null;
}
