namespace Boost.Models.SafeTensors;

/// <summary>
/// Element types of the safetensors format, named exactly as the header spells them. Sub-byte types of newer
/// spec revisions (F4, F6_*, F8_E8M0) are not supported: a header that uses them is rejected as an unknown dtype.
/// </summary>
public enum SafeTensorsDType
{
    BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
}

public static class SafeTensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this SafeTensorsDType t) => t switch
    {
        SafeTensorsDType.BOOL or SafeTensorsDType.U8 or SafeTensorsDType.I8 or SafeTensorsDType.F8_E5M2 or SafeTensorsDType.F8_E4M3 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };

    /// <summary>True for the types <see cref="SafeTensorsFile.ReadFloat32"/> converts: F16, BF16, F32, F64.</summary>
    public static bool IsReadableAsFloat32(this SafeTensorsDType t)
        => t is SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F32 or SafeTensorsDType.F64;

    /// <summary>The header spelling (case-sensitive, as the spec and PyTorch's writer use).</summary>
    public static string Name(this SafeTensorsDType t) => t.ToString();

    /// <summary>Parses a header dtype string; exact, case-sensitive, no numeric forms (unlike Enum.TryParse).</summary>
    public static bool TryParse(string? s, out SafeTensorsDType t)
    {
        foreach (var v in Enum.GetValues<SafeTensorsDType>())
            if (string.Equals(v.ToString(), s, StringComparison.Ordinal)) { t = v; return true; }
        t = default;
        return false;
    }

    /// <summary>bfloat16 is the top half of a float32: widening is a shift.</summary>
    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>float32 → bfloat16, rounding to nearest, ties to even (as PyTorch does); NaN stays a quiet NaN.</summary>
    public static ushort SingleToBFloat16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((bits >> 16) | 0x0040);
        bits += 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }
}
