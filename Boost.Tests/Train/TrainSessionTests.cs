using Boost.Autograd;
using Boost.Kernels;
using Boost.Models.UNet;
using Boost.Train.Pipeline;

namespace Boost.Tests.Train;

/// <summary>The shared training loop: exact resume, divergence handling, refusing to mix runs.</summary>
public class TrainSessionTests
{
    private static TrainOptions Options(string dir, int steps, bool resume = false) => new()
    {
        RunDir = dir, Steps = steps, Batch = 2, Lr = 1e-3f, Warmup = 2, EmaDecay = 0.9f, ClipNorm = 1f, Seed = 5,
        CheckpointEvery = 1, ValidateEvery = 0, Resume = resume,
    };

    private static float[][] Train(string dir, int steps, bool resume, CfmTrainer trainer, Func<int, bool>? poison = null)
    {
        using var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 3);
        using var session = new TrainSession(unet, Options(dir, steps, resume), "cfm", "{\"test\":1}", TextWriter.Null);
        session.Run(step =>
        {
            var loss = trainer.Loss(unet, Device.Cpu, 2, 8, 5, step);
            return poison?.Invoke(step) == true ? Ops.Affine(loss, float.NaN) : loss;
        });
        return unet.Parameters().Select(p => p.Value.ToArray()).ToArray();
    }

    [Test]
    public void Resume_ContinuesBitForBit()
    {
        var trainer = new CfmTrainer(PipelineFixtures.SyntheticCache(4, 4, 8, 4, 2), PipelineFixtures.Cfm());
        string straight = PipelineFixtures.TempDir("straight"), split = PipelineFixtures.TempDir("split");
        var a = Train(straight, 4, false, trainer);
        var first = Train(split, 2, false, trainer);
        Assert.That(first.Zip(a).Any(p => !p.First.SequenceEqual(p.Second)), "two steps must differ from four");
        var b = Train(split, 4, true, trainer);
        for (int i = 0; i < a.Length; i++) Assert.That(b[i], Is.EqualTo(a[i]), $"parameter {i} after resume");
        var steps = new MetricsLog(split).ReadAll().Where(o => o["loss"] is not null).Select(o => (int)o["step"]!).ToArray();
        Assert.That(steps, Is.EqualTo(new[] { 1, 2, 3, 4 }), "the loss curve continues without gaps or repeats");
        var straightLoss = new MetricsLog(straight).ReadAll().Select(o => (double?)o["loss"]).ToArray();
        var splitLoss = new MetricsLog(split).ReadAll().Select(o => (double?)o["loss"]).ToArray();
        Assert.That(splitLoss, Is.EqualTo(straightLoss));
        Assert.That(File.Exists(Path.Combine(split, "loss.png")));
    }

    [Test]
    public void Resume_DropsMetricsWrittenAfterTheCheckpoint()
    {
        var trainer = new CfmTrainer(PipelineFixtures.SyntheticCache(4, 4, 8, 4, 2), PipelineFixtures.Cfm());
        string dir = PipelineFixtures.TempDir("torn");
        Train(dir, 2, false, trainer);
        // As if the process was killed after logging steps 3 and a torn 4th line, before the next checkpoint.
        File.AppendAllText(Path.Combine(dir, "metrics.jsonl"), "{\"step\":3,\"loss\":9}\n{\"step\":4,\"lo");
        Train(dir, 3, true, trainer);
        var rows = new MetricsLog(dir).ReadAll().Where(o => o["loss"] is not null).ToList();
        Assert.That(rows.Select(o => (int)o["step"]!), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That((double)rows[2]["loss"]!, Is.Not.EqualTo(9.0), "step 3 was retrained, not kept from the dead process");
    }

    [Test]
    public void NonFiniteLoss_StopsAndKeepsTheLastGoodCheckpoint()
    {
        var trainer = new CfmTrainer(PipelineFixtures.SyntheticCache(4, 4, 8, 4, 2), PipelineFixtures.Cfm());
        string dir = PipelineFixtures.TempDir("nan");
        var e = Assert.Throws<TrainingDivergedException>(() => Train(dir, 6, false, trainer, step => step == 3));
        Assert.That(e!.Message, Does.Contain("step 4").And.Contain("NaN").And.Contain("step 3"));
        var good = Train(dir, 3, true, trainer); // resumes at step 3 (nothing left to do): the weights load and are finite
        Assert.That(good.SelectMany(p => p).All(float.IsFinite));
        Assert.That(new MetricsLog(dir).ReadAll().Max(o => (int)o["step"]!), Is.EqualTo(3));
    }

    [Test]
    public void ExistingRun_IsNotOverwrittenWithoutResume_AndConfigMustMatch()
    {
        var trainer = new CfmTrainer(PipelineFixtures.SyntheticCache(4, 4, 8, 4, 2), PipelineFixtures.Cfm());
        string dir = PipelineFixtures.TempDir("mix");
        Train(dir, 1, false, trainer);
        Assert.That(() => Train(dir, 2, false, trainer), Throws.InvalidOperationException.With.Message.Contains("--resume"));
        using var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 3);
        Assert.That(() => new TrainSession(unet, Options(dir, 2, true), "cfm", "{\"test\":2}", TextWriter.Null),
            Throws.InvalidOperationException.With.Message.Contains("different configuration"));
        Assert.That(() => new TrainSession(unet, Options(dir, 2, true), "regression", "{\"test\":1}", TextWriter.Null),
            Throws.InvalidOperationException.With.Message.Contains("'cfm' run"));
    }

    [Test]
    public void UseEma_SwapsWeightsInAndRestoresThem()
    {
        var trainer = new CfmTrainer(PipelineFixtures.SyntheticCache(4, 4, 8, 4, 2), PipelineFixtures.Cfm());
        using var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 3);
        using var session = new TrainSession(unet, Options(PipelineFixtures.TempDir("ema"), 3), "cfm", "{}", TextWriter.Null);
        session.Run(step => trainer.Loss(unet, Device.Cpu, 2, 8, 5, step));
        var live = unet.Parameters().Select(p => p.Value.ToArray()).ToArray();
        var ema = session.EmaTensors().Select(t => t.Data).ToArray();
        Assert.That(live.Zip(ema).Any(p => !p.First.SequenceEqual(p.Second)), "EMA differs from the live weights");
        using (session.UseEma())
            Assert.That(unet.Parameters().Select(p => p.Value.ToArray()), Is.EqualTo(ema));
        Assert.That(unet.Parameters().Select(p => p.Value.ToArray()), Is.EqualTo(live));
    }

    [Test]
    public void SecondSession_OnALockedFolder_FailsNamingThePid_AndTheLockIsReleasedOnDispose()
    {
        string dir = PipelineFixtures.TempDir("lock");
        using var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 3);
        var first = new TrainSession(unet, Options(dir, 1), "cfm", "{}", TextWriter.Null);
        string lockFile = Path.Combine(dir, RunLock.FileName);
        Assert.That(File.Exists(lockFile), "the lock file exists while the session lives");
        var e = Assert.Throws<InvalidOperationException>(() => new TrainSession(unet, Options(dir, 1, resume: true), "cfm", "{}", TextWriter.Null))!;
        Assert.That(e.Message, Does.Contain($"process {Environment.ProcessId}").And.Contain(dir).And.Not.Contain("\n"));
        first.Dispose();
        Assert.That(File.Exists(lockFile), Is.False, "Dispose removes the lock");
        using var second = new TrainSession(unet, Options(dir, 1), "cfm", "{}", TextWriter.Null);
        Assert.That(File.Exists(lockFile), "the next session takes the lock");
    }

    [Test]
    public void StaleLock_FromADeadPid_IsTakenOver_WithOneLine()
    {
        string dir = PipelineFixtures.TempDir("stale");
        const int deadPid = 4_194_305; // above Linux's largest pid_max (2^22): no process can have it
        File.WriteAllText(Path.Combine(dir, RunLock.FileName), new RunLock.Holder(deadPid, Environment.MachineName, DateTime.UtcNow.AddHours(-1)).ToString());
        using var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 3);
        var log = new StringWriter();
        using (new TrainSession(unet, Options(dir, 1), "cfm", "{}", log))
            Assert.That(RunLock.Holder.Read(Path.Combine(dir, RunLock.FileName))!.Pid, Is.EqualTo(Environment.ProcessId));
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), log.ToString());
        Assert.That(lines[0], Does.Contain("stale").And.Contain(deadPid.ToString()));
    }

    [Test]
    public void Resume_OfAFinishedRun_SaysSoAndWritesNothing()
    {
        var trainer = new CfmTrainer(PipelineFixtures.SyntheticCache(4, 4, 8, 4, 2), PipelineFixtures.Cfm());
        string dir = PipelineFixtures.TempDir("done");
        using (var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 3))
        using (var session = new TrainSession(unet, Options(dir, 2) with { ValidateEvery = 1 }, "cfm", "{}", TextWriter.Null))
            session.Run(step => trainer.Loss(unet, Device.Cpu, 2, 8, 5, step), _ => new Dictionary<string, double> { ["val_loss"] = 1 });
        var before = Directory.GetFiles(dir).ToDictionary(f => f, f => (File.ReadAllBytes(f), File.GetLastWriteTimeUtc(f)));
        Thread.Sleep(20);
        var log = new StringWriter();
        int validations = 0;
        using (var unet = new UNetModel(PipelineFixtures.TinyUNet, Device.Cpu, 3))
        using (var session = new TrainSession(unet, Options(dir, 2, resume: true) with { ValidateEvery = 1 }, "cfm", "{}", log))
        {
            Assert.That(session.Finished);
            Assert.That(session.Run(step => trainer.Loss(unet, Device.Cpu, 2, 8, 5, step), _ => { validations++; return new Dictionary<string, double>(); }), Is.True);
        }
        Assert.That(log.ToString(), Does.Contain("already finished at step 2 of 2"));
        Assert.That(validations, Is.Zero, "no validation");
        var after = Directory.GetFiles(dir).ToDictionary(f => f, f => (File.ReadAllBytes(f), File.GetLastWriteTimeUtc(f)));
        Assert.That(after.Keys, Is.EquivalentTo(before.Keys), "no file added or removed");
        foreach (var (f, (bytes, time)) in before)
        {
            Assert.That(after[f].Item1, Is.EqualTo(bytes), $"{Path.GetFileName(f)} bytes");
            Assert.That(after[f].Item2, Is.EqualTo(time), $"{Path.GetFileName(f)} mtime");
        }
    }
}
