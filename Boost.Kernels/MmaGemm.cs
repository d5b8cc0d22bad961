using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Boost.Kernels;

/// <summary>How an <see cref="IlgpuDevice"/>'s GEMM-shaped kernels (convolutions, matmul) multiply.</summary>
public enum MatmulPrecision
{
    /// <summary>FP32 multiply-adds (every device).</summary>
    Fp32,
    /// <summary>Tensor cores with TF32 inputs (10-bit mantissa, rounded to nearest) and FP32 accumulation.</summary>
    Tf32,
    /// <summary>Tensor cores with BF16 inputs (7-bit mantissa, rounded to nearest even) and FP32 accumulation; tensors
    /// stay FP32 in memory, the operands are rounded as they enter the instruction.</summary>
    Bf16,
}

/// <summary>
/// One warp-level matrix step of the tensor cores, D += A·B for a 16×8×K tile with FP32 accumulation. Every lane of
/// the warp calls it together with its fragments, in the layouts the PTX ISA documents (g = lane / 4, t = lane % 4).
/// <para>
/// K = 8, TF32 (<c>mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32</c>), one value per register, as TF32 bit
/// patterns (<see cref="Tf32.Round"/>): A (16×8, row-major): a0 = A[g, t], a1 = A[g + 8, t], a2 = A[g, t + 4],
/// a3 = A[g + 8, t + 4]; B (8×8, column-major): b0 = B[t, g], b1 = B[t + 4, g].
/// </para>
/// <para>
/// K = 16, BF16 (<c>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32</c>), two values per register, the lower
/// k in the low half (<see cref="Bf16.Pack"/>): a0 = A[g, 2t..2t+1], a1 = A[g + 8, 2t..2t+1], a2 = A[g, 2t+8..2t+9],
/// a3 = A[g + 8, 2t+8..2t+9]; b0 = B[2t..2t+1, g], b1 = B[2t+8..2t+9, g].
/// </para>
/// C/D (16×8), both: d0 = D[g, 2t], d1 = D[g, 2t + 1], d2 = D[g + 8, 2t], d3 = D[g + 8, 2t + 1].
/// Two implementations of each: the instruction (<see cref="MmaPtx"/>, <see cref="MmaPtxBf16"/>, CUDA only) and a
/// managed emulation of the same fragment layout (<see cref="MmaEmulated"/>, <see cref="MmaEmulatedBf16"/>), which
/// runs on the NVIDIA-shaped simulator and proves the tiling and indexing there.
/// </summary>
public interface IMmaStep
{
    /// <summary>The step's depth: 8 (TF32 operands) or 16 (BF16 pairs). A constant of each implementation.</summary>
    int K { get; }

    void Step(ref float d0, ref float d1, ref float d2, ref float d3, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1);
}

/// <summary>A launch specialised by its tensor-core step; <see cref="MmaSteps.Run"/> picks the step.</summary>
internal interface IMmaLaunch
{
    void Run<TMma>() where TMma : struct, IMmaStep;
}

/// <summary>The one place a device's <see cref="Device.Precision"/> becomes an <see cref="IMmaStep"/>: the instruction on
/// a GPU, its managed emulation on the (NVIDIA-shaped) simulator, which cannot execute inline PTX.</summary>
internal static class MmaSteps
{
    public static void Run<TL>(IlgpuDevice dev, TL launch) where TL : struct, IMmaLaunch
    {
        bool emulated = dev.IsSimulator;
        switch (dev.Precision)
        {
            case MatmulPrecision.Bf16: if (emulated) launch.Run<MmaEmulatedBf16>(); else launch.Run<MmaPtxBf16>(); break;
            case MatmulPrecision.Tf32: if (emulated) launch.Run<MmaEmulated>(); else launch.Run<MmaPtx>(); break;
            default: throw new InvalidOperationException($"{dev.Name}: FP32 has no tensor-core step.");
        }
    }

    /// <summary>x as the step of precision <paramref name="p"/> reads it (unchanged at FP32); in kernels and on the host.</summary>
    public static float RoundToFloat(MatmulPrecision p, float x)
        => p == MatmulPrecision.Tf32 ? Tf32.RoundToFloat(x) : p == MatmulPrecision.Bf16 ? Bf16.RoundToFloat(x) : x;
}

