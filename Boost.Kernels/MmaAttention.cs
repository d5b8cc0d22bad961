using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Attention forward on the tensor cores (TF32 or BF16 inputs, FP32 accumulation and softmax statistics), for head
/// dims D ≤ <see cref="MaxD"/>: the same O and LSE as <see cref="Attention.ForwardKernel{TTile}"/>, FlashAttention-2's
/// schedule. A group of 4 warps owns <see cref="BlockQ"/> query rows, 16 per warp, and streams K/V tiles of
/// <see cref="BlockK"/> rows: S = Q·Kᵀ in 16×8 accumulator fragments (registers), the online softmax on those
/// fragments (a row's 32 scores lie in the 4 lanes of one quad: two xor-shuffles reduce it), P through shared memory
/// into the A fragments of O += P·V, whose 8 accumulator fragments (16 × 64 per warp) stay in registers throughout.
/// </summary>
/// <remarks>
/// P is rounded to the step's input precision on its way into the second product, as every tensor-core attention
/// does; its row sum l is taken from the FP32 values. Shared memory: Q, K, V and P tiles, 43.5 KiB (under the 48 KiB
/// a launch gets without opting in). Row pitches are chosen so that the fragment reads of each operand hit 32
/// distinct banks: 68 floats (≡ 4 mod 32) for Q, K and P, read as A[g, t] or B[t, g] down rows; 72 (≡ 8 mod 32) for
/// V, read across rows as B[t, g] = V[t, g].
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

        LoadTile(q, qs, qBase, q0, BlockQ, p.Tq, D, LdQ, tid);
        Frag o0 = default, o1 = default, o2 = default, o3 = default, o4 = default, o5 = default, o6 = default, o7 = default;
        float mTop = float.NegativeInfinity, mBottom = float.NegativeInfinity, lTop = 0f, lBottom = 0f;
        Group.Barrier();

        for (int k0 = 0; k0 < p.Tk; k0 += BlockK)
        {
            LoadTile(k, ks, kBase, k0, BlockK, p.Tk, D, LdK, tid);
            LoadTile(v, vs, kBase, k0, BlockK, p.Tk, D, LdV, tid);
            Group.Barrier();

            // S = Q·Kᵀ for this warp's 16 rows and the tile's 32 keys: B[d, key] = K[key, d].
            Frag s0 = default, s1 = default, s2 = default, s3 = default;
            for (int kk = 0; kk < depth; kk += mma.K)
            {
                LoadA(mma, qs, LdQ, wq, kk, g, t, out uint a0, out uint a1, out uint a2, out uint a3);
                ProductStep(mma, ref s0, a0, a1, a2, a3, ks, 1, LdK, kk, 0, g, t);
                ProductStep(mma, ref s1, a0, a1, a2, a3, ks, 1, LdK, kk, 8, g, t);
                ProductStep(mma, ref s2, a0, a1, a2, a3, ks, 1, LdK, kk, 16, g, t);
                ProductStep(mma, ref s3, a0, a1, a2, a3, ks, 1, LdK, kk, 24, g, t);
            }
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
                ProductStep(mma, ref o0, a0, a1, a2, a3, vs, LdV, 1, kk, 0, g, t);
                if (D > 8) ProductStep(mma, ref o1, a0, a1, a2, a3, vs, LdV, 1, kk, 8, g, t);
                if (D > 16) ProductStep(mma, ref o2, a0, a1, a2, a3, vs, LdV, 1, kk, 16, g, t);
                if (D > 24) ProductStep(mma, ref o3, a0, a1, a2, a3, vs, LdV, 1, kk, 24, g, t);
                if (D > 32) ProductStep(mma, ref o4, a0, a1, a2, a3, vs, LdV, 1, kk, 32, g, t);
                if (D > 40) ProductStep(mma, ref o5, a0, a1, a2, a3, vs, LdV, 1, kk, 40, g, t);
                if (D > 48) ProductStep(mma, ref o6, a0, a1, a2, a3, vs, LdV, 1, kk, 48, g, t);
                if (D > 56) ProductStep(mma, ref o7, a0, a1, a2, a3, vs, LdV, 1, kk, 56, g, t);
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

    /// <summary>Rows [row0, row0 + rows) of a head's [T, D] matrix into a shared tile of pitch <paramref name="ld"/>,
    /// all <see cref="MaxD"/> columns: zeros past D and for rows at or past <paramref name="limit"/>.</summary>
    private static void LoadTile(ArrayView<float> src, ArrayView<float> tile, int @base, int row0, int rows, int limit, int D, int ld, int tid)
    {
        for (int e = tid; e < rows * MaxD; e += Threads)
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

    internal static void LaunchForward(IlgpuDevice dev, AttentionDims dims, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse)
    {
        dims.Tiles = (dims.Tq + BlockQ - 1) / BlockQ;
        var config = new KernelConfig(dims.Heads * dims.Tiles, Threads);
        if (dev.Precision == MatmulPrecision.Bf16)
            (dev.IsSimulator
                ? dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(ForwardKernel<MmaEmulatedBf16>))
                : dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(ForwardKernel<MmaPtxBf16>)))
                (config, q.View, k.View, v.View, o.View, lse.View, dims);
        else
            (dev.IsSimulator
                ? dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(ForwardKernel<MmaEmulated>))
                : dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(ForwardKernel<MmaPtx>)))
                (config, q.View, k.View, v.View, o.View, lse.View, dims);
    }
}
