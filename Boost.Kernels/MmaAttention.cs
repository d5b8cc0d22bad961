using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Attention on the tensor cores (TF32 or BF16 inputs, FP32 accumulation and softmax statistics), for head dims
/// D ≤ <see cref="MaxD"/>: the same O, LSE and gradients as <see cref="Attention"/>'s FP32 kernels, FlashAttention-2's
/// schedule. Forward: a group of 4 warps owns <see cref="BlockQ"/> query rows, 16 per warp, and streams K/V tiles of
/// <see cref="BlockK"/> rows: S = Q·Kᵀ in 16×8 accumulator fragments (registers), the online softmax on those
/// fragments (a row's 32 scores lie in the 4 lanes of one quad: two xor-shuffles reduce it), P through shared memory
/// into the A fragments of O += P·V, whose 8 accumulator fragments (16 × 64 per warp) stay in registers throughout.
/// </summary>
/// <remarks>
/// P (and in the backward dS) is rounded to the step's input precision on its way into the second product, as every
/// tensor-core attention does; its row sum l is taken from the FP32 values. Forward shared memory: Q, K, V and P
/// tiles, 43.5 KiB (under the 48 KiB a launch gets without opting in). Its row pitches put each operand's fragment
/// reads on 32 distinct banks: 68 floats (≡ 4 mod 32) for Q, K and P, read as A[g, t] or B[t, g] down rows; 72
/// (≡ 8 mod 32) for V, read across rows as B[t, g] = V[t, g]. The backward reads Q, dO and K both ways, so its one
/// pitch of 68 costs 2-way conflicts on the across-rows reads.
/// </remarks>
public static class MmaAttention
{
    public const int BlockQ = 64, BlockK = 32, MaxD = 64, Threads = 128;
    private const int LdQ = MaxD + 4, LdK = MaxD + 4, LdV = MaxD + 8, LdP = BlockK + 4;

    /// <summary>A 16×8 accumulator fragment: d0 = [g, 2t], d1 = [g, 2t + 1], d2 = [g + 8, 2t], d3 = [g + 8, 2t + 1].</summary>
    private struct Frag
    {
        public float D0, D1, D2, D3;
    }

