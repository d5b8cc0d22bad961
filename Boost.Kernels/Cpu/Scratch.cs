namespace Boost.Kernels.Cpu;

/// <summary>
/// One float buffer per thread for an op's temporary rows or blocks, grown on demand and kept (pinned, so it can be
/// aligned), so the steady state allocates nothing. It is valid until the same thread asks again: managed ops never
/// nest, and the GEMM keeps its own pack buffers, so an op may hold it across <see cref="Gemm.Sgemm"/> calls. It may be
/// longer than asked for, and holds whatever the last user left there.
/// </summary>
internal static class Scratch
{
    [ThreadStatic] private static float[]? t_buffer;

    public static float[] Floats(int n)
    {
        var s = t_buffer;
        if (s is null || s.Length < n) t_buffer = s = GC.AllocateUninitializedArray<float>(Math.Max(n, 1024), pinned: true);
        return s;
    }

    /// <summary>The first index of <paramref name="buffer"/> (from <see cref="Floats"/>: pinned, so it stays put) at a
    /// 64-byte boundary, 0 to 15: ask for 16 floats more than needed.</summary>
    public static unsafe int AlignedOffset(float[] buffer)
    {
        nint address = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(buffer));
        return (int)((64 - (address & 63)) & 63) / sizeof(float);
    }
}
