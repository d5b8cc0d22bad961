using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;
using CpuGemm = Boost.Kernels.Cpu.Gemm;

namespace Boost.Tests.Kernels;

public class MatMulTests
{
    // ---------------------------------------------------------------- shapes

    private static readonly int[] Small = [1, 17, 33];

    /// <summary>Shapes (M, N, K) past the managed GEMM's blocking and threading edges: K slabs of ≤ 256, row blocks
    /// of ≤ 144, column blocks of ≤ 3072, work split by rows or by columns, serial below 2 Mflop, ≤ 4 rows unpacked.</summary>
    private static readonly (int M, int N, int K)[] CpuLarge =
    [
        (255, 257, 17), (257, 255, 255), (1, 257, 257), (257, 1, 255), (255, 255, 1),
        (300, 290, 520), (600, 37, 1100), (37, 2000, 300), (9, 6500, 20), (50, 41, 2000), (13, 11, 4000), (3, 3000, 700),
    ];

    public static IEnumerable<TestCaseData> GemmCases()
    {
        var small = from m in Small from n in Small from k in Small select (m, n, k);
        foreach (var backend in Backends.All)
        {
            var shapes = backend == Backends.Sim ? small : small.Concat(CpuLarge);
            foreach (var (m, n, k) in shapes)
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                        yield return new TestCaseData(backend, m, n, k, ta, tb)
                            .SetName($"Gemm_MatchesTwin({backend}, {m}x{n}x{k}, {(ta ? "T" : "N")}{(tb ? "T" : "N")})");
        }
    }

    /// <summary>Float sums of K products of values in [-2, 2] carry rounding ~ K·ε; a real bug is off by O(1).</summary>
    private static double Atol(int k) => 1e-5 + 1e-6 * k;

    private static int[] Stored(int batch, int rows, int cols, bool trans)
        => batch == 0 ? (trans ? [cols, rows] : [rows, cols]) : (trans ? [batch, cols, rows] : [batch, rows, cols]);

    // ---------------------------------------------------------------- GEMM

    [TestCaseSource(nameof(GemmCases))]
    public void Gemm_MatchesTwin(string backend, int M, int N, int K, bool transA, bool transB)
    {
        var dev = Backends.Get(backend);
        int[] aShape = Stored(0, M, K, transA), bShape = Stored(0, K, N, transB);
        var ad = Seeded.Floats(M + 7 * N + 31 * K, M * K); var bd = Seeded.Floats(1 + M * N + K, K * N);
        using var a = Seeded.Tensor(dev, ad, aShape);
        using var b = Seeded.Tensor(dev, bd, bShape);
        using var c = MatMul.Gemm(a, b, transA, transB, alpha: 0.75f);
        var want = MatMulReference.Gemm(Seeded.ToDouble(ad), aShape, Seeded.ToDouble(bd), bShape, transA, transB, out var shape, alpha: 0.75);
        Assert.That(c.Shape, Is.EqualTo(shape));
        Compare.Close(c.ToArray(), want, atol: Atol(K), what: $"{backend} gemm");
    }

