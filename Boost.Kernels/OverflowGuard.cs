using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace Boost.Kernels;

/// <summary>
/// Overflow sentinels for tests. A pooled buffer is a bucket at least as long as its tensor
/// (<see cref="BufferPool{TBuffer}.Bucket"/>), so a kernel that writes past a tensor's end lands in the slack and
/// nothing notices. While <see cref="Enabled"/> is set (the test assembly sets it), every allocation keeps at least
/// <see cref="MinSlack"/> floats of slack, the slack [length, bucket) is filled with a canary when the storage is
/// handed out, and compared bit for bit when the storage goes back to the pool (the last <see cref="Tensor.Dispose"/>
/// of a tensor and its views).
/// <para>
/// The canary is a quiet NaN whose payload changes with every allocation (<see cref="CanaryFor"/>): arithmetic
/// never produces it (a computed NaN is the canonical 0x7FC00000 or 0xFFC00000, which <see cref="float.NaN"/> is),
/// and a kernel that runs past the end of both an input and its output — the missing <c>if (i &lt; n)</c> of a
/// rounded-up grid — copies the input's canary into the output's slack, where it differs from the output's own.
/// </para>
/// <para>
/// Design: the check runs on return, not after each op — Boost has no single dispatch point an op passes through,
/// and a check on return covers every tensor that is disposed, which in tests is nearly every one (<c>using var</c>),
/// at one slack scan per tensor instead of one per op and operand. Return runs inside <c>Dispose</c>, where throwing
/// would mask the test's own exception and leave the storage out of the pool; so a clobbered canary is recorded in a
/// static list instead, the storage is re-armed and pooled as usual, and the test assembly asserts after each test
/// that the list is empty (<see cref="TakeViolations"/>). Tests run one at a time, so the failing test is the one
/// that disposed the tensor, which is the one that created it unless a fixture owns it (a fixture's leftovers are
/// asserted once more when the run ends). <see cref="Check(Tensor)"/> inspects a live tensor on demand, e.g. right
/// after the op under suspicion.
/// </para>
/// <para>
/// Cost: on the managed backend a fill and a vectorised scan of the slack (at most a third of the tensor); on an
/// ILGPU device one host-to-device copy on hand-out and one device-to-host copy (a synchronisation) on return, in
/// chunks of <see cref="ChunkFloats"/> — a memcpy on the simulator, a transfer on CUDA.
/// </para>
/// </summary>
public static class OverflowGuard
{
    /// <summary>Arms every storage handed out while set (tests set it; off in production).</summary>
    public static bool Enabled { get; set; }

    /// <summary>Slack every armed allocation keeps at least, so tensors whose length is a bucket size are guarded too.</summary>
    public const int MinSlack = 16;

    /// <summary>Floats per host transfer when arming or checking an ILGPU buffer.</summary>
    internal const int ChunkFloats = 1 << 16;

    private static readonly List<string> Violations = new();
    private static uint _allocations;

    private static long _armed, _checked, _ticks;

    /// <summary>What the guard did since the process started: storages armed, storages checked on return (the
    /// difference was never disposed and went unchecked) and the seconds spent arming and checking.</summary>
    public static string Summary =>
        $"{Interlocked.Read(ref _armed)} tensors armed, {Interlocked.Read(ref _checked)} checked when disposed, " +
        $"{Interlocked.Read(ref _ticks) / (double)Stopwatch.Frequency:0.00} s spent";

    /// <summary>The canary of the <paramref name="n"/>-th allocation: a quiet NaN (0x7FC00000 | payload) with a
    /// payload of 22 bits scrambled from n, never 0, so never the canonical NaN.</summary>
    public static uint CanaryFor(uint n) => 0x7FC0_0000u | ((n * 0x9E37_79B1u >> 10) % 0x3F_FFFFu + 1);

    /// <summary>The elements to allocate for <paramref name="length"/>: with <see cref="MinSlack"/> added when armed.</summary>
    internal static long Request(long length, bool armed) => armed ? length + MinSlack : length;

    /// <summary>Returns the recorded violations (one line each) and clears the list.</summary>
    public static string[] TakeViolations()
    {
        lock (Violations)
        {
            var all = Violations.ToArray();
            Violations.Clear();
            return all;
        }
    }

