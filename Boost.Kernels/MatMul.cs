using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// The shape of one (batched) GEMM as the kernel sees it: C[z] = α·op(A[z])·op(B[z]) + β·C[z], row-major with
/// leading dimensions, batch item z at element offset z·Stride (a stride of 0 reuses a rank-2 operand for every item).
/// </summary>
public struct GemmLayout
{
    public int M, N, K;
    public int Lda, Ldb, Ldc;
    public long StrideA, StrideB, StrideC;
    /// <summary>1 when the operand is stored transposed (A as K×M, B as N×K).</summary>
    public int TransA, TransB;
    public float Alpha, Beta;
}

/// <summary>
/// Compile-time tile of <see cref="MatMul.TiledKernel{TTile}"/>: a Threads×Threads group computes a square tile of
/// 4·Threads rows and columns of C, 4×4 per thread, stepping K by <see cref="Depth"/> through shared memory.
/// </summary>
public interface IGemmTile
{
    int Threads { get; }
    int Depth { get; }
}

/// <summary>16×16 tiles, 16 threads (4×4), K step 4: fits the simulator's 16-thread groups.</summary>
public readonly struct GemmTileSim : IGemmTile
{
    public int Threads => 4;
    public int Depth => 4;
}

/// <summary>64×64 tiles, 256 threads (16×16), K step 16: 8 KiB of shared memory, 16 FMAs per thread per k.</summary>
public readonly struct GemmTileCuda : IGemmTile
{
    public int Threads => 16;
    public int Depth => 16;
}

/// <summary>
/// Matrix products: <see cref="Gemm"/> (rank 2 and batched rank 3, transposes, α/β) and the linear layer
/// y = x·wᵀ + b with its backward. ILGPU devices run a shared-memory tiled kernel; the managed backend runs
/// <see cref="Cpu.Gemm.Sgemm(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)"/>.
/// </summary>
public static class MatMul
{
    // ---------------------------------------------------------------- kernels