    [Kernel(Grouped = true)]
    public static void ForwardKernel<TMma>(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        ArrayView<float> lse, AttentionDims p)
        where TMma : struct, IMmaStep
    {
        // Every shared array is allocated here, before any branch (see docs/adding-an-op.md).
        var qs = SharedMemory.Allocate<float>(BlockQ * LdQ);
        var ks = SharedMemory.Allocate<float>(BlockK * LdK);
        var vs = SharedMemory.Allocate<float>(BlockK * LdV);
        var ps = SharedMemory.Allocate<float>(BlockQ * LdP);

        var mma = default(TMma);
        int tid = Group.IdxX, lane = tid % 32, g = lane >> 2, t = lane & 3, wq = (tid / 32) * 16;
        int head = Grid.IdxX / p.Tiles, q0 = (Grid.IdxX - head * p.Tiles) * BlockQ;
        int D = p.D, qBase = head * p.Tq * D, kBase = head * p.Tk * D;
        int depth = (D + mma.K - 1) / mma.K * mma.K; // the zero-padded columns past D add nothing

        LoadTile(q, qs, qBase, q0, BlockQ, p.Tq, D, LdQ, tid, Threads);
        Frag o0 = default, o1 = default, o2 = default, o3 = default, o4 = default, o5 = default, o6 = default, o7 = default;
        float mTop = float.NegativeInfinity, mBottom = float.NegativeInfinity, lTop = 0f, lBottom = 0f;
        Group.Barrier();

        for (int k0 = 0; k0 < p.Tk; k0 += BlockK)
        {
            LoadTile(k, ks, kBase, k0, BlockK, p.Tk, D, LdK, tid, Threads);
            LoadTile(v, vs, kBase, k0, BlockK, p.Tk, D, LdV, tid, Threads);
            Group.Barrier();

            // S = Q·Kᵀ for this warp's 16 rows and the tile's 32 keys: B[d, key] = K[key, d].
            ProductTransposed(mma, qs, LdQ, wq, ks, LdK, depth, g, t, out var s0, out var s1, out var s2, out var s3);
            int col = k0 + 2 * t;
            ScaleAndMask(ref s0, col, p.Tk, p.Scale); ScaleAndMask(ref s1, col + 8, p.Tk, p.Scale);
            ScaleAndMask(ref s2, col + 16, p.Tk, p.Scale); ScaleAndMask(ref s3, col + 24, p.Tk, p.Scale);

            // Online softmax per row (rows g and g + 8 of the warp); the tile has ≥ 1 real key, so the max is finite.
            float top = MathF.Max(MathF.Max(RowMax(s0, true), RowMax(s1, true)), MathF.Max(RowMax(s2, true), RowMax(s3, true)));
            float bottom = MathF.Max(MathF.Max(RowMax(s0, false), RowMax(s1, false)), MathF.Max(RowMax(s2, false), RowMax(s3, false)));
            float mNewTop = MathF.Max(mTop, QuadMax(top)), mNewBottom = MathF.Max(mBottom, QuadMax(bottom));
            float alphaTop = MathF.Exp(mTop - mNewTop), alphaBottom = MathF.Exp(mBottom - mNewBottom);
            mTop = mNewTop; mBottom = mNewBottom;
            Exp(ref s0, mTop, mBottom); Exp(ref s1, mTop, mBottom); Exp(ref s2, mTop, mBottom); Exp(ref s3, mTop, mBottom);
            lTop = lTop * alphaTop + QuadSum(s0.D0 + s0.D1 + s1.D0 + s1.D1 + s2.D0 + s2.D1 + s3.D0 + s3.D1);
            lBottom = lBottom * alphaBottom + QuadSum(s0.D2 + s0.D3 + s1.D2 + s1.D3 + s2.D2 + s2.D3 + s3.D2 + s3.D3);
            Rescale(ref o0, alphaTop, alphaBottom); Rescale(ref o1, alphaTop, alphaBottom);
            Rescale(ref o2, alphaTop, alphaBottom); Rescale(ref o3, alphaTop, alphaBottom);
            Rescale(ref o4, alphaTop, alphaBottom); Rescale(ref o5, alphaTop, alphaBottom);
            Rescale(ref o6, alphaTop, alphaBottom); Rescale(ref o7, alphaTop, alphaBottom);

            // P leaves the accumulator layout through this warp's rows of shared memory, into the A layout.
            int pRow = (wq + g) * LdP + 2 * t;
            StoreFrag(ps, pRow, LdP, s0); StoreFrag(ps, pRow + 8, LdP, s1);
            StoreFrag(ps, pRow + 16, LdP, s2); StoreFrag(ps, pRow + 24, LdP, s3);
            Group.Barrier();

            // O += P·V: B[key, d] = V[key, d]; fragments past D are skipped (uniform across the group).
            for (int kk = 0; kk < BlockK; kk += mma.K)
            {
                LoadA(mma, ps, LdP, wq, kk, g, t, out uint a0, out uint a1, out uint a2, out uint a3);
                AccumulateRows(mma, D, ref o0, ref o1, ref o2, ref o3, ref o4, ref o5, ref o6, ref o7, a0, a1, a2, a3, vs, LdV, kk, g, t);
            }
            Group.Barrier();
        }

        int rowTop = q0 + wq + g, rowBottom = rowTop + 8, c = 2 * t;
        float invTop = 1f / lTop, invBottom = 1f / lBottom;
        StoreOut(o, qBase, D, p.Tq, rowTop, rowBottom, c, o0, invTop, invBottom);
        StoreOut(o, qBase, D, p.Tq, rowTop, rowBottom, c + 8, o1, invTop, invBottom);
        StoreOut(o, qBase, D, p.Tq, rowTop, rowBottom, c + 16, o2, invTop, invBottom);
        StoreOut(o, qBase, D, p.Tq, rowTop, rowBottom, c + 24, o3, invTop, invBottom);
        StoreOut(o, qBase, D, p.Tq, rowTop, rowBottom, c + 32, o4, invTop, invBottom);
        StoreOut(o, qBase, D, p.Tq, rowTop, rowBottom, c + 40, o5, invTop, invBottom);
        StoreOut(o, qBase, D, p.Tq, rowTop, rowBottom, c + 48, o6, invTop, invBottom);
        StoreOut(o, qBase, D, p.Tq, rowTop, rowBottom, c + 56, o7, invTop, invBottom);
        if (t == 0)
        {
            if (rowTop < p.Tq) lse[head * p.Tq + rowTop] = mTop + MathF.Log(lTop);
            if (rowBottom < p.Tq) lse[head * p.Tq + rowBottom] = mBottom + MathF.Log(lBottom);
        }
    }

