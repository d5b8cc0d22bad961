using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Boost.Kernels.Cpu;

/// <summary>
/// The managed attention: per head, blocks of <see cref="BlockRows"/>(Tk) query rows against all keys. The block's
/// scores S = scale·Q_b·Kᵀ ([rows, Tk] scratch, rented per worker so the steady state allocates nothing) and the
/// products go through <see cref="Gemm.Sgemm"/>; the softmax is a plain two-pass one over the full row (no online
/// max needed when the whole row is in memory).
/// </summary>
internal static unsafe class AttentionCpu
{
    /// <summary>Query rows per block for <paramref name="tk"/> keys: as many as keep the [rows, Tk] score block near
    /// 256 KiB (in L2), at least 64; every block packs Kᵀ and V again, so fewer, taller blocks pack less (at Tk = 256 one
    /// block of 256 rows, not four of 64).</summary>
    internal static int BlockRows(int tk) => Math.Max(64, (1 << 16) / Math.Max(1, tk) / 64 * 64);

    /// <summary>Threads for each GEMM: one when the parallel loop already has an item for every core (a GEMM that
    /// forks again inside a worker oversubscribes the cores), else all.</summary>
    private static int GemmThreads(long items) => items >= CpuParallel.Threads ? 1 : CpuParallel.Threads;

    /// <summary>o [heads, tq, d] and lse [heads, tq] from q [heads, tq, d], k and v [heads, tk, d].</summary>
    public static void Forward(float[] q, float[] k, float[] v, float[] o, float[] lse, int heads, int tq, int tk, int d, float scale)
    {
        int blockRows = BlockRows(tk), blocks = (tq + blockRows - 1) / blockRows;
        int gemmThreads = GemmThreads((long)heads * blocks);
        CpuParallel.For((long)heads * blocks, 1, (start, end) =>
        {
            float[] s = ArrayPool<float>.Shared.Rent(blockRows * tk);
            try
            {
                for (long item = start; item < end; item++)
                {
                    int h = (int)(item / blocks), q0 = (int)(item % blocks) * blockRows, rows = Math.Min(blockRows, tq - q0);
                    int qOff = (h * tq + q0) * d, kOff = h * tk * d;
                    Gemm.Sgemm(Gemm.Best, gemmThreads, false, true, rows, tk, d, scale, q, qOff, d, k, kOff, d, 0f, s, 0, tk);
                    for (int r = 0; r < rows; r++)
                    {
                        var row = s.AsSpan(r * tk, tk);
                        float max = Max(row);
                        float sum = ExpShifted(row, max);
                        lse[h * tq + q0 + r] = max + MathF.Log(sum);
                        Scale(row, 1f / sum);
                    }
                    Gemm.Sgemm(Gemm.Best, gemmThreads, false, false, rows, d, tk, 1f, s, 0, tk, v, kOff, d, 0f, o, qOff, d);
                }
            }
            finally { ArrayPool<float>.Shared.Return(s); }
        });
    }

