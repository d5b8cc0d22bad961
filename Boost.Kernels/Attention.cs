using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Tile sizes of the fused attention kernels, as compile-time constants (ILGPU specialises each kernel per struct,
/// so the shared-memory sizes and loop strides fold). Forward and dQ groups hold <see cref="BlockQ"/> query rows and
/// stream <see cref="BlockK"/> key rows per step with BlockQ·RowThreads threads; the dK/dV groups hold BlockK key
/// rows and stream BlockQ query rows with BlockK·RowThreads threads. Rows are padded to <see cref="MaxD"/> + 1
/// floats in shared memory (the +1 keeps rows read down a column on different banks).
/// </summary>
public interface IAttentionTile
{
    int BlockQ { get; }
    int BlockK { get; }
    /// <summary>Threads that share one row (query or key): each takes every RowThreads-th key of a tile and every
    /// RowThreads-th feature of the row's accumulator.</summary>
    int RowThreads { get; }
    /// <summary>The largest head dim this tile handles.</summary>
    int MaxD { get; }
}

/// <summary>Simulator tile: 16 threads per group (the simulator's limit), any D ≤ 256.</summary>
public readonly struct AttentionTileSim : IAttentionTile
{
    public int BlockQ => 4; public int BlockK => 4; public int RowThreads => 4; public int MaxD => 256;
}

/// <summary>GPU tile for D ≤ 64: 256 threads in every kernel, ≤ 27 KiB shared memory.</summary>
public readonly struct AttentionTileD64 : IAttentionTile
{
    public int BlockQ => 16; public int BlockK => 16; public int RowThreads => 16; public int MaxD => 64;
}

/// <summary>GPU tile for D ≤ 128: 256 threads forward and dQ, 128 for dK/dV, ≤ 34 KiB shared memory.</summary>
public readonly struct AttentionTileD128 : IAttentionTile
{
    public int BlockQ => 16; public int BlockK => 8; public int RowThreads => 16; public int MaxD => 128;
}

/// <summary>GPU tile for D ≤ 256: 128 threads forward and dQ, 64 for dK/dV, ≤ 34 KiB shared memory.</summary>
public readonly struct AttentionTileD256 : IAttentionTile
{
    public int BlockQ => 8; public int BlockK => 4; public int RowThreads => 16; public int MaxD => 256;
}

/// <summary>The problem passed to the attention kernels by value: Heads = B·H, rows Tq (queries) and Tk (keys),
/// head dim D, the score scale, and the number of row tiles per head (the grid is Heads·Tiles groups).</summary>
public struct AttentionDims
{
    public int Heads, Tq, Tk, D, Tiles;
    public float Scale;
}

/// <summary>
/// Multi-head scaled dot-product attention, O = softmax(Q·Kᵀ·scale)·V per head, FlashAttention style on ILGPU:
/// no Tq×Tk matrix ever reaches global memory. Forward saves LSE = log Σ exp(scores) per query row; backward
/// recomputes P = exp(scale·Q·Kᵀ − LSE) tile by tile.
/// </summary>
/// <remarks>
/// Forward: a group owns BlockQ query rows (Q in shared memory) and streams K/V tiles of BlockK rows, keeping the
/// running max m, sum l and the output accumulator (online softmax: on a new max everything so far is rescaled by
/// exp(m_old − m_new)). Backward (FlashAttention-2's split): D_i = rowsum(dO∘O) first; then one kernel parallel over
/// key tiles accumulates dV = Pᵀ·dO and dK = scale·dSᵀ·Q, and a second one parallel over query tiles accumulates
/// dQ = scale·dS·K, with dS = P∘(dO·Vᵀ − D). Two kernels instead of atomics for dQ: deterministic, no zero-fill, at
/// the price of computing P twice. Accumulators live in shared memory, thread-major (element i of thread t at
/// i·threads + t), so each thread updates only its own slots without barriers or bank conflicts.
/// </remarks>
public static class Attention
{
    // ---------------------------------------------------------------- kernels

    /// <summary>
    /// The tile loader all three kernels share: rows [row0, row0 + rows) of a head's [T, D] matrix (starting at
    /// <paramref name="base"/>) into a shared tile of rows padded to <paramref name="ld"/> floats, zeros for rows at or
    /// past <paramref name="limit"/>. The group's <paramref name="threads"/> threads stride over the tile's elements, so
    /// consecutive threads read consecutive features (coalesced).
    /// </summary>
    private static void LoadRows(ArrayView<float> src, ArrayView<float> tile, int @base, int row0, int rows, int limit, int D, int ld,
        int tid, int threads)
    {
        for (int e = tid; e < rows * D; e += threads)
        {
            int rr = e / D, d = e - rr * D, row = row0 + rr;
            tile[rr * ld + d] = row < limit ? src[@base + row * D + d] : 0f;
        }
    }

    /// <summary><see cref="LoadRows(ArrayView{float}, ArrayView{float}, int, int, int, int, int, int, int, int)"/> for two
    /// matrices of one layout at once (K with V, Q with dO): one index computation per element pair.</summary>
    private static void LoadRows(ArrayView<float> a, ArrayView<float> b, ArrayView<float> tileA, ArrayView<float> tileB, int @base,
        int row0, int rows, int limit, int D, int ld, int tid, int threads)
    {
        for (int e = tid; e < rows * D; e += threads)
        {
            int rr = e / D, d = e - rr * D, row = row0 + rr, at = rr * ld + d;
            bool ok = row < limit;
            tileA[at] = ok ? a[@base + row * D + d] : 0f;
            tileB[at] = ok ? b[@base + row * D + d] : 0f;
        }
    }

    /// <summary>Forward: one group per (head, BlockQ query rows); writes O and LSE.</summary>
    [Kernel(Grouped = true)]
    public static void ForwardKernel<TTile>(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> o, ArrayView<float> lse, AttentionDims p)
        where TTile : struct, IAttentionTile
    {
        var t = default(TTile);
        int br = t.BlockQ, bc = t.BlockK, tpr = t.RowThreads, ld = t.MaxD + 1, sld = t.BlockK + 1;
        var qs = SharedMemory.Allocate<float>(t.BlockQ * (t.MaxD + 1));
        var ks = SharedMemory.Allocate<float>(t.BlockK * (t.MaxD + 1));
        var vs = SharedMemory.Allocate<float>(t.BlockK * (t.MaxD + 1));
        var ss = SharedMemory.Allocate<float>(t.BlockQ * (t.BlockK + 1));
        var ps = SharedMemory.Allocate<float>(t.BlockQ * (t.BlockK + 1));
        var acc = SharedMemory.Allocate<float>(t.BlockQ * t.MaxD);

        int nt = br * tpr, tid = Group.IdxX, r = tid / tpr, j = tid - r * tpr;
        int head = Grid.IdxX / p.Tiles, q0 = (Grid.IdxX - head * p.Tiles) * br;
        int D = p.D, qBase = head * p.Tq * D, kBase = head * p.Tk * D;

        LoadRows(q, qs, qBase, q0, br, p.Tq, D, ld, tid, nt);
        for (int d = j, i = 0; d < D; d += tpr, i++) acc[i * nt + tid] = 0f;
        float m = float.NegativeInfinity, l = 0f;
        Group.Barrier();

        for (int k0 = 0; k0 < p.Tk; k0 += bc)
        {
            LoadRows(k, v, ks, vs, kBase, k0, bc, p.Tk, D, ld, tid, nt);
            Group.Barrier();

            for (int c = j; c < bc; c += tpr)
            {
                float s = float.NegativeInfinity;
                if (k0 + c < p.Tk)
                {
                    float dot = 0f;
                    for (int d = 0; d < D; d++) dot += qs[r * ld + d] * ks[c * ld + d];
                    s = dot * p.Scale;
                }
                ss[r * sld + c] = s;
            }
            Group.Barrier();

            // Every thread of the row finds the same new max (the tile has ≥ 1 real key, so it is finite).
            float mNew = m;
            for (int c = 0; c < bc; c++) mNew = MathF.Max(mNew, ss[r * sld + c]);
            for (int c = j; c < bc; c += tpr) ps[r * sld + c] = MathF.Exp(ss[r * sld + c] - mNew);
            Group.Barrier();

            float alpha = MathF.Exp(m - mNew), rowSum = 0f;
            for (int c = 0; c < bc; c++) rowSum += ps[r * sld + c];
            l = l * alpha + rowSum;
            m = mNew;
            for (int d = j, i = 0; d < D; d += tpr, i++)
            {
                float a = acc[i * nt + tid] * alpha;
                for (int c = 0; c < bc; c++) a += ps[r * sld + c] * vs[c * ld + d];
                acc[i * nt + tid] = a;
            }
            Group.Barrier();
        }

        int qRow = q0 + r;
        if (qRow < p.Tq)
        {
            float inv = 1f / l;
            for (int d = j, i = 0; d < D; d += tpr, i++) o[qBase + qRow * D + d] = acc[i * nt + tid] * inv;
            if (j == 0) lse[head * p.Tq + qRow] = m + MathF.Log(l);
        }
    }

    /// <summary>Backward, step 1: delta[i] = Σ_d dO[i,d]·O[i,d] over all B·H·Tq rows, dO read as the tensor cores read
    /// it (<paramref name="precision"/>): Δ must be the row sum of P∘dP with the dP the backward forms, or the rows of
    /// dS stop summing to zero (with one key, dQ would be a rounding residue instead of 0).</summary>
    [Kernel]
    public static void RowDotKernel(Index1D i, ArrayView<float> dO, ArrayView<float> o, ArrayView<float> delta, int D, MatmulPrecision precision)
    {
        float s = 0f;
        for (int d = 0; d < D; d++) s += MmaSteps.RoundToFloat(precision, dO[i * D + d]) * o[i * D + d];
        delta[i] = s;
    }

    /// <summary>Backward, dK and dV: one group per (head, BlockK key rows), streaming BlockQ query rows per step.</summary>
    [Kernel(Grouped = true)]
    public static void BackwardKVKernel<TTile>(ArrayView<float> dO, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dk, ArrayView<float> dv, AttentionDims p)
        where TTile : struct, IAttentionTile
    {
        var t = default(TTile);
        int br = t.BlockQ, bc = t.BlockK, tpr = t.RowThreads, ld = t.MaxD + 1, pld = t.BlockQ + 1;
        var ks = SharedMemory.Allocate<float>(t.BlockK * (t.MaxD + 1));
        var vs = SharedMemory.Allocate<float>(t.BlockK * (t.MaxD + 1));
        var qs = SharedMemory.Allocate<float>(t.BlockQ * (t.MaxD + 1));
        var dos = SharedMemory.Allocate<float>(t.BlockQ * (t.MaxD + 1));
        var rowLse = SharedMemory.Allocate<float>(t.BlockQ);
        var rowDelta = SharedMemory.Allocate<float>(t.BlockQ);
        var ps = SharedMemory.Allocate<float>(t.BlockK * (t.BlockQ + 1));
        var dss = SharedMemory.Allocate<float>(t.BlockK * (t.BlockQ + 1));
        var dkAcc = SharedMemory.Allocate<float>(t.BlockK * t.MaxD);
        var dvAcc = SharedMemory.Allocate<float>(t.BlockK * t.MaxD);

        int nt = bc * tpr, tid = Group.IdxX, c = tid / tpr, j = tid - c * tpr;
        int head = Grid.IdxX / p.Tiles, k0 = (Grid.IdxX - head * p.Tiles) * bc;
        int D = p.D, qBase = head * p.Tq * D, kBase = head * p.Tk * D, rowBase = head * p.Tq;

        LoadRows(k, v, ks, vs, kBase, k0, bc, p.Tk, D, ld, tid, nt);
        for (int d = j, i = 0; d < D; d += tpr, i++) { dkAcc[i * nt + tid] = 0f; dvAcc[i * nt + tid] = 0f; }
        bool keyOk = k0 + c < p.Tk;

        for (int q0 = 0; q0 < p.Tq; q0 += br)
        {
            LoadRows(q, dO, qs, dos, qBase, q0, br, p.Tq, D, ld, tid, nt);
            for (int rr = tid; rr < br; rr += nt)
            {
                bool ok = q0 + rr < p.Tq;
                rowLse[rr] = ok ? lse[rowBase + q0 + rr] : 0f;
                rowDelta[rr] = ok ? delta[rowBase + q0 + rr] : 0f;
            }
            Group.Barrier();

            for (int rr = j; rr < br; rr += tpr)
            {
                float pv = 0f, ds = 0f;
                if (keyOk && q0 + rr < p.Tq)
                {
                    float s = 0f, dp = 0f;
                    for (int d = 0; d < D; d++)
                    {
                        s += qs[rr * ld + d] * ks[c * ld + d];
                        dp += dos[rr * ld + d] * vs[c * ld + d];
                    }
                    pv = MathF.Exp(s * p.Scale - rowLse[rr]);
                    ds = pv * (dp - rowDelta[rr]);
                }
                ps[c * pld + rr] = pv;
                dss[c * pld + rr] = ds;
            }
            Group.Barrier();

            for (int d = j, i = 0; d < D; d += tpr, i++)
            {
                float av = dvAcc[i * nt + tid], ak = dkAcc[i * nt + tid];
                for (int rr = 0; rr < br; rr++)
                {
                    av += ps[c * pld + rr] * dos[rr * ld + d];
                    ak += dss[c * pld + rr] * qs[rr * ld + d];
                }
                dvAcc[i * nt + tid] = av;
                dkAcc[i * nt + tid] = ak;
            }
            Group.Barrier();
        }

        if (keyOk)
        {
            int at = kBase + (k0 + c) * D;
            for (int d = j, i = 0; d < D; d += tpr, i++)
            {
                dk[at + d] = dkAcc[i * nt + tid] * p.Scale;
                dv[at + d] = dvAcc[i * nt + tid];
            }
        }
    }

    /// <summary>Backward, dQ: one group per (head, BlockQ query rows), streaming BlockK key rows per step.</summary>
    [Kernel(Grouped = true)]
    public static void BackwardQKernel<TTile>(ArrayView<float> dO, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dq, AttentionDims p)
        where TTile : struct, IAttentionTile
    {
        var t = default(TTile);
        int br = t.BlockQ, bc = t.BlockK, tpr = t.RowThreads, ld = t.MaxD + 1, sld = t.BlockK + 1;
        var qs = SharedMemory.Allocate<float>(t.BlockQ * (t.MaxD + 1));
        var dos = SharedMemory.Allocate<float>(t.BlockQ * (t.MaxD + 1));
        var ks = SharedMemory.Allocate<float>(t.BlockK * (t.MaxD + 1));
        var vs = SharedMemory.Allocate<float>(t.BlockK * (t.MaxD + 1));
        var dss = SharedMemory.Allocate<float>(t.BlockQ * (t.BlockK + 1));
        var acc = SharedMemory.Allocate<float>(t.BlockQ * t.MaxD);

        int nt = br * tpr, tid = Group.IdxX, r = tid / tpr, j = tid - r * tpr;
        int head = Grid.IdxX / p.Tiles, q0 = (Grid.IdxX - head * p.Tiles) * br;
        int D = p.D, qBase = head * p.Tq * D, kBase = head * p.Tk * D;

        LoadRows(q, dO, qs, dos, qBase, q0, br, p.Tq, D, ld, tid, nt);
        for (int d = j, i = 0; d < D; d += tpr, i++) acc[i * nt + tid] = 0f;
        int qRow = q0 + r;
        bool rowOk = qRow < p.Tq;
        float rowLse = rowOk ? lse[head * p.Tq + qRow] : 0f;
        float rowDelta = rowOk ? delta[head * p.Tq + qRow] : 0f;

        for (int k0 = 0; k0 < p.Tk; k0 += bc)
        {
            LoadRows(k, v, ks, vs, kBase, k0, bc, p.Tk, D, ld, tid, nt);
            Group.Barrier();

            for (int c = j; c < bc; c += tpr)
            {
                float ds = 0f;
                if (rowOk && k0 + c < p.Tk)
                {
                    float s = 0f, dp = 0f;
                    for (int d = 0; d < D; d++)
                    {
                        s += qs[r * ld + d] * ks[c * ld + d];
                        dp += dos[r * ld + d] * vs[c * ld + d];
                    }
                    ds = MathF.Exp(s * p.Scale - rowLse) * (dp - rowDelta);
                }
                dss[r * sld + c] = ds;
            }
            Group.Barrier();

            for (int d = j, i = 0; d < D; d += tpr, i++)
            {
                float a = acc[i * nt + tid];
                for (int c = 0; c < bc; c++) a += dss[r * sld + c] * ks[c * ld + d];
                acc[i * nt + tid] = a;
            }
            Group.Barrier();
        }

        if (rowOk)
            for (int d = j, i = 0; d < D; d += tpr, i++) dq[qBase + qRow * D + d] = acc[i * nt + tid] * p.Scale;
    }

    // ---------------------------------------------------------------- ops

    /// <summary>Attention forward. Every (b, h) is an independent head.</summary>
    /// <param name="q">[B, H, Tq, D]</param>
    /// <param name="k">[B, H, Tk, D]</param>
    /// <param name="v">[B, H, Tk, D]</param>
    /// <param name="scale">multiplies the scores, usually 1/√D</param>
    /// <param name="lse">out: [B, H, Tq], log Σ_j exp(scale·q_i·k_j), saved for <see cref="Backward"/></param>
    /// <returns>O: [B, H, Tq, D]</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, float scale, out Tensor lse)
    {
        var dims = CheckInputs("Attention.Forward", q, k, v);
        var o = Tensor.Empty(q.Device, q.Shape);
        lse = Tensor.Empty(q.Device, q.Dim(0), q.Dim(1), q.Dim(2));
        try
        {
            dims.Scale = scale;
            q.Device.Backend.AttentionForward(dims, q, k, v, o, lse);
            return o;
        }
        catch
        {
            o.Dispose(); lse.Dispose();
            throw;
        }
    }

    /// <summary>Attention backward from the forward's O and LSE.</summary>
    /// <param name="dO">[B, H, Tq, D], gradient of the loss w.r.t. O</param>
    /// <param name="q">[B, H, Tq, D]</param>
    /// <param name="k">[B, H, Tk, D]</param>
    /// <param name="v">[B, H, Tk, D]</param>
    /// <param name="o">[B, H, Tq, D], the forward output</param>
    /// <param name="lse">[B, H, Tq], from the forward</param>
    /// <returns>dq [B, H, Tq, D], dk and dv [B, H, Tk, D] (new tensors)</returns>
    public static (Tensor dq, Tensor dk, Tensor dv) Backward(Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, float scale)
    {
        const string op = "Attention.Backward";
        var dims = CheckInputs(op, q, k, v);
        Check.SameDevice(op, q, dO, o, lse);
        Check.SameShape(op, dO, q, "dO", "q");
        Check.SameShape(op, o, q, "o", "q");
        Check.Shape(op, lse, "lse", q.Dim(0), q.Dim(1), q.Dim(2));
        dims.Scale = scale;
        var dq = Tensor.Empty(q.Device, q.Shape);
        var dk = Tensor.Empty(q.Device, k.Shape);
        var dv = Tensor.Empty(q.Device, v.Shape);
        try
        {
            q.Device.Backend.AttentionBackward(dims, dO, q, k, v, o, lse, dq, dk, dv);
            return (dq, dk, dv);
        }
        catch
        {
            dq.Dispose(); dk.Dispose(); dv.Dispose();
            throw;
        }
    }

    private static AttentionDims CheckInputs(string op, Tensor q, Tensor k, Tensor v)
    {
        Check.SameDevice(op, q, k, v);
        Check.Rank(q, 4, op, "q [B, H, Tq, D]");
        Check.Rank(k, 4, op, "k [B, H, Tk, D]");
        Check.SameShape(op, k, v, "k", "v");
        if (k.Dim(0) != q.Dim(0) || k.Dim(1) != q.Dim(1) || k.Dim(3) != q.Dim(3))
            throw new ArgumentException($"{op}: q {q.ShapeString} and k {k.ShapeString} must agree on B, H and D (q [B, H, Tq, D], k [B, H, Tk, D]).");
        foreach (int n in q.ShapeSpan) Check.That(n > 0, $"{op}: every dimension must be positive, got q {q.ShapeString}.");
        Check.That(k.Dim(2) > 0, $"{op}: k {k.ShapeString} has no keys.");
        return new AttentionDims { Heads = q.Dim(0) * q.Dim(1), Tq = q.Dim(2), Tk = k.Dim(2), D = q.Dim(3) };
    }

    // ---------------------------------------------------------------- launchers

    /// <summary>Shared floats and threads per group of each kernel (forward, dK/dV, dQ) for tile <typeparamref name="T"/>.</summary>
    internal static (int forward, int backwardKV, int backwardQ, int threadsQ, int threadsK) Footprint<T>() where T : struct, IAttentionTile
    {
        var t = default(T);
        int row = t.MaxD + 1;
        int fwd = (t.BlockQ + 2 * t.BlockK) * row + 2 * t.BlockQ * (t.BlockK + 1) + t.BlockQ * t.MaxD;
        int kv = 2 * (t.BlockK + t.BlockQ) * row + 2 * t.BlockQ + 2 * t.BlockK * (t.BlockQ + 1) + 2 * t.BlockK * t.MaxD;
        int qk = 2 * (t.BlockQ + t.BlockK) * row + t.BlockQ * (t.BlockK + 1) + t.BlockQ * t.MaxD;
        return (fwd, kv, qk, t.BlockQ * t.RowThreads, t.BlockK * t.RowThreads);
    }

    internal static void LaunchForward<T>(IlgpuDevice dev, AttentionDims dims, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse)
        where T : struct, IAttentionTile
    {
        var t = default(T);
        dims.Tiles = (dims.Tq + t.BlockQ - 1) / t.BlockQ;
        var kernel = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(ForwardKernel<T>));
        kernel(new KernelConfig(dims.Heads * dims.Tiles, t.BlockQ * t.RowThreads), q.View, k.View, v.View, o.View, lse.View, dims);
    }

    /// <summary>Backward, step 1 (both kernel sets): Δ = rowsum(dO∘O), [Heads·Tq] (the caller disposes it), with dO
    /// rounded to <paramref name="precision"/> where the backward's products read it so.</summary>
    internal static Tensor RowDot(IlgpuDevice dev, AttentionDims dims, Tensor dO, Tensor o, MatmulPrecision precision = MatmulPrecision.Fp32)
    {
        var delta = Tensor.Empty(dev, dims.Heads * dims.Tq);
        var rowDot = dev.Kernel(static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, MatmulPrecision>(RowDotKernel));
        rowDot(dims.Heads * dims.Tq, dO.View, o.View, delta.View, dims.D, precision);
        return delta;
    }

    internal static void LaunchBackward<T>(IlgpuDevice dev, AttentionDims dims, Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
        Tensor dq, Tensor dk, Tensor dv) where T : struct, IAttentionTile
    {
        var t = default(T);
        using var delta = RowDot(dev, dims, dO, o);
        var kv = dims; kv.Tiles = (dims.Tk + t.BlockK - 1) / t.BlockK;
        var kvKernel = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(BackwardKVKernel<T>));
        kvKernel(new KernelConfig(kv.Heads * kv.Tiles, t.BlockK * t.RowThreads), dO.View, q.View, k.View, v.View, lse.View, delta.View, dk.View, dv.View, kv);

        var qd = dims; qd.Tiles = (dims.Tq + t.BlockQ - 1) / t.BlockQ;
        var qKernel = dev.Kernel(static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDims>(BackwardQKernel<T>));
        qKernel(new KernelConfig(qd.Heads * qd.Tiles, t.BlockQ * t.RowThreads), dO.View, q.View, k.View, v.View, lse.View, delta.View, dq.View, qd);
    }
}