    /// <summary>Rows of each backward group (keys in dK/dV, queries in dQ; 16 per warp) and of the tiles it streams.</summary>
    public const int BwdRows = 32, BwdStream = 32, BwdThreads = 64;
    private const int Ld = MaxD + 4, LdS = BwdStream + 4;

    /// <summary>
    /// Backward, dK and dV (FlashAttention-2's outer loop over keys): one group of 2 warps per 32 key rows, streaming
    /// 32 query rows per step. Per step and warp: Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ (16 keys × 32 queries, registers), Pᵀ =
    /// exp(scale·Sᵀ − LSE) and dSᵀ = Pᵀ∘(dPᵀ − Δ) with each query's LSE and Δ from shared memory, then dV += Pᵀ·dO
    /// and dK += dSᵀ·Q through shared memory into A fragments; dV and dK (8 fragments each) stay in registers.
    /// 43.3 KiB of shared memory.
    /// </summary>
    [Kernel(Grouped = true)]
    public static void BackwardKVKernel<TMma>(ArrayView<float> dO, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dk, ArrayView<float> dv, AttentionDims p)
        where TMma : struct, IMmaStep
    {
        // Every shared array is allocated here, before any branch (see docs/adding-an-op.md).
        var ks = SharedMemory.Allocate<float>(BwdRows * Ld);
        var vs = SharedMemory.Allocate<float>(BwdRows * Ld);
        var qs = SharedMemory.Allocate<float>(BwdStream * Ld);
        var dos = SharedMemory.Allocate<float>(BwdStream * Ld);
        var ps = SharedMemory.Allocate<float>(BwdRows * LdS);
        var dss = SharedMemory.Allocate<float>(BwdRows * LdS);
        var rowLse = SharedMemory.Allocate<float>(BwdStream);
        var rowDelta = SharedMemory.Allocate<float>(BwdStream);

        var mma = default(TMma);
        int tid = Group.IdxX, lane = tid % 32, g = lane >> 2, t = lane & 3, wk = (tid / 32) * 16;
        int head = Grid.IdxX / p.Tiles, k0 = (Grid.IdxX - head * p.Tiles) * BwdRows;
        int D = p.D, qBase = head * p.Tq * D, kBase = head * p.Tk * D, rowBase = head * p.Tq;
        int depth = (D + mma.K - 1) / mma.K * mma.K;

        LoadTile(k, ks, kBase, k0, BwdRows, p.Tk, D, Ld, tid, BwdThreads);
        LoadTile(v, vs, kBase, k0, BwdRows, p.Tk, D, Ld, tid, BwdThreads);
        Frag v0 = default, v1 = default, v2 = default, v3 = default, v4 = default, v5 = default, v6 = default, v7 = default;
        Frag k0f = default, k1f = default, k2f = default, k3f = default, k4f = default, k5f = default, k6f = default, k7f = default;

        for (int q0 = 0; q0 < p.Tq; q0 += BwdStream)
        {
            LoadTile(q, qs, qBase, q0, BwdStream, p.Tq, D, Ld, tid, BwdThreads);
            LoadTile(dO, dos, qBase, q0, BwdStream, p.Tq, D, Ld, tid, BwdThreads);
            for (int rr = tid; rr < BwdStream; rr += BwdThreads)
            {
                bool ok = q0 + rr < p.Tq;
                rowLse[rr] = ok ? lse[rowBase + q0 + rr] : 0f;
                rowDelta[rr] = ok ? delta[rowBase + q0 + rr] : 0f;
            }
            Group.Barrier();

            // Sᵀ[key, query] = Σ_d K[key, d]·Q[query, d] and dPᵀ = Σ_d V[key, d]·dO[query, d].
            ProductTransposed(mma, ks, Ld, wk, qs, Ld, depth, g, t, out var s0, out var s1, out var s2, out var s3);
            ProductTransposed(mma, vs, Ld, wk, dos, Ld, depth, g, t, out var d0, out var d1, out var d2, out var d3);
            int c = 2 * t, at = (wk + g) * LdS + c;
            TransposedProbabilities(ref s0, ref d0, rowLse, rowDelta, c, q0, p.Tq, p.Scale);
            TransposedProbabilities(ref s1, ref d1, rowLse, rowDelta, c + 8, q0, p.Tq, p.Scale);
            TransposedProbabilities(ref s2, ref d2, rowLse, rowDelta, c + 16, q0, p.Tq, p.Scale);
            TransposedProbabilities(ref s3, ref d3, rowLse, rowDelta, c + 24, q0, p.Tq, p.Scale);
            StoreFrag(ps, at, LdS, s0); StoreFrag(ps, at + 8, LdS, s1); StoreFrag(ps, at + 16, LdS, s2); StoreFrag(ps, at + 24, LdS, s3);
            StoreFrag(dss, at, LdS, d0); StoreFrag(dss, at + 8, LdS, d1); StoreFrag(dss, at + 16, LdS, d2); StoreFrag(dss, at + 24, LdS, d3);
            Group.Barrier();

            // dV += Pᵀ·dO and dK += dSᵀ·Q: B[query, d] (fragments past D skipped, uniformly).
            for (int kk = 0; kk < BwdStream; kk += mma.K)
            {
                LoadA(mma, ps, LdS, wk, kk, g, t, out uint a0, out uint a1, out uint a2, out uint a3);
                AccumulateRows(mma, D, ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7, a0, a1, a2, a3, dos, Ld, kk, g, t);
                LoadA(mma, dss, LdS, wk, kk, g, t, out a0, out a1, out a2, out a3);
                AccumulateRows(mma, D, ref k0f, ref k1f, ref k2f, ref k3f, ref k4f, ref k5f, ref k6f, ref k7f, a0, a1, a2, a3, qs, Ld, kk, g, t);
            }
            Group.Barrier();
        }

        int rowTop = k0 + wk + g, rowBottom = rowTop + 8, col = 2 * t;
        float one = 1f, scale = p.Scale;
        StoreOut(dv, kBase, D, p.Tk, rowTop, rowBottom, col, v0, one, one); StoreOut(dk, kBase, D, p.Tk, rowTop, rowBottom, col, k0f, scale, scale);
        StoreOut(dv, kBase, D, p.Tk, rowTop, rowBottom, col + 8, v1, one, one); StoreOut(dk, kBase, D, p.Tk, rowTop, rowBottom, col + 8, k1f, scale, scale);
        StoreOut(dv, kBase, D, p.Tk, rowTop, rowBottom, col + 16, v2, one, one); StoreOut(dk, kBase, D, p.Tk, rowTop, rowBottom, col + 16, k2f, scale, scale);
        StoreOut(dv, kBase, D, p.Tk, rowTop, rowBottom, col + 24, v3, one, one); StoreOut(dk, kBase, D, p.Tk, rowTop, rowBottom, col + 24, k3f, scale, scale);
        StoreOut(dv, kBase, D, p.Tk, rowTop, rowBottom, col + 32, v4, one, one); StoreOut(dk, kBase, D, p.Tk, rowTop, rowBottom, col + 32, k4f, scale, scale);
        StoreOut(dv, kBase, D, p.Tk, rowTop, rowBottom, col + 40, v5, one, one); StoreOut(dk, kBase, D, p.Tk, rowTop, rowBottom, col + 40, k5f, scale, scale);
        StoreOut(dv, kBase, D, p.Tk, rowTop, rowBottom, col + 48, v6, one, one); StoreOut(dk, kBase, D, p.Tk, rowTop, rowBottom, col + 48, k6f, scale, scale);
        StoreOut(dv, kBase, D, p.Tk, rowTop, rowBottom, col + 56, v7, one, one); StoreOut(dk, kBase, D, p.Tk, rowTop, rowBottom, col + 56, k7f, scale, scale);
    }

