using Boost.Kernels;
using Boost.Tests.Support;
using Boost.Train.Data;
using Boost.Train.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Tests.Train;

/// <summary>
/// The image side of the data pipeline: loading (formats, limits, broken files), resampling against hand-derived
/// PyTorch values, crops, metrics, and the grid and plot PNGs. Every input file is written by the test itself.
/// </summary>
public class ImagingTests
{
    private string _dir = null!;

    [OneTimeSetUp]
    public void MakeFolder() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "boost-imaging-" + Guid.NewGuid().ToString("N")));

    [OneTimeTearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    private string TempFile(string name) => Path.Combine(_dir, name);

    /// <summary>Where the grid and plot samples stay after the run, for looking at.</summary>
    private static string SampleFile(string name)
    {
        var dir = Path.Combine(TestContext.CurrentContext.WorkDirectory, "imaging-samples");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    private static Image<Rgb24> RandomRgb(int seed, int w, int h)
    {
        var r = new Random(seed);
        var image = new Image<Rgb24>(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                image[x, y] = new Rgb24((byte)r.Next(256), (byte)r.Next(256), (byte)r.Next(256));
        return image;
    }

    private static Rgb24[] Pixels(Image<Rgb24> image)
    {
        var p = new Rgb24[image.Width * image.Height];
        image.CopyPixelDataTo(p);
        return p;
    }

    /// <summary>A smooth [C, H, W] test image in [-0.8, 0.8]: low-frequency sines, different per channel.</summary>
    private static ChwImage Smooth(int c, int h, int w, double period = 24)
    {
        var x = new ChwImage(c, h, w);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int i = 0; i < w; i++)
                    x[ch, y, i] = (float)(0.8 * Math.Sin(2 * Math.PI * (i / period + 0.7 * y / period) + ch));
        return x;
    }

    private static ChwImage Noisy(ChwImage x, int seed, double amplitude)
    {
        var r = new Random(seed);
        var y = x.Clone();
        for (int i = 0; i < y.Data.Length; i++) y.Data[i] += (float)(amplitude * (2 * r.NextDouble() - 1));
        return y;
    }

    // ---------------------------------------------------------------- loading

    [Test]
    public void Png_RoundTripsExactly_ThroughLoaderAndFloats()
    {
        using var original = RandomRgb(1, 37, 23);
        string path = TempFile("roundtrip.png");
        original.SaveAsPng(path);

        using var loaded = ImageLoader.Load(path);
        Assert.That(Pixels(loaded), Is.EqualTo(Pixels(original)), "loader");

        var chw = ImageConvert.ToChw(loaded);
        Assert.That(chw.Shape, Is.EqualTo(new[] { 3, 23, 37 }));
        Assert.That(chw.Data.Min(), Is.GreaterThanOrEqualTo(-1f));
        Assert.That(chw.Data.Max(), Is.LessThanOrEqualTo(1f));
        Assert.That(chw[1, 5, 7], Is.EqualTo(original[7, 5].G / 127.5f - 1f), "CHW layout: [channel, row, column]");

        string saved = TempFile("roundtrip-chw.png");
        ImageConvert.SavePng(chw, saved);
        using var back = ImageLoader.Load(saved);
        Assert.That(Pixels(back), Is.EqualTo(Pixels(original)), "bytes → floats → PNG → bytes");
    }

    [Test]
    public void LosslessFormats_LoadExactly()
    {
        using var original = RandomRgb(7, 21, 19);
        var files = new (string Name, Action<string> Save)[]
        {
            ("x.bmp", p => original.SaveAsBmp(p)),
            ("x.tga", p => original.Save(p, new TgaEncoder { BitsPerPixel = TgaBitsPerPixel.Pixel24 })),
            ("x.webp", p => original.Save(p, new WebpEncoder { FileFormat = WebpFileFormatType.Lossless })),
        };
        foreach (var (name, save) in files)
        {
            save(TempFile(name));
            using var loaded = ImageLoader.Load(TempFile(name));
            Assert.That(Pixels(loaded), Is.EqualTo(Pixels(original)), name);
        }
        original.SaveAsGif(TempFile("x.gif")); // palette-quantised: only the size is exact
        using var gif = ImageLoader.Load(TempFile("x.gif"));
        Assert.That((gif.Width, gif.Height), Is.EqualTo((21, 19)), "gif");
    }

    [Test]
    public void SavePng_ClampsAndRounds()
    {
        var chw = new ChwImage([-3f, 5f, 0f, float.NaN, 0.002f, -0.002f], 3, 1, 2);
        string path = TempFile("clamp.png");
        ImageConvert.SavePng(chw, path);
        using var image = Image.Load<Rgb24>(path);
        Assert.That(image[0, 0], Is.EqualTo(new Rgb24(0, 128, 128)));  // −3 → 0; 0 → 127.5 → 128; +0.002 → 127.755 → 128
        Assert.That(image[1, 0], Is.EqualTo(new Rgb24(255, 0, 127)));  // 5 → 255; NaN → 0; −0.002 → 127.245 → 127
    }

    [Test]
    public void Grayscale_Loads_AsRgb()
    {
        using var gray = new Image<L8>(20, 18);
        for (int y = 0; y < 18; y++) for (int x = 0; x < 20; x++) gray[x, y] = new L8((byte)(x * 12 + y));
        string png = TempFile("gray.png"), jpg = TempFile("gray.jpg");
        gray.Save(png, new PngEncoder { ColorType = PngColorType.Grayscale });
        gray.Save(jpg, new JpegEncoder { ColorType = JpegColorType.Luminance, Quality = 95 });

        using var fromPng = ImageLoader.Load(png);
        Assert.That(fromPng[13, 7], Is.EqualTo(new Rgb24(13 * 12 + 7, 13 * 12 + 7, 13 * 12 + 7)));
        using var fromJpg = ImageLoader.Load(jpg);
        var p = fromJpg[13, 7];
        Assert.That(p.R == p.G && p.G == p.B, $"grey JPEG pixel {p} is not grey");
        Assert.That(Math.Abs(p.R - (13 * 12 + 7)), Is.LessThan(12), "grey JPEG value");
    }

    [Test]
    public void CmykJpeg_Loads_AsRgb()
    {
        // ImageSharp 2.1 cannot write CMYK (JpegColorType.Cmyk falls back to YCbCr), so the file is built by hand.
        using (var probe = new Image<Rgb24>(8, 8))
        {
            probe.Save(TempFile("cmyk-probe.jpg"), new JpegEncoder { ColorType = JpegColorType.Cmyk });
            var probeType = Image.Identify(TempFile("cmyk-probe.jpg")).Metadata.GetJpegMetadata().ColorType;
            TestContext.Out.WriteLine($"ImageSharp's encoder asked for CMYK wrote {probeType}; using a hand-made CMYK JPEG");
        }
        // Stored (Adobe, inverted) C, M, Y, K bytes per 8×8 block; RGB = stored colour byte × stored K / 255.
        var blocks = new byte[2, 3][]
        {
            { [200, 100, 50, 255], [255, 255, 255, 128], [0, 255, 0, 255] },
            { [255, 255, 255, 255], [30, 60, 90, 255], [255, 0, 255, 102] },
        };
        string path = TempFile("cmyk.jpg");
        File.WriteAllBytes(path, TestImageFiles.CmykJpeg(blocks));
        var info = Image.Identify(path);
        Assert.That(info.Metadata.GetJpegMetadata().ColorType, Is.EqualTo(JpegColorType.Cmyk), "the hand-made file must read as CMYK");

        using var image = ImageLoader.Load(path, ImageLoadOptions.Default with { MinSide = 8 });
        Assert.That((image.Width, image.Height), Is.EqualTo((24, 16)));
        for (int by = 0; by < 2; by++)
            for (int bx = 0; bx < 3; bx++)
            {
                var s = blocks[by, bx];
                var want = new[] { s[0] * s[3] / 255.0, s[1] * s[3] / 255.0, s[2] * s[3] / 255.0 };
                var got = image[bx * 8 + 3, by * 8 + 4];
                Assert.That(new[] { (double)got.R, got.G, got.B }, Is.EqualTo(want).Within(2.0), $"block ({by}, {bx})");
            }
    }

    [Test]
    public void Png16Bit_Loads_AsRgb()
    {
        using var deep = new Image<Rgb48>(17, 16);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 17; x++) deep[x, y] = new Rgb48((ushort)(x * 15 * 257), (ushort)(y * 16 * 257), 65535);
        string path = TempFile("deep.png");
        deep.Save(path, new PngEncoder { BitDepth = PngBitDepth.Bit16, ColorType = PngColorType.Rgb });
        Assert.That(Image.Identify(path).PixelType.BitsPerPixel, Is.EqualTo(48), "the file must really be 16-bit");

        using var image = ImageLoader.Load(path);
        Assert.That(image[11, 9], Is.EqualTo(new Rgb24(11 * 15, 9 * 16, 255)));
    }

    [Test]
    public void RgbaPng_Loads_AsRgb_CompositedOverWhite()
    {
        using var rgba = new Image<Rgba32>(16, 16);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 16; x++) rgba[x, y] = new Rgba32(200, 40, 0, (byte)(x < 5 ? 255 : x < 10 ? 0 : 128));
        string path = TempFile("alpha.png");
        rgba.Save(path, new PngEncoder { ColorType = PngColorType.RgbWithAlpha });

        using var image = ImageLoader.Load(path);
        Assert.That(image[2, 3], Is.EqualTo(new Rgb24(200, 40, 0)), "opaque");
        Assert.That(image[7, 3], Is.EqualTo(new Rgb24(255, 255, 255)), "transparent → background");
        var half = image[12, 3];
        Assert.That(new[] { (int)half.R, half.G, half.B }, Is.EqualTo(new[] { 228, 148, 127 }).Within(1), "half transparent → mix");
    }

    [Test]
    public void ExifOrientation_IsApplied()
    {
        // Stored 40 wide × 24 high, red block at the stored top-left; orientation 6 = display rotated 90° clockwise.
        using var stored = new Image<Rgb24>(40, 24, new Rgb24(0, 0, 255));
        for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) stored[x, y] = new Rgb24(255, 0, 0);
        stored.Metadata.ExifProfile = new ExifProfile();
        stored.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        string path = TempFile("rotated.jpg");
        stored.Save(path, new JpegEncoder { Quality = 95 });

        using var image = ImageLoader.Load(path);
        Assert.That((image.Width, image.Height), Is.EqualTo((24, 40)), "upright size");
        Assert.That(image[20, 3].R, Is.GreaterThan(200), "stored top-left is displayed top-right");
        Assert.That(image[3, 3].R, Is.LessThan(60), "displayed top-left is blue");
    }

    [Test]
    public void BrokenFiles_ThrowImageLoadException_NamingTheFile()
    {
        string truncated = WriteTruncatedJpeg(TempFile("cut.jpg"));
        string random = TempFile("noise.png");
        var bytes = new byte[3000];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(random, bytes);
        string empty = TempFile("empty.jpg");
        File.WriteAllBytes(empty, []);

        foreach (var path in new[] { truncated, random, empty, TempFile("missing.png") })
        {
            var e = Assert.Throws<ImageLoadException>(() => ImageLoader.Load(path).Dispose())!;
            Assert.That(e.Message, Does.Contain(Path.GetFileName(path)));
            Assert.That(e.FilePath, Is.EqualTo(path));
        }

        // A PNG cut after a whole chunk (the decoder alone may not notice).
        using (var image = RandomRgb(3, 40, 30)) image.SaveAsPng(TempFile("whole.png"));
        var png = File.ReadAllBytes(TempFile("whole.png"));
        File.WriteAllBytes(TempFile("no-iend.png"), png[..^12]);
        Assert.That(Assert.Throws<ImageLoadException>(() => ImageLoader.Load(TempFile("no-iend.png")).Dispose())!.Message, Does.Contain("truncated"));
    }

    /// <summary>A 96×96 JPEG cut at 60%: inside its scan data, where ImageSharp would decode it silently.</summary>
    private static string WriteTruncatedJpeg(string path)
    {
        using var image = RandomRgb(2, 96, 96);
        using var ms = new MemoryStream();
        image.SaveAsJpeg(ms);
        var whole = ms.ToArray();
        File.WriteAllBytes(path, whole[..(whole.Length * 6 / 10)]);
        return path;
    }

    [Test]
    public void HugeHeader_IsRefused_BeforeDecoding()
    {
        string path = TempFile("huge.png");
        File.WriteAllBytes(path, TestImageFiles.PngClaimingSize(50000, 50000));
        Assert.That(Image.Identify(path).Width, Is.EqualTo(50000), "the crafted header must parse");

        long before = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<ImageLoadException>(() => ImageLoader.Load(path).Dispose())!;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.That(e.Message, Does.Contain("50000x50000").And.Contain("exceeds"));
        Assert.That(allocated, Is.LessThan(50L << 20), "bytes allocated while refusing");
    }

    [Test]
    public void SmallImage_IsRefused()
    {
        using (var tiny = RandomRgb(4, 12, 40)) tiny.SaveAsPng(TempFile("tiny.png"));
        Assert.That(Assert.Throws<ImageLoadException>(() => ImageLoader.Load(TempFile("tiny.png")).Dispose())!.Message, Does.Contain("minimum"));
        using var ok = ImageLoader.Load(TempFile("tiny.png"), ImageLoadOptions.Default with { MinSide = 12 });
        Assert.That(ok.Width, Is.EqualTo(12));
    }

    [Test]
    public void ImageFolder_SkipsBadFiles_WithOneWarningEach_InSortedOrder()
    {
        string root = Path.Combine(_dir, "folder");
        Directory.CreateDirectory(Path.Combine(root, "sub"));
        using (var a = RandomRgb(10, 300, 200)) a.SaveAsPng(Path.Combine(root, "b.png"));
        using (var b = RandomRgb(11, 32, 48)) b.SaveAsJpeg(Path.Combine(root, "sub", "a.JPG"));
        using (var c = RandomRgb(12, 20, 20)) c.SaveAsBmp(Path.Combine(root, "a.bmp"));
        using (var d = RandomRgb(13, 24, 20)) d.SaveAsGif(Path.Combine(root, "c.gif"));
        WriteTruncatedJpeg(Path.Combine(root, "cut.jpg"));
        var noise = new byte[2000];
        new Random(6).NextBytes(noise);
        File.WriteAllBytes(Path.Combine(root, "sub", "noise.webp"), noise);
        File.WriteAllText(Path.Combine(root, "notes.txt"), "not an image");

        var warnings = new StringWriter();
        using var folder = ImageFolder.Load(root, ImageLoadOptions.Default with { MaxLongSide = 100 }, warnings);

        var lines = warnings.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(2), warnings.ToString());
        Assert.That(lines[0], Does.Contain("cut.jpg").And.StartWith("warning:"));
        Assert.That(lines[1], Does.Contain("noise.webp"));
        Assert.That(folder.Skipped.Select(s => Path.GetFileName(s.Path)), Is.EqualTo(new[] { "cut.jpg", "noise.webp" }));

        Assert.That(folder.Paths.Select(p => Path.GetRelativePath(root, p)),
                    Is.EqualTo(new[] { "a.bmp", "b.png", "c.gif", Path.Combine("sub", "a.JPG") }), "ordinal path order");
        Assert.That((folder.Images[1].Width, folder.Images[1].Height), Is.EqualTo((100, 67)), "long side limited to 100");
        Assert.That((folder.Images[3].Width, folder.Images[3].Height), Is.EqualTo((32, 48)), "small images kept as they are");

        var crop1 = folder.RandomCrop(1, 16, new Random(42));
        var crop2 = folder.RandomCrop(1, 16, new Random(42));
        Assert.That(crop1.Data, Is.EqualTo(crop2.Data), "seeded crops repeat");
    }

    [Test]
    public void ImageFolder_LoadsTheBundledPhotos()
    {
        string? root = FindRepoFolder(Path.Combine("data", "photos"));
        if (root is null) Assert.Ignore("data/photos not found above the test directory");
        var warnings = new StringWriter();
        using var folder = ImageFolder.Load(root!, warnings: warnings);
        Assert.That(warnings.ToString(), Is.Empty);
        Assert.That(folder.Count, Is.EqualTo(ImageFolder.Scan(root!).Length).And.GreaterThan(30));
        Assert.That(folder.Images.Max(i => Math.Max(i.Width, i.Height)), Is.LessThanOrEqualTo(ImageFolder.DefaultMaxLongSide));
    }

    /// <summary>The split never moves: the photos added after the first 41 (all 768 px on the long side; the first 41
    /// are 1024) are in val exactly when the first byte of SHA-256 of their file name is below 32, and no name is in
    /// both splits.</summary>
    [Test]
    public void BundledPhotos_SplitByNameHash_AndNeverLeak()
    {
        string? root = FindRepoFolder(Path.Combine("data", "photos"));
        if (root is null) Assert.Ignore("data/photos not found above the test directory");
        var train = Directory.GetFiles(Path.Combine(root!, "train"), "*.jpg").Select(Path.GetFileName).ToHashSet();
        var val = Directory.GetFiles(Path.Combine(root!, "val"), "*.jpg").Select(Path.GetFileName).ToHashSet();
        Assert.That(train.Intersect(val), Is.Empty, "a photo in both splits");
        Assert.That(train.Count + val.Count, Is.GreaterThanOrEqualTo(100));
        int added = 0;
        foreach (var (name, isVal) in train.Select(n => (n!, false)).Concat(val.Select(n => (n!, true))))
        {
            var info = SixLabors.ImageSharp.Image.Identify(Path.Combine(root!, isVal ? "val" : "train", name));
            if (Math.Max(info.Width, info.Height) > 768) continue; // one of the first 41, split by hand
            added++;
            bool hashVal = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name))[0] < 32;
            Assert.That(isVal, Is.EqualTo(hashVal), $"{name} is in the wrong split for its name's hash");
        }
        Assert.That(added, Is.GreaterThanOrEqualTo(60));
    }

    private static string? FindRepoFolder(string relative)
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, relative)) && File.Exists(Path.Combine(d.FullName, "Boost.sln")))
                return Path.Combine(d.FullName, relative);
        return null;
    }

    // ---------------------------------------------------------------- resampling

    [Test]
    public void Downscale_OfConstant_IsThatConstant([Values] DownscaleFilter filter)
    {
        var x = new ChwImage(3, 20, 28);
        Array.Fill(x.Data, 0.37f);
        var y = Resample.Downscale(x, 4, filter);
        Assert.That(y.Shape, Is.EqualTo(new[] { 3, 5, 7 }));
        Compare.Close(y.Data, Enumerable.Repeat(0.37, y.Data.Length).ToArray(), rtol: 1e-6, atol: 1e-6, what: $"{filter} downscale");
        foreach (var up in new[] { Resample.UpscaleBicubic(y, 4), Resample.UpscaleBilinear(y, 4), Resample.Nearest(y, 20, 28) })
            Compare.Close(up.Data, Enumerable.Repeat(0.37, up.Data.Length).ToArray(), rtol: 1e-6, atol: 1e-6, what: "upscale of a constant");
    }

    [Test]
    public void Downscale_AveragesBlocks_AndRemovesTheNyquistPattern()
    {
        var x = new ChwImage(1, 8, 12);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = (float)Math.Sin(i * 0.7) * 0.9f;
        var area = Resample.Downscale(x, 2, DownscaleFilter.Area);
        Assert.That(area[0, 1, 2], Is.EqualTo((x[0, 2, 4] + x[0, 2, 5] + x[0, 3, 4] + x[0, 3, 5]) / 4).Within(1e-6));

        // A ±0.8 checkerboard has nothing below Nyquist: the antialiased bicubic removes it (symmetric taps of
        // alternating sign cancel); point sampling would keep it at full strength.
        var checker = new ChwImage(1, 24, 24);
        for (int y = 0; y < 24; y++) for (int i = 0; i < 24; i++) checker[0, y, i] = (y + i) % 2 == 0 ? 0.8f : -0.8f;
        var small = Resample.Downscale(checker, 2);
        for (int y = 2; y < 10; y++) for (int i = 2; i < 10; i++) Assert.That(Math.Abs(small[0, y, i]), Is.LessThan(1e-5), $"({y}, {i})");
    }

    /// <summary>
    /// Reference values from Pillow 9.4 (Debian's python3-pil): a mode "F" (float) 16×12 image with pixel
    /// ((7x + 13y) mod 17)/16 − ½, <c>im.resize((w, h), Image.BICUBIC)</c>, printed to 7 decimals.
    /// </summary>
    [Test]
    public void Downscale_MatchesPillowBicubic()
    {
        var x = new ChwImage(1, 12, 16);
        for (int y = 0; y < 12; y++) for (int i = 0; i < 16; i++) x[0, y, i] = ((i * 7 + y * 13) % 17) / 16f - 0.5f;
        double[] by4 = [0.0040774, -0.0158456, -0.0126072, 0.0261117, -0.0167206, 0.0009264, 0.009734, -0.0091567, 0.0203259, 0.0150517, -0.0048886, -0.0155558];
        double[] by2 =
        [
            -0.0490789, -0.0456051, -0.0730522, 0.0137556, -0.017714, 0.0327649, 0.073244, 0.0971633,
            0.0849704, 0.0195948, 0.0472351, -0.0620325, -0.0553775, -0.0475527, -0.0058195, 0.0003746,
            -0.0554659, 0.0007239, 0.0359564, 0.0817375, 0.0209379, 0.045886, -0.0601519, -0.0729858,
            -0.0586867, -0.0196095, -0.0817375, -0.0359564, 0.0, 0.0359564, 0.0818767, 0.0098749,
            0.0253479, 0.0566368, 0.0620325, -0.0472351, -0.0194115, -0.0804288, -0.033781, -0.0168515,
            0.0140075, 0.0132924, -0.0137556, 0.0730522, 0.0453856, 0.0592577, -0.0429708, -0.0075673,
        ];
        Compare.Close(Resample.Downscale(x, 4).Data, by4, rtol: 0, atol: 2e-6, what: "÷4 vs Pillow");
        Compare.Close(Resample.Downscale(x, 2).Data, by2, rtol: 0, atol: 2e-6, what: "÷2 vs Pillow");
    }

    [Test]
    public void DownscaleThenBicubic_OfSmoothImage_IsClose()
    {
        var x = Smooth(3, 64, 96, period: 40);
        var lr = Resample.Downscale(x, 4);
        var up = Resample.UpscaleBicubic(lr, 4);
        Assert.That(up.Shape, Is.EqualTo(x.Shape));
        double maxInterior = 0, sumSq = 0;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 64; y++)
                for (int i = 0; i < 96; i++)
                {
                    double d = up[c, y, i] - x[c, y, i];
                    sumSq += d * d;
                    if (y >= 8 && y < 56 && i >= 8 && i < 88) maxInterior = Math.Max(maxInterior, Math.Abs(d));
                }
        double rms = Math.Sqrt(sumSq / x.Data.Length);
        Assert.That(maxInterior, Is.LessThan(0.06), "interior max error");
        Assert.That(rms, Is.LessThan(0.04), "RMS error");
    }

    /// <summary>
    /// PyTorch <c>interpolate([[1, 2], [3, 4]], scale_factor=2, mode="bicubic", align_corners=False)</c> by hand.
    /// Output o samples source s = (o + ½)/2 − ½ = −0.25, 0.25, 0.75, 1.25; with i = ⌊s⌋ and t = s − i the taps
    /// i−1…i+2 (clamped to 0…1) get W(t+1), W(t), W(1−t), W(2−t), where for a = −0.75
    /// W(x) = (a+2)|x|³ − (a+3)|x|² + 1 on [0, 1] and a|x|³ − 5a|x|² + 8a|x| − 4a on [1, 2]:
    /// W(0.25) = 0.87890625, W(0.75) = 0.26171875, W(1.25) = −0.10546875, W(1.75) = −0.03515625.
    /// Folding clamped taps gives each output as a mix of the two inputs (rows of M below); in 2-D, out = M·X·Mᵀ.
    /// </summary>
    [Test]
    public void Bicubic_2x2To4x4_MatchesPyTorchByHand()
    {
        const double w025 = 0.87890625, w075 = 0.26171875, w125 = -0.10546875, w175 = -0.03515625;
        Assert.That(Resample.Cubic(0.25, -0.75), Is.EqualTo(w025).Within(1e-15));
        Assert.That(Resample.Cubic(0.75, -0.75), Is.EqualTo(w075).Within(1e-15));
        Assert.That(Resample.Cubic(1.25, -0.75), Is.EqualTo(w125).Within(1e-15));
        Assert.That(Resample.Cubic(1.75, -0.75), Is.EqualTo(w175).Within(1e-15));
        double[,] m =
        {
            { w175 + w075 + w025, w125 },  // s = −0.25: i = −1, taps −2, −1, 0, 1 → 0, 0, 0, 1
            { w125 + w025, w075 + w175 },  // s = 0.25: taps −1, 0, 1, 2 → 0, 0, 1, 1
            { w175 + w075, w025 + w125 },  // s = 0.75: same taps, t = 0.75
            { w125, w025 + w075 + w175 },  // s = 1.25: i = 1, taps 0, 1, 2, 3 → 0, 1, 1, 1
        };
        double[,] input = { { 1, 2 }, { 3, 4 } };
        var want = new double[16];
        for (int oy = 0; oy < 4; oy++)
            for (int ox = 0; ox < 4; ox++)
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++)
                        want[oy * 4 + ox] += m[oy, i] * input[i, j] * m[ox, j];
        Assert.That(want[0], Is.EqualTo(0.68359375).Within(1e-12), "PyTorch's known top-left value");
        Assert.That(want[15], Is.EqualTo(4.31640625).Within(1e-12), "PyTorch's known bottom-right value");

        var x = new ChwImage([1f, 2f, 3f, 4f], 1, 2, 2);
        Compare.Close(Resample.UpscaleBicubic(x, 2).Data, want, rtol: 1e-6, atol: 1e-6, what: "bicubic 2x2→4x4");
    }

    /// <summary>PyTorch bilinear, align_corners=False: s = (o + ½)/2 − ½ clamped at 0, so per axis 1, 1.25, 1.75, 2 for inputs 1, 2.</summary>
    [Test]
    public void Bilinear_2x2To4x4_MatchesPyTorchByHand()
    {
        var x = new ChwImage([1f, 2f, 3f, 4f], 1, 2, 2);
        double[] row = [0, 0.25, 0.75, 1]; // fraction of the second input per output
        var want = new double[16];
        for (int oy = 0; oy < 4; oy++)
            for (int ox = 0; ox < 4; ox++)
                want[oy * 4 + ox] = 1 + row[ox] * 1 + row[oy] * 2;
        Compare.Close(Resample.UpscaleBilinear(x, 2).Data, want, rtol: 1e-6, atol: 1e-6, what: "bilinear 2x2→4x4");
    }

    /// <summary>Back-projection shrinks the LR inconsistency ‖↓x − lr‖ with each iteration, keeps the detail above
    /// the LR band (the HR residual from ↓ is the input's where it started consistent), and rejects non-multiples.</summary>
    [Test]
    public void BackProject_ConvergesToTheLrImage_AndKeepsHighFrequencies()
    {
        var truth = new ChwImage(Support.Seeded.Floats(41, 3 * 36 * 44, -0.9f, 0.9f), 3, 36, 44);
        var lr = Resample.ResizeAntialiased(truth, 9, 11);
        var guess = truth.Clone();
        for (int i = 0; i < guess.Data.Length; i++) guess.Data[i] = 0.7f * guess.Data[i] - 0.15f; // wrong contrast and brightness
        double Inconsistency(ChwImage x)
        {
            var d = Resample.ResizeAntialiased(x, 9, 11);
            return Math.Sqrt(d.Data.Zip(lr.Data, (a, b) => (double)(a - b) * (a - b)).Average());
        }
        double e0 = Inconsistency(guess), e1 = Inconsistency(Resample.BackProject(guess, lr, 1)), e5 = Inconsistency(Resample.BackProject(guess, lr, 5));
        Assert.That(e1, Is.LessThan(0.5 * e0), $"{e0} → {e1}");
        Assert.That(e5, Is.LessThan(0.5 * e1), $"{e1} → {e5}");
        Assert.That(Resample.BackProject(guess, lr, 0).Data, Is.EqualTo(guess.Data), "0 iterations: the input (already in range)");
        // A consistent input stays itself (up to the clamp, which the truth's range avoids).
        Compare.Close(Resample.BackProject(truth, lr, 3).Data, truth.Data.Select(v => (double)v).ToArray(), rtol: 0, atol: 1e-4, what: "consistent input");
        Assert.Throws<ArgumentException>(() => Resample.BackProject(truth, Resample.ResizeAntialiased(truth, 10, 11), 1));
        Assert.Throws<ArgumentException>(() => Resample.BackProject(truth, lr, -1));
    }

    [Test]
    public void Resample_RejectsBadShapes()
    {
        var x = Smooth(3, 10, 12);
        Assert.That(Assert.Throws<ArgumentException>(() => Resample.Downscale(x, 4))!.Message, Does.Contain("divisible"));
        Assert.Throws<ArgumentException>(() => Resample.Bicubic(x, 0, 4));
        Assert.Throws<ArgumentException>(() => Augment.Crop(x, 5, 0, 6, 4));
        Assert.Throws<ArgumentException>(() => Augment.RandomCrop(x, 11, new Random(1)));
        Assert.Throws<ArgumentException>(() => new ChwImage(new float[5], 1, 2, 3));
    }

    [Test]
    public void Crops_AndFlip()
    {
        var x = new ChwImage(2, 6, 9);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = i / 100f - 0.5f;

        var crop = Augment.Crop(x, 2, 3, 3, 4);
        Assert.That(crop[1, 1, 2], Is.EqualTo(x[1, 3, 5]));
        var center = Augment.CenterCrop(x, 4);
        Assert.That(center[0, 0, 0], Is.EqualTo(x[0, 1, 2]), "centre offsets (6−4)/2, (9−4)/2");

        var a = Augment.RandomCrop(x, 4, new Random(9));
        var b = Augment.RandomCrop(x, 4, new Random(9));
        Assert.That(a.Data, Is.EqualTo(b.Data), "same seed, same crop");
        var offsets = new HashSet<float>();
        var r = new Random(3);
        for (int k = 0; k < 60; k++) offsets.Add(Augment.RandomCrop(x, 4, r)[0, 0, 0]);
        Assert.That(offsets, Has.Count.GreaterThan(10), "crops move around");
        Assert.That(offsets, Has.Member(x[0, 2, 5]), "the last valid offset is reachable");

        var flipped = Augment.FlipHorizontal(x);
        Assert.That(flipped[1, 4, 0], Is.EqualTo(x[1, 4, 8]));
        Assert.That(Augment.FlipHorizontal(flipped).Data, Is.EqualTo(x.Data));
    }

    [Test]
    public void ChwImage_Tensor_RoundTrip()
    {
        var images = new[] { Smooth(3, 5, 7), Noisy(Smooth(3, 5, 7), 1, 0.3) };
        using var t = ChwImage.Stack(Device.Cpu, images);
        Assert.That(t.Shape, Is.EqualTo(new[] { 2, 3, 5, 7 }));
        Assert.That(ChwImage.FromTensor(t, 1).Data, Is.EqualTo(images[1].Data));
        using var one = images[0].ToTensor(Device.Cpu);
        Assert.That(ChwImage.FromTensor(one).Data, Is.EqualTo(images[0].Data));
        Assert.Throws<ArgumentException>(() => ChwImage.Stack(Device.Cpu, [images[0], Smooth(3, 5, 6)]));
    }

    // ---------------------------------------------------------------- metrics

    [Test]
    public void Psnr_IdenticalIsInfinite_NoiseMatchesFormula()
    {
        var truth = Smooth(3, 32, 40);
        Assert.That(Metrics.Psnr(truth, truth.Clone()), Is.EqualTo(double.PositiveInfinity));

        var noisy = Noisy(truth, 3, 0.1); // stays inside [-1, 1]: no clamping
        double sum = 0;
        for (int i = 0; i < truth.Data.Length; i++)
        {
            double d = (noisy.Data[i] - truth.Data[i]) / 2.0; // differences on the [0, 1] scale
            sum += d * d;
        }
        double want = 10 * Math.Log10(1 / (sum / truth.Data.Length));
        Assert.That(Metrics.Psnr(noisy, truth), Is.EqualTo(want).Within(1e-4));
        Assert.That(want, Is.InRange(30, 40), "uniform ±0.1 noise: MSE = 0.05²/3 on [0, 1], about 30.8 dB");
        Assert.Throws<ArgumentException>(() => Metrics.Psnr(truth, Smooth(3, 32, 41)));
    }

    [Test]
    public void Ssim_IsOneForIdentical_AndFallsWithNoise([Values] bool perChannel)
    {
        var truth = Smooth(3, 40, 48, period: 12);
        Assert.That(Metrics.Ssim(truth, truth.Clone(), perChannel), Is.EqualTo(1).Within(1e-9));
        double light = Metrics.Ssim(Noisy(truth, 4, 0.05), truth, perChannel);
        double heavy = Metrics.Ssim(Noisy(truth, 4, 0.6), truth, perChannel);
        Assert.That(light, Is.LessThan(0.999).And.GreaterThan(heavy + 0.05), $"light {light}, heavy {heavy}");
        // Independent noise on a high-contrast signal: SSIM ≈ (2σx² + C2)/(2σx² + σn² + C2) per window, so even
        // ±0.3 noise (on [0, 1]) against sines of amplitude 0.4 stays well above zero.
        Assert.That(heavy, Is.GreaterThan(0.3).And.LessThan(0.9));
        Assert.Throws<ArgumentException>(() => Metrics.Ssim(Smooth(3, 10, 20), Smooth(3, 10, 20)), "smaller than the window");
    }

    [Test]
    public void Ssim_OfAConstantShift_MatchesTheLuminanceTerm()
    {
        // Same structure, means differing by δ: contrast-structure term is 1, so SSIM = (2μxμy + C1)/(μx² + μy² + C1)
        // with μ per window; on a constant image the windows all agree: μx = 0.5, μy = 0.5 + δ.
        var x = new ChwImage(1, 16, 16);
        var y = new ChwImage(1, 16, 16);
        Array.Fill(x.Data, 0f);       // 0.5 on [0, 1]
        Array.Fill(y.Data, 0.2f);     // 0.6 on [0, 1]
        double c1 = 0.01 * 0.01, want = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1);
        Assert.That(Metrics.Ssim(y, x), Is.EqualTo(want).Within(1e-9));
    }

    [Test]
    public void HighFrequencyRatio_IsOneForSame_BelowOneForBlurred()
    {
        var truth = Noisy(Smooth(3, 48, 48, period: 10), 7, 0.2);
        Assert.That(Metrics.HighFrequencyRatio(truth, truth.Clone()), Is.EqualTo(1).Within(1e-12));
        double blurred = Metrics.HighFrequencyRatio(Resample.GaussianBlur(truth, 1.0), truth);
        double bicubic = Metrics.HighFrequencyRatio(Resample.UpscaleBicubic(Resample.Downscale(truth, 4), 4), truth);
        Assert.That(blurred, Is.LessThan(0.5), "Gaussian σ 1");
        Assert.That(bicubic, Is.LessThan(0.5), "4× down and bicubic up");
        Assert.That(Metrics.HighFrequencyRatio(Noisy(truth, 8, 0.3), truth), Is.GreaterThan(1), "added noise is extra high frequency");
    }

    // ---------------------------------------------------------------- grid and plot

    [Test]
    public void Grid_IsWritten_WithTheExpectedLayout()
    {
        var rows = new List<IReadOnlyList<ChwImage?>>();
        foreach (var truth in SampleTruths())
        {
            var lr = Resample.Downscale(truth, 4);
            var bicubic = Resample.UpscaleBicubic(lr, 4);
            var sharpened = bicubic.Clone(); // a stand-in for the model: unsharp-masked bicubic
            var blur = Resample.GaussianBlur(bicubic, 1.5);
            for (int i = 0; i < sharpened.Data.Length; i++) sharpened.Data[i] += 1.5f * (bicubic.Data[i] - blur.Data[i]);
            rows.Add([lr, bicubic, sharpened, truth]);
        }
        string[] titles = ["LR", "bicubic", "CFM", "ground truth"];
        const int gap = 4, cell = 128;
        string path = SampleFile("grid.png");
        GridImage.Save(path, rows, titles, gap);

        using var image = Image.Load<Rgb24>(path);
        int titleBand = BitmapFont.MeasureHeight(1) + gap + 2;
        Assert.That(image.Width, Is.EqualTo(4 * cell + 5 * gap));
        Assert.That(image.Height, Is.EqualTo(titleBand + rows.Count * cell + (rows.Count + 1) * gap));
        var pixels = Pixels(image);
        Assert.That(pixels.Distinct().Count(), Is.GreaterThan(200), "not blank");

        // Title band: dark text pixels above each column.
        for (int c = 0; c < 4; c++)
        {
            int dark = 0;
            for (int y = 0; y < titleBand; y++) for (int x = gap + c * (cell + gap); x < (c + 1) * (cell + gap); x++) if (image[x, y].R < 100) dark++;
            Assert.That(dark, Is.GreaterThan(10), $"title of column {c}");
        }
        // The LR cell is nearest-enlarged: each 4×4 block is one colour, and equals the LR pixel.
        int top = titleBand + gap;
        var lr0 = rows[0][0]!;
        for (int by = 0; by < 32; by += 5)
            for (int bx = 0; bx < 32; bx += 7)
            {
                var want = image[gap + bx * 4, top + by * 4];
                Assert.That(image[gap + bx * 4 + 3, top + by * 4 + 3], Is.EqualTo(want));
                Assert.That(want.G, Is.EqualTo(ImageConvert.ToByte(lr0[1, by, bx])));
            }
        Assert.That(image[gap + cell + gap / 2, top + 10], Is.EqualTo(GridImage.Background), "gap between cells");
    }

    /// <summary>Two 128×128 ground truths: centre crops of a bundled photo when present, and a synthetic pattern.</summary>
    private static IEnumerable<ChwImage> SampleTruths()
    {
        string? photos = FindRepoFolder(Path.Combine("data", "photos", "val"));
        var photo = photos is null ? null : ImageFolder.Scan(photos).FirstOrDefault();
        if (photo is not null)
            yield return Augment.CenterCrop(ImageLoader.LoadChw(photo, ImageLoadOptions.Default with { MaxLongSide = 384 }), 128);
        var x = new ChwImage(3, 128, 128);
        for (int y = 0; y < 128; y++)
            for (int i = 0; i < 128; i++)
            {
                double rr = Math.Sqrt((y - 64) * (y - 64) + (i - 64) * (i - 64));
                x[0, y, i] = (float)Math.Cos(rr * rr / 90);       // zone plate: frequency grows outwards
                x[1, y, i] = (i / 16 + y / 16) % 2 == 0 ? 0.6f : -0.6f;
                x[2, y, i] = (float)(i / 64.0 - 1);
            }
        yield return x;
    }

    [Test]
    public void Plot_IsWritten_WithSeriesAndLegend()
    {
        var steps = Enumerable.Range(0, 400).Select(i => (double)i * 25).ToArray();
        var r = new Random(11);
        var train = steps.Select(s => 0.8 * Math.Exp(-s / 2500) + 0.02 + 0.01 * r.NextDouble()).ToArray();
        var val = steps.Select(s => 0.9 * Math.Exp(-s / 3000) + 0.03).ToArray();
        train[100] = double.NaN; // a gap, not a crash
        var plot = new LinePlot { Title = "Flow matching loss", XLabel = "step", YLabel = "loss (MSE)", LogY = true }
            .Add("train", steps, train)
            .Add("val", steps, val);
        string path = SampleFile("plot.png");
        plot.Save(path);

        using var image = Image.Load<Rgb24>(path);
        Assert.That((image.Width, image.Height), Is.EqualTo((800, 500)));
        var pixels = Pixels(image);
        int Near(Rgb24 c) => pixels.Count(p => Math.Abs(p.R - c.R) + Math.Abs(p.G - c.G) + Math.Abs(p.B - c.B) < 30);
        Assert.That(Near(LinePlot.Palette[0]), Is.GreaterThan(300), "train line");
        Assert.That(Near(LinePlot.Palette[1]), Is.GreaterThan(300), "val line");
        Assert.That(pixels.Count(p => p.R < 40 && p.G < 40 && p.B < 40), Is.GreaterThan(200), "text");
        Assert.That(pixels.Count(p => p.R == 255 && p.G == 255 && p.B == 255), Is.GreaterThan(pixels.Length / 2), "mostly background");

        var linear = new LinePlot { Width = 400, Height = 260, Title = "PSNR", XLabel = "epoch" }
            .Add("CFM", [3, -1, 4, 1, -5, 9]).Add("bicubic", [0.5, 0.25, 0.5, 0.75, 0.5, 0.25]).Render();
        linear.SavePng(SampleFile("plot-linear.png"));
        Assert.That((linear.Width, linear.Height), Is.EqualTo((400, 260)));
    }

    [Test]
    public void Ticks_AreNice()
    {
        var (lo, hi, ticks) = LinePlot.LinearTicks([0.13, 9.7], 6);
        Assert.That((lo, hi), Is.EqualTo((0.0, 10.0)));
        Assert.That(ticks, Is.EqualTo(new[] { 0.0, 2, 4, 6, 8, 10 }).Within(1e-12));
        // Log axis: 0.004 … 0.9 padded by 4% of its 2.35 decades (≈ 0.0032 … 1.12): the decades 0.01, 0.1, 1.
        var (llo, lhi, logTicks) = LinePlot.LogTicks([Math.Log10(0.004), Math.Log10(0.9)]);
        Assert.That(llo, Is.LessThan(Math.Log10(0.004)).And.GreaterThan(Math.Log10(0.003)));
        Assert.That(lhi, Is.GreaterThan(0).And.LessThan(Math.Log10(1.2)));
        Assert.That(logTicks.Select(t => Math.Round(Math.Pow(10, t), 6)), Is.EqualTo(new[] { 0.01, 0.1, 1 }));
        var (_, _, shortRange) = LinePlot.LogTicks([Math.Log10(0.03), Math.Log10(0.3)]);
        Assert.That(shortRange.Select(t => Math.Round(Math.Pow(10, t), 6)), Is.EqualTo(new[] { 0.05, 0.1, 0.2 }), "one decade: 2× and 5× too");
        var (_, _, tiny) = LinePlot.LogTicks([Math.Log10(0.55), Math.Log10(0.6)]);
        Assert.That(tiny.Select(t => Math.Round(Math.Pow(10, t), 6)), Is.EqualTo(new[] { 0.4, 0.5, 0.6, 0.7, 0.8 }), "widened to a factor 2 (≈ 0.4 … 0.84): every multiple");
        var (_, _, wide) = LinePlot.LogTicks([-6.2, 1.3]);
        Assert.That(wide, Is.EqualTo(new[] { -6.0, -5, -4, -3, -2, -1, 0, 1 }), "decades only on long ranges");
    }

    [Test]
    public void Font_CoversTheTitleCharacters()
    {
        foreach (char ch in "LR | bicubic | CFM | ground truth 0123456789.-+e%()")
            Assert.That(BitmapFont.Has(ch), $"'{ch}'");
        Assert.That(BitmapFont.Glyph('A').ToArray(), Is.Not.EqualTo(BitmapFont.Glyph('B').ToArray()));
    }
}