/// <summary>The tensor-core instruction, through ILGPU's inline PTX (sm_80 and later; never on a simulator).</summary>
public readonly struct MmaPtx : IMmaStep
{
    public int K => 8;

    public void Step(ref float d0, ref float d1, ref float d2, ref float d3, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        // D and C are the same registers: the accumulators are read and written in place.
        Ref<float> c0 = d0, c1 = d1, c2 = d2, c3 = d3;
        Input<uint> x0 = a0, x1 = a1, x2 = a2, x3 = a3, y0 = b0, y1 = b1;
        CudaAsm.EmitRef("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref c0, ref c1, ref c2, ref c3, ref x0, ref x1, ref x2, ref x3, ref y0, ref y1);
        d0 = c0.Value; d1 = c1.Value; d2 = c2.Value; d3 = c3.Value;
    }
}

/// <summary>
/// The same step in plain warp shuffles: each lane gathers row g (and g + 8) of A and columns 2t, 2t + 1 of B from
/// the lanes that hold them, then accumulates the eight products in order in FP32. Bit-exact to the hardware only up
/// to its accumulation order; the tests compare both against double twins of TF32-rounded inputs.
/// </summary>
public readonly struct MmaEmulated : IMmaStep
{
    public int K => 8;

    public void Step(ref float d0, ref float d1, ref float d2, ref float d3, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
        float s0 = d0, s1 = d1, s2 = d2, s3 = d3;
        for (int k = 0; k < 8; k++)
        {
            // Every lane shuffles the same register in each call, as a warp shuffle requires.
            int q = k & 3;
            bool low = k < 4;
            float aTop = Interop.IntAsFloat(Warp.Shuffle(low ? a0 : a2, g * 4 + q));     // A[g, k]
            float aBottom = Interop.IntAsFloat(Warp.Shuffle(low ? a1 : a3, g * 4 + q));  // A[g + 8, k]
            float bLeft = Interop.IntAsFloat(Warp.Shuffle(low ? b0 : b1, 2 * t * 4 + q));       // B[k, 2t]
            float bRight = Interop.IntAsFloat(Warp.Shuffle(low ? b0 : b1, (2 * t + 1) * 4 + q)); // B[k, 2t + 1]
            s0 += aTop * bLeft; s1 += aTop * bRight; s2 += aBottom * bLeft; s3 += aBottom * bRight;
        }
        d0 = s0; d1 = s1; d2 = s2; d3 = s3;
    }
}

/// <summary>The BF16 tensor-core instruction (m16n8k16), through ILGPU's inline PTX (sm_80 and later).</summary>
public readonly struct MmaPtxBf16 : IMmaStep
{
    public int K => 16;

    public void Step(ref float d0, ref float d1, ref float d2, ref float d3, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        Ref<float> c0 = d0, c1 = d1, c2 = d2, c3 = d3;
        Input<uint> x0 = a0, x1 = a1, x2 = a2, x3 = a3, y0 = b0, y1 = b1;
        CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref c0, ref c1, ref c2, ref c3, ref x0, ref x1, ref x2, ref x3, ref y0, ref y1);
        d0 = c0.Value; d1 = c1.Value; d2 = c2.Value; d3 = c3.Value;
    }
}

/// <summary>
/// The BF16 step in warp shuffles: for each k, the lanes holding A[g, k], A[g + 8, k], B[k, 2t] and B[k, 2t + 1]
/// (lane row·4 + (k mod 8)/2, half k mod 2) are read and the sixteen products accumulated in order in FP32.
/// </summary>
public readonly struct MmaEmulatedBf16 : IMmaStep
{
    public int K => 16;

    public void Step(ref float d0, ref float d1, ref float d2, ref float d3, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
        float s0 = d0, s1 = d1, s2 = d2, s3 = d3;
        for (int k = 0; k < 16; k++)
        {
            // Every lane shuffles the same register in each call, as a warp shuffle requires.
            int q = (k & 7) >> 1, half = k & 1;
            bool low = k < 8;
            float aTop = Bf16.Half(Warp.Shuffle(low ? a0 : a2, g * 4 + q), half);     // A[g, k]
            float aBottom = Bf16.Half(Warp.Shuffle(low ? a1 : a3, g * 4 + q), half);  // A[g + 8, k]
            float bLeft = Bf16.Half(Warp.Shuffle(low ? b0 : b1, 2 * t * 4 + q), half);        // B[k, 2t]
            float bRight = Bf16.Half(Warp.Shuffle(low ? b0 : b1, (2 * t + 1) * 4 + q), half); // B[k, 2t + 1]
            s0 += aTop * bLeft; s1 += aTop * bRight; s2 += aBottom * bLeft; s3 += aBottom * bRight;
        }
        d0 = s0; d1 = s1; d2 = s2; d3 = s3;
    }
}

