using System.Diagnostics;
using System.Globalization;

namespace Boost.Train.Pipeline;

/// <summary>
/// <c>run.lock</c> in a run folder: one training process at a time. The file holds "pid host start-time (UTC, ISO
/// 8601)" and stays open (shared lock) until <see cref="Dispose"/>, Ctrl-C or process exit, which delete it.
/// <para>
/// A lock file left behind by a process that died (kill -9, power loss) is stale: no process holds it open (an
/// exclusive open succeeds) and its pid is gone on this host, or that pid now belongs to a process started after
/// the lock was written. A stale lock is taken over with one line on the log; a lock from another host is never
/// taken over (its pid cannot be checked from here).
/// </para>
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string FileName = "run.lock";

    private static readonly HashSet<RunLock> Held = [];
    private static bool _hooked;

    private FileStream? _stream;

    public string Path { get; }

    private RunLock(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
        lock (Held)
        {
            Held.Add(this);
            if (!_hooked)
            {
                // Best effort: Ctrl-C and normal exit remove the file; a hard kill leaves a stale lock for the next run to take over.
                Console.CancelKeyPress += (_, _) => ReleaseAll();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => ReleaseAll();
                _hooked = true;
            }
        }
    }

    /// <summary>Takes the lock of <paramref name="runDir"/> (which must exist); throws <see cref="InvalidOperationException"/>
    /// naming the holder when another live process has it.</summary>
    public static RunLock Acquire(string runDir, TextWriter log)
    {
        string path = System.IO.Path.Combine(runDir, FileName);
        for (int attempt = 0; ; attempt++)
        {
            if (TryCreate(path) is { } created) return created;
            var holder = Holder.Read(path);
            if (!IsStale(path, holder, out string? why))
                throw new InvalidOperationException(
                    $"{runDir} is in use by process {holder?.Pid.ToString(CultureInfo.InvariantCulture) ?? "?"}{(holder is null ? "" : $" on {holder.Host} (since {holder.Start:u})")}; " +
                    $"wait for it to finish, or delete {path} if that process is gone.");
            if (attempt > 0) throw new InvalidOperationException($"{runDir}: could not take over the stale lock {path} ({why}); delete it and retry.");
            log.WriteLine($"taking over the stale lock {path}: {why}");
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static RunLock? TryCreate(string path)
    {
        FileStream stream;
        try
        {
            // CreateNew is atomic: of two processes only one creates the file. FileShare.Read lets others read who holds it
            // (and on Unix takes a shared flock, so an exclusive open by another process fails while we live).
            stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 4096, FileOptions.DeleteOnClose);
        }
        catch (IOException) when (File.Exists(path)) { return null; }
        try
        {
            using (var w = new StreamWriter(stream, leaveOpen: true)) w.Write(new Holder(Environment.ProcessId, Environment.MachineName, DateTime.UtcNow).ToString());
            stream.Flush(flushToDisk: true);
            return new RunLock(path, stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static bool IsStale(string path, Holder? holder, out string? why)
    {
        why = null;
        // Held open by a live process: an exclusive open fails (sharing violation).
        try { using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None); }
        catch (FileNotFoundException) { why = "it vanished"; return true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
        if (holder is null) { why = "its content is unreadable and no process holds it open"; return true; }
        if (!string.Equals(holder.Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase)) return false;
        try
        {
            using var p = Process.GetProcessById(holder.Pid);
            if (p.HasExited) { why = $"process {holder.Pid} has exited"; return true; }
            // A pid is reused: a process younger than the lock cannot be the one that wrote it.
            if (p.StartTime.ToUniversalTime() > holder.Start.AddSeconds(2)) { why = $"process {holder.Pid} is dead (its pid now belongs to a younger process)"; return true; }
            return false;
        }
        catch (ArgumentException) { why = $"process {holder.Pid} is dead"; return true; }
        catch (InvalidOperationException) { why = $"process {holder.Pid} is dead"; return true; }
    }

    /// <summary>Releases the lock and deletes the file (idempotent).</summary>
    public void Dispose()
    {
        lock (Held)
        {
            Held.Remove(this);
            _stream?.Dispose(); // DeleteOnClose removes the file
            _stream = null;
        }
    }

    private static void ReleaseAll()
    {
        RunLock[] all;
        lock (Held) all = [.. Held];
        foreach (var l in all) l.Dispose();
    }

    /// <summary>What a lock file says: "pid host start".</summary>
    public sealed record Holder(int Pid, string Host, DateTime Start)
    {
        public override string ToString() => FormattableString.Invariant($"{Pid} {Host} {Start:O}\n");

        /// <summary>The holder written in <paramref name="path"/>, or null when the file is missing or does not parse.</summary>
        public static Holder? Read(string path)
        {
            string text;
            try
            {
                using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var r = new StreamReader(s);
                text = r.ReadToEnd();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
            var parts = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                || !DateTime.TryParse(parts[2], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var start))
                return null;
            return new Holder(pid, parts[1], start.ToUniversalTime());
        }
    }
}
