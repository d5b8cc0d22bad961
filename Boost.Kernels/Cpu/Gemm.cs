using System.Numerics;

namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed backend's single-precision GEMM: C = α·op(A)·op(B) + β·C, row-major, with leading dimensions and
/// element offsets into plain arrays. Every managed op that multiplies matrices (linear, conv via im2col,
/// attention) calls this one routine, so making it fast makes them all fast.
/// </summary>
/// <remarks>
/// op(A) is M×K (A is K×M when <paramref name="transA"/>), op(B) is K×N (B is N×K when <paramref name="transB"/>).
/// This first version: rows of C split across threads; each row accumulated as C[i,:] += a[i,k]·B[k,:] with
/// Vector&lt;float&gt; (B packed row-major first when transposed). β = 0 overwrites C (NaN in C does not leak).
/// </remarks>
public static class Gemm
{
    public static void Sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
        float[] A, int aOffset, int lda, float[] B, int bOffset, int ldb, float beta, float[] C, int cOffset, int ldc)
    {
        if (M == 0 || N == 0) return;
        float[] b = B; int bOff = bOffset, ldbRow = ldb;
        if (transB)
        {
            // Pack op(B) = Bᵀ into a K×N row-major block so the inner loop is contiguous.
            b = new float[(long)K * N];
            for (int n = 0; n < N; n++)
                for (int k = 0; k < K; k++) b[(long)k * N + n] = B[bOffset + (long)n * ldb + k];
            bOff = 0; ldbRow = N;
        }
        CpuParallel.For(M, Math.Max(1, 16384 / Math.Max(1, N * Math.Max(1, K) / 64)), (s, e) =>
        {
            var acc = new float[N];
            for (long i = s; i < e; i++)
            {
                Array.Clear(acc);
                for (int k = 0; k < K; k++)
                {
                    float a = transA ? A[aOffset + (long)k * lda + i] : A[aOffset + i * lda + k];
                    if (a == 0f) continue;
                    var row = b.AsSpan((int)(bOff + (long)k * ldbRow), N);
                    Axpy(a, row, acc);
                }
                var c = C.AsSpan((int)(cOffset + i * ldc), N);
                if (beta == 0f) for (int n = 0; n < N; n++) c[n] = alpha * acc[n];
                else for (int n = 0; n < N; n++) c[n] = alpha * acc[n] + beta * c[n];
            }
        });
    }

    private static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int n = 0, w = Vector<float>.Count;
        var va = new Vector<float>(a);
        for (; n <= x.Length - w; n += w)
            (new Vector<float>(x.Slice(n, w)) * va + new Vector<float>(y.Slice(n, w))).CopyTo(y.Slice(n, w));
        for (; n < x.Length; n++) y[n] += a * x[n];
    }
}
