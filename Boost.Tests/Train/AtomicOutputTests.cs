using System.Diagnostics;
using Boost.Kernels;
using Boost.Models.IO;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Train.Cli;
using Boost.Train.Imaging;
using Boost.Train.Pipeline;

namespace Boost.Tests.Train;

/// <summary>
/// Every file the command line writes lands whole or not at all (<see cref="AtomicFile"/>); outputs are checked before
/// any work (not an input, a writable folder, a format the extension names); killed runs' temporary files are removed.
/// </summary>
[NonParallelizable]
public class AtomicOutputTests
{
    private static readonly byte[] OldBytes = [0x4f, 0x4c, 0x44, 0x00, 0xff, 0x10, 0x20, 0x0a];

    private static string[] TempFiles(string dir) => Directory.GetFiles(dir).Where(f => AtomicFile.IsTempName(Path.GetFileName(f))).ToArray();

    private static (int code, string stdout, string stderr) Run(params string[] args)
    {
        var o = new StringWriter(); var e = new StringWriter();
        var oldOut = Console.Out; var oldErr = Console.Error;
        Console.SetOut(o); Console.SetError(e);
        try { return (Commands.Run(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    /// <summary>One "error: …" line on stderr and no work started (stdout holds only the device line).</summary>
    private static void AssertRefusedBeforeWork((int code, string stdout, string stderr) r, string says)
    {
        Assert.That(r.code, Is.EqualTo(1), r.stdout + r.stderr);
        var lines = r.stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), r.stderr);
        Assert.That(lines[0], Does.StartWith("error: ").And.Contain(says));
        Assert.That(r.stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1).And.All.StartWith("device:"), "nothing ran before the refusal");
    }

    /// <summary>A folder no file can be created in: mode 0555, and where that does not stop the user (root), the immutable attribute.</summary>
    private sealed class ReadOnlyFolder : IDisposable
    {
        private readonly string _dir;
        private bool _immutable;

        public ReadOnlyFolder(string dir)
        {
            Assume.That(OperatingSystem.IsWindows(), Is.False, "Unix file modes");
            _dir = dir;
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            if (CanCreateIn(dir)) _immutable = Chattr("+i");
            if (CanCreateIn(dir)) { Dispose(); Assert.Ignore("cannot make a folder read-only here (root without CAP_LINUX_IMMUTABLE)"); }
        }

        private bool Chattr(string flag)
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo("chattr", [flag, _dir]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                p.WaitForExit();
                return p.ExitCode == 0;
            }
            catch (System.ComponentModel.Win32Exception) { return false; }
        }

        private static bool CanCreateIn(string dir)
        {
            string f = Path.Combine(dir, "probe-" + Guid.NewGuid().ToString("N"));
            try { File.WriteAllText(f, ""); File.Delete(f); return true; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        }

        public void Dispose()
        {
            if (_immutable) Chattr("-i");
            _immutable = false;
            File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Test]
    public void Write_ReplacesTheFileAndLeavesNoTemp()
    {
        string dir = PipelineFixtures.TempDir("atomic-ok"), path = Path.Combine(dir, "a.json");
        File.WriteAllBytes(path, OldBytes);
        AtomicFile.WriteAllText(path, "{\"x\": \"é\"}");
        Assert.That(File.ReadAllBytes(path), Is.EqualTo("{\"x\": \"é\"}"u8.ToArray()), "UTF-8 without a byte-order mark");
        AtomicFile.WriteAllLines(path, ["1", "2"]);
        Assert.That(File.ReadAllText(path), Is.EqualTo("1\n2\n"));
        Assert.That(TempFiles(dir), Is.Empty);
    }

    [Test]
    public void Write_ThatThrowsMidway_LeavesTheOldFileByteIdenticalAndNoTemp()
    {
        string dir = PipelineFixtures.TempDir("atomic-throw"), path = Path.Combine(dir, "metrics.jsonl");
        File.WriteAllBytes(path, OldBytes);
        Assert.That(() => AtomicFile.Write(path, s => { s.Write(new byte[100_000]); s.Flush(); throw new InvalidOperationException("boom"); }),
            Throws.InvalidOperationException.With.Message.EqualTo("boom"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(OldBytes));
        Assert.That(TempFiles(dir), Is.Empty);
    }

    [Test]
    public void Write_IntoAReadOnlyFolder_FailsAndLeavesTheOldFileByteIdentical()
    {
        string dir = PipelineFixtures.TempDir("atomic-ro"), path = Path.Combine(dir, "eval.json"), png = Path.Combine(dir, "eval.png");
        File.WriteAllBytes(path, OldBytes);
        File.WriteAllBytes(png, OldBytes);
        using (new ReadOnlyFolder(dir))
        {
            Assert.That(() => AtomicFile.WriteAllText(path, "new"), Throws.InstanceOf<IOException>().Or.InstanceOf<UnauthorizedAccessException>());
            Assert.That(() => ImageOutput.Save(new ChwImage(3, 4, 4), png), Throws.InstanceOf<IOException>().Or.InstanceOf<UnauthorizedAccessException>());
            Assert.That(() => ImageOutput.CheckWritable(png), Throws.InstanceOf<IOException>().With.Message.Contains("not writable"));
        }
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(OldBytes));
        Assert.That(File.ReadAllBytes(png), Is.EqualTo(OldBytes));
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "eval.json", "eval.png" }));
    }

    [Test]
    public void RemoveStale_DeletesOnlyOldTempFilesOfTheWriters()
    {
        string dir = PipelineFixtures.TempDir("atomic-stale");
        string stale = Path.Combine(dir, $".checkpoint.safetensors.{Guid.NewGuid():N}.tmp");
        string stale2 = Path.Combine(dir, $".val-000010.png.{Guid.NewGuid():N}.tmp");
        string fresh = Path.Combine(dir, $".eval.json.{Guid.NewGuid():N}.tmp");
        string[] others = [Path.Combine(dir, "notes.tmp"), Path.Combine(dir, ".notes.tmp"), Path.Combine(dir, ".a.png.1234.tmp"), Path.Combine(dir, "checkpoint.safetensors")];
        foreach (var f in others.Append(stale).Append(stale2).Append(fresh)) File.WriteAllBytes(f, OldBytes);
        var old = DateTime.UtcNow.AddHours(-1);
        foreach (var f in others.Append(stale).Append(stale2)) File.SetLastWriteTimeUtc(f, old);

        var removed = AtomicFile.RemoveStale(dir); // cut-off: this process's start, after `old`, before `fresh`
        Assert.That(removed, Is.EquivalentTo(new[] { Path.GetFileName(stale), Path.GetFileName(stale2) }));
        Assert.That(File.Exists(stale) || File.Exists(stale2), Is.False);
        Assert.That(File.Exists(fresh), "a write that may be in progress is kept");
        Assert.That(others.All(File.Exists), "other files are kept");
        Assert.That(AtomicFile.RemoveStale(Path.Combine(dir, "missing")), Is.Empty);
    }

    [Test]
    public void SavingAWeightsFolder_RemovesWhatAKilledSaveLeft()
    {
        string dir = PipelineFixtures.TempDir("atomic-weights");
        string stale = Path.Combine(dir, $".model.safetensors.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(stale, OldBytes);
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-1));
        using var ae = new AutoencoderKL(PipelineFixtures.TinyAe, Device.Cpu, 4);
        WeightsDir.Save(dir, ae, System.Text.Json.JsonSerializer.Serialize(ae.Config), new Dictionary<string, object?> { ["what"] = "test" });
        Assert.That(File.Exists(stale), Is.False);
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { WeightsDir.ConfigFile, WeightsDir.ModelFile, WeightsDir.RecordFile }));
    }

    [Test]
    public void ImageFormat_FollowsTheExtension()
    {
        string dir = PipelineFixtures.TempDir("atomic-fmt");
        var chw = new ChwImage(3, 6, 5);
        for (int i = 0; i < chw.Data.Length; i++) chw.Data[i] = (i % 7) / 3.5f - 1f;
        byte[] Saved(string name) { string p = Path.Combine(dir, name); ImageOutput.Save(chw, p); return File.ReadAllBytes(p); }
        Assert.That(Saved("a.png")[..8], Is.EqualTo(new byte[] { 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a }));
        Assert.That(Saved("a.jpg")[..3], Is.EqualTo(new byte[] { 0xff, 0xd8, 0xff }));
        Assert.That(Saved("a.JPEG")[..3], Is.EqualTo(new byte[] { 0xff, 0xd8, 0xff }));
        var webp = Saved("a.webp");
        Assert.That((System.Text.Encoding.ASCII.GetString(webp, 0, 4), System.Text.Encoding.ASCII.GetString(webp, 8, 4)), Is.EqualTo(("RIFF", "WEBP")));
        using (var back = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgb24>(Path.Combine(dir, "a.webp")))
            Assert.That(ImageConvert.ToChw(back).Data, Is.EqualTo(ImageConvert.ToChw(ImageConvert.ToImage(chw)).Data), "WebP is lossless");
        Assert.That(() => Saved("a.xyz"), Throws.ArgumentException.With.Message.Contains("'.xyz'").And.Message.Contains(".png, .jpg, .jpeg, .webp"));
        Assert.That(File.Exists(Path.Combine(dir, "a.xyz")), Is.False);
        Assert.That(TempFiles(dir), Is.Empty);
    }

    [Test]
    public void SameInputAndOutput_IsFoundThroughRelativePathsAndLinks()
    {
        string dir = PipelineFixtures.TempDir("atomic-same"), a = Path.Combine(dir, "a.png");
        File.WriteAllBytes(a, OldBytes);
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        Assert.That(ImageOutput.SameFile(a, Path.Combine(dir, "sub", "..", "a.png")));
        Assert.That(ImageOutput.SameFile(a, Path.Combine(dir, "b.png")), Is.False);
        File.CreateSymbolicLink(Path.Combine(dir, "link.png"), "a.png");
        Directory.CreateSymbolicLink(Path.Combine(dir, "dirlink"), dir);
        Assert.That(ImageOutput.SameFile(a, Path.Combine(dir, "link.png")), "a link to the input");
        Assert.That(ImageOutput.SameFile(Path.Combine(dir, "dirlink", "a.png"), a), "the input through a linked folder");
        Assert.That(ImageOutput.SameFile(Path.Combine(dir, "dirlink", "sub", "x.png"), Path.Combine(dir, "sub", "x.png")), "files that do not exist yet");
    }

    [Test]
    public void Boost_RefusesToOverwriteItsInput_BeforeAnyWork()
    {
        string photos = PipelineFixtures.PhotoFolder("same-in", 1, 24, 3), png = Path.Combine(photos, "photo0.png");
        byte[] before = File.ReadAllBytes(png);
        string noWeights = PipelineFixtures.TempDir("no-weights"); // loading a model from here would fail: the refusal comes first
        AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--in", png, "--out", png), "is the same file as");
        AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--in", png, "--out", Path.Combine(photos, ".", "photo0.png")), "is the same file as");
        File.CreateSymbolicLink(Path.Combine(photos, "link.png"), png);
        AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--in", png, "--out", Path.Combine(photos, "link.png")), "through a link");
        string lat = Path.Combine(photos, "z.safetensors");
        AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--latent-in", lat, "--latent-out", lat), "is the same file as");
        Assert.That(File.ReadAllBytes(png), Is.EqualTo(before));
        Assert.That(TempFiles(photos), Is.Empty);
    }

    [Test]
    public void Boost_RefusesAnUnwritableOrMissingFolderAndUnknownFormats_BeforeAnyWork()
    {
        string photos = PipelineFixtures.PhotoFolder("bad-out", 1, 24, 4), png = Path.Combine(photos, "photo0.png");
        string noWeights = PipelineFixtures.TempDir("no-weights");
        AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--in", png, "--out", Path.Combine(photos, "missing", "x.png")), "does not exist");
        AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--in", png, "--out", Path.Combine(photos, "photo0.png", "x.png")), "is a file, not a folder");
        AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--in", png, "--out", Path.Combine(photos, "x.xyz")), ".png, .jpg, .jpeg, .webp");
        AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--in", png, "--out", Path.Combine(photos, "x")), "no extension");
        string ro = PipelineFixtures.TempDir("ro-out");
        using (new ReadOnlyFolder(ro))
            AssertRefusedBeforeWork(Run("boost", "--device", "cpu", "--weights", noWeights, "--in", png, "--out", Path.Combine(ro, "x.png")), "not writable");
        Assert.That(Directory.GetFiles(ro), Is.Empty);

        // eval: --json and --grid are checked the same way before any photo is read.
        AssertRefusedBeforeWork(Run("eval", "--device", "cpu", "--weights", noWeights, "--data", noWeights, "--json", Path.Combine(ro, "e.json"), "--grid", Path.Combine(ro, "e.xyz")), "'.xyz'");
        AssertRefusedBeforeWork(Run("eval", "--device", "cpu", "--weights", noWeights, "--data", noWeights, "--json", Path.Combine(ro, "e.png")), "is the same file as");
    }

    [Test]
    public void Boost_WritesJpegAndWebpByTheExtension()
    {
        string weights = PipelineFixtures.TempDir("fmt-weights"), photos = PipelineFixtures.PhotoFolder("fmt", 1, 16, 5), png = Path.Combine(photos, "photo0.png");
        using (var ae = new AutoencoderKL(PipelineFixtures.TinyAe, Device.Cpu, 1))
            WeightsDir.Save(Path.Combine(weights, "ae"), ae, System.Text.Json.JsonSerializer.Serialize(ae.Config), new Dictionary<string, object?> { ["what"] = "test" });
        using (var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 2))
            WeightsDir.Save(Path.Combine(weights, "cfm"), unet, PipelineFixtures.Cfm().ToJson(), new Dictionary<string, object?> { ["what"] = "test" });
        string outDir = PipelineFixtures.TempDir("fmt-out");
        foreach (var (name, magic) in new[] { ("x.jpg", new byte[] { 0xff, 0xd8, 0xff }), ("x.webp", "RIFF"u8.ToArray()), ("x.png", new byte[] { 0x89, 0x50, 0x4e, 0x47 }) })
        {
            string output = Path.Combine(outDir, name);
            var (code, stdout, stderr) = Run("boost", "--device", "cpu", "--weights", weights, "--in", png, "--out", output, "--solver", "euler", "--steps", "1", "--back-projection", "0");
            Assert.That(code, Is.EqualTo(0), stdout + stderr);
            Assert.That(File.ReadAllBytes(output)[..magic.Length], Is.EqualTo(magic), name);
            var info = SixLabors.ImageSharp.Image.Identify(output);
            Assert.That((info.Width, info.Height), Is.EqualTo((16 * 4, 16 * 4)), name);
        }
        Assert.That(TempFiles(outDir), Is.Empty);
    }
}
