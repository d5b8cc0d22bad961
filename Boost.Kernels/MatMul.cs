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
/// Matrix products: <see cref="Gemm"/> (rank 2 and batched rank 3, transposes, α/β) and the linear layer
/// y = x·wᵀ + b with its backward. ILGPU devices run the tiled implicit-GEMM kernel that serves the convolutions
/// too (<see cref="Conv2d.ImplicitGemmKernel{TTile, TGemm}"/> with <see cref="DenseGemm"/>); the managed backend runs
/// <see cref="Cpu.Gemm.Sgemm(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)"/>.
/// </summary>
public static class MatMul
{
    // ---------------------------------------------------------------- kernels

    /// <summary>y[m, n] = bias[n]: the bias rows a linear layer's GEMM then accumulates onto.</summary>
    [Kernel]
    public static void BiasRowsKernel(Index1D i, ArrayView<float> bias, ArrayView<float> y, int n) => y[i] = bias[i % n];

    /// <summary>Most threads of a <see cref="ColumnSumTileKernel"/> group (its shared array's length).</summary>
    public const int ColumnSumGroup = 256;

    /// <summary>
    /// The bias gradient as a tiled reduction. A group of <c>cols</c> column lanes × (Group.DimX / cols) row lanes
    /// owns a tile of <c>cols</c> consecutive columns over one part of the rows: lanes take consecutive columns, so
    /// each row read is coalesced; row lane k sums rows k, k + lanes, …; then lane 0 of each column adds the row
    /// lanes in a fixed order (deterministic). Group g takes column tile g % tiles and row part g / tiles, and
    /// writes out[part, col] = Σ + β·out[part, col] (β = 0 overwrites): the sum itself when there is one part,
    /// else partial sums for <see cref="ColumnSumKernel"/>.
    /// </summary>
    /// <param name="x">[rows, n]</param>
    /// <param name="output">[parts, n]</param>
    [Kernel(Grouped = true)]
    public static void ColumnSumTileKernel(ArrayView<float> x, ArrayView<float> output, int rows, int n, int cols, int rowsPerPart, float beta)
    {
        var partial = SharedMemory.Allocate<float>(ColumnSumGroup); // at the top: one array (docs/adding-an-op.md)
        int t = Group.IdxX, lanes = Group.DimX / cols, tx = t % cols, ty = t / cols;
        int tiles = (n + cols - 1) / cols, tile = Grid.IdxX % tiles, part = Grid.IdxX / tiles;
        int col = tile * cols + tx, r0 = part * rowsPerPart, r1 = rows < r0 + rowsPerPart ? rows : r0 + rowsPerPart;
        float s = 0f;
        if (col < n && ty < lanes)
            for (int r = r0 + ty; r < r1; r += lanes) s += x[(long)r * n + col];
        partial[t] = s;
        Group.Barrier();
        if (ty == 0 && col < n)
        {
            float total = 0f;
            for (int k = 0; k < lanes; k++) total += partial[k * cols + tx];
            long o = (long)part * n + col;
            output[o] = beta == 0f ? total : total + beta * output[o];
        }
    }

