using Boost.Kernels;
using Boost.Train.Pipeline;

namespace Boost.Tests.Train;

/// <summary>The CFM batch: x_t, the clean condition and the target velocity, as the authors' objective defines them.</summary>
public class CfmObjectiveTests
{
    [Test]
    public void CosineSchedule_MatchesTheBriefsAlphaBar()
    {
        Assert.That(CosineSchedule.AlphaBar(400, 1000), Is.EqualTo(Math.Pow(Math.Cos(0.4 * Math.PI / 2), 2)).Within(1e-6));
        Assert.That(CosineSchedule.AlphaBar(400, 1000), Is.EqualTo(0.654).Within(0.001));
        Assert.That(CosineSchedule.AlphaBar(400, 1000, 0.008), Is.EqualTo(0.6475).Within(0.0005), "improved-DDPM offset");
        Assert.That(CosineSchedule.AlphaBar(0, 1000), Is.EqualTo(1f));
        Assert.That(CosineSchedule.AlphaBar(999, 1000), Is.LessThan(1e-4));
    }

    /// <summary>Finds where a window of the cache's HR latents lies, or (-1, -1, -1).</summary>
    private static (int i, int oy, int ox) Locate(float[] all, int count, int c, int s, float[] window, int b, int w)
    {
        for (int i = 0; i < count; i++)
            for (int oy = 0; oy + w <= s; oy++)
                for (int ox = 0; ox + w <= s; ox++)
                {
                    bool ok = true;
                    for (int ch = 0; ch < c && ok; ch++)
                        for (int y = 0; y < w && ok; y++)
                            for (int x = 0; x < w && ok; x++)
                                ok = Math.Abs(all[((i * c + ch) * s + oy + y) * s + ox + x] - window[((b * c + ch) * w + y) * w + x]) < 1e-4f;
                    if (ok) return (i, oy, ox);
                }
        return (-1, -1, -1);
    }

    [TestCase(LrPath.Psu, 400)]
    [TestCase(LrPath.Latent, 400)]
    [TestCase(LrPath.Psu, 0)]
    public void Batch_IsTheStraightPathFromNoisedConditionToHr(LrPath lrPath, int noiseStep)
    {
        int n = 5, c = 4, s = 12, batch = 7, w = 8;
        var cache = PipelineFixtures.SyntheticCache(n, c, s, 4, 3);
        var config = PipelineFixtures.Cfm(Objective.Cfm, lrPath, noiseStep);
        var trainer = new CfmTrainer(cache, config);
        var (input, ts, target, shape) = trainer.Batch(batch, w, 11, 5);
        Assert.That(shape, Is.EqualTo(new[] { batch, 2 * c, w, w }));
        float[] cond = lrPath == LrPath.Psu ? cache.LrPsu : BilinearUp(cache);
        int per = c * w * w;
        double abar = config.AlphaBar, epsSum = 0, epsSq = 0;
        for (int b = 0; b < batch; b++)
        {
            double t = ts[b] / 1000.0;
            Assert.That(t, Is.InRange(0.0, 1.0));
            var x1 = new float[batch * per];
            var x0 = new float[per];
            for (int k = 0; k < per; k++)
            {
                float xt = input[2 * b * per + k], u = target[b * per + k];
                x1[b * per + k] = (float)(xt + (1 - t) * u);
                x0[k] = (float)(xt - t * u);
            }
            var (i, oy, ox) = Locate(cache.Hr, n, c, s, x1, b, w);
            Assert.That(i, Is.GreaterThanOrEqualTo(0), $"sample {b}: x_t + (1−t)·u is not a window of the HR latents");
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < w; y++)
                    for (int x = 0; x < w; x++)
                    {
                        int k = (ch * w + y) * w + x;
                        float cv = cond[((i * c + ch) * s + oy + y) * s + ox + x];
                        Assert.That(input[(2 * b + 1) * per + k], Is.EqualTo(cv).Within(1e-5), "the clean condition rides in channels C…2C−1");
                        double eps = (x0[k] - Math.Sqrt(abar) * cv) / Math.Sqrt(Math.Max(1 - abar, 1e-12));
                        if (noiseStep == 0) Assert.That(x0[k], Is.EqualTo(cv).Within(1e-4), "no noise: x0 = c");
                        else { epsSum += eps; epsSq += eps * eps; }
                    }
        }
        if (noiseStep > 0)
        {
            double m = epsSum / (batch * per), sd = Math.Sqrt(epsSq / (batch * per) - m * m);
            Assert.That(m, Is.EqualTo(0).Within(0.06), "ε mean");
            Assert.That(sd, Is.EqualTo(1).Within(0.06), "ε std");
        }
    }

    private static float[] BilinearUp(LatentCache cache)
    {
        var x = Array.ConvertAll(cache.LrLatent, v => (double)v);
        return Array.ConvertAll(Boost.Kernels.Reference.UpsampleReference.Bilinear(x, cache.Count * cache.Channels, cache.LrSize, cache.LrSize, cache.Size, cache.Size), v => (float)v);
    }

    [Test]
    public void Batch_IsAFunctionOfSeedAndStep()
    {
        var trainer = new CfmTrainer(PipelineFixtures.SyntheticCache(4, 4, 8, 4, 1), PipelineFixtures.Cfm());
        var a = trainer.Batch(3, 4, 5, 17);
        var b = trainer.Batch(3, 4, 5, 17);
        var other = trainer.Batch(3, 4, 5, 18);
        Assert.That(b.input, Is.EqualTo(a.input));
        Assert.That(b.t, Is.EqualTo(a.t));
        Assert.That(other.input, Is.Not.EqualTo(a.input));
    }

    [Test]
    public void RegressionBatch_FeedsTheConditionTwiceAndTargetsHr()
    {
        int n = 3, c = 4, s = 8, w = 4;
        var cache = PipelineFixtures.SyntheticCache(n, c, s, 4, 9);
        var (input, ts, target, _) = new CfmTrainer(cache, PipelineFixtures.Cfm(Objective.Regression)).Batch(2, w, 3, 0);
        int per = c * w * w;
        Assert.That(ts, Is.All.EqualTo(0f));
        for (int b = 0; b < 2; b++)
        {
            Assert.That(input.AsSpan(2 * b * per, per).ToArray(), Is.EqualTo(input.AsSpan((2 * b + 1) * per, per).ToArray()));
            var (i, _, _) = Locate(cache.Hr, n, c, s, target, b, w);
            Assert.That(i, Is.GreaterThanOrEqualTo(0), "the target is an HR window");
        }
    }
}
