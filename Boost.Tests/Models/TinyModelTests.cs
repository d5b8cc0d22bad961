using Boost.Autograd;
using Boost.Autograd.Optim;
using Boost.Kernels;
using Boost.Models;
using Boost.Models.UNet;
using Boost.Models.Vae;
using Boost.Tests.Support;

namespace Boost.Tests.Models;

/// <summary>Whole-model gradient checks and the overfit test, on small configurations of the real model code.</summary>
public class TinyModelTests
{
    private static readonly UNetConfig TinyUNet = new()
    {
        InChannels = 8, OutChannels = 4, ModelChannels = 16, ChannelMult = [1, 2], NumResBlocks = 1,
        AttentionResolutions = [2], NumHeads = 2, NormGroups = 8,
    };

    /// <summary>Replaces every parameter (zero-initialised output convs included) with seeded values, so every
    /// gradient path carries signal.</summary>
    private static void Randomize(Module m, int seed, float scale = 0.3f)
    {
        int i = 0;
        foreach (var p in m.Parameters()) p.Value.CopyFrom(Seeded.Floats(seed + i++, p.Value.Length, -scale, scale));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TinyUNet_PassesDirectionalGradCheck(bool scaleShift)
    {
        using var unet = new UNetModel(TinyUNet with { UseScaleShiftNorm = scaleShift }, Device.Cpu, seed: 3);
        Randomize(unet, 100);
        using var x = new Parameter(Seeded.Tensor(Device.Cpu, 1, 2, 8, 8, 8));
        using var target = Seeded.Tensor(Device.Cpu, 2, 2, 4, 8, 8);
        float[] t = [120f, 870f];
        var inputs = unet.Parameters().Cast<Var>().Append(x).ToList();
        var results = GradCheck.Directional(() => Ops.MseLoss(unet.Forward(x, t), Ops.Constant(target.Clone())), inputs, directions: 3, eps: 1e-2f);
        foreach (var r in results) Assert.That(r.RelativeError, Is.LessThan(2e-2), $"analytic {r.Analytic}, numeric {r.Numeric}");
    }

    [Test]
    public void TinyAutoencoderKL_PassesDirectionalGradCheck()
    {
        var config = new AutoencoderKLConfig { BlockOutChannels = [8, 16], LayersPerBlock = 1, NormNumGroups = 4, LatentChannels = 4 };
        using var vae = new AutoencoderKL(config, Device.Cpu, seed: 5);
        Randomize(vae, 200);
        using var x = new Parameter(Seeded.Tensor(Device.Cpu, 3, 1, 3, 8, 8));
        using var target = Seeded.Tensor(Device.Cpu, 4, 1, 3, 8, 8);
        var inputs = vae.Parameters().Cast<Var>().Append(x).ToList();
        Var Loss()
        {
            var (mean, logvar) = vae.Encode(x);
            var z = AutoencoderKL.Sample(mean, logvar, seed: 9, stream: 0);
            var recon = vae.Decode(z);
            return Ops.Add(Ops.MseLoss(recon, Ops.Constant(target.Clone())), Ops.Affine(Ops.SumAll(Ops.Exp(logvar)), 1e-3f));
        }
        var results = GradCheck.Directional(Loss, inputs, directions: 3, eps: 1e-2f);
        foreach (var r in results) Assert.That(r.RelativeError, Is.LessThan(2e-2), $"analytic {r.Analytic}, numeric {r.Numeric}");
        Assert.That(vae.Config.DownFactor, Is.EqualTo(2));
    }

    [Test]
    public void TinyUNet_OverfitsOneBatch_LossFalls100x()
    {
        using var unet = new UNetModel(TinyUNet, Device.Cpu, seed: 11);
        using var x = Seeded.Tensor(Device.Cpu, 21, 2, 8, 8, 8);
        using var target = Seeded.Tensor(Device.Cpu, 22, 2, 4, 8, 8);
        float[] t = [250f, 640f];
        using var opt = new AdamW(unet.Parameters()) { WeightDecay = 0f, MaxGradNorm = 1f };
        double first = double.NaN, last = double.NaN;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int step = 0; step < 600 && clock.Elapsed.TotalSeconds < 50; step++)
        {
            unet.ZeroGrad();
            using var tape = Tape.Record();
            var loss = Ops.MseLoss(unet.Forward(Ops.Constant(x.Clone()), t), Ops.Constant(target.Clone()));
            last = loss.Value.ToArray()[0];
            if (step == 0) first = last;
            if (last < first / 100) break;
            tape.Backward(loss);
            opt.Update(LrSchedule.At(step, 3e-3f, warmup: 20));
        }
        TestContext.Out.WriteLine($"loss {first:G4} → {last:G4} in {opt.Step} steps, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.That(last, Is.LessThan(first / 100), $"loss only fell from {first} to {last}");
    }
}
