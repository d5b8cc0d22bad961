using Boost.Autograd;
using Boost.Autograd.Optim;
using Boost.Kernels;
using Boost.Models.UNet;
using Upsample = Boost.Kernels.Upsample;

namespace Boost.Bench;

/// <summary>
/// One benchmark case: an id (the names), its work (FLOPs = 2·MACs, or minimum bytes moved: each tensor read
/// or written once), and a run action made by <see cref="Setup"/> that owns its tensors.
/// </summary>
public sealed record BenchCase(string Id, double Flops, double Bytes, Func<Device, (Action run, IDisposable state)> Setup)
{
    /// <summary>Extra figures a case reports beside its time (boost_128: NFE).</summary>
    public Func<IReadOnlyDictionary<string, double>>? Extra { get; init; }
}

public static class Cases
{
    private sealed class Bag : IDisposable
    {
        public readonly List<IDisposable> Items = new();
        public T Add<T>(T x) where T : IDisposable { Items.Add(x); return x; }
        public void Dispose() { foreach (var i in Items) i.Dispose(); }
    }

    private static Tensor R(Bag bag, Device d, ulong seed, params int[] shape) => bag.Add(Rng.Uniform(d, seed, 0, shape, -2f, 2f));

    public static IReadOnlyList<BenchCase> All()
    {
        const long F = 4;
        var list = new List<BenchCase>
        {
            new("matmul_1024", 2.0 * 1024 * 1024 * 1024, 3 * 1024 * 1024 * F, d =>
            {
                var bag = new Bag(); var a = R(bag, d, 1, 1024, 1024); var b = R(bag, d, 2, 1024, 1024);
                return (() => MatMul.Gemm(a, b).Dispose(), bag);
            }),
            Conv("conv3x3_c128_32_fwd", 8, 128, 32, 1, backward: false),
            Conv("conv3x3_c128_32_bwd", 8, 128, 32, 1, backward: true),
            Conv("conv3x3_c64_64_fwd", 8, 64, 64, 1, backward: false),
            Conv("conv3x3_c64_64_bwd", 8, 64, 64, 1, backward: true),
            Conv("conv3x3s2_c128_32_fwd", 8, 128, 32, 2, backward: false),
            new("groupnorm_fwd", 0, 2.0 * 8 * 128 * 32 * 32 * F, d =>
            {
                var bag = new Bag(); var x = R(bag, d, 3, 8, 128, 32, 32); var w = R(bag, d, 4, 128); var b = R(bag, d, 5, 128);
                return (() => { GroupNorm.Forward(x, 32, w, b, 1e-6f, out var m, out var r).Dispose(); m.Dispose(); r.Dispose(); }, bag);
            }),
            new("groupnorm_bwd", 0, 3.0 * 8 * 128 * 32 * 32 * F, d =>
            {
                var bag = new Bag(); var x = R(bag, d, 3, 8, 128, 32, 32); var w = R(bag, d, 4, 128); var b = R(bag, d, 5, 128); var g = R(bag, d, 6, 8, 128, 32, 32);
                bag.Add(GroupNorm.Forward(x, 32, w, b, 1e-6f, out var m, out var r)); bag.Add(m); bag.Add(r);
                return (() => { var (dx, dw, db) = GroupNorm.Backward(g, x, m, r, w, 32); dx.Dispose(); dw?.Dispose(); db?.Dispose(); }, bag);
            }),
            new("attention_fwd", 4.0 * 8 * 4 * 256 * 256 * 64, 0, d =>
            {
                var bag = new Bag(); var q = R(bag, d, 7, 8, 4, 256, 64); var k = R(bag, d, 8, 8, 4, 256, 64); var v = R(bag, d, 9, 8, 4, 256, 64);
                return (() => { Attention.Forward(q, k, v, 0.125f, out var lse).Dispose(); lse.Dispose(); }, bag);
            }),
            new("attention_bwd", 8.0 * 8 * 4 * 256 * 256 * 64, 0, d =>
            {
                var bag = new Bag(); var q = R(bag, d, 7, 8, 4, 256, 64); var k = R(bag, d, 8, 8, 4, 256, 64); var v = R(bag, d, 9, 8, 4, 256, 64); var g = R(bag, d, 10, 8, 4, 256, 64);
                var o = bag.Add(Attention.Forward(q, k, v, 0.125f, out var lse)); bag.Add(lse);
                return (() => { var (dq, dk, dv) = Attention.Backward(g, q, k, v, o, lse, 0.125f); dq.Dispose(); dk.Dispose(); dv.Dispose(); }, bag);
            }),
            Up("upsample_nearest_fwd", bilinear: false, backward: false),
            Up("upsample_nearest_bwd", bilinear: false, backward: true),
            Up("upsample_bilinear_fwd", bilinear: true, backward: false),
            Up("upsample_bilinear_bwd", bilinear: true, backward: true),
            new("unet_bench_forward", 23.19e9, 0, d =>
            {
                var bag = new Bag(); var unet = bag.Add(new UNetModel(UNetConfig.Bench, d)); var x = R(bag, d, 11, 8, 8, 32, 32);
                float[] t = Enumerable.Range(0, 8).Select(i => i * 120f).ToArray();
                return (() => { using var s = Tape.NoGrad(); unet.Forward(Ops.Constant(x.Clone()), t); }, bag);
            }),
            new("unet_bench_train_step", 3 * 23.19e9, 0, d =>
            {
                var bag = new Bag(); var unet = bag.Add(new UNetModel(UNetConfig.Bench, d)); var x = R(bag, d, 11, 8, 8, 32, 32); var y = R(bag, d, 12, 8, 4, 32, 32);
                var opt = bag.Add(new AdamW(unet.Parameters()) { WeightDecay = 0.01f });
                float[] t = Enumerable.Range(0, 8).Select(i => i * 120f).ToArray();
                return (() =>
                {
                    unet.ZeroGrad();
                    using var tape = Tape.Record();
                    tape.Backward(Ops.MseLoss(unet.Forward(Ops.Constant(x.Clone()), t), Ops.Constant(y.Clone())));
                    opt.Update(1e-4f);
                }, bag);
            }),
            Boost128(),
        };
        return list;
    }

