using System.Runtime.CompilerServices;

namespace Boost.Kernels;

/// <summary>Argument checks shared by every launcher: each failure names the op and the offending shapes.</summary>
public static class Check
{
    public static void Rank(Tensor t, int rank, string op, string name)
    {
        if (t.Rank != rank)
            throw new ArgumentException($"{op}: {name} must have rank {rank}, got {t.ShapeString}.");
    }

    public static void SameDevice(string op, params Tensor?[] tensors)
    {
        Device? d = null;
        foreach (var t in tensors)
        {
            if (t is null) continue;
            t.ThrowIfDisposed();
            if (d is null) d = t.Device;
            else if (!ReferenceEquals(d, t.Device))
                throw new ArgumentException($"{op}: tensors live on different devices ({d.Name} and {t.Device.Name}).");
        }
    }

    public static void SameShape(string op, Tensor a, Tensor b, string an = "a", string bn = "b")
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"{op}: {an} {a.ShapeString} and {bn} {b.ShapeString} must have the same shape.");
    }

    public static void Shape(string op, Tensor t, string name, params int[] expected)
    {
        if (!t.Shape.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"{op}: {name} must be {Tensor.Format(expected)}, got {t.ShapeString}.");
    }

    public static void That(bool condition, string message)
    {
        if (!condition) throw new ArgumentException(message);
    }

    /// <summary>Chosen by the compiler for an interpolated message: the holes are formatted only when the check fails,
    /// so a passing check (every launch) allocates nothing.</summary>
    public static void That(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref FailureMessage message)
    {
        if (!condition) throw new ArgumentException(message.ToStringAndClear());
    }

    /// <summary>An interpolated string built only when the condition it is handed is false.</summary>
    [InterpolatedStringHandler]
    public ref struct FailureMessage
    {
        private DefaultInterpolatedStringHandler _text;

        public FailureMessage(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
        {
            shouldAppend = !condition;
            _text = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
        }

        public void AppendLiteral(string s) => _text.AppendLiteral(s);
        public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);
        public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);
        public string ToStringAndClear() => _text.ToStringAndClear();
    }
}
