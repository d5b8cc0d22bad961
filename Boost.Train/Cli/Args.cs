using System.Globalization;

namespace Boost.Train.Cli;

/// <summary>Thrown for a bad command line; the message is shown as is, with the exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// <c>--name value</c> and <c>--flag</c> options after a command word. Every option a command reads is marked
/// used; <see cref="CheckAllUsed"/> then rejects typos instead of silently ignoring them.
/// </summary>
public sealed class Args
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly HashSet<string>? _declared;
    public string Command { get; }

    /// <summary>Parses against a command's option table: a name not in it is rejected at once with the valid ones
    /// listed, and reading a name not in it is a bug in the command (the table is also its --help).</summary>
    public Args(IReadOnlyList<string> argv, IReadOnlyList<OptionSpec> options)
        : this(argv, options.Where(o => o.IsFlag).Select(o => o.Name).ToHashSet(StringComparer.Ordinal))
    {
        _declared = options.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = _values.Keys.Where(k => !_declared.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")} for '{(Command == "" ? "the main job" : Command)}': {string.Join(", ", unknown.Select(k => "--" + k))}; valid: {string.Join(" ", options.Select(o => "--" + o.Name))}.");
    }

    public Args(IReadOnlyList<string> argv, IReadOnlySet<string> flags)
    {
        int i = 0;
        Command = argv.Count > 0 && !argv[0].StartsWith("--", StringComparison.Ordinal) ? argv[i++] : "";
        for (; i < argv.Count; i++)
        {
            string a = argv[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length < 3) throw new UsageException($"unexpected argument '{a}' (options look like --name value).");
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (!flags.Contains(name))
            {
                if (i + 1 >= argv.Count) throw new UsageException($"--{name} needs a value.");
                value = argv[++i];
            }
            if (!_values.TryAdd(name, value)) throw new UsageException($"--{name} given twice.");
        }
    }

    public bool Has(string name) { Use(name); return _values.ContainsKey(name); }

    private void Use(string name)
    {
        if (_declared is not null && !_declared.Contains(name))
            throw new InvalidOperationException($"'{Command}' reads --{name}, which its option table (Commands.CommandOptions) does not declare.");
        _used.Add(name);
    }
    public bool Flag(string name) => Has(name);

    public string? String(string name) { Use(name); return _values.TryGetValue(name, out var v) ? v : null; }
    public string String(string name, string fallback) => String(name) ?? fallback;

    public int Int(string name, int fallback) => Parse(name, fallback, s => int.Parse(s, CultureInfo.InvariantCulture));
    public double Double(string name, double fallback) => Parse(name, fallback, s => double.Parse(s, CultureInfo.InvariantCulture));
    public float Float(string name, float fallback) => Parse(name, fallback, s => float.Parse(s, CultureInfo.InvariantCulture));
    public ulong ULong(string name, ulong fallback) => Parse(name, fallback, s => ulong.Parse(s, CultureInfo.InvariantCulture));

    /// <summary>One of an enum's <see cref="Pipeline.Choice{T}"/> names; anything else is a one-line
    /// <see cref="UsageException"/> listing them.</summary>
    public T Choice<T>(string name, T fallback) where T : struct, Enum
    {
        var s = String(name);
        if (s is null) return fallback;
        return Pipeline.Choice<T>.TryParse(s, out var v) ? v : throw new UsageException($"--{name} must be one of {Pipeline.Choice<T>.Names}, got '{s}'.");
    }

    private T Parse<T>(string name, T fallback, Func<string, T> parse)
    {
        var s = String(name);
        if (s is null) return fallback;
        try { return parse(s); }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"--{name}: '{s}' is not a valid {typeof(T).Name.ToLowerInvariant()}.");
        }
    }

    public void CheckAllUsed()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")} for '{(Command == "" ? "the main job" : Command)}': {string.Join(", ", unknown.Select(k => "--" + k))} (see --help).");
    }
}