    /// <summary>One 32 px → 128 px boost with the shipped weights: encode, dopri5 at the CLI's defaults, decode.</summary>
    private static BenchCase Boost128()
    {
        int nfe = 0;
        return new("boost_128", 0, 0, d =>
        {
            string weights = Boost.Train.Cli.Paths.Weights;
            if (!File.Exists(Path.Combine(weights, "cfm", "model.safetensors")))
                throw new FileNotFoundException($"boost_128 needs the shipped weights in {weights}");
            var up = Boost.Train.Pipeline.Upsampler.Load(Path.Combine(weights, "cfm"), Path.Combine(weights, "ae"), d);
            var photos = Boost.Train.Data.ImageFolder.Load(Boost.Train.Cli.Paths.ValPhotos);
            var hr = Boost.Train.Pipeline.AeTrainer.ValidationCrops(photos, 128, up.HrMultiple)[0];
            photos.Dispose();
            var lr = Boost.Train.Imaging.Resample.Downscale(hr, 4);
            var solver = Boost.Train.Sampling.SolverOptions.Adaptive(1e-3, 1e-3);
            var bag = new Bag(); bag.Add(up.UNet); bag.Add(up.Autoencoder);
            return (() => nfe = up.Boost(lr, solver).nfe, bag);
        }) { Extra = () => new Dictionary<string, double> { ["nfe"] = nfe } };
    }

    private static BenchCase Conv(string id, int n, int c, int hw, int stride, bool backward)
    {
        int ho = (hw + 2 - 3) / stride + 1;
        double flops = 2.0 * n * c * c * 9 * ho * ho * (backward ? 2 : 1);
        return new(id, flops, 0, d =>
        {
            var bag = new Bag(); var x = R(bag, d, 13, n, c, hw, hw); var w = R(bag, d, 14, c, c, 3, 3); var b = R(bag, d, 15, c); var g = R(bag, d, 16, n, c, ho, ho);
            return (backward
                ? () => { Conv2d.BackwardInput(g, w, [n, c, hw, hw], stride, 1).Dispose(); Conv2d.BackwardWeight(g, x, 3, stride, 1).Dispose(); }
                : () => Conv2d.Forward(x, w, b, stride, 1).Dispose(), bag);
        });
    }

    private static BenchCase Up(string id, bool bilinear, bool backward)
    {
        const long small = 8L * 128 * 32 * 32, big = small * 4;
        return new(id, 0, (small + big) * 4.0, d =>
        {
            var bag = new Bag(); var x = R(bag, d, 17, 8, 128, 32, 32); var g = R(bag, d, 18, 8, 128, 64, 64);
            Action run = (bilinear, backward) switch
            {
                (false, false) => () => Upsample.Nearest(x, 2).Dispose(),
                (false, true) => () => Upsample.NearestBackward(g, 2).Dispose(),
                (true, false) => () => Upsample.Bilinear(x, 2).Dispose(),
                (true, true) => () => Upsample.BilinearBackward(g, 2).Dispose(),
            };
            return (run, bag);
        });
    }
}