/// <summary>BF16: FP32's sign and 8-bit exponent with 7 mantissa bits, the upper half of an FP32.</summary>
public static class Bf16
{
    /// <summary>x rounded to BF16 (to nearest, ties to even: PTX's <c>cvt.rn.bf16.f32</c>), as its 16 bits. Finite
    /// values past the largest BF16 become infinities; NaNs stay NaNs (quiet).</summary>
    public static uint Round(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (bits >> 16) | 0x40u;
        return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    }

    /// <summary>Two values rounded and packed into one register: <paramref name="lo"/> in bits 0–15 (the lower k).</summary>
    public static uint Pack(float lo, float hi) => Round(lo) | (Round(hi) << 16);

    /// <summary>Half <paramref name="half"/> (0: low, 1: high) of a packed register, as a float.</summary>
    public static float Half(uint packed, int half) => Interop.IntAsFloat(half == 0 ? packed << 16 : packed & 0xFFFF0000u);

    /// <summary><see cref="Round"/> as a float (host side, for twins, tests and the CPU backend's emulation).</summary>
    public static float RoundToFloat(float x) => Interop.IntAsFloat(Round(x) << 16);
}

/// <summary>TF32: FP32's sign and 8-bit exponent with 10 mantissa bits, as the tensor cores read their inputs.</summary>
public static class Tf32
{
    /// <summary>x rounded to TF32 (to nearest, ties away from zero: PTX's <c>cvt.rna.tf32.f32</c>), as FP32 bits with
    /// the low 13 mantissa bits clear. Infinities and NaNs pass unchanged.</summary>
    public static uint Round(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        return (bits & 0x7F800000u) == 0x7F800000u ? bits : (bits + 0x1000u) & 0xFFFFE000u;
    }

    /// <summary><see cref="Round"/> as a float (host side, for twins and tests).</summary>
    public static float RoundToFloat(float x) => Interop.IntAsFloat(Round(x));
}

/// <summary>
/// The tensor-core variant of <see cref="Conv2d.ImplicitGemmKernel{TTile, TGemm}"/>: the same 64×64 output tile,
/// the same loaders and reduction slices (so every <see cref="IImplicitGemm"/> runs on it unchanged), with the inner
/// product done by <see cref="IMmaStep"/> in 16×8×8 TF32 or 16×8×16 BF16 steps (BK = 16 holds one or two). 256 threads = 8 warps; warp w owns rows
/// 16·(w % 4) … + 15 and columns 32·(w / 4) … + 31 of the tile: four 16×8 accumulator tiles, 16 floats per lane.
/// </summary>
public static class MmaGemm
{
    /// <summary>The tile this kernel runs: <see cref="ConvTileCuda"/>'s shape (BM = BN = 64, BK = 16).</summary>
    public const int BM = 64, BN = 64, BK = 16, Threads = 256;

