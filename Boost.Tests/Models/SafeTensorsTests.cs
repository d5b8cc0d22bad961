using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Boost.Kernels;
using Boost.Models.SafeTensors;
using Boost.Tests.Support;

namespace Boost.Tests.Models;

public class SafeTensorsTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "boost-safetensors-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveFolder()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string FileIn(string name = "model.safetensors") => Path.Combine(_dir, name);

    // ---- hand-built files -------------------------------------------------------------------------------------

    /// <summary>A file from raw parts: length field (default: the padded header length), header padded with spaces to 8, data.</summary>
    private static byte[] Build(byte[] header, byte[] data, ulong? lengthField = null)
    {
        int padded = (header.Length + 7) / 8 * 8;
        var bytes = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthField ?? (ulong)padded);
        header.CopyTo(bytes, 8);
        bytes.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        data.CopyTo(bytes, 8 + padded);
        return bytes;
    }

    private static byte[] Build(string headerJson, byte[] data, ulong? lengthField = null) => Build(Encoding.UTF8.GetBytes(headerJson), data, lengthField);

    private static byte[] F32(params float[] v)
    {
        var b = new byte[4 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    private static byte[] U16(params ushort[] v)
    {
        var b = new byte[2 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), v[i]);
        return b;
    }

    private static int[] Bits(float[] v) => Array.ConvertAll(v, BitConverter.SingleToInt32Bits);

    private static (string Name, int[] Shape, float[] Data) T(string name, int[] shape, float[] data) => (name, shape, data);

    private SafeTensorsFile WriteAndOpen(byte[] bytes, string name = "model.safetensors")
    {
        File.WriteAllBytes(FileIn(name), bytes);
        return SafeTensorsFile.Read(FileIn(name));
    }

    // ---- round trips ------------------------------------------------------------------------------------------

    [Test]
    public void F32_RoundTrip_IsBitExact_IncludingEmptyAndScalar()
    {
        float[] odd = [float.MaxValue, -float.MaxValue, float.Epsilon, -0f, 1e-38f, MathF.PI, -2f];
        var tensors = new[]
        {
            T("conv.weight", [4, 3, 3, 3], Seeded.Floats(1, 108)),
            T("conv.bias", [4], Seeded.Floats(2, 4)),
            T("empty", [0], []),
            T("empty.rows", [0, 5], []),
            T("scalar", [], Seeded.Floats(3, 1)),
            T("odd.values", [1, 7, 1], odd),
        };
        SafeTensorsFile.Write(FileIn(), tensors);

        using var f = SafeTensorsFile.Read(FileIn());
        Assert.That(f.Names, Is.EquivalentTo(tensors.Select(t => t.Name)));
        Assert.That(f.Metadata.Keys, Has.All.StartWith(SafeTensorsChecksum.KeyPrefix), "only checksum records");
        Assert.That(f.Metadata, Has.Count.EqualTo(f.Names.Count));
        foreach (var (name, shape, data) in tensors)
        {
            var info = f.Info(name);
            Assert.That(info.DType, Is.EqualTo(SafeTensorsDType.F32), name);
            Assert.That(info.Shape, Is.EqualTo(shape), name);
            Assert.That(info.ElementCount, Is.EqualTo(data.Length), name);
            Assert.That(Bits(f.ReadFloat32(name)), Is.EqualTo(Bits(data)), name);
            using var t = f.Load(name, Device.Cpu);
            Assert.That(t.Shape, Is.EqualTo(shape), name);
            Assert.That(Bits(t.ToArray()), Is.EqualTo(Bits(data)), name);
        }
    }

    [Test]
    public void F16_RoundTrip_MatchesHalfConversion_AndWritesIeeeBits()
    {
        var data = Seeded.Floats(4, 50, -70000f, 70000f).Select(x => Math.Clamp(x, -65504f, 65504f)).ToArray();
        data[0] = 1f; data[1] = -2f; data[2] = 65504f; data[3] = 0.1f;
        SafeTensorsFile.Write(FileIn(), [T("h", [5, 10], data)], dtype: SafeTensorsDType.F16);

        using var f = SafeTensorsFile.Read(FileIn());
        Assert.That(f.Info("h").DType, Is.EqualTo(SafeTensorsDType.F16));
        Assert.That(f.Info("h").ByteLength, Is.EqualTo(100));
        Assert.That(Bits(f.ReadFloat32("h")), Is.EqualTo(Bits(data.Select(x => (float)(Half)x).ToArray())));
        var raw = f.ReadBytes("h");
        Assert.That(raw[..8], Is.EqualTo(U16(0x3C00, 0xC000, 0x7BFF, 0x2E66)), "IEEE half bits of 1, -2, 65504, 0.1");
    }

    [Test]
    public void BF16_Write_RoundsToNearestEven()
    {
        float one = 1f, ulp = MathF.Pow(2, -7);
        float[] data = [one + ulp / 2, one + 3 * ulp / 2, one + ulp / 2 + MathF.Pow(2, -20), -(one + ulp / 2), 3.140625f];
        SafeTensorsFile.Write(FileIn(), [T("b", [5], data)], dtype: SafeTensorsDType.BF16);
        using var f = SafeTensorsFile.Read(FileIn());
        // Halfway ties go to the even mantissa: 1+ulp/2 → 1.0, 1+3ulp/2 → 1+2ulp; just above halfway rounds up.
        Assert.That(f.ReadBytes("b"), Is.EqualTo(U16(0x3F80, 0x3F82, 0x3F81, 0xBF80, 0x4049)));
        Assert.That(f.ReadFloat32("b"), Is.EqualTo(new[] { 1f, 1f + 2 * ulp, 1f + ulp, -1f, 3.140625f }));
    }

    [Test]
    public void F16_Read_FromHandBuiltBytes()
    {
        var bytes = Build("""{"h":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]}}""",
            U16(0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x3555, 0x7C00, 0x0400));
        using var f = WriteAndOpen(bytes);
        float[] want = [1f, -2f, 65504f, (float)Math.Pow(2, -24), -0f, 0.333251953125f, float.PositiveInfinity, (float)Math.Pow(2, -14)];
        Assert.That(f.Info("h").Shape, Is.EqualTo(new[] { 2, 4 }));
        Assert.That(Bits(f.ReadFloat32("h")), Is.EqualTo(Bits(want)));
    }

    [Test]
    public void BF16_And_F64_Read_FromHandBuiltBytes()
    {
        var data = U16(0x3F80, 0xC040, 0x4049, 0x0001, 0x7F7F, 0xFF80).Concat(new byte[8]).ToArray();
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(12), 0.1);
        var bytes = Build("""{"b":{"dtype":"BF16","shape":[6],"data_offsets":[0,12]},"d":{"dtype":"F64","shape":[],"data_offsets":[12,20]}}""", data);
        using var f = WriteAndOpen(bytes);
        float[] want = [1f, -3f, 3.140625f, (float)Math.Pow(2, -133), (float)((2 - Math.Pow(2, -7)) * Math.Pow(2, 127)), float.NegativeInfinity];
        Assert.That(Bits(f.ReadFloat32("b")), Is.EqualTo(Bits(want)));
        Assert.That(f.ReadFloat32("d"), Is.EqualTo(new[] { (float)0.1 }));
        Assert.That(f.Info("d").Shape, Is.Empty);
    }

    [Test]
    public void Metadata_AndUnicodeNames_RoundTrip()
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["note"] = "quote \" backslash \\ newline \n tab \t é ✓ 𝄞 <&>",
            ["empty"] = "",
            ["ключ"] = "значение",
        };
        SafeTensorsFile.Write(FileIn(), [T("ünï.weight", [2], [1f, -1f]), T("plain", [1], [0.5f])], metadata);
        using var f = SafeTensorsFile.Read(FileIn());
        Assert.That(f.Metadata.Where(kv => !kv.Key.StartsWith(SafeTensorsChecksum.KeyPrefix)), Is.EquivalentTo(metadata));
        Assert.That(f.ReadFloat32("ünï.weight"), Is.EqualTo(new[] { 1f, -1f }));
    }

    // ---- the exact layout PyTorch's safetensors writes --------------------------------------------------------

    [Test]
    public void Written_File_Has_The_Exact_Layout_PyTorch_Writes()
    {
        SafeTensorsFile.Write(FileIn(), [T("b", [2], [1.5f, -2.25f]), T("a", [], [3f])], new Dictionary<string, string> { ["format"] = "pt" });
        var bytes = File.ReadAllBytes(FileIn());

        // serde_json compact output: __metadata__ first, tensors by name, fields dtype/shape/data_offsets.
        string sa = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(F32(3f)));
        string sb = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(F32(1.5f, -2.25f)));
        string json = $$$"""{"__metadata__":{"format":"pt","sha256.a":"F32 [] {{{sa}}}","sha256.b":"F32 [2] {{{sb}}}"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""";
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.EqualTo(0UL), "header padded to 8 bytes");
        Assert.That((long)n, Is.EqualTo((json.Length + 7) / 8 * 8));
        Assert.That(Encoding.UTF8.GetString(bytes, 8, (int)n), Is.EqualTo(json.PadRight((int)n, ' ')));
        Assert.That(bytes.Length, Is.EqualTo(8 + (int)n + 12), "no bytes after the last tensor");
        Assert.That(bytes[(8 + (int)n)..], Is.EqualTo(F32(3f, 1.5f, -2.25f)), "data: a then b, little-endian");
    }

    [Test]
    public void Written_File_Layout_HandParsed_ForManyTensors()
    {
        var tensors = Enumerable.Range(0, 12).Select(i => T($"layer{(i * 7) % 12}.w", [i % 3 + 1, i % 4], Seeded.Floats(20 + i, (i % 3 + 1) * (i % 4)))).ToArray();
        SafeTensorsFile.Write(FileIn(), tensors, dtype: SafeTensorsDType.F16);
        var bytes = File.ReadAllBytes(FileIn());
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = bytes.AsSpan(8, n);
        int jsonEnd = header.LastIndexOf((byte)'}') + 1;
        Assert.That(header[jsonEnd..].ToArray().All(b => b == (byte)' '), "padding is spaces");
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, jsonEnd));
        var props = doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToList();
        Assert.That(props.Select(p => p.Name), Is.EqualTo(tensors.Select(t => t.Name).OrderBy(s => s, StringComparer.Ordinal)));
        long offset = 0;
        foreach (var p in props)
        {
            var src = tensors.Single(t => t.Name == p.Name);
            Assert.That(p.Value.EnumerateObject().Select(f => f.Name), Is.EqualTo(new[] { "dtype", "shape", "data_offsets" }));
            Assert.That(p.Value.GetProperty("dtype").GetString(), Is.EqualTo("F16"));
            Assert.That(p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(src.Shape));
            var off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.That(off, Is.EqualTo(new[] { offset, offset + 2L * src.Data.Length }), p.Name);
            for (int i = 0; i < src.Data.Length; i++)
            {
                ushort bits = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8 + n + (int)offset + 2 * i));
                Assert.That(bits, Is.EqualTo(BitConverter.HalfToUInt16Bits((Half)src.Data[i])), $"{p.Name}[{i}]");
            }
            offset = off[1];
        }
        Assert.That(bytes.Length, Is.EqualTo(8 + n + offset));
    }

    // ---- atomic, validated writes -----------------------------------------------------------------------------

    [Test]
    public void Write_Failure_LeavesOldFile_AndNoTemporaryFile()
    {
        string path = FileIn();
        SafeTensorsFile.Write(path, [T("old", [3], [1f, 2f, 3f])]);
        var before = File.ReadAllBytes(path);

        // Fails while writing the data of the second tensor (after the temporary file has been created).
        var nan = Seeded.Floats(5, 6); nan[4] = float.NaN;
        var e1 = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [T("a.fine", [2], [1f, 2f]), T("b.broken", [6], nan)]));
        Assert.That(e1!.Message, Does.Contain("b.broken").And.Contain("[4]"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.EqualTo(new[] { path }));

        var e2 = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [T("big", [1], [1e6f])], dtype: SafeTensorsDType.F16));
        Assert.That(e2!.Message, Does.Contain("big").And.Contain("overflows F16"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));

        static IEnumerable<(string, int[], float[])> Throwing()
        {
            yield return ("x", [1], [1f]);
            throw new InvalidOperationException("source failed");
        }
        Assert.Throws<InvalidOperationException>(() => SafeTensorsFile.Write(path, Throwing()));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.EqualTo(new[] { path }));

        SafeTensorsFile.Write(path, [T("new", [2], [4f, 5f])]);
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.EqualTo(new[] { path }));
        using var f = SafeTensorsFile.Read(path);
        Assert.That(f.Names, Is.EqualTo(new[] { "new" }));
    }

    [Test]
    public void Write_NonFinite_AllowedOnRequest()
    {
        SafeTensorsFile.Write(FileIn(), [T("x", [3], [float.NaN, float.PositiveInfinity, 1f])], allowNonFinite: true);
        using var f = SafeTensorsFile.Read(FileIn());
        var x = f.ReadFloat32("x");
        Assert.That(float.IsNaN(x[0]) && float.IsPositiveInfinity(x[1]) && x[2] == 1f, string.Join(", ", x));
    }

    [Test]
    public void Write_RejectsBadArguments_NamingTheKey()
    {
        (string Fragment, Action Act)[] cases =
        [
            ("'dup' appears twice", () => SafeTensorsFile.Write(FileIn(), [T("dup", [1], [1f]), T("dup", [1], [2f])])),
            ("'__metadata__' is reserved", () => SafeTensorsFile.Write(FileIn(), [T("__metadata__", [1], [1f])])),
            ("'short' has 2 values for shape [3]", () => SafeTensorsFile.Write(FileIn(), [T("short", [3], [1f, 2f])])),
            ("'neg' has an invalid shape", () => SafeTensorsFile.Write(FileIn(), [T("neg", [-1], [])])),
            ("cannot write dtype I64", () => SafeTensorsFile.Write(FileIn(), [T("x", [1], [1f])], dtype: SafeTensorsDType.I64)),
        ];
        foreach (var (fragment, act) in cases)
        {
            var e = Assert.Throws<ArgumentException>(() => act());
            Assert.That(e!.Message, Does.Contain(fragment));
        }
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
    }

    // ---- strict state-dict loading ----------------------------------------------------------------------------

    [Test]
    public void StrictLoader_ReportsEveryDifference_InOneException()
    {
        SafeTensorsFile.Write(FileIn(), [
            T("enc.weight", [4, 3], Seeded.Floats(1, 12)), T("enc.bias", [4], Seeded.Floats(2, 4)),
            T("extra.a", [2], [1f, 2f]), T("extra.b", [1], [1f]), T("dec.weight", [3, 4], Seeded.Floats(3, 12)),
        ]);
        (string, int[])[] expected = [("enc.weight", [4, 3]), ("enc.bias", [5]), ("dec.weight", [4, 3]), ("missing.one", [2]), ("missing.two", [])];

        var e = Assert.Throws<StateDictMismatchException>(() => StateDict.ReadStrict(FileIn(), expected));
        Assert.That(e!.Missing, Is.EquivalentTo(new[] { "missing.one", "missing.two" }));
        Assert.That(e.Unexpected, Is.EquivalentTo(new[] { "extra.a", "extra.b" }));
        Assert.That(e.Mismatched, Is.EquivalentTo(new[] { "enc.bias", "dec.weight" }));
        Assert.That(e.Message, Does.Contain(FileIn()).And.Contain("2 missing, 2 unexpected, 2 mismatched")
            .And.Contain("dec.weight: model [4, 3], file [3, 4]").And.Contain("enc.bias: model [5], file [4]")
            .And.Contain("missing.one").And.Contain("missing.two").And.Contain("extra.a").And.Contain("extra.b"));
        Assert.That(e, Is.InstanceOf<SafeTensorsException>());
    }

    [Test]
    public void StrictLoader_RejectsNonFloatDtype_AsMismatch()
    {
        var bytes = Build("""{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", new byte[16]);
        File.WriteAllBytes(FileIn(), bytes);
        var e = Assert.Throws<StateDictMismatchException>(() => StateDict.ReadStrict(FileIn(), [("ids", [2])]));
        Assert.That(e!.Mismatched, Is.EqualTo(new[] { "ids" }));
        Assert.That(e.Message, Does.Contain("dtype I64 is not a float type"));
    }

    [Test]
    public void StrictLoader_StripsPrefix_SkipsOtherKeys_AndLoadsTensors()
    {
        var w = Seeded.Floats(6, 6); var b = Seeded.Floats(7, 2);
        SafeTensorsFile.Write(FileIn(), [
            T("first_stage_model.encoder.w", [2, 3], w), T("first_stage_model.decoder.b", [2], b),
            T("model.diffusion_model.x", [1], [1f]), T("cond_stage_model.y", [1], [2f]),
        ]);
        (string, int[])[] expected = [("encoder.w", [2, 3]), ("decoder.b", [2])];
        using var file = SafeTensorsFile.Read(FileIn());

        var loaded = StateDict.LoadStrict(file, expected, Device.Cpu, StateDict.StripPrefix("first_stage_model."));
        try
        {
            Assert.That(loaded.Keys, Is.EquivalentTo(new[] { "encoder.w", "decoder.b" }));
            Assert.That(loaded["encoder.w"].Shape, Is.EqualTo(new[] { 2, 3 }));
            Assert.That(loaded["encoder.w"].Device, Is.SameAs(Device.Cpu));
            Assert.That(Bits(loaded["encoder.w"].ToArray()), Is.EqualTo(Bits(w)));
            Assert.That(Bits(loaded["decoder.b"].ToArray()), Is.EqualTo(Bits(b)));
        }
        finally { foreach (var t in loaded.Values) t.Dispose(); }

        // A renaming function that maps two file keys onto one model key is reported, not silently resolved.
        var e = Assert.Throws<StateDictMismatchException>(() => StateDict.ReadStrict(file, expected,
            k => k.EndsWith(".w") ? "encoder.w" : k.EndsWith(".b") ? "decoder.b" : k.EndsWith(".x") ? "encoder.w" : null));
        Assert.That(e!.Message, Does.Contain("both map to 'encoder.w'"));

        // Without the prefix map the full checkpoint's keys are all unexpected and the model's all missing.
        var e2 = Assert.Throws<StateDictMismatchException>(() => StateDict.ReadStrict(file, expected));
        Assert.That(e2!.Missing, Has.Count.EqualTo(2));
        Assert.That(e2.Unexpected, Has.Count.EqualTo(4));
    }

    [Test]
    public void StrictLoader_RejectsNaNAndInf_NamingEveryKey()
    {
        var nan = Seeded.Floats(8, 5); nan[3] = float.NaN;
        var inf = Seeded.Floats(9, 4); inf[0] = float.NegativeInfinity; inf[2] = float.NaN;
        SafeTensorsFile.Write(FileIn(), [T("has.nan", [5], nan), T("has.inf", [4], inf), T("all.finite", [2], [1f, 2f])], allowNonFinite: true);
        var e = Assert.Throws<SafeTensorsException>(() => StateDict.ReadStrict(FileIn(), [("has.nan", [5]), ("has.inf", [4]), ("all.finite", [2])]));
        Assert.That(e!.Message, Does.Contain(FileIn()).And.Contain("2 tensor(s)")
            .And.Contain("'has.nan': 1 NaN, 0 Inf of 5 values, first at index 3")
            .And.Contain("'has.inf': 1 NaN, 1 Inf of 4 values, first at index 0")
            .And.Not.Contain("all.finite"));
    }

    // ---- corrupt files ----------------------------------------------------------------------------------------

    private const string A = """ "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]} """;
    private const string B = """ "b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]} """;
    private static readonly byte[] Data12 = F32(1f, 2f, 3f);
    private static readonly string Valid = "{" + A + "," + B + "}";

    private static IEnumerable<TestCaseData> CorruptCases()
    {
        TestCaseData C(string name, byte[] bytes, string? key, string fragment) => new TestCaseData(bytes, key, fragment).SetName("Corrupt_" + name);
        byte[] H(string body, byte[]? data = null) => Build("{" + body + "}", data ?? Data12);
        int validLength = (Valid.Length + 7) / 8 * 8;

        yield return C("EmptyFile", [], null, "shorter than the 8-byte header length");
        yield return C("SevenBytes", new byte[7], null, "shorter than the 8-byte header length");
        yield return C("HeaderLengthPastEnd", Build(Valid, Data12, (ulong)validLength + 13), null, "exceeds the");
        yield return C("HeaderLengthAbsurd", Build(Valid, Data12, 200_000_000), null, "over the 100000000-byte limit");
        yield return C("HeaderLengthMaxU64", Build(Valid, Data12, ulong.MaxValue), null, "over the 100000000-byte limit");
        yield return C("HeaderLengthZero", Build(Valid, Data12, 0), null, "not valid JSON");
        yield return C("InvalidUtf8", Build([.. "{\"a"u8, 0xFF, .. "\":{}}"u8], []), null, "not valid UTF-8");
        yield return C("TruncatedJson", Build("""{"a":{"dtype":"F32" """, []), null, "not valid JSON");
        yield return C("NotJson", Build("hello world", []), null, "not valid JSON");
        yield return C("NulPadding", Build([.. Encoding.UTF8.GetBytes("{}"), 0, 0, 0, 0, 0, 0], []), null, "not valid JSON");
        yield return C("RootIsArray", Build("[1,2]", []), null, "is a JSON array, not an object");
        yield return C("TooDeep", Build("""{"__metadata__":{"x":[[[[[[[[[[1]]]]]]]]]]}}""", []), null, "not valid JSON");
        yield return C("LoneSurrogateKey", Build("""{"\ud800":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}""", []), null, "");
        yield return C("EntryNotObject", H("\"a\":5," + B), "a", "is a JSON number, not an object");
        yield return C("MetadataNotObject", H("\"__metadata__\":[1]," + A + "," + B), "__metadata__", "not an object of strings");
        yield return C("MetadataValueNotString", H("\"__metadata__\":{\"x\":1}," + A + "," + B), "__metadata__", "value of 'x' is a JSON number");
        yield return C("UnknownDtype", H(A.Replace("F32", "F12") + "," + B), "a", "unknown dtype \"F12\"");
        yield return C("LowercaseDtype", H(A.Replace("F32", "f32") + "," + B), "a", "unknown dtype \"f32\"");
        yield return C("DtypeNotString", H(A.Replace("\"F32\"", "32") + "," + B), "a", "'dtype' is a JSON number");
        yield return C("NoDtype", H(A.Replace("\"dtype\":\"F32\",", "") + "," + B), "a", "has no 'dtype'");
        yield return C("NoShape", H(A.Replace("\"shape\":[2],", "") + "," + B), "a", "has no 'shape'");
        yield return C("NoOffsets", H(A.Replace(",\"data_offsets\":[0,8]", "") + "," + B), "a", "has no 'data_offsets'");
        yield return C("DtypeTwice", H(A.Replace("\"dtype\":\"F32\",", "\"dtype\":\"F32\",\"dtype\":\"F16\",") + "," + B), "a", "'dtype' appears twice");
        yield return C("ShapeNotArray", H(A.Replace("[2]", "2") + "," + B), "a", "'shape' is a JSON number");
        yield return C("NegativeDim", H(A.Replace("[2]", "[-2]") + "," + B), "a", "not a non-negative integer");
        yield return C("FractionalDim", H(A.Replace("[2]", "[1.5]") + "," + B), "a", "not a non-negative integer");
        yield return C("DecimalDim", H(A.Replace("[2]", "[2.0]") + "," + B), "a", "not a non-negative integer");
        yield return C("StringDim", H(A.Replace("[2]", "[\"2\"]") + "," + B), "a", "not a non-negative integer");
        yield return C("DimOverIntRange", H(A.Replace("[2]", "[3000000000]") + "," + B), "a", "over the int range");
        yield return C("DimOverU64", H(A.Replace("[2]", "[18446744073709551616]") + "," + B), "a", "not a non-negative integer");
        yield return C("CountOverflow", H(A.Replace("[2]", "[2147483647,2147483647,2147483647]") + "," + B), "a", "more elements than a 64-bit count");
        yield return C("ByteOverflow", H(A.Replace("[2]", "[2147483647,2147483647,2]") + "," + B), "a", "more bytes than a 64-bit count");
        yield return C("ThreeOffsets", H(A.Replace("[0,8]", "[0,8,8]") + "," + B), "a", "not [begin, end]");
        yield return C("OffsetsNotArray", H(A.Replace("[0,8]", "\"0-8\"") + "," + B), "a", "not [begin, end]");
        yield return C("OffsetStrings", H(A.Replace("[0,8]", "[\"0\",\"8\"]") + "," + B), "a", "not two non-negative integers");
        yield return C("NegativeOffset", H(A.Replace("[0,8]", "[-8,0]") + "," + B), "a", "not two non-negative integers");
        yield return C("FractionalOffset", H(A.Replace("[0,8]", "[0,8.5]") + "," + B), "a", "not two non-negative integers");
        yield return C("BeginAfterEnd", H(A.Replace("[0,8]", "[8,0]") + "," + B), "a", "begin after they end");
        yield return C("EndPastBuffer", H(A + "," + B.Replace("[8,12]", "[8,16]").Replace("[1]", "[2]")), "b", "run past the 12-byte data buffer");
        yield return C("SizeMismatch", H(A.Replace("[2]", "[3]") + "," + B), "a", "hold 8 bytes, but F32 [3] needs 12");
        yield return C("Overlap", H(A + "," + B.Replace("[8,12]", "[4,8]"), F32(1f, 2f)), "b", "overlaps 'a'");
        yield return C("Hole", H(A + "," + B.Replace("[8,12]", "[12,16]"), F32(1f, 2f, 3f, 4f)), "b", "hole of 4 bytes after 'a'");
        yield return C("LeadingHole", H(A.Replace("[0,8]", "[4,12]") + "," + B.Replace("[8,12]", "[12,16]"), F32(1f, 2f, 3f, 4f)), "a", "hole of 4 bytes after the start of the buffer");
        yield return C("TrailingBytes", H(A + "," + B, F32(1f, 2f, 3f, 4f)), "b", "4 bytes after the last tensor's data");
        yield return C("DataWithoutTensors", Build("{}", F32(1f)), null, "4 bytes after the last tensor's data");
        yield return C("DuplicateKey", H(A + "," + B + "," + B), "b", "appears twice");
        yield return C("DuplicateMetadata", H("\"__metadata__\":{},\"__metadata__\":{}," + A + "," + B), "__metadata__", "appears twice");
        yield return C("DuplicateMetadataKey", H("\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}," + A + "," + B), "__metadata__", "'k' appears twice");
    }

    [TestCaseSource(nameof(CorruptCases))]
    public void Corrupt_File_Gives_SafeTensorsException(byte[] bytes, string? key, string fragment)
    {
        string path = FileIn("corrupt.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Read(path).Dispose());
        TestContext.Out.WriteLine(e!.Message);
        Assert.That(e.Message, Does.StartWith(path + ": "));
        Assert.That(e.Message, Does.Contain(fragment));
        Assert.That(e.Key, Is.EqualTo(key));
        if (key is not null) Assert.That(e.Message, Does.Contain($"'{key}'"));
    }

    [Test]
    public void Valid_HandBuilt_File_IsAccepted()
    {
        // The corrupt cases above are edits of this file: it must itself be fine, with zero-size tensors anywhere.
        using (var f = WriteAndOpen(Build(Valid, Data12)))
            Assert.That(f.ReadFloat32("a").Concat(f.ReadFloat32("b")), Is.EqualTo(new[] { 1f, 2f, 3f }));
        var zeros = """{"z0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"__metadata__":{},""" + A + "," + B +
                    ""","z1":{"dtype":"BF16","shape":[3,0],"data_offsets":[8,8]},"z2":{"dtype":"F16","shape":[0],"data_offsets":[12,12]},"extra":1}""";
        var bytes = Build(zeros.Replace(",\"extra\":1", "").Replace("\"z2\":{", "\"z2\":{\"future_field\":[1],"), Data12);
        using var g = WriteAndOpen(bytes, "zeros.safetensors");
        Assert.That(g.Names, Is.EqualTo(new[] { "z0", "a", "b", "z1", "z2" }));
        Assert.That(g.ReadFloat32("z1"), Is.Empty);
    }

    [Test]
    public void Open_And_Read_Errors_Are_SafeTensorsExceptions()
    {
        var missing = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Read(FileIn("nope.safetensors")));
        Assert.That(missing!.Message, Does.Contain("nope.safetensors").And.Contain("cannot open"));
        Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Read(_dir));

        using var f = WriteAndOpen(Build("""{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", new byte[8]));
        var e = Assert.Throws<SafeTensorsException>(() => f.ReadFloat32("ids"));
        Assert.That(e!.Key, Is.EqualTo("ids"));
        Assert.That(e.Message, Does.Contain("dtype I64 cannot be read as float32"));
        Assert.That(f.ReadBytes("ids"), Has.Length.EqualTo(8));
        var unknown = Assert.Throws<SafeTensorsException>(() => f.Info("other"));
        Assert.That(unknown!.Message, Does.Contain("'other': no such tensor"));
    }

    // ---- checksums ----------------------------------------------------------------------------------------------

    [Test]
    public void Checksums_AreWritten_AsHexOfTheStoredBytes_AndVerifiedOnRead()
    {
        SafeTensorsFile.Write(FileIn(), [T("w", [2, 3], Seeded.Floats(1, 6)), T("b", [3], [1f, 2f, 3f])], dtype: SafeTensorsDType.F16);
        using var f = SafeTensorsFile.Read(FileIn());
        foreach (string name in f.Names)
        {
            var info = f.Info(name);
            string digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(f.ReadBytes(name)));
            Assert.That(f.Metadata["sha256." + name], Is.EqualTo($"F16 {SafeTensorsChecksum.ShapeText(info.ShapeSpan)} {digest}"));
            Assert.That(info.HasChecksum, Is.True);
        }
    }

    /// <summary>Flips one data byte: every read path must name the tensor and the file, on one line.</summary>
    [TestCase(SafeTensorsDType.F32)]
    [TestCase(SafeTensorsDType.F16)]
    [TestCase(SafeTensorsDType.BF16)]
    public void Checksum_Mismatch_NamesTensorAndFile(SafeTensorsDType dtype)
    {
        SafeTensorsFile.Write(FileIn(), [T("a", [4], [1f, 2f, 3f, 4f]), T("b", [2], [5f, 6f])], dtype: dtype);
        var bytes = File.ReadAllBytes(FileIn());
        bytes[^1] ^= 0x01; // last byte belongs to 'b'
        File.WriteAllBytes(FileIn(), bytes);
        using var f = SafeTensorsFile.Read(FileIn());
        Assert.That(f.ReadFloat32("a"), Is.EqualTo(new[] { 1f, 2f, 3f, 4f }), "other tensors still read");
        foreach (var read in new Action[] { () => f.ReadFloat32("b"), () => f.ReadBytes("b") })
        {
            var e = Assert.Throws<SafeTensorsException>(() => read())!;
            Assert.That(e.Message, Does.StartWith(FileIn() + ": 'b': SHA-256"));
            Assert.That(e.Message, Does.Not.Contain("\n"));
        }
    }

    [Test]
    public void Checksum_HeaderEdits_AreCaught_OnOpen()
    {
        SafeTensorsFile.Write(FileIn(), [T("a", [2, 2], [1f, 2f, 3f, 4f]), T("b", [2], [5f, 6f])], dtype: SafeTensorsDType.F16);
        string text = Encoding.Latin1.GetString(File.ReadAllBytes(FileIn()));
        void Expect(string from, string to, string key, string fragment)
        {
            Assert.That(text, Does.Contain(from));
            File.WriteAllBytes(FileIn("edited.safetensors"), Encoding.Latin1.GetBytes(text.Replace(from, to)));
            var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Read(FileIn("edited.safetensors")).Dispose())!;
            Assert.That(e.Key, Is.EqualTo(key), e.Message);
            Assert.That(e.Message, Does.Contain(fragment));
        }
        // Same length, so only the checksum can tell: the relabel BF16 → F16 (plus JSON whitespace) and a reshape.
        SafeTensorsFile.Write(FileIn("bf.safetensors"), [T("a", [2, 2], [1f, 2f, 3f, 4f])], dtype: SafeTensorsDType.BF16);
        string bf = Encoding.Latin1.GetString(File.ReadAllBytes(FileIn("bf.safetensors")));
        File.WriteAllBytes(FileIn("relabel.safetensors"), Encoding.Latin1.GetBytes(bf.Replace("\"dtype\":\"BF16\"", "\"dtype\": \"F16\"")));
        var relabel = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Read(FileIn("relabel.safetensors")).Dispose())!;
        Assert.That(relabel.Message, Does.Contain("'a': is F16 [2,2] in the header, but its checksum was recorded for BF16 [2,2]"));
        Expect("\"shape\":[2,2]", "\"shape\":[4,1]", "a", "checksum was recorded for F16 [2,2]");
        Expect("\"sha256.b\"", "\"sha256.c\"", "c", "has a checksum in __metadata__ but no tensor");
        Expect("\"sha256.a\":\"F16 [2,2] ", "\"sha256.a\":\"F16 [2,2]x", "a", "is not \"DTYPE [shape]");
    }

    [Test]
    public void Files_Without_Checksums_StillLoad_And_Write_Reserves_The_Prefix()
    {
        using (var f = WriteAndOpen(Build("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", F32(7f))))
        {
            Assert.That(f.Info("x").HasChecksum, Is.False);
            Assert.That(f.ReadFloat32("x"), Is.EqualTo(new[] { 7f }));
        }
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(FileIn("r.safetensors"), [T("x", [1], [1f])],
            new Dictionary<string, string> { ["sha256.x"] = "forged" }))!;
        Assert.That(e.Message, Does.Contain("reserved checksum prefix"));
        Assert.That(File.Exists(FileIn("r.safetensors")), Is.False);
    }

    // ---- fuzzing ----------------------------------------------------------------------------------------------

    [Test]
    public void Fuzz_MutatedFiles_Give_Only_SafeTensorsException_Or_Success()
    {
        string header = """
            {"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},
            "h":{"dtype":"F16","shape":[3],"data_offsets":[24,30]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[30,32]},
            "i":{"dtype":"I64","shape":[],"data_offsets":[32,40]},"e":{"dtype":"F32","shape":[0],"data_offsets":[40,40]},
            "s":{"dtype":"F32","shape":[],"data_offsets":[40,44]}}
            """.ReplaceLineEndings("");
        var baseData = new byte[44];
        new Random(99).NextBytes(baseData);
        var rng = new Random(20240607);
        string[] numbers = ["-1", "0", "1", "2", "3", "8", "24", "30", "40", "44", "45", "2147483647", "2147483648", "4294967296",
                            "9223372036854775807", "9223372036854775808", "18446744073709551615", "1e3", "1.5", "-0", "00", "[]", "\"\"", "null"];
        byte[] interesting = "{}[]\",:-0123456789 e.\\"u8.ToArray();
        string path = FileIn("fuzz.safetensors");
        int accepted = 0, rejected = 0;
        // Timed in CPU time: wall time on a loaded test machine says nothing about this code.
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var watch = System.Diagnostics.Stopwatch.StartNew();

        for (int iter = 0; iter < 3000; iter++)
        {
            var head = Encoding.UTF8.GetBytes(header).ToList();
            var data = (byte[])baseData.Clone();
            ulong? lengthField = null;
            int truncateTo = -1, append = 0;
            var applied = new List<string>();
            int count = 1 + rng.Next(3);
            for (int m = 0; m < count; m++)
            {
                int op = rng.Next(10);
                applied.Add(op.ToString());
                switch (op)
                {
                    case 0: if (head.Count > 0) head[rng.Next(head.Count)] = (byte)rng.Next(256); break;
                    case 1: if (head.Count > 0) head[rng.Next(head.Count)] = interesting[rng.Next(interesting.Length)]; break;
                    case 2: data[rng.Next(data.Length)] = (byte)rng.Next(256); break;
                    case 3:
                        lengthField = rng.Next(5) switch
                        {
                            0 => (ulong)rng.NextInt64(),
                            1 => (ulong)Math.Max(0, (head.Count + 7) / 8 * 8 + rng.Next(-16, 17)),
                            2 => 0,
                            3 => 100_000_001,
                            _ => ulong.MaxValue - (ulong)rng.Next(8),
                        };
                        break;
                    case 4 or 5:
                    {
                        // Replace one number (offset, dim) with an awkward value.
                        string text = Encoding.Latin1.GetString(head.ToArray());
                        var matches = Regex.Matches(text, "-?[0-9]+");
                        if (matches.Count == 0) break;
                        var hit = matches[rng.Next(matches.Count)];
                        text = text[..hit.Index] + numbers[rng.Next(numbers.Length)] + text[(hit.Index + hit.Length)..];
                        head = Encoding.Latin1.GetBytes(text).ToList();
                        break;
                    }
                    case 6: truncateTo = rng.Next(8 + head.Count + data.Length + 8); break;
                    case 7: append = 1 + rng.Next(16); break;
                    case 8: if (head.Count > 2) { int at = rng.Next(head.Count - 1); head.RemoveRange(at, 1 + rng.Next(Math.Min(8, head.Count - at - 1))); } break;
                    default: if (head.Count > 2) { int at = rng.Next(head.Count - 1); head.InsertRange(at, head.GetRange(at, 1 + rng.Next(Math.Min(16, head.Count - at - 1)))); } break;
                }
            }
            var bytes = Build(head.ToArray(), data, lengthField);
            if (append > 0) { var junk = new byte[append]; rng.NextBytes(junk); bytes = [.. bytes, .. junk]; }
            if (truncateTo >= 0 && truncateTo < bytes.Length) bytes = bytes[..truncateTo];
            File.WriteAllBytes(path, bytes);

            try
            {
                using var f = SafeTensorsFile.Read(path);
                long total = 0;
                foreach (string name in f.Names)
                {
                    var info = f.Info(name);
                    Assert.That(f.ReadBytes(name), Has.Length.EqualTo(info.ByteLength));
                    if (info.DType.IsReadableAsFloat32()) Assert.That(f.ReadFloat32(name), Has.Length.EqualTo(info.ElementCount));
                    total += info.ByteLength;
                }
                long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
                Assert.That(8 + n + total, Is.EqualTo(bytes.Length), $"iteration {iter}: accepted file must be covered exactly");
                accepted++;
            }
            catch (SafeTensorsException) { rejected++; }
            catch (Exception e) when (e is not AssertionException)
            {
                Assert.Fail($"iteration {iter} (mutations {string.Join(",", applied)}) threw {e.GetType().Name}: {e.Message}\n" +
                            $"header: {Encoding.Latin1.GetString(bytes, 8, Math.Min(bytes.Length - 8, 400))}");
            }
        }
        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        TestContext.Out.WriteLine($"fuzz: {accepted} accepted, {rejected} rejected; {watch.ElapsedMilliseconds} ms wall, {cpuSeconds * 1000:F0} ms CPU");
        Assert.That(accepted, Is.GreaterThan(100), "data-only mutations must be accepted");
        Assert.That(rejected, Is.GreaterThan(1000), "most header mutations must be rejected");
        Assert.That(cpuSeconds, Is.LessThan(10), "fuzz CPU time");
    }
}
