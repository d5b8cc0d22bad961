using System.Buffers.Binary;
using System.Diagnostics;
using Boost.Train.Data;
using Boost.Train.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Tests.Train;

/// <summary>Data folders with symlink loops, shared validation folders, small images; oversize and fuzzed image files.</summary>
public class ImageHardeningTests
{
    private static Image<Rgb24> Noise(int seed, int w, int h)
    {
        var r = new Random(seed);
        var image = new Image<Rgb24>(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                image[x, y] = new Rgb24((byte)r.Next(256), (byte)r.Next(256), (byte)r.Next(256));
        return image;
    }

    private static string[] Lines(StringWriter w) => w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Test]
    public void Scan_SymlinkLoop_EndsAtOnce_FindingEachImageOnce_WithOneWarning()
    {
        string root = PipelineFixtures.TempDir("loop");
        Directory.CreateDirectory(Path.Combine(root, "a", "b"));
        using (var i = Noise(1, 20, 20)) i.SaveAsPng(Path.Combine(root, "a", "one.png"));
        using (var i = Noise(2, 20, 20)) i.SaveAsPng(Path.Combine(root, "a", "b", "two.png"));
        Directory.CreateSymbolicLink(Path.Combine(root, "a", "b", "up"), Path.Combine(root, "a"));   // loop back up
        Directory.CreateSymbolicLink(Path.Combine(root, "self"), root);                              // loop to the root
        Directory.CreateSymbolicLink(Path.Combine(root, "alias"), Path.Combine(root, "a", "b"));    // a second way in
        var warnings = new StringWriter();
        var sw = Stopwatch.StartNew();
        var files = ImageFolder.Scan(root, warnings);
        Assert.That(sw.Elapsed.TotalSeconds, Is.LessThan(5));
        Assert.That(files.Select(f => Path.GetFileName(f)).OrderBy(n => n), Is.EqualTo(new[] { "one.png", "two.png" }));
        var lines = Lines(warnings);
        Assert.That(lines, Has.Length.EqualTo(1), warnings.ToString());
        Assert.That(lines[0], Does.StartWith("warning:").And.Contain("self"));
    }

