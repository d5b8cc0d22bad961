using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Boost.Kernels.Cpu;

/// <summary>
/// Splits [0, n) into contiguous chunks across the cores; small ranges run inline on the caller.
/// <para>
/// The chunks go to our own worker threads, which spin for a while after each job before they sleep, so that the
/// next op's fork finds them awake: with <see cref="Parallel.For(int, int, Action{int})"/> a short op can lose up to
/// half its time to waking a pool thread. Every participant, the caller included, claims chunk indices from one counter,
/// so a worker that is slow to wake only means the caller runs its chunk too. A fork from inside a chunk, or from a
/// second thread while a job runs, goes to <see cref="Parallel.For(int, int, Action{int})"/> instead.
/// </para>
/// </summary>
public static class CpuParallel
{
    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>How long an idle worker spins for the next job before it sleeps.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    /// <summary>A claim index no job reaches: the finished job's claims end there, so a late worker claims nothing.</summary>
    private const int Closed = int.MaxValue;

    private static readonly object s_gate = new();
    private static readonly SemaphoreSlim s_wake = new(0);
    private static int s_workers, s_sleepers;
    // The current job. s_state packs (generation << 32 | next chunk index): a worker claims a chunk by a
    // compare-exchange on it, which fails once the caller has moved on to a newer generation.
    private static Action<long, long>? s_body;
    private static long s_n, s_state;
    private static int s_chunks, s_done;
    private static ExceptionDispatchInfo? s_error;

    /// <summary>Runs <paramref name="body"/>(start, end) over chunks of at least <paramref name="grain"/> items.</summary>
    public static void For(long n, long grain, Action<long, long> body)
    {
        if (n <= 0) return;
        int chunks = (int)Math.Min(Threads, Math.Max(1, n / Math.Max(1, grain)));
        if (chunks <= 1) { body(0, n); return; }
        if (Monitor.IsEntered(s_gate) || !Monitor.TryEnter(s_gate)) { Fallback(n, chunks, body); return; }
        try { Run(n, chunks, body); }
        finally { Monitor.Exit(s_gate); }
    }

    private static void Run(long n, int chunks, Action<long, long> body)
    {
        while (s_workers < chunks - 1) StartWorker();
        s_body = body; s_n = n; s_chunks = chunks; s_done = 0; s_error = null;
        int generation = unchecked(Generation(Volatile.Read(ref s_state)) + 1);
        Interlocked.Exchange(ref s_state, (long)generation << 32); // publishes the fields above
        int sleeping = Volatile.Read(ref s_sleepers);
        if (sleeping > 0) s_wake.Release(Math.Min(sleeping, chunks - 1));
        Work(generation);
        long waitSince = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref s_done) < chunks) Pause(waitSince);
        Interlocked.Exchange(ref s_state, (long)generation << 32 | Closed);
        s_body = null;
        s_error?.Throw();
    }

    /// <summary>Claims and runs chunks of job <paramref name="generation"/> until none is left.</summary>
    private static void Work(int generation)
    {
        while (true)
        {
            long state = Volatile.Read(ref s_state);
            int index = (int)state;
            if (Generation(state) != generation || index >= Volatile.Read(ref s_chunks)) return;
            if (Interlocked.CompareExchange(ref s_state, state + 1, state) != state) continue;
            // Claimed: the caller waits for this chunk, so the job's fields stay as they are until it is done.
            long n = s_n; int chunks = s_chunks;
            try { s_body!(n * index / chunks, n * (index + 1) / chunks); }
            catch (Exception e) { Interlocked.CompareExchange(ref s_error, ExceptionDispatchInfo.Capture(e), null); }
            Interlocked.Increment(ref s_done);
        }
    }

    /// <summary>The job generation in a packed state: its high 32 bits, as an int that the caller and the workers both
    /// wrap to negative after 2³¹ jobs (hours of training at ~10⁴ forks a second).</summary>
    private static int Generation(long state) => (int)(state >> 32);

    private static void StartWorker()
    {
        s_workers++;
        new Thread(WorkerLoop) { IsBackground = true, Name = $"Boost CPU worker {s_workers}" }.Start();
    }

    private static void WorkerLoop()
    {
        int seen = Generation(Volatile.Read(ref s_state));
        while (true)
        {
            long idleSince = Stopwatch.GetTimestamp();
            int generation;
            while ((generation = Generation(Volatile.Read(ref s_state))) == seen)
            {
                if (Stopwatch.GetTimestamp() - idleSince < SpinTicks) { Pause(idleSince); continue; }
                Interlocked.Increment(ref s_sleepers);
                // Re-read after announcing the sleep: a caller that published before it saw no sleeper to wake.
                if (Generation(Volatile.Read(ref s_state)) == seen) s_wake.Wait();
                Interlocked.Decrement(ref s_sleepers);
                idleSince = Stopwatch.GetTimestamp();
            }
            seen = generation;
            Work(generation);
        }
    }

    /// <summary>
    /// One wait step: pause instructions for the first <see cref="SpinTicks"/> after <paramref name="since"/>, a yield
    /// to the scheduler after that (a thread we wait on may need this core). Not <see cref="SpinWait.SpinOnce()"/>: it
    /// yields after a few steps even when the other thread is a chunk away from done, so waits go to the scheduler.
    /// </summary>
    private static void Pause(long since)
    {
        if (Stopwatch.GetTimestamp() - since < SpinTicks) Thread.SpinWait(8);
        else Thread.Yield();
    }

    private static void Fallback(long n, int chunks, Action<long, long> body)
        => Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Threads }, c =>
            body(n * c / chunks, n * (c + 1) / chunks));
}