    /// <summary>Inspects a live tensor's slack now: null when intact (or not armed), else the violation (not recorded).</summary>
    public static string? Check(Tensor tensor)
    {
        tensor.ThrowIfDisposed();
        return tensor.Storage.Armed ? Inspect(tensor.Storage) : null;
    }

    /// <summary>Fills the slack behind the storage's tensor with a fresh canary.</summary>
    internal static void Arm(Storage s)
    {
        long start = Stopwatch.GetTimestamp();
        uint canary = CanaryFor(Interlocked.Increment(ref _allocations));
        if (s.Array is not null) MemoryMarshal.Cast<float, uint>(s.Array.AsSpan(checked((int)s.Length))).Fill(canary);
        else
        {
            var stream = ((IlgpuDevice)s.Device).Stream;
            var slack = Slack(s);
            float[] host = ArrayPool<float>.Shared.Rent((int)Math.Min(ChunkFloats, Math.Max(1, slack.Length)));
            MemoryMarshal.Cast<float, uint>(host.AsSpan()).Fill(canary);
            for (long at = 0; at < slack.Length; at += ChunkFloats)
            {
                int n = (int)Math.Min(ChunkFloats, slack.Length - at);
                slack.SubView(at, n).CopyFromCPU(stream, host.AsSpan(0, n));
            }
            ArrayPool<float>.Shared.Return(host);
        }
        s.Canary = canary;
        Interlocked.Increment(ref _armed);
        Interlocked.Add(ref _ticks, Stopwatch.GetTimestamp() - start);
    }

    /// <summary>On return to the pool: records a violation if the canary was clobbered.</summary>
    internal static void CheckOnReturn(Storage s)
    {
        long start = Stopwatch.GetTimestamp();
        string? violation = Inspect(s);
        if (violation is not null) lock (Violations) Violations.Add(violation);
        s.Canary = 0;
        Interlocked.Increment(ref _checked);
        Interlocked.Add(ref _ticks, Stopwatch.GetTimestamp() - start);
    }

    private static ArrayView<float> Slack(Storage s)
    {
        ArrayView<float> all = s.Buffer!.View;
        return all.SubView(s.Length, all.Length - s.Length);
    }

    /// <summary>Null when the slack still holds the storage's canary everywhere, else a one-line report of the first bad offset.</summary>
    internal static string? Inspect(Storage s)
    {
        uint canary = s.Canary;
        if (s.Array is not null)
        {
            var slack = MemoryMarshal.Cast<float, uint>(s.Array.AsSpan(checked((int)s.Length)));
            int i = slack.IndexOfAnyExcept(canary);
            return i < 0 ? null : Report(s, slack.Length, i, slack[i], slack.Length - slack.Count(canary));
        }
        var stream = ((IlgpuDevice)s.Device).Stream;
        var view = Slack(s);
        long first = -1, bad = 0;
        uint firstBits = 0;
        float[] host = ArrayPool<float>.Shared.Rent((int)Math.Min(ChunkFloats, Math.Max(1, view.Length)));
        try
        {
            for (long at = 0; at < view.Length; at += ChunkFloats)
            {
                int n = (int)Math.Min(ChunkFloats, view.Length - at);
                view.SubView(at, n).CopyToCPU(stream, host.AsSpan(0, n));
                var bits = MemoryMarshal.Cast<float, uint>(host.AsSpan(0, n));
                int i = bits.IndexOfAnyExcept(canary);
                if (i < 0) continue;
                if (first < 0) { first = at + i; firstBits = bits[i]; }
                bad += n - bits.Count(canary);
            }
        }
        finally { ArrayPool<float>.Shared.Return(host); }
        return first < 0 ? null : Report(s, view.Length, first, firstBits, bad);
    }

    private static string Report(Storage s, long slack, long first, uint bits, long bad)
    {
        string tensor = s.Shape is null ? $"tensor of {s.Length} floats" : $"tensor {Tensor.Format(s.Shape)} ({s.Length} floats)";
        string value = BitConverter.UInt32BitsToSingle(bits).ToString("R", CultureInfo.InvariantCulture);
        return $"Write past the end of {tensor} on {s.Device.Name}: first bad offset {s.Length + first} " +
               $"({first} past the end) holds 0x{bits:X8} ({value}); {bad} of the {slack} slack floats differ from its canary 0x{s.Canary:X8}.";
    }
}
