using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed backend's single-precision GEMM: C = α·op(A)·op(B) + β·C, row-major, with leading dimensions and
/// element offsets into plain arrays. Every managed op that multiplies matrices (linear, conv: its im2col blocks and
/// Winograd's per-point products, attention) calls this one routine, so making it fast makes them all fast.
/// </summary>
/// <remarks>
/// op(A) is M×K (A is K×M when <c>transA</c>), op(B) is K×N (B is N×K when <c>transB</c>). β = 0 overwrites C
/// (NaN in C does not leak). The algorithm is the Goto/BLIS one: C is cut into NC-wide column blocks, K into KC-deep
/// slabs and M into MC-tall row blocks; op(B)'s KC×NC block (L3-resident) and op(A)'s MC×KC block (L2-resident) are
/// packed into contiguous micro-panels (transposes are absorbed here, edges zero-padded), and an MR×NR register-
/// blocked FMA micro-kernel sweeps them, its KC×NR slice of B staying in L1. Threads each take a contiguous share of
/// C's rows (or columns, whichever dimension is longer) and run the whole blocked loop on it with their own
/// thread-local, 64-byte-aligned pack buffers, so steady-state calls allocate nothing but the parallel-for closure.
/// Products with at most 4 rows skip packing (see <c>FewRows</c>). Micro-kernels: 8×32 AVX-512, 6×16 AVX2+FMA, or
/// 4×8 Vector128 as the fallback.
/// </remarks>
public static unsafe class Gemm
{
    /// <summary>The register-blocked micro-kernels; <see cref="Best"/> is the widest this CPU runs natively.</summary>
    internal enum MicroKernel { Portable, Avx2, Avx512 }

    internal static MicroKernel Best { get; } =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? MicroKernel.Avx512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? MicroKernel.Avx2
        : MicroKernel.Portable;

    /// <summary>Below this many flops (2·M·N·K) a product runs on the calling thread: forking costs more.</summary>
    private const long ParallelFlops = 1L << 21;