    /// <summary>
    /// dq [heads, tq, d], dk and dv [heads, tk, d]. Heads run in parallel; within a head the query blocks run in
    /// order, each adding its share into dK and dV (β = 1 after the first block), so no reduction buffers are needed.
    /// </summary>
    public static void Backward(float[] dO, float[] q, float[] k, float[] v, float[] o, float[] lse,
        float[] dq, float[] dk, float[] dv, int heads, int tq, int tk, int d, float scale)
    {
        int gemmThreads = GemmThreads(heads), blockRows = BlockRows(tk);
        CpuParallel.For(heads, 1, (start, end) =>
        {
            float[] p = ArrayPool<float>.Shared.Rent(blockRows * tk);
            float[] ds = ArrayPool<float>.Shared.Rent(blockRows * tk);
            try
            {
                for (int h = (int)start; h < end; h++)
                {
                    int kOff = h * tk * d;
                    for (int q0 = 0; q0 < tq; q0 += blockRows)
                    {
                        int rows = Math.Min(blockRows, tq - q0), qOff = (h * tq + q0) * d;
                        float beta = q0 == 0 ? 0f : 1f;
                        // P = exp(scale·Q_b·Kᵀ − LSE), recomputed from the saved row statistics.
                        Gemm.Sgemm(Gemm.Best, gemmThreads, false, true, rows, tk, d, scale, q, qOff, d, k, kOff, d, 0f, p, 0, tk);
                        for (int r = 0; r < rows; r++) ExpShifted(p.AsSpan(r * tk, tk), lse[h * tq + q0 + r]);
                        // dV += Pᵀ·dO_b
                        Gemm.Sgemm(Gemm.Best, gemmThreads, true, false, tk, d, rows, 1f, p, 0, tk, dO, qOff, d, beta, dv, kOff, d);
                        // dS = P ∘ (dO_b·Vᵀ − rowsum(dO∘O))
                        Gemm.Sgemm(Gemm.Best, gemmThreads, false, true, rows, tk, d, 1f, dO, qOff, d, v, kOff, d, 0f, ds, 0, tk);
                        for (int r = 0; r < rows; r++)
                        {
                            float delta = Dot(dO.AsSpan(qOff + r * d, d), o.AsSpan(qOff + r * d, d));
                            SoftmaxGrad(p.AsSpan(r * tk, tk), ds.AsSpan(r * tk, tk), delta);
                        }
                        // dQ_b = scale·dS·K, dK += scale·dSᵀ·Q_b
                        Gemm.Sgemm(Gemm.Best, gemmThreads, false, false, rows, d, tk, scale, ds, 0, tk, k, kOff, d, 0f, dq, qOff, d);
                        Gemm.Sgemm(Gemm.Best, gemmThreads, true, false, tk, d, rows, scale, ds, 0, tk, q, qOff, d, beta, dk, kOff, d);
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(p);
                ArrayPool<float>.Shared.Return(ds);
            }
        });
    }

    private static float Max(ReadOnlySpan<float> x)
    {
        int i = 0, w = Vector<float>.Count;
        float m = float.NegativeInfinity;
        if (x.Length >= w)
        {
            var vm = new Vector<float>(x);
            for (i = w; i <= x.Length - w; i += w) vm = Vector.Max(vm, new Vector<float>(x.Slice(i)));
            for (int l = 0; l < w; l++) m = MathF.Max(m, vm[l]);
        }
        for (; i < x.Length; i++) m = MathF.Max(m, x[i]);
        return m;
    }

    /// <summary>x ← exp(x − shift); returns Σ x. The shift is the row's max (or its log-sum-exp), so x − shift ≤ 0.</summary>
    private static unsafe float ExpShifted(Span<float> x, float shift)
    {
        int i = 0;
        float s = 0f;
        if (Fma.IsSupported)
        {
            var vs = Vector256.Create(shift);
            var sum = Vector256<float>.Zero;
            fixed (float* p = x)
                for (; i <= x.Length - 8; i += 8)
                {
                    var e = ExpNonPositive(Vector256.Load(p + i) - vs);
                    e.Store(p + i);
                    sum += e;
                }
            s = Vector256.Sum(sum);
        }
        for (; i < x.Length; i++) { x[i] = MathF.Exp(x[i] - shift); s += x[i]; }
        return s;
    }

    /// <summary>
    /// e^x for x ≤ 0 in 8 lanes, in float (Cephes' expf scheme): n = round(x·log₂e), r = x − n·ln 2 in two parts
    /// (|r| ≤ ½ ln 2), e^r by its degree-6 minimax polynomial, times 2ⁿ built in the exponent bits; below −87.3 (where
    /// 2ⁿ would leave the normal range) 0, NaN stays NaN. Within 1e-7 relative of exp (8e-8 worst over 200,000 values
    /// against double, in a test). Not <c>Vector.Exp</c>: it works in double, too slow for the softmax's inner loop.
    /// Positive x (not passed here) would lose the 2ⁿ scaling above n = 127.
    /// </summary>
    internal static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        var clamped = Vector256.Max(x, Vector256.Create(-87.3f));
        var n = Avx.RoundToNearestInteger(clamped * Vector256.Create(1.44269504088896341f));
        var r = Fma.MultiplyAddNegated(n, Vector256.Create(0.693359375f), clamped);   // ln 2 = 0.693359375 − 2.12194440e-4
        r = Fma.MultiplyAddNegated(n, Vector256.Create(-2.12194440e-4f), r);
        var p = Fma.MultiplyAdd(Vector256.Create(1.9875691500e-4f), r, Vector256.Create(1.3981999507e-3f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        p = Fma.MultiplyAdd(p, r * r, r) + Vector256<float>.One;
        var scale = Avx2.ShiftLeftLogical(Avx.ConvertToVector256Int32(n) + Vector256.Create(127), 23).AsSingle();
        var e = Avx.AndNot(Avx.CompareLessThan(x, Vector256.Create(-87.3f)), p * scale); // 0 below the normal range
        return Avx.BlendVariable(e, x, Avx.CompareUnordered(x, x));                      // NaN in, NaN out
    }

    private static void Scale(Span<float> x, float a)
    {
        int i = 0, w = Vector<float>.Count;
        for (; i <= x.Length - w; i += w) (new Vector<float>(x.Slice(i)) * a).CopyTo(x.Slice(i));
        for (; i < x.Length; i++) x[i] *= a;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int i = 0, w = Vector<float>.Count;
        var acc = Vector<float>.Zero;
        for (; i <= a.Length - w; i += w) acc += new Vector<float>(a.Slice(i)) * new Vector<float>(b.Slice(i));
        float s = Vector.Sum(acc);
        for (; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>ds ← p ∘ (ds − delta)</summary>
    private static void SoftmaxGrad(ReadOnlySpan<float> p, Span<float> ds, float delta)
    {
        int i = 0, w = Vector<float>.Count;
        var vd = new Vector<float>(delta);
        for (; i <= p.Length - w; i += w) (new Vector<float>(p.Slice(i)) * (new Vector<float>(ds.Slice(i)) - vd)).CopyTo(ds.Slice(i));
        for (; i < p.Length; i++) ds[i] = p[i] * (ds[i] - delta);
    }
}
