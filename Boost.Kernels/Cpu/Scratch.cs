namespace Boost.Kernels.Cpu;

/// <summary>
/// One float buffer per thread for an op's temporary rows or blocks, grown on demand and kept, so the steady state
/// allocates nothing. It is valid until the same thread asks again: managed ops never nest, and the GEMM keeps its
/// own pack buffers, so an op may hold it across <see cref="Gemm.Sgemm"/> calls. It may be longer than asked for, and
/// holds whatever the last user left there.
/// </summary>
internal static class Scratch
{
    [ThreadStatic] private static float[]? t_buffer;

    public static float[] Floats(int n)
    {
        var s = t_buffer;
        if (s is null || s.Length < n) t_buffer = s = GC.AllocateUninitializedArray<float>(Math.Max(n, 1024));
        return s;
    }
}