    /// <summary>
    /// One group per (column tile, row tile, batch item). Each K step the group stages op(A)'s BM×Depth and op(B)'s
    /// Depth×BM slices in shared memory (reading global memory along its contiguous axis, whichever the transpose
    /// makes it, zero past the edges), then each thread accumulates its 4×4 outputs at rows ty + i·Threads and
    /// columns tx + j·Threads: strided so that a warp reads one A value (broadcast) and consecutive B values, and
    /// writes consecutive C values.
    /// </summary>
    [Kernel(Grouped = true)]
    public static void TiledKernel<TTile>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmLayout p)
        where TTile : struct, IGemmTile
    {
        int T = default(TTile).Threads, BK = default(TTile).Depth, BM = 4 * T;
        var tiles = SharedMemory.GetDynamic<float>();
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * T + tx;
        int row0 = Grid.IdxY * BM, col0 = Grid.IdxX * BM;
        long aBase = Grid.IdxZ * p.StrideA, bBase = Grid.IdxZ * p.StrideB, cBase = Grid.IdxZ * p.StrideC;
        int bTile = BK * BM;

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int k0 = 0; k0 < p.K; k0 += BK)
        {
            for (int e = tid; e < BM * BK; e += T * T)
            {
                // A tile, tiles[kk·BM + r] = op(A)[row0 + r, k0 + kk]
                int r = p.TransA != 0 ? e % BM : e / BK, kk = p.TransA != 0 ? e / BM : e % BK;
                int gr = row0 + r, gk = k0 + kk;
                float v = 0f;
                if (gr < p.M && gk < p.K) v = a[aBase + (p.TransA != 0 ? (long)gk * p.Lda + gr : (long)gr * p.Lda + gk)];
                tiles[kk * BM + r] = v;
                // B tile, tiles[bTile + kk·BM + j] = op(B)[k0 + kk, col0 + j]
                int j = p.TransB != 0 ? e / BK : e % BM;
                kk = p.TransB != 0 ? e % BK : e / BM;
                int gc = col0 + j;
                gk = k0 + kk;
                v = 0f;
                if (gc < p.N && gk < p.K) v = b[bBase + (p.TransB != 0 ? (long)gc * p.Ldb + gk : (long)gk * p.Ldb + gc)];
                tiles[bTile + kk * BM + j] = v;
            }
            Group.Barrier();
            for (int kk = 0; kk < BK; kk++)
            {
                int ar = kk * BM + ty, bc = bTile + kk * BM + tx;
                float a0 = tiles[ar], a1 = tiles[ar + T], a2 = tiles[ar + 2 * T], a3 = tiles[ar + 3 * T];
                float b0 = tiles[bc], b1 = tiles[bc + T], b2 = tiles[bc + 2 * T], b3 = tiles[bc + 3 * T];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }
        int row = row0 + ty, col = col0 + tx;
        Store(c, p, cBase, row, col, c00); Store(c, p, cBase, row, col + T, c01); Store(c, p, cBase, row, col + 2 * T, c02); Store(c, p, cBase, row, col + 3 * T, c03);
        row += T;
        Store(c, p, cBase, row, col, c10); Store(c, p, cBase, row, col + T, c11); Store(c, p, cBase, row, col + 2 * T, c12); Store(c, p, cBase, row, col + 3 * T, c13);
        row += T;
        Store(c, p, cBase, row, col, c20); Store(c, p, cBase, row, col + T, c21); Store(c, p, cBase, row, col + 2 * T, c22); Store(c, p, cBase, row, col + 3 * T, c23);
        row += T;
        Store(c, p, cBase, row, col, c30); Store(c, p, cBase, row, col + T, c31); Store(c, p, cBase, row, col + 2 * T, c32); Store(c, p, cBase, row, col + 3 * T, c33);
    }

    /// <summary>C = α·acc + β·C where (row, col) is inside C; β = 0 never reads C (NaN there must not leak).</summary>
    private static void Store(ArrayView<float> c, GemmLayout p, long cBase, int row, int col, float acc)
    {
        if (row >= p.M || col >= p.N) return;
        long i = cBase + (long)row * p.Ldc + col;
        c[i] = p.Beta == 0f ? p.Alpha * acc : p.Alpha * acc + p.Beta * c[i];
    }

    /// <summary>y[m, n] = bias[n]: the bias rows a linear layer's GEMM then accumulates onto.</summary>
    [Kernel]
    public static void BiasRowsKernel(Index1D i, ArrayView<float> bias, ArrayView<float> y, int n) => y[i] = bias[i % n];

    /// <summary>sum[n] = Σ_m x[m, n] + β·sum[n] (β = 0 overwrites): the bias gradient. One thread per column, so
    /// a warp reads consecutive columns of each row.</summary>
    [Kernel]
    public static void ColumnSumKernel(Index1D col, ArrayView<float> x, ArrayView<float> sum, int rows, int n, float beta)
    {
        float s = 0f;
        for (int r = 0; r < rows; r++) s += x[(long)r * n + col];
        sum[col] = beta == 0f ? s : s + beta * sum[col];
    }

    // ---------------------------------------------------------------- GEMM

    /// <summary>C = α·op(A)·op(B), a new tensor. Rank 2: [M, K]·[K, N] → [M, N]; rank 3: [B, M, K]·[B, K, N] →
    /// [B, M, N], where one operand may be rank 2 and is then shared by every batch item. A transpose swaps the last
    /// two dims of that operand (A stored [.., K, M], B stored [.., N, K]).</summary>
    /// <param name="a">[M, K] or [B, M, K] (last two swapped when <paramref name="transA"/>)</param>
    /// <param name="b">[K, N] or [B, K, N] (last two swapped when <paramref name="transB"/>)</param>
    public static Tensor Gemm(Tensor a, Tensor b, bool transA = false, bool transB = false, float alpha = 1f)
    {
        var (layout, batch, shape) = Resolve("MatMul.Gemm", a, b, transA, transB);
        var c = Tensor.Empty(a.Device, shape);
        Launch(a, b, c, layout with { Alpha = alpha, Beta = 0f }, batch);
        return c;
    }

    /// <summary>C = α·op(A)·op(B) + β·C into an existing C of the product's shape (β = 0 overwrites, even NaN;
    /// β = 1 accumulates, the rule for gradients). C must not share memory with A or B.</summary>
    /// <param name="c">[M, N] or [B, M, N]</param>
    public static void GemmInto(Tensor a, Tensor b, Tensor c, bool transA, bool transB, float alpha, float beta)
    {
        const string op = "MatMul.GemmInto";
        Check.SameDevice(op, a, b, c);
        var (layout, batch, shape) = Resolve(op, a, b, transA, transB);
        Check.Shape(op, c, "c", shape);
        if (ReferenceEquals(c.Storage, a.Storage) || ReferenceEquals(c.Storage, b.Storage))
            throw new ArgumentException($"{op}: c {c.ShapeString} shares memory with an input; the product cannot be computed in place.");
        Launch(a, b, c, layout with { Alpha = alpha, Beta = beta }, batch);
    }

    /// <summary>Checks the operands and derives the kernel layout, batch count and output shape.</summary>
    private static (GemmLayout layout, int batch, int[] shape) Resolve(string op, Tensor a, Tensor b, bool transA, bool transB)
    {
        Check.SameDevice(op, a, b);
        if (a.Rank is < 2 or > 3 || b.Rank is < 2 or > 3)
            throw new ArgumentException($"{op}: operands must have rank 2 or 3, got a {a.ShapeString} and b {b.ShapeString}.");
        int M = transA ? a.Dim(-1) : a.Dim(-2), Ka = transA ? a.Dim(-2) : a.Dim(-1);
        int Kb = transB ? b.Dim(-1) : b.Dim(-2), N = transB ? b.Dim(-2) : b.Dim(-1);
        string T(bool t) => t ? "ᵀ" : "";
        if (Ka != Kb)
            throw new ArgumentException($"{op}: a{T(transA)} {a.ShapeString} and b{T(transB)} {b.ShapeString} have inner dimensions {Ka} and {Kb}.");
        int batchA = a.Rank == 3 ? a.Dim(0) : 1, batchB = b.Rank == 3 ? b.Dim(0) : 1;
        if (a.Rank == 3 && b.Rank == 3 && batchA != batchB)
            throw new ArgumentException($"{op}: batch sizes differ, a {a.ShapeString} and b {b.ShapeString}.");
        int batch = Math.Max(batchA, batchB);
        int[] shape = a.Rank == 3 || b.Rank == 3 ? [batch, M, N] : [M, N];
        var layout = new GemmLayout
        {
            M = M, N = N, K = Ka,
            Lda = a.Dim(-1), Ldb = b.Dim(-1), Ldc = N,
            StrideA = a.Rank == 3 ? (long)M * Ka : 0, StrideB = b.Rank == 3 ? (long)Ka * N : 0, StrideC = (long)M * N,
            TransA = transA ? 1 : 0, TransB = transB ? 1 : 0,
        };
        // A batch of untransposed A rows against one shared B is a single taller product.
        if (batch > 1 && b.Rank == 2 && !transA) { layout.M = checked(M * batch); layout.StrideA = layout.StrideC = 0; batch = 1; }
        return (layout, batch, shape);
    }

    private static void Launch(Tensor a, Tensor b, Tensor c, GemmLayout p, int batch)
    {
        if (p.M == 0 || p.N == 0 || batch == 0) return;
        a.Device.Backend.Gemm(a, b, c, p, batch);
    }

    internal static void LaunchGemm<TTile>(IlgpuDevice dev, Tensor a, Tensor b, Tensor c, GemmLayout p, int batch)
        where TTile : struct, IGemmTile
    {
        var kernel = dev.Kernel(static acc => acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmLayout>(TiledKernel<TTile>));
        var t = default(TTile);
        int tile = 4 * t.Threads;
        var config = new KernelConfig(
            new Index3D((p.N + tile - 1) / tile, (p.M + tile - 1) / tile, batch),
            new Index3D(t.Threads, t.Threads, 1),
            SharedMemoryConfig.RequestDynamic<float>(2 * t.Depth * tile));
        kernel(config, a.View, b.View, c.View, p);
    }

    // ---------------------------------------------------------------- linear layer

    /// <summary>y = x·wᵀ + bias, with w in PyTorch's [out, in] layout; leading dims of x are flattened into rows.</summary>
    /// <param name="x">[M, K] (or [..., K])</param>
    /// <param name="w">[N, K]</param>
    /// <param name="bias">[N] or null</param>
    /// <returns>[M, N] (or [..., N])</returns>
    public static Tensor Linear(Tensor x, Tensor w, Tensor? bias)
    {
        const string op = "MatMul.Linear";
        var (M, K, N) = LinearShape(op, x, w, bias);
        Check.SameDevice(op, x, w, bias);
        var shape = x.Shape; shape[^1] = N;
        var y = Tensor.Empty(x.Device, shape);
        if (M == 0 || N == 0) return y;
        var p = new GemmLayout { M = M, N = N, K = K, Lda = K, Ldb = K, Ldc = N, TransB = 1, Alpha = 1f, Beta = bias is null ? 0f : 1f };
        if (bias is not null) FillBiasRows(bias, y, M, N);
        Launch(x, w, y, p, 1);
        return y;
    }

    /// <summary>
    /// Gradients of y = x·wᵀ + b: dx = dy·w, dw = dyᵀ·x, db = Σ_rows dy, each written as grad = new + β·grad into
    /// the tensors given (null skips one). β = 0 overwrites; β = 1 accumulates (how parameter gradients are kept).
    /// </summary>
    /// <param name="dy">[M, N] (or [..., N])</param>
    /// <param name="x">[M, K] (or [..., K])</param>
    /// <param name="w">[N, K]</param>
    /// <param name="dx">x's shape, or null</param>
    /// <param name="dw">[N, K], or null</param>
    /// <param name="db">[N], or null</param>
    public static void LinearBackwardInto(Tensor dy, Tensor x, Tensor w, Tensor? dx, Tensor? dw, Tensor? db, float beta)
    {
        const string op = "MatMul.LinearBackward";
        var (M, K, N) = LinearShape(op, x, w, null);
        Check.SameDevice(op, dy, x, w, dx, dw, db);
        var yShape = x.Shape; yShape[^1] = N;
        Check.Shape(op, dy, "dy", yShape);
        if (dx is not null)
        {
            Check.Shape(op, dx, "dx", x.Shape);
            // dx[M, K] = dy[M, N]·w[N, K]
            Launch(dy, w, dx, new GemmLayout { M = M, N = K, K = N, Lda = N, Ldb = K, Ldc = K, Alpha = 1f, Beta = beta }, 1);
        }
        if (dw is not null)
        {
            Check.Shape(op, dw, "dw", N, K);
            // dw[N, K] = dy[M, N]ᵀ·x[M, K]
            Launch(dy, x, dw, new GemmLayout { M = N, N = K, K = M, Lda = N, Ldb = K, Ldc = K, TransA = 1, Alpha = 1f, Beta = beta }, 1);
        }
        if (db is not null)
        {
            Check.Shape(op, db, "db", N);
            ColumnSum(dy, db, M, N, beta);
        }
    }

    /// <summary>Fresh gradients of y = x·wᵀ + b (see <see cref="LinearBackwardInto"/>); db is null unless
    /// <paramref name="withBias"/>.</summary>
    public static void LinearBackward(Tensor dy, Tensor x, Tensor w, bool withBias, out Tensor dx, out Tensor dw, out Tensor? db)
    {
        LinearShape("MatMul.LinearBackward", x, w, null);
        dx = Tensor.Empty(x.Device, x.Shape);
        dw = Tensor.Empty(x.Device, w.Shape);
        db = withBias ? Tensor.Empty(x.Device, w.Dim(0)) : null;
        try { LinearBackwardInto(dy, x, w, dx, dw, db, 0f); }
        catch { dx.Dispose(); dw.Dispose(); db?.Dispose(); throw; }
    }

    private static (int M, int K, int N) LinearShape(string op, Tensor x, Tensor w, Tensor? bias)
    {
        if (x.Rank < 2) throw new ArgumentException($"{op}: x must be [M, K] (or [..., K]), got {x.ShapeString}.");
        Check.Rank(w, 2, op, "w");
        int K = x.Dim(-1), N = w.Dim(0);
        if (w.Dim(1) != K) throw new ArgumentException($"{op}: x {x.ShapeString} has {K} features but w {w.ShapeString} expects {w.Dim(1)} ([out, in] layout).");
        if (bias is not null && (bias.Rank != 1 || bias.Dim(0) != N))
            throw new ArgumentException($"{op}: bias must be [{N}] for w {w.ShapeString}, got {bias.ShapeString}.");
        long rows = 1;
        for (int i = 0; i < x.Rank - 1; i++) rows *= x.Dim(i);
        return (checked((int)rows), K, N);
    }

    private static void FillBiasRows(Tensor bias, Tensor y, int M, int N) => y.Device.Backend.FillRows(bias, y, M, N);

    internal static void LaunchFillRows(IlgpuDevice dev, Tensor bias, Tensor y, int m, int n)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(BiasRowsKernel));
        k(checked(m * n), bias.View, y.View, n);
    }

    private static void ColumnSum(Tensor x, Tensor sum, int rows, int n, float beta)
    {
        if (n > 0) x.Device.Backend.ColumnSum(x, sum, rows, n, beta);
    }

    internal static void LaunchColumnSum(IlgpuDevice dev, Tensor x, Tensor sum, int rows, int n, float beta)
    {
        var k = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, float>(ColumnSumKernel));
        k(n, x.View, sum.View, rows, n, beta);
    }
}