    [Test]
    public void ValidationReusingTheTrainingFolder_DecodesAndWarnsOnce()
    {
        string root = PipelineFixtures.TempDir("share");
        using (var i = Noise(3, 40, 40)) i.SaveAsPng(Path.Combine(root, "good.png"));
        File.WriteAllBytes(Path.Combine(root, "corrupt.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4, 5]);
        var warnings = new StringWriter();
        var train = ImageFolder.Load(root, warnings: warnings);
        var val = ImageFolder.LoadOrShare(root, train, warnings: warnings);
        var lines = Lines(warnings);
        Assert.That(lines, Has.Length.EqualTo(1), warnings.ToString());
        Assert.That(lines[0], Does.Contain("corrupt.png"));
        Assert.That(val.Images[0], Is.SameAs(train.Images[0]), "shared, not decoded again");
        train.Dispose();
        Assert.That(val.Images[0].Width, Is.EqualTo(40), "the shared view still reads after the first holder is disposed");
        val.Dispose();
        using var other = ImageFolder.LoadOrShare(root, ImageFolder.Load(root), ImageLoadOptions.Default with { MaxLongSide = 16 });
        Assert.That(other.Images[0].Width, Is.EqualTo(16), "other options: loaded anew");
    }

    [Test]
    public void ImagesTooSmallForTheCrop_AreNamedInOneWarning()
    {
        string root = PipelineFixtures.TempDir("small");
        using (var i = Noise(4, 64, 64)) i.SaveAsPng(Path.Combine(root, "big.png"));
        using (var i = Noise(5, 20, 30)) i.SaveAsPng(Path.Combine(root, "small1.png"));
        using (var i = Noise(6, 40, 24)) i.SaveAsPng(Path.Combine(root, "small2.png"));
        using var folder = ImageFolder.Load(root);
        using var shared = folder.Share();
        var warnings = new StringWriter();
        Assert.That(folder.AtLeast(32, warnings), Is.EqualTo(new[] { 0 }));
        Assert.That(shared.AtLeast(32, warnings), Is.EqualTo(new[] { 0 }), "same answer, no second warning");
        var lines = Lines(warnings);
        Assert.That(lines, Has.Length.EqualTo(1), warnings.ToString());
        Assert.That(lines[0], Does.Contain("small1.png (20x30)").And.Contain("small2.png (40x24)").And.Contain("32×32").And.Not.Contain("big.png"));
    }

    [Test]
    public void ChwImage_TooLarge_IsAnArgumentException_NotAnOverflow()
    {
        var e = Assert.Throws<ArgumentException>(() => _ = new ChwImage(3, 32000, 32000))!;
        Assert.That(e.Message, Does.Contain("[3, 32000, 32000]").And.Not.Contain("\n"));
    }

    [Test]
    public void Png_8000x8000_IsRefusedFromTheHeader_WithTheLimit()
    {
        string path = Path.Combine(PipelineFixtures.TempDir("huge"), "huge.png");
        File.WriteAllBytes(path, TestImageFiles.PngClaimingSize(8000, 8000));
        var options = ImageLoadOptions.Default with { MaxPixels = 2_000_000, MaxPixelsNote = "the most this model boosts ×4" };
        var e = Assert.Throws<ImageLoadException>(() => ImageLoader.LoadChw(path, options))!;
        Assert.That(e.Message, Does.Contain("8000x8000").And.Contain("limit of 2 MP").And.Contain("boosts ×4").And.Not.Contain("\n"));
    }

    // ---------------------------------------------------------------- fuzzing

    private static List<byte[]> Seeds()
    {
        var seeds = new List<byte[]>();
        var png = new SixLabors.ImageSharp.Formats.Png.PngEncoder();
        var jpeg = new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder { Quality = 80 };
        for (int k = 0; k < 2; k++)
        {
            using var image = Noise(100 + k, 24 + 8 * k, 20 + 4 * k);
            using var a = new MemoryStream(); image.SaveAsPng(a, png); seeds.Add(a.ToArray());
            using var b = new MemoryStream(); image.SaveAsJpeg(b, jpeg); seeds.Add(b.ToArray());
        }
        return seeds;
    }

    /// <summary>One mutation of <paramref name="seed"/>: flips, inserts, deletes, truncation, or a PNG IHDR claiming a huge size (CRC fixed).</summary>
    private static byte[] Mutate(byte[] seed, Random r)
    {
        var b = new List<byte>(seed);
        int kind = r.Next(6);
        int edits = 1 + r.Next(8);
        switch (kind)
        {
            case 0: for (int i = 0; i < edits; i++) { int p = r.Next(b.Count); b[p] ^= (byte)(1 << r.Next(8)); } break;
            case 1: for (int i = 0; i < edits; i++) b.Insert(r.Next(b.Count + 1), (byte)r.Next(256)); break;
            case 2: for (int i = 0; i < edits && b.Count > 1; i++) b.RemoveAt(r.Next(b.Count)); break;
            case 3: b = b.Take(r.Next(b.Count)).ToList(); break;
            case 4: for (int i = 0; i < edits; i++) b[r.Next(b.Count)] = (byte)r.Next(256); break;
            default:
                if (b.Count > 33 && b[1] == 0x50) // PNG: IHDR data at 16..28, CRC at 29..32
                {
                    var arr = b.ToArray();
                    int[] huge = [0x7FFFFFFF, 1 << 20, 65535, 100000, r.Next(1, int.MaxValue)];
                    BinaryPrimitives.WriteInt32BigEndian(arr.AsSpan(16), huge[r.Next(huge.Length)]);
                    BinaryPrimitives.WriteInt32BigEndian(arr.AsSpan(20), huge[r.Next(huge.Length)]);
                    BinaryPrimitives.WriteUInt32BigEndian(arr.AsSpan(29), TestImageFiles.Crc32(arr[12..29]));
                    return arr;
                }
                for (int i = 0; i < edits; i++) b[r.Next(b.Count)] = 0xFF;
                break;
        }
        return b.ToArray();
    }

    private static void Fuzz(int first, int count)
    {
        string dir = PipelineFixtures.TempDir("fuzz");
        var seeds = Seeds();
        // The limits the CLI applies, but a smaller pixel cap, so forged headers under it decode quickly.
        var options = ImageLoadOptions.Default with { MaxPixels = 4_000_000, MinSide = 4 };
        int loaded = 0, refused = 0;
        for (int n = first; n < first + count; n++)
        {
            var r = new Random(n);
            var bytes = Mutate(seeds[n % seeds.Count], r);
            string path = Path.Combine(dir, $"case{n}" + (seeds[n % seeds.Count][0] == 0x89 ? ".png" : ".jpg"));
            File.WriteAllBytes(path, bytes);
            try { var chw = ImageLoader.LoadChw(path, options); Assert.That(chw.Channels, Is.EqualTo(3)); loaded++; }
            catch (ImageLoadException e)
            {
                Assert.That(e.Message, Does.Not.Contain("\n").And.StartWith(Path.GetFileName(path)), $"case {n}");
                refused++;
            }
            catch (Exception e) { Assert.Fail($"case {n} (seed {n % seeds.Count}): {e.GetType().Name}: {e.Message}"); }
            File.Delete(path);
        }
        TestContext.Out.WriteLine($"fuzz {first}..{first + count - 1}: {loaded} decoded, {refused} refused");
        Assert.That(loaded + refused, Is.EqualTo(count));
        Assert.That(refused, Is.GreaterThan(0), "the mutations must break some files");
    }

    [Test]
    public void Fuzz_MutatedImages_OnlyImageLoadExceptions_CiSlice() => Fuzz(0, 2000);

    [Test, Explicit("long fuzz run (20,000 cases, minutes); run by hand after changing the loader")]
    public void Fuzz_MutatedImages_OnlyImageLoadExceptions_Long() => Fuzz(2000, 20_000);
}