    /// <summary>
    /// Backward, dQ: one group of 2 warps per 32 query rows, streaming 32 key rows per step: S = Q·Kᵀ and dP = dO·Vᵀ
    /// in registers, dS = P∘(dP − Δ) with the row's LSE and Δ in registers, then dQ += dS·K through shared memory;
    /// dQ (8 fragments) stays in registers. 38.5 KiB of shared memory.
    /// </summary>
    [Kernel(Grouped = true)]
    public static void BackwardQKernel<TMma>(ArrayView<float> dO, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dq, AttentionDims p)
        where TMma : struct, IMmaStep
    {
        // Every shared array is allocated here, before any branch (see docs/adding-an-op.md).
        var qs = SharedMemory.Allocate<float>(BwdRows * Ld);
        var dos = SharedMemory.Allocate<float>(BwdRows * Ld);
        var ks = SharedMemory.Allocate<float>(BwdStream * Ld);
        var vs = SharedMemory.Allocate<float>(BwdStream * Ld);
        var dss = SharedMemory.Allocate<float>(BwdRows * LdS);

        var mma = default(TMma);
        int tid = Group.IdxX, lane = tid % 32, g = lane >> 2, t = lane & 3, wq = (tid / 32) * 16;
        int head = Grid.IdxX / p.Tiles, q0 = (Grid.IdxX - head * p.Tiles) * BwdRows;
        int D = p.D, qBase = head * p.Tq * D, kBase = head * p.Tk * D, rowBase = head * p.Tq;
        int depth = (D + mma.K - 1) / mma.K * mma.K;

        LoadTile(q, qs, qBase, q0, BwdRows, p.Tq, D, Ld, tid, BwdThreads);
        LoadTile(dO, dos, qBase, q0, BwdRows, p.Tq, D, Ld, tid, BwdThreads);
        int rowTop = q0 + wq + g, rowBottom = rowTop + 8;
        float lseTop = rowTop < p.Tq ? lse[rowBase + rowTop] : 0f, lseBottom = rowBottom < p.Tq ? lse[rowBase + rowBottom] : 0f;
        float deltaTop = rowTop < p.Tq ? delta[rowBase + rowTop] : 0f, deltaBottom = rowBottom < p.Tq ? delta[rowBase + rowBottom] : 0f;
        Frag q0f = default, q1f = default, q2f = default, q3f = default, q4f = default, q5f = default, q6f = default, q7f = default;

        for (int k0 = 0; k0 < p.Tk; k0 += BwdStream)
        {
            LoadTile(k, ks, kBase, k0, BwdStream, p.Tk, D, Ld, tid, BwdThreads);
            LoadTile(v, vs, kBase, k0, BwdStream, p.Tk, D, Ld, tid, BwdThreads);
            Group.Barrier();

            ProductTransposed(mma, qs, Ld, wq, ks, Ld, depth, g, t, out var s0, out var s1, out var s2, out var s3);
            ProductTransposed(mma, dos, Ld, wq, vs, Ld, depth, g, t, out var d0, out var d1, out var d2, out var d3);
            int col = k0 + 2 * t, at = (wq + g) * LdS + 2 * t;
            ScoreGradient(ref s0, ref d0, col, p.Tk, p.Scale, lseTop, lseBottom, deltaTop, deltaBottom);
            ScoreGradient(ref s1, ref d1, col + 8, p.Tk, p.Scale, lseTop, lseBottom, deltaTop, deltaBottom);
            ScoreGradient(ref s2, ref d2, col + 16, p.Tk, p.Scale, lseTop, lseBottom, deltaTop, deltaBottom);
            ScoreGradient(ref s3, ref d3, col + 24, p.Tk, p.Scale, lseTop, lseBottom, deltaTop, deltaBottom);
            StoreFrag(dss, at, LdS, d0); StoreFrag(dss, at + 8, LdS, d1); StoreFrag(dss, at + 16, LdS, d2); StoreFrag(dss, at + 24, LdS, d3);
            Group.Barrier();

            // dQ += dS·K: B[key, d] = K[key, d].
            for (int kk = 0; kk < BwdStream; kk += mma.K)
            {
                LoadA(mma, dss, LdS, wq, kk, g, t, out uint a0, out uint a1, out uint a2, out uint a3);
                AccumulateRows(mma, D, ref q0f, ref q1f, ref q2f, ref q3f, ref q4f, ref q5f, ref q6f, ref q7f, a0, a1, a2, a3, ks, Ld, kk, g, t);
            }
            Group.Barrier();
        }

        int c = 2 * t; float scale = p.Scale;
        StoreOut(dq, qBase, D, p.Tq, rowTop, rowBottom, c, q0f, scale, scale);
        StoreOut(dq, qBase, D, p.Tq, rowTop, rowBottom, c + 8, q1f, scale, scale);
        StoreOut(dq, qBase, D, p.Tq, rowTop, rowBottom, c + 16, q2f, scale, scale);
        StoreOut(dq, qBase, D, p.Tq, rowTop, rowBottom, c + 24, q3f, scale, scale);
        StoreOut(dq, qBase, D, p.Tq, rowTop, rowBottom, c + 32, q4f, scale, scale);
        StoreOut(dq, qBase, D, p.Tq, rowTop, rowBottom, c + 40, q5f, scale, scale);
        StoreOut(dq, qBase, D, p.Tq, rowTop, rowBottom, c + 48, q6f, scale, scale);
        StoreOut(dq, qBase, D, p.Tq, rowTop, rowBottom, c + 56, q7f, scale, scale);
    }

