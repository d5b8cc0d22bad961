namespace Boost.Kernels.Cpu;

/// <summary>Splits [0, n) into contiguous chunks across the cores; small ranges run inline on the caller.</summary>
public static class CpuParallel
{
    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>Runs <paramref name="body"/>(start, end) over chunks of at least <paramref name="grain"/> items.</summary>
    public static void For(long n, long grain, Action<long, long> body)
    {
        if (n <= 0) return;
        int chunks = (int)Math.Min(Threads, Math.Max(1, n / Math.Max(1, grain)));
        if (chunks <= 1) { body(0, n); return; }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Threads }, c =>
        {
            long start = n * c / chunks, end = n * (c + 1) / chunks;
            body(start, end);
        });
    }
}