    public static void Sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
        float[] A, int aOffset, int lda, float[] B, int bOffset, int ldb, float beta, float[] C, int cOffset, int ldc)
        => Sgemm(Best, CpuParallel.Threads, transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc);

    /// <summary><see cref="Sgemm(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)"/>
    /// with a chosen micro-kernel and thread cap (tests run every kernel; batched products run one thread per item).</summary>
    internal static void Sgemm(MicroKernel kernel, int maxThreads, bool transA, bool transB, int M, int N, int K, float alpha,
        float[] A, int aOffset, int lda, float[] B, int bOffset, int ldb, float beta, float[] C, int cOffset, int ldc)
    {
        if (M < 0 || N < 0 || K < 0) throw new ArgumentException($"Sgemm: negative size M={M}, N={N}, K={K}.");
        if (M == 0 || N == 0) return;
        CheckOperand("C", C, cOffset, ldc, M, N);
        if (K == 0 || alpha == 0f)
        {
            ScaleC(C, cOffset, ldc, M, N, beta);
            return;
        }
        CheckOperand("A", A, aOffset, lda, transA ? K : M, transA ? M : K);
        CheckOperand("B", B, bOffset, ldb, transB ? N : K, transB ? K : N);
        var p = new Problem(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc);
        if (M <= FewRowsMax) { FewRows(p, maxThreads); return; }
        Split(kernel, p, maxThreads);
    }

    /// <summary><see cref="Split{TK}"/> with the micro-kernel chosen at run time.</summary>
    private static void Split(MicroKernel kernel, in Problem p, int maxThreads)
    {
        switch (kernel)
        {
            case MicroKernel.Avx512: Split<Avx512Kernel>(p, maxThreads); break;
            case MicroKernel.Avx2: Split<Avx2Kernel>(p, maxThreads); break;
            default: Split<PortableKernel>(p, maxThreads); break;
        }
    }

    /// <summary>
    /// <paramref name="batch"/> independent products, item b reading A, B and C at offset + b·stride (a stride of 0
    /// reuses one operand for every item). Small items run in parallel across the batch, large ones one after another,
    /// each parallel inside.
    /// </summary>
    internal static void SgemmBatched(int batch, bool transA, bool transB, int M, int N, int K, float alpha,
        float[] A, int aOffset, int lda, long strideA, float[] B, int bOffset, int ldb, long strideB,
        float beta, float[] C, int cOffset, int ldc, long strideC)
    {
        long flops = 2L * M * N * K;
        if (batch == 1 || flops >= ParallelFlops * 8)
        {
            for (int b = 0; b < batch; b++)
                Sgemm(transA, transB, M, N, K, alpha, A, checked((int)(aOffset + b * strideA)), lda,
                    B, checked((int)(bOffset + b * strideB)), ldb, beta, C, checked((int)(cOffset + b * strideC)), ldc);
            return;
        }
        CpuParallel.For(batch, Math.Max(1, ParallelFlops / Math.Max(1, flops)), (s, e) =>
        {
            for (long b = s; b < e; b++)
                Sgemm(Best, 1, transA, transB, M, N, K, alpha, A, checked((int)(aOffset + b * strideA)), lda,
                    B, checked((int)(bOffset + b * strideB)), ldb, beta, C, checked((int)(cOffset + b * strideC)), ldc);
        });
    }

    /// <summary>
    /// The panel layout <see cref="SgemmPacked"/> takes, for the micro-kernel <see cref="Best"/> runs: an operand of
    /// extent E (M for A, N for B) and depth K is cut into K slabs of <see cref="SlabDepth"/> rows; slab [k0, k0 + kc)
    /// starts at k0·Ê (Ê = E rounded up to whole panels) and holds the panels of <paramref name="forA"/> ? MR : NR
    /// consecutive rows (columns), element (k, i) at k0·Ê + (i − i mod w)·kc + (k − k0)·w + i mod w.
    /// </summary>
    internal static int PanelWidth(bool forA) => Best switch
    {
        MicroKernel.Avx512 => forA ? Avx512Kernel.MR : Avx512Kernel.NR,
        MicroKernel.Avx2 => forA ? Avx2Kernel.MR : Avx2Kernel.NR,
        _ => forA ? PortableKernel.MR : PortableKernel.NR,
    };

    /// <summary>K slab depth of the panel layout for a product of depth <paramref name="k"/>.</summary>
    internal static int SlabDepth(int k) => Balanced(k, Best switch
    {
        MicroKernel.Avx512 => Avx512Kernel.KC,
        MicroKernel.Avx2 => Avx2Kernel.KC,
        _ => PortableKernel.KC,
    }, 1);

    /// <summary>Floats an operand of extent <paramref name="extent"/> and depth <paramref name="k"/> takes in the panel layout.</summary>
    internal static long PackedSize(int extent, int k, bool forA) => RoundUp(extent, PanelWidth(forA)) * k;

    private static long RoundUp(long x, int m) => (x + m - 1) / m * m;

    /// <summary>A [M, K] row-major (leading dimension lda) into the panel layout at dst[dstOffset ..].</summary>
    internal static void PackA(float[] a, int aOffset, int lda, int m, int k, float[] dst, int dstOffset)
    {
        CheckOperand("A", a, aOffset, lda, m, k);
        int w = PanelWidth(forA: true), kc = SlabDepth(k);
        long pad = RoundUp(m, w);
        if (dstOffset < 0 || dstOffset + pad * k > dst.Length) throw new ArgumentException($"PackA: {pad * k} packed floats do not fit at {dstOffset} in {dst.Length}.");
        fixed (float* s = a, d = dst)
            for (int pc = 0; pc < k; pc += kc)
                PackRowsAsColumns(s + aOffset + pc, lda, m, Math.Min(kc, k - pc), w, d + dstOffset + pc * pad);
    }

    /// <summary>C = A·B + β·C with both operands already in the panel layout (<see cref="PackA"/>; B written there by
    /// its producer, e.g. the Winograd input transform), so no call packs anything: one packing serves many products.</summary>
    internal static void SgemmPacked(int maxThreads, int M, int N, int K, float[] A, int aOffset, float[] B, int bOffset,
        float beta, float[] C, int cOffset, int ldc)
    {
        if (M <= 0 || N <= 0 || K <= 0) throw new ArgumentException($"SgemmPacked: sizes must be positive, got M={M}, N={N}, K={K}.");
        CheckOperand("C", C, cOffset, ldc, M, N);
        if (aOffset < 0 || aOffset + PackedSize(M, K, true) > A.Length || bOffset < 0 || bOffset + PackedSize(N, K, false) > B.Length)
            throw new ArgumentException($"SgemmPacked: packed A ({M}×{K}) or B ({K}×{N}) runs past its array.");
        Split(Best, new Problem(false, false, M, N, K, 1f, A, aOffset, K, B, bOffset, N, beta, C, cOffset, ldc, APacked: true, BPacked: true), maxThreads);
    }

    /// <summary>C = A·B + β·C with A already in the panel layout (<see cref="PackA"/>) and B row-major [K × N]: for one
    /// weight matrix applied to many blocks of columns (a conv's im2col blocks), packed once rather than per product.</summary>
    internal static void SgemmPackedA(int maxThreads, int M, int N, int K, float[] A, int aOffset, float[] B, int bOffset, int ldb,
        float beta, float[] C, int cOffset, int ldc)
    {
        if (M <= 0 || N <= 0 || K <= 0) throw new ArgumentException($"SgemmPackedA: sizes must be positive, got M={M}, N={N}, K={K}.");
        CheckOperand("C", C, cOffset, ldc, M, N);
        CheckOperand("B", B, bOffset, ldb, K, N);
        if (aOffset < 0 || aOffset + PackedSize(M, K, true) > A.Length)
            throw new ArgumentException($"SgemmPackedA: packed A ({M}×{K}) runs past its array.");
        Split(Best, new Problem(false, false, M, N, K, 1f, A, aOffset, K, B, bOffset, ldb, beta, C, cOffset, ldc, APacked: true), maxThreads);
    }

    private static void CheckOperand(string name, float[] x, int offset, int ld, int rows, int cols)
    {
        if (rows == 0 || cols == 0) return;
        if (offset < 0 || ld < cols || offset + (long)(rows - 1) * ld + cols > x.Length)
            throw new ArgumentException($"Sgemm: {name} is {rows}×{cols} with leading dimension {ld} at offset {offset}, " +
                                        $"which does not fit its array of {x.Length} (or the leading dimension is below {cols}).");
    }

    private static void ScaleC(float[] C, int cOffset, int ldc, int M, int N, float beta)
    {
        for (int i = 0; i < M; i++)
        {
            var row = C.AsSpan(cOffset + i * ldc, N);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) for (int j = 0; j < N; j++) row[j] *= beta;
        }
    }

    // ---------------------------------------------------------------- driver

    /// <summary>One product; <c>APacked</c>/<c>BPacked</c>: that operand is already in the panel layout (see
    /// <see cref="SgemmPacked"/>), its offset pointing at the layout's start and its transpose flag and leading
    /// dimension unused.</summary>
    private readonly record struct Problem(bool TransA, bool TransB, int M, int N, int K, float Alpha,
        float[] A, int AOffset, int Lda, float[] B, int BOffset, int Ldb, float Beta, float[] C, int COffset, int Ldc,
        bool APacked = false, bool BPacked = false);

    /// <summary>
    /// Cuts C along its longer dimension into one contiguous share per thread (in whole micro-tiles): each thread then
    /// packs the whole of the other operand itself, which costs (threads − 1)·K·min(M, N) extra copies, a small
    /// fraction of the M·N·K/threads work, and needs no synchronisation at all.
    /// </summary>
    private static void Split<TK>(Problem p, int maxThreads) where TK : struct, IMicroKernel
    {
        long flops = 2L * p.M * p.N * p.K;
        int threads = flops < ParallelFlops ? 1 : Math.Max(1, Math.Min(maxThreads, CpuParallel.Threads));
        if (threads == 1) Run<TK>(p, 0, p.M, 0, p.N);
        else SplitAcrossThreads<TK>(p);
    }

    /// <summary>The parallel half of <see cref="Split{TK}"/>, kept apart so that the single-threaded path (every GEMM
    /// inside an already-parallel loop) does not allocate the closure.</summary>
    private static void SplitAcrossThreads<TK>(Problem p) where TK : struct, IMicroKernel
    {
        bool splitRows = p.M >= p.N;
        int unit = splitRows ? TK.MR : TK.NR, extent = splitRows ? p.M : p.N;
        long units = (extent + unit - 1) / unit;
        CpuParallel.For(units, 1, (s, e) =>
        {
            int lo = (int)(s * unit), hi = (int)Math.Min(extent, e * unit);
            if (splitRows) Run<TK>(p, lo, hi, 0, p.N);
            else Run<TK>(p, 0, p.M, lo, hi);
        });
    }

    /// <summary>Rows of op(A) up to which the product skips packing (see <see cref="FewRows"/>).</summary>
    private const int FewRowsMax = 4;

    /// <summary>
    /// op(A) with at most <see cref="FewRowsMax"/> rows (a batch-1 linear layer, a matrix–vector product): each B
    /// element is used at most that often, so packing B would cost more than the product itself. Each thread instead
    /// streams its share of B's columns once along B's contiguous axis: axpys of B's rows into row accumulators
    /// when B is K×N, dot products of B's rows with op(A)'s rows when B is stored N×K.
    /// </summary>
    private static void FewRows(Problem p, int maxThreads)
    {
        const int columns = 64;
        long flops = 2L * p.M * p.N * p.K;
        int threads = flops < ParallelFlops ? 1 : Math.Max(1, Math.Min(maxThreads, CpuParallel.Threads));
        if (threads == 1) FewRowsRange(p, 0, p.N);
        else FewRowsAcrossThreads(p, columns);
    }

    private static void FewRowsAcrossThreads(Problem p, int columns)
        => CpuParallel.For((p.N + columns - 1) / columns, 1, (s, e) => FewRowsRange(p, (int)s * columns, (int)Math.Min(p.N, e * columns)));

    private static void FewRowsRange(in Problem p, int n0, int n1)
    {
        const int chunk = 256;
        int M = p.M, K = p.K;
        var buffers = PackBuffers.ForThisThread((long)M * K, 0, M * chunk);
        float* a = buffers.A, acc = buffers.Tile;
        fixed (float* a0 = p.A, b0 = p.B, c0 = p.C)
        {
            // op(A)'s rows, contiguous.
            for (int i = 0; i < M; i++)
                for (int k = 0; k < K; k++)
                    a[i * K + k] = a0[p.AOffset + (p.TransA ? (long)k * p.Lda + i : (long)i * p.Lda + k)];
            float* b = b0 + p.BOffset, c = c0 + p.COffset;
            if (p.TransB)
            {
                for (int j = n0; j < n1; j++)
                    for (int i = 0; i < M; i++)
                        Finish(c + (long)i * p.Ldc + j, Dot(a + i * K, b + (long)j * p.Ldb, K), p.Alpha, p.Beta);
                return;
            }
            for (int j0 = n0; j0 < n1; j0 += chunk)
            {
                int len = Math.Min(chunk, n1 - j0);
                new Span<float>(acc, M * chunk).Clear();
                for (int k = 0; k < K; k++)
                    for (int i = 0; i < M; i++)
                        Axpy(a[i * K + k], b + (long)k * p.Ldb + j0, acc + i * chunk, len);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < len; j++)
                        Finish(c + (long)i * p.Ldc + j0 + j, acc[i * chunk + j], p.Alpha, p.Beta);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(float* c, float sum, float alpha, float beta) => *c = beta == 0f ? alpha * sum : alpha * sum + beta * *c;

    private static float Dot(float* x, float* y, int n)
    {
        int w = System.Numerics.Vector<float>.Count, i = 0;
        System.Numerics.Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (; i + 4 * w <= n; i += 4 * w)
        {
            s0 += Load(x + i) * Load(y + i);
            s1 += Load(x + i + w) * Load(y + i + w);
            s2 += Load(x + i + 2 * w) * Load(y + i + 2 * w);
            s3 += Load(x + i + 3 * w) * Load(y + i + 3 * w);
        }
        for (; i + w <= n; i += w) s0 += Load(x + i) * Load(y + i);
        float s = System.Numerics.Vector.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }

    private static void Axpy(float a, float* x, float* y, int n)
    {
        int w = System.Numerics.Vector<float>.Count, i = 0;
        var va = new System.Numerics.Vector<float>(a);
        for (; i + w <= n; i += w) Unsafe.WriteUnaligned(y + i, Load(y + i) + va * Load(x + i));
        for (; i < n; i++) y[i] += a * x[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static System.Numerics.Vector<float> Load(float* p) => Unsafe.ReadUnaligned<System.Numerics.Vector<float>>(p);

    /// <summary>The blocked loop nest over C[m0..m1, n0..n1] on the calling thread.</summary>
    private static void Run<TK>(in Problem p, int m0, int m1, int n0, int n1) where TK : struct, IMicroKernel
    {
        int M = m1 - m0, N = n1 - n0, K = p.K;
        // Even block sizes (e.g. K = 300 → 2 slabs of 150, not 256 + 44) keep every pass near full efficiency.
        int kc = Balanced(K, TK.KC, 1);
        int mc = Balanced(M, TK.MC, TK.MR);
        int nc = Balanced(N, TK.NC, TK.NR);
        var buffers = PackBuffers.ForThisThread(p.APacked ? 0 : (long)mc * kc, p.BPacked ? 0 : (long)nc * kc, TK.MR * TK.NR);
        // Packed operands: slab pc starts at pc·(extent rounded up to whole panels), and within it the panel holding
        // row (column) i at i·kcur, i a multiple of the panel width.
        long mPad = RoundUp(p.M, TK.MR), nPad = RoundUp(p.N, TK.NR);
        fixed (float* a0 = p.A, b0 = p.B, c0 = p.C)
        {
            float* a = a0 + p.AOffset + (p.APacked ? 0 : p.TransA ? m0 : (long)m0 * p.Lda);
            float* b = b0 + p.BOffset + (p.BPacked ? 0 : p.TransB ? (long)n0 * p.Ldb : n0);
            float* c = c0 + p.COffset + (long)m0 * p.Ldc + n0;
            for (int jc = 0; jc < N; jc += nc)
            {
                int ncur = Math.Min(nc, N - jc);
                for (int pc = 0; pc < K; pc += kc)
                {
                    int kcur = Math.Min(kc, K - pc);
                    float beta = pc == 0 ? p.Beta : 1f; // later K slabs accumulate onto the first
                    float* pb = buffers.B;
                    if (p.BPacked) pb = b + pc * nPad + (long)(n0 + jc) * kcur;
                    else if (p.TransB) PackRowsAsColumns(b + (long)jc * p.Ldb + pc, p.Ldb, ncur, kcur, TK.NR, pb);
                    else PackRows(b + (long)pc * p.Ldb + jc, p.Ldb, kcur, ncur, TK.NR, pb);
                    for (int ic = 0; ic < M; ic += mc)
                    {
                        int mcur = Math.Min(mc, M - ic);
                        float* pa = buffers.A;
                        if (p.APacked) pa = a + pc * mPad + (long)(m0 + ic) * kcur;
                        else if (p.TransA) PackRows(a + (long)pc * p.Lda + ic, p.Lda, kcur, mcur, TK.MR, pa);
                        else PackRowsAsColumns(a + (long)ic * p.Lda + pc, p.Lda, mcur, kcur, TK.MR, pa);
                        Macro<TK>(mcur, ncur, kcur, pa, pb, c + (long)ic * p.Ldc + jc, p.Ldc, p.Alpha, beta, buffers.Tile);
                    }
                }
            }
        }
    }

    private static int Balanced(int extent, int block, int multiple)
    {
        int blocks = Math.Max(1, (extent + block - 1) / block);
        int size = (extent + blocks - 1) / blocks;
        return (size + multiple - 1) / multiple * multiple;
    }

    /// <summary>Sweeps the packed blocks with the micro-kernel; ragged edge tiles go through a scratch tile.</summary>
    private static void Macro<TK>(int mc, int nc, int kc, float* pa, float* pb, float* c, long ldc, float alpha, float beta, float* tile)
        where TK : struct, IMicroKernel
    {
        int MR = TK.MR, NR = TK.NR;
        for (int jr = 0; jr < nc; jr += NR)
        {
            int nr = Math.Min(NR, nc - jr);
            float* bp = pb + (long)jr * kc;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int mr = Math.Min(MR, mc - ir);
                float* ap = pa + (long)ir * kc;
                float* cp = c + ir * ldc + jr;
                if (mr == MR && nr == NR) { TK.Compute(kc, ap, bp, cp, ldc, alpha, beta); continue; }
                TK.Compute(kc, ap, bp, tile, NR, alpha, 0f);
                for (int i = 0; i < mr; i++) StoreEdgeRow(tile + i * NR, cp + i * ldc, nr, beta);
            }
        }
    }

    /// <summary>c[0..n) = t[0..n) (+ beta·c): one row of a ragged edge tile, 8 lanes at a time (channel counts are
    /// rarely multiples of MR = 6, so every product with 64 or 128 rows ends in such tiles).</summary>
    private static void StoreEdgeRow(float* t, float* c, int n, float beta)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(beta);
            for (; j + 8 <= n; j += 8)
            {
                var v = Vector256.Load(t + j);
                (beta == 0f ? v : v + vb * Vector256.Load(c + j)).Store(c + j);
            }
        }
        for (; j < n; j++) c[j] = beta == 0f ? t[j] : t[j] + beta * c[j];
    }

    // ---------------------------------------------------------------- packing

    /// <summary>
    /// Packs a rows×cols block whose rows are the panel's outer index: panel p holds columns [p·W, p·W + W) of
    /// every row r at dst[p·rows·W + r·W + j]. Used for op(B) = B (W = NR) and op(A) = Aᵀ (W = MR): both read
    /// contiguous runs of W. Columns past <paramref name="cols"/> are zero. Eight rows go across every panel at a time,
    /// so the reads are eight sequential streams and each panel receives one contiguous run of 8·W (a panel-by-panel
    /// walk would instead read W floats from each of KC rows a whole leading dimension apart, which all fall into the
    /// same few L1 sets).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRows(float* src, long ld, int rows, int cols, int W, float* dst)
    {
        int full = cols / W * W;
        for (int r0 = 0; r0 < rows; r0 += 8)
        {
            int rn = Math.Min(8, rows - r0);
            for (int j0 = 0; j0 < full; j0 += W)
            {
                float* d = dst + (long)j0 * rows + r0 * W, s = src + r0 * ld + j0;
                for (int r = 0; r < rn; r++, s += ld, d += W) CopyRun(s, d, W);
            }
            if (full < cols)
            {
                float* d = dst + (long)full * rows + r0 * W, s = src + r0 * ld + full;
                for (int r = 0; r < rn; r++, s += ld, d += W)
                {
                    int j = 0;
                    for (; j < cols - full; j++) d[j] = s[j];
                    for (; j < W; j++) d[j] = 0f;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRun(float* s, float* d, int n)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; j + 8 <= n; j += 8) Vector256.Store(Vector256.Load(s + j), d + j);
        for (; j + 4 <= n; j += 4) Vector128.Store(Vector128.Load(s + j), d + j);
        for (; j < n; j++) d[j] = s[j];
    }

    /// <summary>
    /// Packs a block stored transposed: source row i (of <paramref name="lines"/>) holds <paramref name="depth"/>
    /// contiguous values that become column i of the panel, dst[p·depth·W + k·W + (i − p·W)]. Used for op(A) = A
    /// (W = MR) and op(B) = Bᵀ (W = NR). Lines past the end are zero. Up to 8 lines are transposed together in
    /// registers, so the reads are sequential streams and the writes contiguous.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowsAsColumns(float* src, long ld, int lines, int depth, int W, float* dst)
    {
        for (int i0 = 0; i0 < lines; i0 += W)
        {
            int w = Math.Min(W, lines - i0);
            float* d = dst + (long)i0 * depth;
            float* s = src + i0 * ld;
            if (w == W && Avx.IsSupported && W % 8 is 0 or 6 or 4)
            {
                int g = 0;
                for (; g + 8 <= W; g += 8) Transpose(s + g * ld, ld, depth, d + g, W, 8);
                if (g < W) Transpose(s + g * ld, ld, depth, d + g, W, W - g);
                continue;
            }
            for (int k = 0; k < depth; k++, d += W)
            {
                int i = 0;
                for (; i < w; i++) d[i] = s[i * ld + k];
                for (; i < W; i++) d[i] = 0f;
            }
        }
    }

    /// <summary>
    /// n ∈ {4, 6, 8} source rows × depth → depth rows of n floats at stride <paramref name="W"/>, through 8×8
    /// register transposes (missing rows read as zero, and only n floats of each output row are stored).
    /// </summary>
    private static void Transpose(float* s, long ld, int depth, float* d, int W, int n)
    {
        int k = 0;
        var zero = Vector256<float>.Zero;
        for (; k + 8 <= depth; k += 8, d += 8 * W)
        {
            var r0 = Vector256.Load(s + k); var r1 = Vector256.Load(s + ld + k);
            var r2 = Vector256.Load(s + 2 * ld + k); var r3 = Vector256.Load(s + 3 * ld + k);
            var r4 = n > 4 ? Vector256.Load(s + 4 * ld + k) : zero; var r5 = n > 5 ? Vector256.Load(s + 5 * ld + k) : zero;
            var r6 = n > 6 ? Vector256.Load(s + 6 * ld + k) : zero; var r7 = n > 7 ? Vector256.Load(s + 7 * ld + k) : zero;
            // Interleave pairs, then quads, then swap 128-bit halves: the classic 8×8 float transpose.
            var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
            var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
            var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
            var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
            Put(d, Avx.Permute2x128(u0, u4, 0x20), n);
            Put(d + W, Avx.Permute2x128(u1, u5, 0x20), n);
            Put(d + 2 * W, Avx.Permute2x128(u2, u6, 0x20), n);
            Put(d + 3 * W, Avx.Permute2x128(u3, u7, 0x20), n);
            Put(d + 4 * W, Avx.Permute2x128(u0, u4, 0x31), n);
            Put(d + 5 * W, Avx.Permute2x128(u1, u5, 0x31), n);
            Put(d + 6 * W, Avx.Permute2x128(u2, u6, 0x31), n);
            Put(d + 7 * W, Avx.Permute2x128(u3, u7, 0x31), n);
        }
        for (; k < depth; k++, d += W)
            for (int i = 0; i < n; i++) d[i] = s[i * ld + k];

        static void Put(float* d, Vector256<float> row, int n)
        {
            if (n == 8) { row.Store(d); return; }
            row.GetLower().Store(d);
            if (n == 6) Sse.StoreLow(d + 4, row.GetUpper());
        }
    }

    // ---------------------------------------------------------------- thread-local pack buffers

    /// <summary>One thread's packed-A block, packed-B block and edge tile: pinned, 64-byte aligned, grown on demand.</summary>
    private sealed class PackBuffers
    {
        [ThreadStatic] private static PackBuffers? t_current;
        private float[]? _a, _b, _tile;
        public float* A, B, Tile;

        public static PackBuffers ForThisThread(long aFloats, long bFloats, int tileFloats)
        {
            var p = t_current ??= new PackBuffers();
            p.A = Ensure(ref p._a, aFloats);
            p.B = Ensure(ref p._b, bFloats);
            p.Tile = Ensure(ref p._tile, tileFloats);
            return p;
        }

        private static float* Ensure(ref float[]? array, long floats)
        {
            const int align = 64;
            if (array is null || array.Length < floats + align / sizeof(float))
                array = GC.AllocateUninitializedArray<float>(checked((int)(floats + align / sizeof(float))), pinned: true);
            nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
            return (float*)((address + align - 1) & ~(nint)(align - 1));
        }
    }

    // ---------------------------------------------------------------- micro-kernels

    /// <summary>
    /// C[0..MR, 0..NR] = α·Σ_k a[k·MR + i]·b[k·NR + j] + β·C (β = 0: C is not read), C with row stride ldc.
    /// KC/MC/NC are the cache blocks that suit the kernel's panel sizes.
    /// </summary>
    private interface IMicroKernel
    {
        static abstract int MR { get; }
        static abstract int NR { get; }
        static abstract int KC { get; }
        static abstract int MC { get; }
        static abstract int NC { get; }
        static abstract void Compute(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta);
    }

    /// <summary>
    /// AVX2 + FMA, 6×16: 12 ymm accumulators + 2 B vectors + 1 broadcast of 16 registers; 12 FMAs per 8 loads.
    /// KC = 256 keeps the 16 KiB B micro-panel in a 32 KiB L1; MC·KC = 144 KiB of A sits in L2.
    /// </summary>
    private readonly struct Avx2Kernel : IMicroKernel
    {
        public static int MR => 6;
        public static int NR => 16;
        public static int KC => 256;
        public static int MC => 144;
        public static int NC => 3072;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Compute(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
        {
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            if (Sse.IsSupported)
                for (int i = 0; i < 6; i++) { Sse.Prefetch0(c + i * ldc); Sse.Prefetch0(c + i * ldc + 15); }
            for (int k = 0; k < kc; k++, a += 6, b += 16)
            {
                var b0 = Avx.LoadVector256(b); // packed panels are 64-byte aligned; producers' panels need not be
                var b1 = Avx.LoadVector256(b + 8);
                var x = Vector256.Create(a[0]); c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
                x = Vector256.Create(a[1]); c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
                x = Vector256.Create(a[2]); c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
                x = Vector256.Create(a[3]); c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
                x = Vector256.Create(a[4]); c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
                x = Vector256.Create(a[5]); c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
            }
            var va = Vector256.Create(alpha); var vb = Vector256.Create(beta); bool over = beta == 0f;
            Put(c, c00, va, vb, over); Put(c + 8, c01, va, vb, over); c += ldc;
            Put(c, c10, va, vb, over); Put(c + 8, c11, va, vb, over); c += ldc;
            Put(c, c20, va, vb, over); Put(c + 8, c21, va, vb, over); c += ldc;
            Put(c, c30, va, vb, over); Put(c + 8, c31, va, vb, over); c += ldc;
            Put(c, c40, va, vb, over); Put(c + 8, c41, va, vb, over); c += ldc;
            Put(c, c50, va, vb, over); Put(c + 8, c51, va, vb, over);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* c, Vector256<float> acc, Vector256<float> alpha, Vector256<float> beta, bool overwrite)
            => (overwrite ? acc * alpha : Fma.MultiplyAdd(acc, alpha, Vector256.Load(c) * beta)).Store(c);
    }

    /// <summary>
    /// AVX-512, 8×32: 16 zmm accumulators (of 32) + 2 B vectors, broadcasts folded into the FMAs. Written with the
    /// cross-platform Vector512 API so that it also runs (slowly, emulated) where AVX-512 is absent: the tests check it
    /// on any machine.
    /// </summary>
    private readonly struct Avx512Kernel : IMicroKernel
    {
        public static int MR => 8;
        public static int NR => 32;
        public static int KC => 192;
        public static int MC => 128;
        public static int NC => 3072;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Compute(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
        {
            Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
            for (int k = 0; k < kc; k++, a += 8, b += 32)
            {
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + 16);
                var x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                x = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                x = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                x = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                x = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
                x = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
                x = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
                x = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            }
            var va = Vector512.Create(alpha); var vb = Vector512.Create(beta); bool over = beta == 0f;
            Put(c, c00, va, vb, over); Put(c + 16, c01, va, vb, over); c += ldc;
            Put(c, c10, va, vb, over); Put(c + 16, c11, va, vb, over); c += ldc;
            Put(c, c20, va, vb, over); Put(c + 16, c21, va, vb, over); c += ldc;
            Put(c, c30, va, vb, over); Put(c + 16, c31, va, vb, over); c += ldc;
            Put(c, c40, va, vb, over); Put(c + 16, c41, va, vb, over); c += ldc;
            Put(c, c50, va, vb, over); Put(c + 16, c51, va, vb, over); c += ldc;
            Put(c, c60, va, vb, over); Put(c + 16, c61, va, vb, over); c += ldc;
            Put(c, c70, va, vb, over); Put(c + 16, c71, va, vb, over);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* c, Vector512<float> acc, Vector512<float> alpha, Vector512<float> beta, bool overwrite)
            => (overwrite ? acc * alpha : Vector512.FusedMultiplyAdd(acc, alpha, Vector512.Load(c) * beta)).Store(c);
    }

    /// <summary>
    /// The fallback, 4×8 on Vector128 with separate multiply and add (NEON on ARM64, SSE on old x64, software
    /// elsewhere): 8 accumulators fit every SIMD register file.
    /// </summary>
    private readonly struct PortableKernel : IMicroKernel
    {
        public static int MR => 4;
        public static int NR => 8;
        public static int KC => 256;
        public static int MC => 128;
        public static int NC => 2048;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Compute(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
        {
            Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default;
            Vector128<float> c20 = default, c21 = default, c30 = default, c31 = default;
            for (int k = 0; k < kc; k++, a += 4, b += 8)
            {
                var b0 = Vector128.Load(b);
                var b1 = Vector128.Load(b + 4);
                var x = Vector128.Create(a[0]); c00 += x * b0; c01 += x * b1;
                x = Vector128.Create(a[1]); c10 += x * b0; c11 += x * b1;
                x = Vector128.Create(a[2]); c20 += x * b0; c21 += x * b1;
                x = Vector128.Create(a[3]); c30 += x * b0; c31 += x * b1;
            }
            var va = Vector128.Create(alpha); var vb = Vector128.Create(beta); bool over = beta == 0f;
            Put(c, c00, va, vb, over); Put(c + 4, c01, va, vb, over); c += ldc;
            Put(c, c10, va, vb, over); Put(c + 4, c11, va, vb, over); c += ldc;
            Put(c, c20, va, vb, over); Put(c + 4, c21, va, vb, over); c += ldc;
            Put(c, c30, va, vb, over); Put(c + 4, c31, va, vb, over);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* c, Vector128<float> acc, Vector128<float> alpha, Vector128<float> beta, bool overwrite)
            => (overwrite ? acc * alpha : acc * alpha + Vector128.Load(c) * beta).Store(c);
    }
}