    /// <summary>f_j = A·Bᵀ over depth <paramref name="depth"/> for this warp's 16 rows of A (from <paramref name="row0"/>)
    /// and the 32 rows of B, 8 per fragment: both row-major shared tiles (pitches <paramref name="lda"/>,
    /// <paramref name="ldb"/>), as S = Q·Kᵀ and its relatives.</summary>
    private static void ProductTransposed<TMma>(TMma mma, ArrayView<float> a, int lda, int row0, ArrayView<float> b, int ldb, int depth,
        int g, int t, out Frag f0, out Frag f1, out Frag f2, out Frag f3) where TMma : struct, IMmaStep
    {
        f0 = default; f1 = default; f2 = default; f3 = default;
        for (int kk = 0; kk < depth; kk += mma.K)
        {
            LoadA(mma, a, lda, row0, kk, g, t, out uint a0, out uint a1, out uint a2, out uint a3);
            ProductStep(mma, ref f0, a0, a1, a2, a3, b, 1, ldb, kk, 0, g, t);
            ProductStep(mma, ref f1, a0, a1, a2, a3, b, 1, ldb, kk, 8, g, t);
            ProductStep(mma, ref f2, a0, a1, a2, a3, b, 1, ldb, kk, 16, g, t);
            ProductStep(mma, ref f3, a0, a1, a2, a3, b, 1, ldb, kk, 24, g, t);
        }
    }