    [Kernel(Grouped = true)]
    public static void Kernel<TGemm, TMma>(TGemm g, int sliceLength)
        where TGemm : struct, IImplicitGemm
        where TMma : struct, IMmaStep
    {
        const int aStride = BM + 1;
        // Every shared array is allocated here, before any branch (see docs/adding-an-op.md).
        var sa = SharedMemory.Allocate<float>(BK * (BM + 1));
        var sb = SharedMemory.Allocate<float>(BK * BN);
        var steps = SharedMemory.Allocate<GemmIndex>(2 * BK);

        int tid = Group.IdxX;
        int row0 = Grid.IdxY * BM, col0 = Grid.IdxX * BN;
        int dBegin = Grid.IdxZ * sliceLength;
        int dEnd = g.Depth < dBegin + sliceLength ? g.Depth : dBegin + sliceLength;
        var loader = ChunkLoader.Create(g, tid, Threads, BM, BN, BK, row0, col0);

        int warp = tid / 32, lane = tid % 32, gr = lane >> 2, tq = lane & 3;
        int wm = (warp % 4) * 16, wn = (warp / 4) * 32;

        loader.FirstSteps(g, steps, dBegin, dEnd);
        Group.Barrier();

        float d00 = 0f, d01 = 0f, d02 = 0f, d03 = 0f, d10 = 0f, d11 = 0f, d12 = 0f, d13 = 0f;
        float d20 = 0f, d21 = 0f, d22 = 0f, d23 = 0f, d30 = 0f, d31 = 0f, d32 = 0f, d33 = 0f;
        var mma = default(TMma);

        int half = 0;
        for (int d0 = dBegin; d0 < dEnd; d0 += BK)
        {
            loader.Load(g, sa, sb, steps, d0, dEnd, ref half);
            Group.Barrier();

            if (mma.K == 16)
            {
                // BF16: one 16-deep step per chunk (BK = 16); rows r, r + 1 and r + 8, r + 9 of the chunk.
                int r = 2 * tq, lo = r * aStride + wm + gr, hi = lo + 8 * aStride;
                uint a0 = Bf16.Pack(sa[lo], sa[lo + aStride]), a1 = Bf16.Pack(sa[lo + 8], sa[lo + aStride + 8]);
                uint a2 = Bf16.Pack(sa[hi], sa[hi + aStride]), a3 = Bf16.Pack(sa[hi + 8], sa[hi + aStride + 8]);
                int bl = r * BN + wn + gr, bh = bl + 8 * BN;
                mma.Step(ref d00, ref d01, ref d02, ref d03, a0, a1, a2, a3, Bf16.Pack(sb[bl], sb[bl + BN]), Bf16.Pack(sb[bh], sb[bh + BN]));
                mma.Step(ref d10, ref d11, ref d12, ref d13, a0, a1, a2, a3, Bf16.Pack(sb[bl + 8], sb[bl + BN + 8]), Bf16.Pack(sb[bh + 8], sb[bh + BN + 8]));
                mma.Step(ref d20, ref d21, ref d22, ref d23, a0, a1, a2, a3, Bf16.Pack(sb[bl + 16], sb[bl + BN + 16]), Bf16.Pack(sb[bh + 16], sb[bh + BN + 16]));
                mma.Step(ref d30, ref d31, ref d32, ref d33, a0, a1, a2, a3, Bf16.Pack(sb[bl + 24], sb[bl + BN + 24]), Bf16.Pack(sb[bh + 24], sb[bh + BN + 24]));
            }
            else
            {
                for (int k = 0; k < BK; k += 8)
                {
                    int lo = (k + tq) * aStride + wm + gr, hi = lo + 4 * aStride;
                    uint a0 = Tf32.Round(sa[lo]), a1 = Tf32.Round(sa[lo + 8]), a2 = Tf32.Round(sa[hi]), a3 = Tf32.Round(sa[hi + 8]);
                    int bl = (k + tq) * BN + wn + gr, bh = bl + 4 * BN;
                    mma.Step(ref d00, ref d01, ref d02, ref d03, a0, a1, a2, a3, Tf32.Round(sb[bl]), Tf32.Round(sb[bh]));
                    mma.Step(ref d10, ref d11, ref d12, ref d13, a0, a1, a2, a3, Tf32.Round(sb[bl + 8]), Tf32.Round(sb[bh + 8]));
                    mma.Step(ref d20, ref d21, ref d22, ref d23, a0, a1, a2, a3, Tf32.Round(sb[bl + 16]), Tf32.Round(sb[bh + 16]));
                    mma.Step(ref d30, ref d31, ref d32, ref d33, a0, a1, a2, a3, Tf32.Round(sb[bl + 24]), Tf32.Round(sb[bh + 24]));
                }
            }
            Group.Barrier();
        }

        int split = Grid.IdxZ, top = row0 + wm + gr, left = col0 + wn + 2 * tq;
        StoreTile(g, top, left, split, d00, d01, d02, d03);
        StoreTile(g, top, left + 8, split, d10, d11, d12, d13);
        StoreTile(g, top, left + 16, split, d20, d21, d22, d23);
        StoreTile(g, top, left + 24, split, d30, d31, d32, d33);
    }

    /// <summary>Stores a lane's accumulator fragment: (row, col), (row, col + 1), (row + 8, col), (row + 8, col + 1),
    /// skipping what lies past Rows and Cols.</summary>
    private static void StoreTile<TGemm>(TGemm g, int row, int col, int split, float v0, float v1, float v2, float v3)
        where TGemm : struct, IImplicitGemm
    {
        int rows = g.Rows, cols = g.Cols;
        if (col < cols)
        {
            var c = g.Column(col);
            if (row < rows) g.Store(row, c, split, v0);
            if (row + 8 < rows) g.Store(row + 8, c, split, v2);
        }
        if (col + 1 < cols)
        {
            var c = g.Column(col + 1);
            if (row < rows) g.Store(row, c, split, v1);
            if (row + 8 < rows) g.Store(row + 8, c, split, v3);
        }
    }
}
