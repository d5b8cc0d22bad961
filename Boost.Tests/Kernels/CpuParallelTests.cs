using System.Reflection;
using Boost.Kernels.Cpu;

namespace Boost.Tests.Kernels;

/// <summary>
/// The managed backend's fork: every op's chunks go through <see cref="CpuParallel.For"/>, so it must cover [0, n)
/// exactly once whatever the thread count, hand its workers' exceptions to the caller, wake workers that went to
/// sleep, and stay correct when called from inside a chunk or from several threads at once.
/// </summary>
[NonParallelizable]
public class CpuParallelTests
{
    private int _threads;

    [SetUp] public void SaveThreads() => _threads = CpuParallel.Threads;
    [TearDown] public void RestoreThreads() => CpuParallel.Threads = _threads;

    [TestCase(1, 1, 2)]
    [TestCase(7, 1, 2)]
    [TestCase(7, 3, 3)]
    [TestCase(1000, 1, 5)]
    [TestCase(1001, 17, 2)]
    [TestCase(257, 300, 4)]
    public void For_CoversEveryIndexOnce(int n, int grain, int threads)
    {
        CpuParallel.Threads = threads;
        for (int round = 0; round < 50; round++)
        {
            var hits = new int[n];
            int calls = 0;
            CpuParallel.For(n, grain, (s, e) =>
            {
                Interlocked.Increment(ref calls);
                Assert.That(s, Is.LessThan(e), "empty chunk");
                for (long i = s; i < e; i++) Interlocked.Increment(ref hits[i]);
            });
            Assert.That(hits, Is.All.EqualTo(1), $"round {round}");
            Assert.That(calls, Is.EqualTo(Math.Min(threads, Math.Max(1, n / grain))), "one chunk per thread, grain permitting");
        }
    }

    /// <summary>Many short jobs back to back, so that the workers race the caller for every claim.</summary>
    [Test]
    public void For_ShortJobsNeverRunAChunkTwice()
    {
        CpuParallel.Threads = 4;
        var hits = new int[4];
        for (int round = 0; round < 20000; round++)
        {
            CpuParallel.For(4, 1, (s, e) => Interlocked.Increment(ref hits[s]));
            if (hits.Any(h => h != round + 1)) Assert.Fail($"round {round}: chunks ran [{string.Join(", ", hits)}] times");
        }
    }

    /// <summary>The job generation lives in the high half of one long; after 2³¹ jobs (hours of training) it wraps to
    /// negative, and caller and workers must still agree on it: every job across the wrap finishes, each chunk once.</summary>
    [Test]
    public void For_SurvivesGenerationWrap()
    {
        CpuParallel.Threads = 2;
        CpuParallel.For(2, 1, (_, _) => { }); // the worker exists
        var state = typeof(CpuParallel).GetField("s_state", BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new MissingFieldException("CpuParallel.s_state");
        state.SetValue(null, (long)(int.MaxValue - 3) << 32 | int.MaxValue); // a finished job, 3 before the wrap
        var run = Task.Run(() =>
        {
            for (int round = 0; round < 8; round++)
            {
                var hits = new int[4];
                CpuParallel.For(4, 1, (s, e) => { for (long i = s; i < e; i++) Interlocked.Increment(ref hits[i]); });
                if (hits.Any(h => h != 1)) return $"round {round}: [{string.Join(", ", hits)}]";
            }
            return null;
        });
        Assert.That(run.Wait(TimeSpan.FromSeconds(20)), Is.True, "a job across the wrap never finished");
        Assert.That(run.Result, Is.Null);
        Assert.That((long)state.GetValue(null)! >> 32, Is.Negative, "the generation wrapped");
    }

    [Test]
    public void For_WakesSleepingWorkers()
    {
        CpuParallel.Threads = 2;
        for (int round = 0; round < 3; round++)
        {
            Thread.Sleep(30); // far past the workers' spin: they are asleep
            // Each chunk waits for the other: the job ends only if a worker runs one while the caller runs the other.
            using var both = new Barrier(2);
            var met = new bool[2];
            CpuParallel.For(2, 1, (s, e) => met[s] = both.SignalAndWait(TimeSpan.FromSeconds(10)));
            Assert.That(met, Is.All.True, $"round {round}: a chunk waited alone, no worker woke");
        }
    }

    [Test]
    public void For_ExceptionReachesCallerAndPoolStillWorks()
    {
        CpuParallel.Threads = 4;
        for (int bad = 0; bad < 4; bad++)
        {
            var e = Assert.Throws<InvalidOperationException>(() => CpuParallel.For(4, 1, (s, _) =>
            {
                if (s == bad) throw new InvalidOperationException($"chunk {s}");
            }));
            Assert.That(e!.Message, Is.EqualTo($"chunk {bad}"));
            long sum = 0;
            CpuParallel.For(100, 1, (s, f) => { for (long i = s; i < f; i++) Interlocked.Add(ref sum, i); });
            Assert.That(sum, Is.EqualTo(4950));
        }
    }

    [Test]
    public void For_NestedAndConcurrentCallsAreCorrect()
    {
        CpuParallel.Threads = 3;
        const int outer = 6, inner = 500;
        var callers = Enumerable.Range(0, 3).Select(t => Task.Run(() =>
        {
            for (int round = 0; round < 20; round++)
            {
                var hits = new int[outer * inner];
                CpuParallel.For(outer, 1, (s, e) =>
                {
                    for (long o = s; o < e; o++)
                    {
                        long row = o;
                        CpuParallel.For(inner, 7, (a, b) => { for (long i = a; i < b; i++) Interlocked.Increment(ref hits[row * inner + i]); });
                    }
                });
                if (hits.Any(h => h != 1)) return $"caller {t}, round {round}: an index ran {hits.First(h => h != 1)} times";
            }
            return null;
        })).ToArray();
        Assert.That(Task.WaitAll(callers, TimeSpan.FromSeconds(60)), Is.True, "deadlock");
        Assert.That(callers.Select(c => c.Result), Is.All.Null);
    }
}