    /// <summary>acc_j += A·B[kk…, 8j…] for the 8 output fragments (columns 0 … 63 of a row-major tile of pitch
    /// <paramref name="ld"/> holding B[k, n] = tile[k·ld + n]); fragments at or past D are skipped (uniformly).</summary>
    private static void AccumulateRows<TMma>(TMma mma, int D, ref Frag f0, ref Frag f1, ref Frag f2, ref Frag f3, ref Frag f4, ref Frag f5,
        ref Frag f6, ref Frag f7, uint a0, uint a1, uint a2, uint a3, ArrayView<float> b, int ld, int kk, int g, int t) where TMma : struct, IMmaStep
    {
        ProductStep(mma, ref f0, a0, a1, a2, a3, b, ld, 1, kk, 0, g, t);
        if (D > 8) ProductStep(mma, ref f1, a0, a1, a2, a3, b, ld, 1, kk, 8, g, t);
        if (D > 16) ProductStep(mma, ref f2, a0, a1, a2, a3, b, ld, 1, kk, 16, g, t);
        if (D > 24) ProductStep(mma, ref f3, a0, a1, a2, a3, b, ld, 1, kk, 24, g, t);
        if (D > 32) ProductStep(mma, ref f4, a0, a1, a2, a3, b, ld, 1, kk, 32, g, t);
        if (D > 40) ProductStep(mma, ref f5, a0, a1, a2, a3, b, ld, 1, kk, 40, g, t);
        if (D > 48) ProductStep(mma, ref f6, a0, a1, a2, a3, b, ld, 1, kk, 48, g, t);
        if (D > 56) ProductStep(mma, ref f7, a0, a1, a2, a3, b, ld, 1, kk, 56, g, t);
    }

    /// <summary>In place: s ← Pᵀ = exp(scale·Sᵀ − LSE[query]) and dp ← dSᵀ = Pᵀ∘(dPᵀ − Δ[query]), for the fragment's
    /// query columns <paramref name="c"/>, + 1 of the tile at <paramref name="q0"/>; 0 for queries past Tq.</summary>
    private static void TransposedProbabilities(ref Frag s, ref Frag dp, ArrayView<float> rowLse, ArrayView<float> rowDelta, int c, int q0,
        int tq, float scale)
    {
        bool left = q0 + c < tq, right = q0 + c + 1 < tq;
        float lseL = rowLse[c], lseR = rowLse[c + 1], deltaL = rowDelta[c], deltaR = rowDelta[c + 1];
        s.D0 = left ? MathF.Exp(s.D0 * scale - lseL) : 0f; s.D2 = left ? MathF.Exp(s.D2 * scale - lseL) : 0f;
        s.D1 = right ? MathF.Exp(s.D1 * scale - lseR) : 0f; s.D3 = right ? MathF.Exp(s.D3 * scale - lseR) : 0f;
        dp.D0 = s.D0 * (dp.D0 - deltaL); dp.D2 = s.D2 * (dp.D2 - deltaL);
        dp.D1 = s.D1 * (dp.D1 - deltaR); dp.D3 = s.D3 * (dp.D3 - deltaR);
    }