    /// <summary>sum[n] = Σ_m x[m, n] + β·sum[n] (β = 0 overwrites), one thread per column: the second pass over
    /// <see cref="ColumnSumTileKernel"/>'s partial sums (a few rows).</summary>
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
        if ((long)M * Ka > int.MaxValue || (long)Ka * N > int.MaxValue || (long)M * N > int.MaxValue)
            throw new ArgumentException($"{op}: a {a.ShapeString} and b {b.ShapeString} exceed 2³¹ elements per matrix (32-bit indexing).");
        int[] shape = a.Rank == 3 || b.Rank == 3 ? [batch, M, N] : [M, N];
        var layout = new GemmLayout
        {
            M = M, N = N, K = Ka,
            Lda = a.Dim(-1), Ldb = b.Dim(-1), Ldc = N,
            StrideA = a.Rank == 3 ? (long)M * Ka : 0, StrideB = b.Rank == 3 ? (long)Ka * N : 0, StrideC = (long)M * N,
            TransA = transA ? 1 : 0, TransB = transB ? 1 : 0,
        };
        // A batch of untransposed A rows against one shared B is a single taller product.
        if (batch > 1 && b.Rank == 2 && !transA && (long)M * batch * Math.Max(Ka, N) <= int.MaxValue)
        { layout.M = M * batch; layout.StrideA = layout.StrideC = 0; batch = 1; }
        return (layout, batch, shape);
    }

    private static void Launch(Tensor a, Tensor b, Tensor c, GemmLayout p, int batch)
    {
        if (p.M == 0 || p.N == 0 || batch == 0) return;
        a.Device.Backend.Gemm(a, b, c, p, batch);
    }

    /// <summary>One launch of the conv tile's kernel per batch item, on that item's views.</summary>
    internal static void LaunchGemm<TTile>(IlgpuDevice dev, Tensor a, Tensor b, Tensor c, GemmLayout p, int batch)
        where TTile : struct, IConvTile
    {
        for (int i = 0; i < batch; i++)
        {
            var g = new DenseGemm { Am = Item(a, i * p.StrideA), Bm = Item(b, i * p.StrideB), Cm = Item(c, i * p.StrideC), P = p };
            Conv2d.RunGemm<TTile, DenseGemm>(dev, g, 1, p.K);
        }
    }

    private static ArrayView<float> Item(Tensor t, long offset) => t.View.SubView(offset, t.Length - offset);

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
        var plan = ColumnSumPlan.For(rows, n, dev.Accelerator.MaxNumThreadsPerGroup, dev.Accelerator.WarpSize,
            dev.Accelerator.NumMultiprocessors);
        var tileKernel = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int, int, int, float>(ColumnSumTileKernel));
        var config = new KernelConfig(plan.Tiles * plan.Parts, plan.Group);
        if (plan.Parts == 1)
        {
            tileKernel(config, x.View, sum.View, rows, n, plan.Cols, plan.RowsPerPart, beta);
            return;
        }
        using var partial = Tensor.Empty(dev, plan.Parts, n);
        tileKernel(config, x.View, partial.View, rows, n, plan.Cols, plan.RowsPerPart, 0f);
        var second = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, float>(ColumnSumKernel));
        second(n, partial.View, sum.View, plan.Parts, n, beta);
    }
}

/// <summary>How <see cref="MatMul.ColumnSumTileKernel"/> covers a [rows, n] sum: column tiles of <see cref="Cols"/>
/// (a warp, or the group when smaller), row parts of <see cref="RowsPerPart"/> so that at least four groups per
/// multiprocessor run when the rows allow (a batch-1 bias gradient has few columns and many rows), and never
/// parts of fewer than 64 rows (the second pass would then cost more than it saves).</summary>
public readonly record struct ColumnSumPlan(int Group, int Cols, int Tiles, int Parts, int RowsPerPart)
{
    public static ColumnSumPlan For(int rows, int n, int maxGroup, int warp, int multiprocessors)
    {
        int group = 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount((uint)Math.Clamp(maxGroup, 1, MatMul.ColumnSumGroup)));
        int cols = Math.Min(group, Math.Max(1, Math.Min(warp, 32)));
        int tiles = (n + cols - 1) / cols;
        int wanted = (4 * Math.Max(1, multiprocessors) + tiles - 1) / tiles;
        int parts = Math.Clamp(wanted, 1, Math.Max(1, rows / 64));
        int rowsPerPart = Math.Max(1, rows / parts); // rounded down: never fewer parts than wanted
        parts = Math.Max(1, (rows + rowsPerPart - 1) / rowsPerPart);
        return new ColumnSumPlan(group, cols, tiles, parts, rowsPerPart);
    }
}
