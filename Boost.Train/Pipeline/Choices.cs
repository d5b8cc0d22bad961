using Boost.Kernels;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Boost.Train.Pipeline;

/// <summary>What an upsampler learns: <c>cfm</c>, the velocity of the straight path x0 → x1, or <c>regression</c>,
/// x1 directly (the paper's one-call baseline).</summary>
[JsonConverter(typeof(ChoiceJsonConverter<Objective>))]
public enum Objective { Cfm, Regression }

/// <summary>How the condition is made from the LR image: <c>psu</c>, bicubic ↑ in pixels then encode (the authors'
/// default), or <c>latent</c>, encode then bilinear ↑ in latent space.</summary>
[JsonConverter(typeof(ChoiceJsonConverter<LrPath>))]
public enum LrPath { Psu, Latent }

/// <summary>Arithmetic of training and sampling. Only <c>fp32</c> runs; <c>tf32</c> and <c>bf16</c> are named so the
/// option exists, and are refused until the CUDA tensor-core path does them.</summary>
public enum Precision { Fp32, Tf32, Bf16 }

/// <summary>Learning rate after the linear warm-up: <c>constant</c> at the peak, or <c>cosine</c> decay to 0 at the
/// last step.</summary>
public enum LrScheduleKind { Constant, Cosine }

/// <summary>
/// The lowercase command-line and JSON names of an enum's values: each name in kebab case (<c>WorstSample</c> →
/// <c>worst-sample</c>, <c>Rk38</c> → <c>rk38</c>). One table per enum, so the parser, the help text, the error
/// messages and <c>config.json</c> spell a value the same way.
/// </summary>
public static class Choice<T> where T : struct, Enum
{
    private static readonly (T Value, string Name)[] Table = Enum.GetValues<T>().Select(v => (v, Kebab(v.ToString()))).ToArray();

    /// <summary>"a|b|c", in declaration order.</summary>
    public static string Names => string.Join("|", Table.Select(e => e.Name));

    public static IEnumerable<T> Values => Table.Select(e => e.Value);

    public static string Name(T value)
    {
        foreach (var e in Table) if (EqualityComparer<T>.Default.Equals(e.Value, value)) return e.Name;
        throw new ArgumentOutOfRangeException(nameof(value), value, $"not a {typeof(T).Name}.");
    }

    /// <summary>Exact lowercase name (surrounding blanks ignored); JSON is parsed with the same rule.</summary>
    public static bool TryParse(string? s, out T value)
    {
        string t = (s ?? "").Trim();
        foreach (var e in Table)
            if (e.Name == t) { value = e.Value; return true; }
        value = default;
        return false;
    }

    /// <summary>Parses <paramref name="s"/> or throws a one-line <see cref="ArgumentException"/>:
    /// "<paramref name="what"/> must be one of a|b, got 'x'."</summary>
    public static T Parse(string? s, string what)
        => TryParse(s, out var v) ? v : throw new ArgumentException($"{what} must be one of {Names}, got '{s}'.");

    private static string Kebab(string pascal)
    {
        var sb = new System.Text.StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char ch = pascal[i];
            if (char.IsUpper(ch) && i > 0 && (char.IsLower(pascal[i - 1]) || char.IsDigit(pascal[i - 1]))) sb.Append('-');
            sb.Append(char.ToLowerInvariant(ch));
        }
        return sb.ToString();
    }
}

/// <summary>Reads and writes an enum as its <see cref="Choice{T}"/> name ("cfm", "psu"); numbers and other spellings
/// are a <see cref="JsonException"/> naming the accepted values.</summary>
public sealed class ChoiceJsonConverter<T> : JsonConverter<T> where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? s = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        if (s is not null && Choice<T>.TryParse(s, out var v) && s == s.Trim()) return v;
        string got = s is null ? reader.TokenType.ToString().ToLowerInvariant() : $"'{s}'";
        throw new JsonException($"must be one of {Choice<T>.Names}, got {got}.");
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(Choice<T>.Name(value));
}

/// <summary>The one place that says which <see cref="Precision"/> runs where.</summary>
public static class PrecisionCheck
{
    /// <summary>Throws a one-line <see cref="ArgumentException"/> for a value that is not a precision.</summary>
    public static void Require(Precision precision)
    {
        if (!Enum.IsDefined(precision)) throw new ArgumentException($"--precision must be one of {Choice<Precision>.Names}.");
    }

    /// <summary>Sets <paramref name="device"/>'s GEMM precision. tf32 and bf16 run the tensor-core kernels on a CUDA GPU
    /// (their emulation on the NVIDIA-shaped simulator) and are emulated on the managed CPU backend by rounding the
    /// GEMM operands (for parity and precision studies: no faster there); the small simulator has no tensor-core tile.</summary>
    public static void Apply(Precision precision, Device device)
    {
        Require(precision);
        var m = precision switch { Precision.Tf32 => MatmulPrecision.Tf32, Precision.Bf16 => MatmulPrecision.Bf16, _ => MatmulPrecision.Fp32 };
        try { device.Precision = m; }
        catch (InvalidOperationException e) { throw new ArgumentException($"--precision {Choice<Precision>.Name(precision)}: {e.Message}"); }
    }

    /// <summary>How the device multiplies, for the log's device line ("" at FP32).</summary>
    public static string Describe(Device device) => device.Precision switch
    {
        MatmulPrecision.Fp32 => "",
        var p when device is IlgpuDevice { IsSimulator: false } => $", {p.ToString().ToUpperInvariant()} tensor cores",
        var p when device is IlgpuDevice => $", {p.ToString().ToUpperInvariant()} tensor cores (emulated)",
        var p => $", {p.ToString().ToUpperInvariant()} emulated (GEMM operands rounded; no faster than fp32 here)",
    };
}