    /// <summary>In place: dp ← dS = P∘(dP − Δ[row]) with P = exp(scale·S − LSE[row]), for key columns
    /// <paramref name="col"/>, + 1 (0 past Tk); rows g and g + 8 carry their own LSE and Δ.</summary>
    private static void ScoreGradient(ref Frag s, ref Frag dp, int col, int tk, float scale, float lseTop, float lseBottom,
        float deltaTop, float deltaBottom)
    {
        bool left = col < tk, right = col + 1 < tk;
        dp.D0 = left ? MathF.Exp(s.D0 * scale - lseTop) * (dp.D0 - deltaTop) : 0f;
        dp.D1 = right ? MathF.Exp(s.D1 * scale - lseTop) * (dp.D1 - deltaTop) : 0f;
        dp.D2 = left ? MathF.Exp(s.D2 * scale - lseBottom) * (dp.D2 - deltaBottom) : 0f;
        dp.D3 = right ? MathF.Exp(s.D3 * scale - lseBottom) * (dp.D3 - deltaBottom) : 0f;
    }

    /// <summary>Rows [row0, row0 + rows) of a head's [T, D] matrix into a shared tile of pitch <paramref name="ld"/>,
    /// all <see cref="MaxD"/> columns: zeros past D and for rows at or past <paramref name="limit"/>.</summary>
    private static void LoadTile(ArrayView<float> src, ArrayView<float> tile, int @base, int row0, int rows, int limit, int D, int ld,
        int tid, int threads)
    {
        for (int e = tid; e < rows * MaxD; e += threads)
        {
            int rr = e / MaxD, d = e - rr * MaxD, row = row0 + rr;
            tile[rr * ld + d] = row < limit && d < D ? src[@base + row * D + d] : 0f;
        }
    }

    /// <summary>The A fragment (<see cref="IMmaStep"/>'s layout) of the 16 rows from <paramref name="row0"/>, depth
    /// from <paramref name="k0"/>, of a row-major shared matrix of pitch <paramref name="ld"/>, rounded for the step.</summary>
    private static void LoadA<TMma>(TMma mma, ArrayView<float> s, int ld, int row0, int k0, int g, int t,
        out uint a0, out uint a1, out uint a2, out uint a3) where TMma : struct, IMmaStep
    {
        if (mma.K == 16)
        {
            int lo = (row0 + g) * ld + k0 + 2 * t, hi = lo + 8 * ld;
            a0 = Bf16.Pack(s[lo], s[lo + 1]); a1 = Bf16.Pack(s[hi], s[hi + 1]);
            a2 = Bf16.Pack(s[lo + 8], s[lo + 9]); a3 = Bf16.Pack(s[hi + 8], s[hi + 9]);
        }
        else
        {
            int lo = (row0 + g) * ld + k0 + t, hi = lo + 8 * ld;
            a0 = Tf32.Round(s[lo]); a1 = Tf32.Round(s[hi]); a2 = Tf32.Round(s[lo + 4]); a3 = Tf32.Round(s[hi + 4]);
        }
    }

    /// <summary>acc += A·B for the B fragment at depth <paramref name="k0"/>, columns <paramref name="n0"/> … + 7 of a
    /// shared matrix holding B[k, n] at k·<paramref name="sk"/> + n·<paramref name="sn"/>.</summary>
    private static void ProductStep<TMma>(TMma mma, ref Frag acc, uint a0, uint a1, uint a2, uint a3, ArrayView<float> s, int sk, int sn,
        int k0, int n0, int g, int t) where TMma : struct, IMmaStep
    {
        uint b0, b1;
        if (mma.K == 16)
        {
            int at = (n0 + g) * sn + (k0 + 2 * t) * sk;
            b0 = Bf16.Pack(s[at], s[at + sk]); b1 = Bf16.Pack(s[at + 8 * sk], s[at + 9 * sk]);
        }
        else
        {
            int at = (n0 + g) * sn + (k0 + t) * sk;
            b0 = Tf32.Round(s[at]); b1 = Tf32.Round(s[at + 4 * sk]);
        }
        mma.Step(ref acc.D0, ref acc.D1, ref acc.D2, ref acc.D3, a0, a1, a2, a3, b0, b1);
    }

    /// <summary>Scores times the scale; keys at or past Tk (columns <paramref name="col"/>, + 1) become −∞.</summary>
    private static void ScaleAndMask(ref Frag s, int col, int tk, float scale)
    {
        bool left = col < tk, right = col + 1 < tk;
        s.D0 = left ? s.D0 * scale : float.NegativeInfinity; s.D2 = left ? s.D2 * scale : float.NegativeInfinity;
        s.D1 = right ? s.D1 * scale : float.NegativeInfinity; s.D3 = right ? s.D3 * scale : float.NegativeInfinity;
    }