    [Test]
    public void Gemm_Batched_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Values(false, true)] bool transA, [Values(false, true)] bool transB)
    {
        var dev = Backends.Get(backend);
        // (batch of A or 0 for rank 2, batch of B or 0, M, N, K): both batched, B shared (one tall product when A is
        // untransposed), A shared; on the CPU also many small items (parallel across the batch) and large ones.
        var cases = new List<(int ba, int bb, int m, int n, int k)> { (3, 3, 5, 17, 9), (3, 0, 5, 9, 17), (0, 2, 17, 5, 9), (1, 1, 1, 1, 1) };
        if (!Backends.IsSlow(dev)) cases.AddRange([(64, 64, 20, 25, 30), (2, 2, 200, 150, 300), (4, 0, 130, 70, 90)]);
        foreach (var (ba, bb, M, N, K) in cases)
        {
            int[] aShape = Stored(ba, M, K, transA), bShape = Stored(bb, K, N, transB);
            var ad = Seeded.Floats(ba + M, Tensor.Count(aShape)); var bd = Seeded.Floats(bb + N + 100, Tensor.Count(bShape));
            using var a = Seeded.Tensor(dev, ad, aShape);
            using var b = Seeded.Tensor(dev, bd, bShape);
            using var c = MatMul.Gemm(a, b, transA, transB);
            var want = MatMulReference.Gemm(Seeded.ToDouble(ad), aShape, Seeded.ToDouble(bd), bShape, transA, transB, out var shape);
            string what = $"{backend} batched a {Tensor.Format(aShape)} b {Tensor.Format(bShape)}";
            Assert.That(c.Shape, Is.EqualTo(shape), what);
            Compare.Close(c.ToArray(), want, atol: Atol(K), what: what);
        }
    }

    [Test]
    public void GemmInto_AlphaBeta_AccumulatesAndOverwritesNaN([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Values(1f, -0.75f, 0f)] float beta, [Values(false, true)] bool batched)
    {
        var dev = Backends.Get(backend);
        int B = batched ? 2 : 0, M = 17, N = 33, K = 9;
        if (!Backends.IsSlow(dev)) (M, N, K) = (130, 270, 300);
        int[] aShape = Stored(B, M, K, false), bShape = Stored(B, K, N, true), cShape = Stored(B, M, N, false);
        var ad = Seeded.Floats(1, Tensor.Count(aShape)); var bd = Seeded.Floats(2, Tensor.Count(bShape));
        var cd = Seeded.Floats(3, Tensor.Count(cShape));
        if (beta == 0f) Array.Fill(cd, float.NaN); // β = 0 must overwrite, not compute 0·NaN
        using var a = Seeded.Tensor(dev, ad, aShape);
        using var b = Seeded.Tensor(dev, bd, bShape);
        using var c = Seeded.Tensor(dev, cd, cShape);
        MatMul.GemmInto(a, b, c, transA: false, transB: true, alpha: -1.5f, beta: beta);
        var want = MatMulReference.Gemm(Seeded.ToDouble(ad), aShape, Seeded.ToDouble(bd), bShape, false, true, out _,
            alpha: -1.5, c: beta == 0f ? null : Seeded.ToDouble(cd), beta: beta);
        Compare.Close(c.ToArray(), want, atol: Atol(K), what: $"{backend} gemm α = -1.5, β = {beta}");
    }

    [Test]
    public void GemmInto_EmptyInnerDimension_GivesBetaTimesC([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        using var a = Tensor.Empty(dev, 3, 0);
        using var b = Tensor.Empty(dev, 0, 5);
        using var c = MatMul.Gemm(a, b); // poisoned output: every element must be written
        Assert.That(c.ToArray(), Is.All.EqualTo(0f));
        var cd = Seeded.Floats(4, 15);
        using var c2 = Seeded.Tensor(dev, cd, 3, 5);
        MatMul.GemmInto(a, b, c2, false, false, 1f, 0.5f);
        Compare.Close(c2.ToArray(), cd.Select(v => 0.5 * v).ToArray(), what: "β·C");
    }

    [Test]
    public void GemmTwin_Backward_MatchesFiniteDifferences([Values(false, true)] bool transA, [Values(false, true)] bool transB,
        [Values(0, 1, 2)] int batching)
    {
        // batching 0: rank 2; 1: both batched; 2: B shared by a batch of A.
        int ba = batching == 0 ? 0 : 2, bb = batching == 1 ? 2 : 0, M = 3, N = 4, K = 5;
        int[] aShape = Stored(ba, M, K, transA), bShape = Stored(bb, K, N, transB);
        var a = Seeded.ToDouble(Seeded.Floats(1, Tensor.Count(aShape)));
        var b = Seeded.ToDouble(Seeded.Floats(2, Tensor.Count(bShape)));
        MatMulReference.Gemm(a, aShape, b, bShape, transA, transB, out var cShape);
        var w = FiniteDiff.Weights(3, (int)Tensor.Count(cShape));
        var (da, db) = MatMulReference.GemmBackward(w, a, aShape, b, bShape, transA, transB, alpha: 0.5);
        FiniteDiff.Check(x => MatMulReference.Gemm(x[0], aShape, x[1], bShape, transA, transB, out _, alpha: 0.5), [a, b], w, [da, db], what: "gemm twin");
    }

    // ---------------------------------------------------------------- managed GEMM internals

    /// <summary>Every micro-kernel (AVX-512 runs emulated where the CPU lacks it), on sub-matrices with padded
    /// leading dimensions and offsets: the window is right and nothing outside it is touched.</summary>
    [Test]
    public void Sgemm_EveryMicroKernel_OnStridedWindows([Values("Portable", "Avx2", "Avx512")] string kernelName,
        [Values(false, true)] bool transA, [Values(false, true)] bool transB, [Values(0f, 1f, 0.5f)] float beta)
    {
        var kernel = Enum.Parse<CpuGemm.MicroKernel>(kernelName);
        if (kernel == CpuGemm.MicroKernel.Avx2 && !System.Runtime.Intrinsics.X86.Fma.IsSupported)
            Assert.Ignore("the AVX2 kernel needs FMA, which this CPU lacks");
        foreach (var (M, N, K) in new[] { (1, 1, 1), (5, 3, 2), (7, 9, 5), (37, 70, 300), (130, 66, 33) })
        {
            int aRows = transA ? K : M, aCols = transA ? M : K, bRows = transB ? N : K, bCols = transB ? K : N;
            int lda = aCols + 3, ldb = bCols + 5, ldc = N + 2, aOff = 4, bOff = 6, cOff = 3;
            var A = Seeded.Floats(1, aOff + aRows * lda); var B = Seeded.Floats(2, bOff + bRows * ldb);
            var C = Seeded.Floats(3, cOff + M * ldc + 1);
            if (beta == 0f) for (int i = 0; i < C.Length; i += 2) C[i] = float.NaN;
            var before = (float[])C.Clone();
            CpuGemm.Sgemm(kernel, 2, transA, transB, M, N, K, 1.25f, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
            var got = new List<float>(); var want = new List<double>();
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)A[aOff + (transA ? k * lda + i : i * lda + k)] * B[bOff + (transB ? j * ldb + k : k * ldb + j)];
                    int o = cOff + i * ldc + j;
                    got.Add(C[o]);
                    want.Add(1.25 * s + (beta == 0f ? 0 : beta * (double)before[o]));
                    before[o] = C[o];
                }
            string what = $"{kernel} {M}x{N}x{K}";
            Compare.Close(got.ToArray(), want.ToArray(), atol: Atol(K), what: what);
            Assert.That(C, Is.EqualTo(before).AsCollection, $"{what}: elements outside the C window changed");
        }
    }

    /// <summary>The pre-packed products (both operands in the panel layout, as the Winograd conv feeds it; A alone, as
    /// the im2col conv does): several K slabs, several row blocks, ragged panels, column and row splits across the
    /// cores, β = 0 over NaN and β = 1; B is laid out here from the layout's definition, independently of the GEMM's
    /// own packing.</summary>
    [TestCase(1, 1, 1)]
    [TestCase(7, 300, 17)]
    [TestCase(150, 40, 520)]
    [TestCase(300, 70, 257)]
    [TestCase(20, 700, 300)]
    public void SgemmPacked_MatchesTwin(int M, int N, int K)
    {
        var A = Seeded.Floats(11, M * K); var B = Seeded.Floats(12, K * N);
        int wa = CpuGemm.PanelWidth(forA: true), wb = CpuGemm.PanelWidth(forA: false), kc = CpuGemm.SlabDepth(K);
        var packedA = new float[CpuGemm.PackedSize(M, K, forA: true) + 5];
        CpuGemm.PackA(A, 0, K, M, K, packedA, 5);
        int bOff = 3; long nPad = (N + wb - 1) / wb * wb;
        var packedB = Seeded.Floats(13, bOff + (int)CpuGemm.PackedSize(N, K, forA: false)); // junk in the pad columns
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++)
            {
                int k0 = k / kc * kc, kcur = Math.Min(kc, K - k0);
                packedB[bOff + k0 * nPad + (j - j % wb) * kcur + (k - k0) * wb + j % wb] = B[k * N + j];
            }
        foreach (float beta in new[] { 0f, 1f })
        {
            var C = Seeded.Floats(14, M * N + 2);
            if (beta == 0f) Array.Fill(C, float.NaN, 0, M * N);
            var before = (float[])C.Clone();
            CpuGemm.SgemmPacked(2, M, N, K, packedA, 5, packedB, bOff, beta, C, 0, N);
            var want = new double[M * N];
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                {
                    double t = 0;
                    for (int k = 0; k < K; k++) t += (double)A[i * K + k] * B[k * N + j];
                    want[i * N + j] = t + (beta == 0f ? 0 : before[i * N + j]);
                }
            Compare.Close(C.AsSpan(0, M * N).ToArray(), want, atol: Atol(K), what: $"packed {M}×{N}×{K}, β {beta}");
            Assert.That(C[(M * N)..], Is.EqualTo(before[(M * N)..]).AsCollection, "past C's end");
            // A packed, B row-major (at an offset, rows 2 wider than N: the conv's im2col blocks)
            int ldb = N + 2;
            var rowB = Seeded.Floats(15, 7 + K * ldb);
            for (int k = 0; k < K; k++) Array.Copy(B, k * N, rowB, 7 + k * ldb, N);
            var C2 = (float[])before.Clone();
            CpuGemm.SgemmPackedA(2, M, N, K, packedA, 5, rowB, 7, ldb, beta, C2, 0, N);
            Compare.Close(C2.AsSpan(0, M * N).ToArray(), want, atol: Atol(K), what: $"packed A {M}×{N}×{K}, β {beta}");
            Assert.That(C2[(M * N)..], Is.EqualTo(before[(M * N)..]).AsCollection, "past C's end (packed A)");
        }
        Assert.Throws<ArgumentException>(() => CpuGemm.SgemmPacked(2, M, N, K, packedA, 6, packedB, bOff, 0f, new float[M * N], 0, N), "A runs past its array");
    }

    [Test]
    public void Sgemm_RejectsWindowsOutsideTheArrays()
    {
        var A = new float[12]; var B = new float[12]; var C = new float[12];
        var e = Assert.Throws<ArgumentException>(() => CpuGemm.Sgemm(false, false, 3, 4, 5, 1f, A, 0, 5, B, 0, 4, 0f, C, 0, 4));
        Assert.That(e!.Message, Does.Contain("A is 3×5"));
        Assert.Throws<ArgumentException>(() => CpuGemm.Sgemm(false, false, 3, 4, 4, 1f, A, 0, 3, B, 0, 4, 0f, C, 0, 4)); // lda < K
        Assert.Throws<ArgumentException>(() => CpuGemm.Sgemm(false, false, 3, 4, 4, 1f, A, 0, 4, B, 0, 4, 0f, C, 1, 4)); // C overruns
    }

    // ---------------------------------------------------------------- linear

    private static IEnumerable<(int[] x, int n)> LinearShapes(Device dev)
    {
        yield return ([1, 1], 1);
        yield return ([5, 17], 9);
        yield return ([2, 3, 17], 33);
        if (!Backends.IsSlow(dev)) { yield return ([300, 129], 257); yield return ([4, 64, 96], 160); }
    }

    [Test]
    public void Linear_MatchesTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend, [Values] bool withBias)
    {
        var dev = Backends.Get(backend);
        foreach (var (xShape, N) in LinearShapes(dev))
        {
            int K = xShape[^1], M = (int)(Tensor.Count(xShape) / K);
            var xd = Seeded.Floats(1, M * K); var wd = Seeded.Floats(2, N * K); var bd = Seeded.Floats(3, N);
            using var x = Seeded.Tensor(dev, xd, xShape);
            using var w = Seeded.Tensor(dev, wd, N, K);
            using var bias = withBias ? Seeded.Tensor(dev, bd, N) : null;
            using var y = MatMul.Linear(x, w, bias);
            var want = MatMulReference.Linear(Seeded.ToDouble(xd), Seeded.ToDouble(wd), withBias ? Seeded.ToDouble(bd) : null, M, K, N);
            Assert.That(y.Shape, Is.EqualTo(xShape[..^1].Append(N).ToArray()));
            Compare.Close(y.ToArray(), want, atol: Atol(K), what: $"{backend} linear x {Tensor.Format(xShape)}, N {N}");
        }
    }

    [Test]
    public void LinearBackward_MatchesTwin_AndAccumulates([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        foreach (var (xShape, N) in LinearShapes(dev))
        {
            int K = xShape[^1], M = (int)(Tensor.Count(xShape) / K);
            var xd = Seeded.Floats(1, M * K); var wd = Seeded.Floats(2, N * K); var gd = Seeded.Floats(4, M * N);
            using var x = Seeded.Tensor(dev, xd, xShape);
            using var w = Seeded.Tensor(dev, wd, N, K);
            using var dy = Seeded.Tensor(dev, gd, xShape[..^1].Append(N).ToArray());
            var (wantDx, wantDw, wantDb) = MatMulReference.LinearBackward(Seeded.ToDouble(gd), Seeded.ToDouble(xd), Seeded.ToDouble(wd), M, K, N);
            string what = $"{backend} x {Tensor.Format(xShape)}, N {N}";

            MatMul.LinearBackward(dy, x, w, withBias: true, out var dx, out var dw, out var db);
            using (dx) using (dw) using (db)
            {
                Assert.That(dx.Shape, Is.EqualTo(xShape));
                Compare.Close(dx.ToArray(), wantDx, atol: Atol(N), what: $"{what} dx");
                Compare.Close(dw.ToArray(), wantDw, atol: Atol(M), what: $"{what} dw");
                Compare.Close(db!.ToArray(), wantDb, atol: Atol(M), what: $"{what} db");

                // β = 1: parameter gradients accumulate onto what is there.
                var dw0 = Seeded.Floats(5, N * K); var db0 = Seeded.Floats(6, N);
                dw.CopyFrom(dw0); db.CopyFrom(db0);
                MatMul.LinearBackwardInto(dy, x, w, null, dw, db, beta: 1f);
                Compare.Close(dw.ToArray(), wantDw.Select((v, i) => v + dw0[i]).ToArray(), atol: Atol(M), what: $"{what} dw += ");
                Compare.Close(db.ToArray(), wantDb.Select((v, i) => v + db0[i]).ToArray(), atol: Atol(M), what: $"{what} db += ");
            }
        }
    }

    /// <summary>The bias gradient alone (x [rows, 1], w [n, 1]), on both plans of the tiled reduction: one row part
    /// (few rows), and row parts summed by a second pass (many rows, few columns: batch 1 of a big feature map;
    /// 700 × 37 takes several tiles and parts on the NVIDIA-shaped simulator); columns never a multiple of the tile. β = 1 accumulates.</summary>
    [Test]
    public void ColumnSum_MatchesTwin_InOneAndInSeveralRowParts(
        [Values(Backends.Cpu, Backends.Sim, Backends.NvidiaSim, Backends.Cuda)] string backend,
        [Values(0, 1, 2, 3)] int c)
    {
        var (rows, n) = new[] { (5, 33), (1000, 5), (1, 1), (700, 37) }[c];
        var dev = Backends.Get(backend);
        if (dev is IlgpuDevice ilgpu)
        {
            var plan = ColumnSumPlan.For(rows, n, ilgpu.Accelerator.MaxNumThreadsPerGroup,
                ilgpu.Accelerator.WarpSize, ilgpu.Accelerator.NumMultiprocessors);
            if (rows < 128) Assert.That(plan.Parts, Is.EqualTo(1), plan.ToString());
            if (n <= 8 && rows >= 700) Assert.That(plan.Parts, Is.GreaterThan(1), $"{plan}: many rows, one column tile, row parts");
        }
        var gd = Seeded.Floats(7 + c, rows * n);
        using var x = Seeded.Tensor(dev, Seeded.Floats(1, rows), rows, 1);
        using var w = Seeded.Tensor(dev, Seeded.Floats(2, n), n, 1);
        using var dy = Seeded.Tensor(dev, gd, rows, n);
        var want = new double[n];
        for (int r = 0; r < rows; r++) for (int j = 0; j < n; j++) want[j] += gd[r * n + j];
        using var db = Tensor.FromArray(dev, Enumerable.Repeat(float.NaN, n).ToArray(), n); // poisoned: β = 0 overwrites
        MatMul.LinearBackwardInto(dy, x, w, null, null, db, beta: 0f);
        Compare.Close(db.ToArray(), want, atol: Atol(rows), what: $"{backend} db of [{rows}, {n}]");
        var db0 = Seeded.Floats(9, n);
        db.CopyFrom(db0);
        MatMul.LinearBackwardInto(dy, x, w, null, null, db, beta: 1f);
        Compare.Close(db.ToArray(), want.Select((v, i) => v + db0[i]).ToArray(), atol: Atol(rows), what: $"{backend} db += of [{rows}, {n}]");
    }

    /// <summary>The plan covers every row and column once, and fills an H100 (132 SMs) at batch 1.</summary>
    [TestCase(16384, 320)]
    [TestCase(4096, 1280)]
    [TestCase(3, 5)]
    [TestCase(100000, 4)]
    public void ColumnSumPlan_CoversEveryRowOnce_AndFillsTheGpu(int rows, int n)
    {
        var p = ColumnSumPlan.For(rows, n, 1024, 32, 132);
        Assert.That(p.Cols * p.Tiles, Is.GreaterThanOrEqualTo(n).And.LessThan(n + p.Cols));
        Assert.That(p.Parts * p.RowsPerPart, Is.GreaterThanOrEqualTo(rows), "every row in a part");
        Assert.That((p.Parts - 1) * p.RowsPerPart, Is.LessThan(rows), "no empty part");
        Assert.That(p.Group, Is.EqualTo(MatMul.ColumnSumGroup), "the shared array's length, no more");
        if (rows >= 64 * 4 * 132) Assert.That(p.Tiles * p.Parts, Is.GreaterThanOrEqualTo(4 * 132), p.ToString());
        if (rows < 128) Assert.That(p.Parts, Is.EqualTo(1));
    }

    [Test]
    public void LinearTwin_Backward_MatchesFiniteDifferences()
    {
        int M = 4, K = 5, N = 3;
        var x = Seeded.ToDouble(Seeded.Floats(1, M * K)); var w = Seeded.ToDouble(Seeded.Floats(2, N * K));
        var b = Seeded.ToDouble(Seeded.Floats(3, N)); var dy = FiniteDiff.Weights(4, M * N);
        var (dx, dw, db) = MatMulReference.LinearBackward(dy, x, w, M, K, N);
        FiniteDiff.Check(p => MatMulReference.Linear(p[0], p[1], p[2], M, K, N), [x, w, b], dy, [dx, dw, db], what: "linear twin");
    }

    // ---------------------------------------------------------------- bad shapes

    [Test]
    public void BadShapes_GiveClearErrors()
    {
        var cpu = Device.Cpu;
        using var a23 = Tensor.Zeros(cpu, 2, 3);
        using var b45 = Tensor.Zeros(cpu, 4, 5);
        using var b35 = Tensor.Zeros(cpu, 3, 5);
        using var v3 = Tensor.Zeros(cpu, 3);
        using var a223 = Tensor.Zeros(cpu, 2, 2, 3);
        using var b335 = Tensor.Zeros(cpu, 3, 3, 5);
        using var c24 = Tensor.Zeros(cpu, 2, 4);
        using var w43 = Tensor.Zeros(cpu, 4, 3);
        using var bias5 = Tensor.Zeros(cpu, 5);

        var e = Assert.Throws<ArgumentException>(() => MatMul.Gemm(a23, b45).Dispose());
        Assert.That(e!.Message, Does.Contain("MatMul.Gemm").And.Contain("[2, 3]").And.Contain("[4, 5]"));
        e = Assert.Throws<ArgumentException>(() => MatMul.Gemm(a23, b35, transA: true).Dispose());
        Assert.That(e!.Message, Does.Contain("inner dimensions 2 and 3"));
        e = Assert.Throws<ArgumentException>(() => MatMul.Gemm(v3, b35).Dispose());
        Assert.That(e!.Message, Does.Contain("rank 2 or 3").And.Contain("[3]"));
        e = Assert.Throws<ArgumentException>(() => MatMul.Gemm(a223, b335).Dispose());
        Assert.That(e!.Message, Does.Contain("batch sizes differ").And.Contain("[2, 2, 3]").And.Contain("[3, 3, 5]"));
        e = Assert.Throws<ArgumentException>(() => MatMul.GemmInto(a23, b35, c24, false, false, 1f, 0f));
        Assert.That(e!.Message, Does.Contain("c must be [2, 5], got [2, 4]"));
        using var sq = Tensor.Zeros(cpu, 3, 3);
        e = Assert.Throws<ArgumentException>(() => MatMul.GemmInto(sq, sq, sq, false, false, 1f, 0f));
        Assert.That(e!.Message, Does.Contain("shares memory"));
        e = Assert.Throws<ArgumentException>(() => MatMul.Linear(a23, b45, null).Dispose());
        Assert.That(e!.Message, Does.Contain("MatMul.Linear").And.Contain("[2, 3]").And.Contain("[4, 5]"));
        e = Assert.Throws<ArgumentException>(() => MatMul.Linear(a23, w43, bias5).Dispose());
        Assert.That(e!.Message, Does.Contain("bias must be [4]").And.Contain("[5]"));
        e = Assert.Throws<ArgumentException>(() => MatMul.LinearBackwardInto(c24, a23, w43, null, c24, null, 0f));
        Assert.That(e!.Message, Does.Contain("dw must be [4, 3], got [2, 4]"));
    }
}
