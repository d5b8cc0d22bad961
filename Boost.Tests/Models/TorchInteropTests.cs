using System.Diagnostics;
using System.Text.Json;
using Boost.Autograd;
using Boost.Kernels;
using Boost.Models;
using Boost.Models.SafeTensors;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Tests.Support;

namespace Boost.Tests.Models;

/// <summary>
/// Our models against independent PyTorch definitions (<c>scripts/torch_reference.py</c>: guided-diffusion's UNet
/// from the spec, diffusers' AutoencoderKL layout): weights written by Boost load into them with
/// <c>load_state_dict(strict=True)</c> (every key and shape as PyTorch expects) and give the same outputs. Runs where a
/// Python with torch is installed (Debian: <c>apt install python3-torch</c>); elsewhere it is skipped, saying so.
/// </summary>
public class TorchInteropTests
{
    private static string? s_python;
    private static string? s_why;

    /// <summary>The first of python3 on PATH and /usr/bin/python3 that imports torch (Debian's lives in the latter).</summary>
    private static string Python()
    {
        if (s_python is not null) return s_python;
        if (s_why is not null) Assert.Ignore(s_why);
        foreach (var py in new[] { Environment.GetEnvironmentVariable("BOOST_PYTHON"), "python3", "/usr/bin/python3" }.OfType<string>().Distinct())
        {
            var (code, _, _) = Run(py, "-c", "import torch, numpy");
            if (code == 0) return s_python = py;
        }
        s_why = "PyTorch is not installed (no python3 here imports torch and numpy; Debian: apt install python3-torch): the interop checks need it.";
        Assert.Ignore(s_why);
        return null!;
    }

