namespace Boost.Kernels.Reference;

/// <summary>Naive double-precision twins of the matrix products: the oracle for every backend.</summary>
public static class MatMulReference
{
    /// <summary>
    /// C = α·op(A)·op(B) + β·C with <see cref="MatMul.Gemm"/>'s shape rules: rank 2 or 3, a rank-2 operand shared by
    /// every batch item, a transpose swapping an operand's last two dims. <paramref name="c"/> null means β·C = 0.
    /// </summary>
    /// <param name="a">[M, K] or [B, M, K] (last two swapped when <paramref name="transA"/>)</param>
    /// <param name="b">[K, N] or [B, K, N] (last two swapped when <paramref name="transB"/>)</param>
    /// <returns>[M, N] or [B, M, N], in <paramref name="shape"/></returns>
    public static double[] Gemm(double[] a, int[] aShape, double[] b, int[] bShape, bool transA, bool transB,
        out int[] shape, double alpha = 1, double[]? c = null, double beta = 0)
    {
        var g = new Geometry(aShape, bShape, transA, transB);
        shape = g.OutShape;
        var y = new double[g.Batch * g.M * g.N];
        for (int z = 0; z < g.Batch; z++)
            for (int i = 0; i < g.M; i++)
                for (int j = 0; j < g.N; j++)
                {
                    double s = 0;
                    for (int k = 0; k < g.K; k++) s += a[g.A(z, i, k)] * b[g.B(z, k, j)];
                    int o = (z * g.M + i) * g.N + j;
                    y[o] = alpha * s + (c is null ? 0 : beta * c[o]);
                }
        return y;
    }

    /// <summary>Gradients of C = α·op(A)·op(B): dA, dB in A's and B's stored layouts (a shared rank-2 operand sums
    /// over the batch).</summary>
    public static (double[] da, double[] db) GemmBackward(double[] dc, double[] a, int[] aShape, double[] b, int[] bShape,
        bool transA, bool transB, double alpha = 1)
    {
        var g = new Geometry(aShape, bShape, transA, transB);
        var da = new double[a.Length];
        var db = new double[b.Length];
        for (int z = 0; z < g.Batch; z++)
            for (int i = 0; i < g.M; i++)
                for (int j = 0; j < g.N; j++)
                {
                    double d = alpha * dc[(z * g.M + i) * g.N + j];
                    for (int k = 0; k < g.K; k++)
                    {
                        int ia = g.A(z, i, k), ib = g.B(z, k, j);
                        da[ia] += d * b[ib];
                        db[ib] += d * a[ia];
                    }
                }
        return (da, db);
    }

    /// <summary>y = x·wᵀ + bias.</summary>
    /// <param name="x">[M, K]</param>
    /// <param name="w">[N, K]</param>
    /// <param name="bias">[N] or null</param>
    /// <returns>[M, N]</returns>
    public static double[] Linear(double[] x, double[] w, double[]? bias, int M, int K, int N)
    {
        var y = new double[M * N];
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
            {
                double s = bias?[n] ?? 0;
                for (int k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
                y[m * N + n] = s;
            }
        return y;
    }

    /// <summary>dx = dy·w [M, K], dw = dyᵀ·x [N, K], db = Σ_m dy [N].</summary>
    public static (double[] dx, double[] dw, double[] db) LinearBackward(double[] dy, double[] x, double[] w, int M, int K, int N)
    {
        var dx = new double[M * K];
        var dw = new double[N * K];
        var db = new double[N];
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
            {
                double g = dy[m * N + n];
                db[n] += g;
                for (int k = 0; k < K; k++)
                {
                    dx[m * K + k] += g * w[n * K + k];
                    dw[n * K + k] += g * x[m * K + k];
                }
            }
        return (dx, dw, db);
    }

    /// <summary>Index maps of op(A)[z, i, k] and op(B)[z, k, j] into the stored arrays.</summary>
    private readonly struct Geometry
    {
        public readonly int Batch, M, N, K;
        public readonly int[] OutShape;
        private readonly int _aRows, _aCols, _bRows, _bCols;
        private readonly bool _aBatched, _bBatched, _transA, _transB;

        public Geometry(int[] aShape, int[] bShape, bool transA, bool transB)
        {
            _transA = transA; _transB = transB;
            _aRows = aShape[^2]; _aCols = aShape[^1]; _bRows = bShape[^2]; _bCols = bShape[^1];
            _aBatched = aShape.Length == 3; _bBatched = bShape.Length == 3;
            M = transA ? _aCols : _aRows; K = transA ? _aRows : _aCols; N = transB ? _bRows : _bCols;
            if ((transB ? _bCols : _bRows) != K) throw new ArgumentException("MatMulReference: inner dimensions differ.");
            Batch = _aBatched ? aShape[0] : _bBatched ? bShape[0] : 1;
            OutShape = _aBatched || _bBatched ? [Batch, M, N] : [M, N];
        }

        public int A(int z, int i, int k) => (_aBatched ? z * _aRows * _aCols : 0) + (_transA ? k * _aCols + i : i * _aCols + k);
        public int B(int z, int k, int j) => (_bBatched ? z * _bRows * _bCols : 0) + (_transB ? j * _bCols + k : k * _bCols + j);
    }
}
