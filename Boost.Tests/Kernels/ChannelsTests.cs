using Boost.Kernels;
using Boost.Kernels.Reference;
using Boost.Tests.Support;

namespace Boost.Tests.Kernels;

public class ChannelsTests
{
    /// <summary>(N, Ca, Cb, H, W): batch 1, odd H·W, 1×1 images, an empty operand.</summary>
    private static readonly int[][] ConcatCases = [[1, 3, 2, 5, 7], [2, 1, 4, 1, 1], [2, 0, 3, 3, 3], [3, 5, 5, 2, 3]];

    [Test]
    public void Concat_AndItsBackward_MatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend, [Range(0, 3)] int s)
    {
        var dev = Backends.Get(backend);
        int n = ConcatCases[s][0], ca = ConcatCases[s][1], cb = ConcatCases[s][2], h = ConcatCases[s][3], w = ConcatCases[s][4];
        var ad = Seeded.Floats(1 + s, n * ca * h * w); var bd = Seeded.Floats(11 + s, n * cb * h * w);
        var gd = Seeded.Floats(21 + s, n * (ca + cb) * h * w);
        using var a = Seeded.Tensor(dev, ad, n, ca, h, w);
        using var b = Seeded.Tensor(dev, bd, n, cb, h, w);
        using var y = Channels.Concat(a, b);
        Assert.That(y.Shape, Is.EqualTo(new[] { n, ca + cb, h, w }), "concat shape");
        Compare.Close(y.ToArray(), ChannelsReference.Concat(Seeded.ToDouble(ad), ca, Seeded.ToDouble(bd), cb, n, h * w), 0, 0, "concat");

        using var dy = Seeded.Tensor(dev, gd, n, ca + cb, h, w);
        var (da, db) = Channels.ConcatBackward(dy, ca);
        using var _a = da; using var _b = db;
        var (wantA, wantB) = ChannelsReference.ConcatBackward(Seeded.ToDouble(gd), ca, cb, n, h * w);
        Assert.That(da.Shape, Is.EqualTo(a.Shape), "da shape");
        Assert.That(db.Shape, Is.EqualTo(b.Shape), "db shape");
        Compare.Close(da.ToArray(), wantA, 0, 0, "concat backward da");
        Compare.Close(db.ToArray(), wantB, 0, 0, "concat backward db");
    }

    [Test]
    public void Slice_AndItsBackward_MatchTwin([ValueSource(typeof(Backends), nameof(Backends.All))] string backend,
        [Values(0, 2, 5)] int start, [Values(1, 3)] int count)
    {
        var dev = Backends.Get(backend);
        int n = 2, c = 8, h = 5, w = 7;
        var xd = Seeded.Floats(31, n * c * h * w); var gd = Seeded.Floats(32, n * count * h * w); var accd = Seeded.Floats(33, n * c * h * w);
        using var x = Seeded.Tensor(dev, xd, n, c, h, w);
        using var y = Channels.Slice(x, start, count);
        Assert.That(y.Shape, Is.EqualTo(new[] { n, count, h, w }), "slice shape");
        Compare.Close(y.ToArray(), ChannelsReference.Slice(Seeded.ToDouble(xd), c, start, count, n, h * w), 0, 0, "slice");

        // The slice's backward: accumulate dy into a gradient that already holds something.
        using var dy = Seeded.Tensor(dev, gd, n, count, h, w);
        using var dx = Seeded.Tensor(dev, accd, n, c, h, w);
        Channels.CopyChannels(dy, 0, dx, start, count, accumulate: true);
        var want = ChannelsReference.SliceBackward(Seeded.ToDouble(gd), c, start, count, n, h * w);
        for (int i = 0; i < want.Length; i++) want[i] += accd[i];
        Compare.Close(dx.ToArray(), want, what: "slice backward (accumulated)");
    }

    [Test]
    public void CopyChannels_Overwrites_OnlyItsRange([ValueSource(typeof(Backends), nameof(Backends.All))] string backend)
    {
        var dev = Backends.Get(backend);
        int n = 2, h = 3, w = 5;
        var sd = Seeded.Floats(41, n * 4 * h * w); var dd = Seeded.Floats(42, n * 6 * h * w);
        using var src = Seeded.Tensor(dev, sd, n, 4, h, w);
        using var dst = Seeded.Tensor(dev, dd, n, 6, h, w);
        Channels.CopyChannels(src, 1, dst, 3, 2, accumulate: false);
        var want = Seeded.ToDouble(dd);
        for (int b = 0; b < n; b++)
            for (int c = 0; c < 2; c++)
                for (int p = 0; p < h * w; p++) want[(b * 6 + 3 + c) * h * w + p] = sd[(b * 4 + 1 + c) * h * w + p];
        Compare.Close(dst.ToArray(), want, 0, 0, "copy channels");
    }

    [Test]
    public void TwinBackward_MatchesFiniteDifferences()
    {
        int n = 2, ca = 2, cb = 3, hw = 5;
        var a = Seeded.ToDouble(Seeded.Floats(51, n * ca * hw)); var b = Seeded.ToDouble(Seeded.Floats(52, n * cb * hw));
        var g = FiniteDiff.Weights(53, n * (ca + cb) * hw);
        var (da, db) = ChannelsReference.ConcatBackward(g, ca, cb, n, hw);
        FiniteDiff.Check(inp => ChannelsReference.Concat(inp[0], ca, inp[1], cb, n, hw), [a, b], g, [da, db], what: "concat twin");
        var gs = FiniteDiff.Weights(54, n * 2 * hw);
        FiniteDiff.Check(inp => ChannelsReference.Slice(inp[0], cb, 1, 2, n, hw), [b], gs,
            [ChannelsReference.SliceBackward(gs, cb, 1, 2, n, hw)], what: "slice twin");
    }

    [Test]
    public void BadShapes_GiveClearErrors()
    {
        var dev = Device.Cpu;
        using var a = Seeded.Tensor(dev, 1, 2, 3, 5, 7);
        using var bN = Seeded.Tensor(dev, 2, 1, 3, 5, 7);
        using var bH = Seeded.Tensor(dev, 3, 2, 3, 4, 7);
        using var r3 = Seeded.Tensor(dev, 4, 3, 5, 7);
        using var c1 = Seeded.Tensor(dev, 5, 2, 1, 5, 7);
        void Throws(Action act, params string[] parts)
        {
            var e = Assert.Throws<ArgumentException>(() => act())!;
            foreach (var s in parts) Assert.That(e.Message, Does.Contain(s));
        }
        Throws(() => Channels.Concat(a, bN).Dispose(), "Channels.Concat", "[2, 3, 5, 7]", "[1, 3, 5, 7]");
        Throws(() => Channels.Concat(a, bH).Dispose(), "Channels.Concat", "[2, 3, 5, 7]", "[2, 3, 4, 7]");
        Throws(() => Channels.Concat(a, r3).Dispose(), "Channels.Concat", "rank 4", "[3, 5, 7]");
        Throws(() => Channels.Slice(a, 2, 2).Dispose(), "Channels.Slice", "[2, 4)", "3 channels");
        Throws(() => Channels.Slice(a, -1, 1).Dispose(), "Channels.Slice", "start -1");
        Throws(() => Channels.CopyChannels(a, 0, bH, 0, 1, false), "Channels.CopyChannels", "[2, 3, 5, 7]", "[2, 3, 4, 7]");
        Throws(() => Channels.CopyChannels(a, 0, a, 1, 1, true), "Channels.CopyChannels", "share storage");
        Throws(() => Channels.CopyChannels(a, 0, c1, 0, 2, true), "Channels.CopyChannels", "dst", "[0, 2)", "1 channels");
    }
}