    private static float RowMax(Frag s, bool top) => top ? MathF.Max(s.D0, s.D1) : MathF.Max(s.D2, s.D3);

    /// <summary>The max over the quad of lanes holding one row (lanes 4g … 4g + 3).</summary>
    private static float QuadMax(float x)
    {
        x = MathF.Max(x, Warp.ShuffleXor(x, 1));
        return MathF.Max(x, Warp.ShuffleXor(x, 2));
    }

    private static float QuadSum(float x)
    {
        x += Warp.ShuffleXor(x, 1);
        return x + Warp.ShuffleXor(x, 2);
    }

    private static void Exp(ref Frag s, float mTop, float mBottom)
    {
        s.D0 = MathF.Exp(s.D0 - mTop); s.D1 = MathF.Exp(s.D1 - mTop);
        s.D2 = MathF.Exp(s.D2 - mBottom); s.D3 = MathF.Exp(s.D3 - mBottom);
    }

    private static void Rescale(ref Frag o, float top, float bottom)
    {
        o.D0 *= top; o.D1 *= top; o.D2 *= bottom; o.D3 *= bottom;
    }

    /// <summary>A fragment into a row-major shared matrix, its [0, 0] at <paramref name="at"/> (row g, column 2t).</summary>
    private static void StoreFrag(ArrayView<float> s, int at, int ld, Frag f)
    {
        s[at] = f.D0; s[at + 1] = f.D1; s[at + 8 * ld] = f.D2; s[at + 8 * ld + 1] = f.D3;
    }

    private static void StoreOut(ArrayView<float> o, int @base, int D, int tq, int rowTop, int rowBottom, int col, Frag f, float invTop, float invBottom)
    {
        if (rowTop < tq)
        {
            if (col < D) o[@base + rowTop * D + col] = f.D0 * invTop;
            if (col + 1 < D) o[@base + rowTop * D + col + 1] = f.D1 * invTop;
        }
        if (rowBottom < tq)
        {
            if (col < D) o[@base + rowBottom * D + col] = f.D2 * invBottom;
            if (col + 1 < D) o[@base + rowBottom * D + col + 1] = f.D3 * invBottom;
        }
    }

    internal static void LaunchBackward(IlgpuDevice dev, AttentionDims dims, Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
        Tensor dq, Tensor dk, Tensor dv)
    {
        using var delta = Attention.RowDot(dev, dims, dO, o, dev.Precision);
        MmaSteps.Run(dev, new BackwardLaunch(dev, dims, dO, q, k, v, lse, delta, dq, dk, dv));
    }

    internal static void LaunchForward(IlgpuDevice dev, AttentionDims dims, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse)
    {
        dims.Tiles = (dims.Tq + BlockQ - 1) / BlockQ;
        MmaSteps.Run(dev, new ForwardLaunch(dev, dims, q, k, v, o, lse));
    }

    private readonly record struct ForwardLaunch(IlgpuDevice Dev, AttentionDims Dims, Tensor Q, Tensor K, Tensor V, Tensor O, Tensor Lse) : IMmaLaunch
    {
        public void Run<TMma>() where TMma : struct, IMmaStep
            => Dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(ForwardKernel<TMma>))
                (new KernelConfig(Dims.Heads * Dims.Tiles, Threads), Q.View, K.View, V.View, O.View, Lse.View, Dims);
    }

    private readonly record struct BackwardLaunch(IlgpuDevice Dev, AttentionDims Dims, Tensor DO, Tensor Q, Tensor K, Tensor V, Tensor Lse,
        Tensor Delta, Tensor Dq, Tensor Dk, Tensor Dv) : IMmaLaunch
    {
        public void Run<TMma>() where TMma : struct, IMmaStep
        {
            var kv = Dims; kv.Tiles = (Dims.Tk + BwdRows - 1) / BwdRows;
            Dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(BackwardKVKernel<TMma>))
                (new KernelConfig(kv.Heads * kv.Tiles, BwdThreads), DO.View, Q.View, K.View, V.View, Lse.View, Delta.View, Dk.View, Dv.View, kv);
            var qd = Dims; qd.Tiles = (Dims.Tq + BwdRows - 1) / BwdRows;
            Dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(BackwardQKernel<TMma>))
                (new KernelConfig(qd.Heads * qd.Tiles, BwdThreads), DO.View, Q.View, K.View, V.View, Lse.View, Delta.View, Dq.View, qd);
        }
    }
}