    private static (int code, string stdout, string stderr) Run(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output, err.Result);
        }
        catch (System.ComponentModel.Win32Exception e) { return (-1, "", e.Message); }
    }

    private static string Script
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "scripts", "torch_reference.py"))) return Path.Combine(d.FullName, "scripts", "torch_reference.py");
            throw new FileNotFoundException("scripts/torch_reference.py not found above the test binaries.");
        }
    }

    private static void Randomize(Module m, int seed)
    {
        int i = 0;
        foreach (var p in m.Parameters()) p.Value.CopyFrom(Seeded.Floats(seed + i++, p.Value.Length, -0.2f, 0.2f));
    }

    private static string Temp(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "boost-tests", $"torch-{name}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static void RunReference(params string[] args)
    {
        var (code, stdout, stderr) = Run(Python(), [Script, .. args]);
        Assert.That(code, Is.EqualTo(0), $"torch_reference.py {args[0]} failed:\n{stdout}\n{stderr}");
    }

    /// <summary>Our UNet on x [n, 8, 32, 32] at times t, no grad.</summary>
    private static float[] Ours(UNetModel unet, float[] x, float[] t)
    {
        using var tape = Tape.NoGrad();
        using var xt = Tensor.FromArray(Device.Cpu, x, t.Length, 8, 32, 32);
        return unet.Forward(Ops.Constant(xt.Clone()), t).Value.ToArray();
    }

    /// <summary>Compares ours with tensor <paramref name="name"/> of the reference's output file, scaled to its magnitude
    /// (which must exceed <paramref name="minScale"/>, so agreement cannot come from near-zero outputs).</summary>
    private static void AgreesWithReference(float[] ours, string outFile, string name, double minScale, string what)
    {
        using var file = SafeTensorsFile.Read(outFile);
        var theirs = file.ReadFloat32(name);
        Assert.That(theirs.Length, Is.EqualTo(ours.Length), $"{what}: output size");
        double scale = theirs.Max(v => Math.Abs((double)v));
        Assert.That(scale, Is.GreaterThan(minScale), $"{what}: the reference output must not be trivially small");
        Compare.Close(ours, theirs.Select(v => (double)v).ToArray(), atol: 2e-4 * scale, rtol: 1e-3, what: what);
    }

    /// <summary>The bench UNet (6,475,652 parameters, every one seeded, the zero-initialised output convs included),
    /// batch 2 at 32×32 with two times: ours and guided-diffusion's layout in PyTorch agree.</summary>
    [Test]
    public void BenchUNet_MatchesPyTorchReference()
    {
        Python();
        string dir = Temp("unet");
        var dev = Device.Cpu;
        using var unet = new UNetModel(UNetConfig.Bench, dev, seed: 5);
        Randomize(unet, 700);
        Checkpoint.Save(unet, Path.Combine(dir, "unet.safetensors"));
        var x = Seeded.Floats(701, 2 * 8 * 32 * 32);
        float[] t = [37.5f, 912.25f];
        SafeTensorsFile.Write(Path.Combine(dir, "in.safetensors"), [("x", [2, 8, 32, 32], x), ("t", [2], t)]);
        var ours = Ours(unet, x, t);
        RunReference("unet", Path.Combine(dir, "unet.safetensors"), Path.Combine(dir, "in.safetensors"), Path.Combine(dir, "out.safetensors"));
        AgreesWithReference(ours, Path.Combine(dir, "out.safetensors"), "y", 1e-2, "bench UNet vs PyTorch");
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>The other way: a state dict PyTorch wrote (its own initialisation) loads strictly into our bench UNet
    /// and gives PyTorch's output.</summary>
    [Test]
    public void PyTorchWrittenUNet_LoadsInBoost_AndAgrees()
    {
        Python();
        string dir = Temp("export");
        var x = Seeded.Floats(705, 2 * 8 * 32 * 32);
        float[] t = [3f, 501.5f];
        SafeTensorsFile.Write(Path.Combine(dir, "in.safetensors"), [("x", [2, 8, 32, 32], x), ("t", [2], t)]);
        RunReference("unet-export", Path.Combine(dir, "torch.safetensors"), Path.Combine(dir, "in.safetensors"), Path.Combine(dir, "out.safetensors"));
        var dev = Device.Cpu;
        using var unet = new UNetModel(UNetConfig.Bench, dev, seed: 1);
        Checkpoint.Load(unet, Path.Combine(dir, "torch.safetensors"));
        AgreesWithReference(Ours(unet, x, t), Path.Combine(dir, "out.safetensors"), "y", 1e-3, "PyTorch-initialised UNet in Boost");
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>The shipped CFM weights (float16 safetensors, bench UNet) load strictly into the PyTorch reference and
    /// give the same velocity as our model loaded from the same file: the weights we publish move to PyTorch.</summary>
    [Test]
    public void ShippedCfmWeights_LoadInPyTorch_AndAgree()
    {
        Python();
        string weights = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Script))!, "weights", "cfm", "model.safetensors");
        if (!File.Exists(weights)) Assert.Ignore($"no shipped weights at {weights}");
        var shipped = Boost.Train.Pipeline.CfmConfig.FromJson(File.ReadAllText(Path.Combine(Path.GetDirectoryName(weights)!, "config.json")), "weights/cfm/config.json");
        if (JsonSerializer.Serialize(shipped.UNet) != JsonSerializer.Serialize(UNetConfig.Bench))
            Assert.Ignore("the shipped CFM is not the bench UNet, the configuration the PyTorch reference defines");
        string dir = Temp("shipped");
        var dev = Device.Cpu;
        using var unet = new UNetModel(UNetConfig.Bench, dev, seed: 1);
        Checkpoint.Load(unet, weights);
        var x = Seeded.Floats(703, 1 * 8 * 32 * 32);
        float[] t = [400f];
        SafeTensorsFile.Write(Path.Combine(dir, "in.safetensors"), [("x", [1, 8, 32, 32], x), ("t", [1], t)]);
        var ours = Ours(unet, x, t);
        RunReference("unet", weights, Path.Combine(dir, "in.safetensors"), Path.Combine(dir, "out.safetensors"));
        AgreesWithReference(ours, Path.Combine(dir, "out.safetensors"), "y", 1e-2, "shipped CFM vs PyTorch");
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>A small AutoencoderKL (two levels, two layers per block, 8 groups) saved with diffusers keys: PyTorch's
    /// diffusers-layout module loads it strictly and gives the same posterior mean and decoding.</summary>
    [Test]
    public void AutoencoderKL_MatchesPyTorchReference()
    {
        Python();
        string dir = Temp("vae");
        var dev = Device.Cpu;
        var config = new AutoencoderKLConfig { BlockOutChannels = [16, 32], LayersPerBlock = 2, LatentChannels = 4, NormNumGroups = 8 };
        using var vae = new AutoencoderKL(config, dev, 9);
        Randomize(vae, 900);
        Checkpoint.Save(vae, Path.Combine(dir, "vae.safetensors"));
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        var x = Seeded.Floats(901, 2 * 3 * 12 * 10);
        SafeTensorsFile.Write(Path.Combine(dir, "in.safetensors"), [("x", [2, 3, 12, 10], x)]);
        float[] mean, decoded;
        using (Tape.NoGrad())
        using (var xt = Tensor.FromArray(dev, x, 2, 3, 12, 10))
        {
            var m = vae.Encode(Ops.Constant(xt.Clone())).mean;
            mean = m.Value.ToArray();
            decoded = vae.Decode(m).Value.ToArray();
        }

        RunReference("vae", Path.Combine(dir, "config.json"), Path.Combine(dir, "vae.safetensors"), Path.Combine(dir, "in.safetensors"), Path.Combine(dir, "out.safetensors"));
        AgreesWithReference(mean, Path.Combine(dir, "out.safetensors"), "mean", 1e-2, "AutoencoderKL mean vs PyTorch");
        AgreesWithReference(decoded, Path.Combine(dir, "out.safetensors"), "decoded", 1e-2, "AutoencoderKL decoded vs PyTorch");
        Directory.Delete(dir, recursive: true);
    }
}
