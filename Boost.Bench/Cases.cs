using Boost.Autograd;
using Boost.Autograd.Optim;
using Boost.Kernels;
using Boost.Models.UNet;
using Upsample = Boost.Kernels.Upsample;

namespace Boost.Bench;

/// <summary>
/// One benchmark case: an id (the names the targets use), its work (FLOPs = 2·MACs, or minimum bytes moved: each tensor read
/// or written once), and a run action made by <see cref="Setup"/> that owns its tensors.
/// </summary>
public sealed record BenchCase(string Id, double Flops, double Bytes, Func<Device, (Action run, IDisposable state)> Setup)
{
    /// <summary>Extra figures a case reports beside its time (boost_128: NFE).</summary>
    public Func<IReadOnlyDictionary<string, double>>? Extra { get; init; }

    /// <summary>How a device computes the case, where its GFLOP/s need reading (a fast algorithm's flops are the
    /// direct method's, so its "% of peak" can pass 100).</summary>
    public Func<Device, string?>? Note { get; init; }
}

public static class Cases
{
    /// <summary>Whether case <paramref name="id"/> is selected by <c>--filter</c>: a substring of the id, or several
    /// separated by <c>|</c> (any one matches); no filter selects everything.</summary>
    public static bool Matches(string id, string? filter) => filter is null || filter.Split('|').Any(id.Contains);

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
            Norm("groupnorm_fwd", 8, 128, 32, backward: false),
            Norm("groupnorm_bwd", 8, 128, 32, backward: true),
            Attn("attention_fwd", 8, 4, 256, 64, backward: false),
            Attn("attention_bwd", 8, 4, 256, 64, backward: true),
            Up("upsample_nearest_fwd", bilinear: false, backward: false),
            Up("upsample_nearest_bwd", bilinear: false, backward: true),
            Up("upsample_bilinear_fwd", bilinear: true, backward: false),
            Up("upsample_bilinear_bwd", bilinear: true, backward: true),
            UNetForward("unet_bench_forward", UNetConfig.Bench, 8, 32, 120f, 23.19e9),
            UNetTrainStep("unet_bench_train_step", UNetConfig.Bench, 8, 32, 120f, 3 * 23.19e9),
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
        })
        {
            Note = d => d is not CpuDevice ? null
                : stride == 2 ? "polyphase Winograd F(2, 2): 1.44× fewer multiply-adds; GFLOP/s counts direct convolution's"
                : backward ? "Winograd F(4×4, 3×3) for dX and dW (4× and 1.78× fewer multiply-adds); GFLOP/s counts direct convolution's"
                : "Winograd F(4×4, 3×3): 4× fewer multiply-adds; GFLOP/s counts direct convolution's",
        };
    }

    private static BenchCase Up(string id, bool bilinear, bool backward, int n = 8, int c = 128, int hw = 32)
    {
        long small = (long)n * c * hw * hw, big = small * 4;
        return new(id, 0, (small + big) * 4.0, d =>
        {
            var bag = new Bag(); var x = R(bag, d, 17, n, c, hw, hw); var g = R(bag, d, 18, n, c, 2 * hw, 2 * hw);
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

    private static BenchCase Attn(string id, int b, int h, int t, int dh, bool backward)
    {
        float scale = 1f / MathF.Sqrt(dh);
        return new(id, (backward ? 8.0 : 4.0) * b * h * t * t * dh, 0, d =>
        {
            var bag = new Bag(); var q = R(bag, d, 7, b, h, t, dh); var k = R(bag, d, 8, b, h, t, dh); var v = R(bag, d, 9, b, h, t, dh);
            if (!backward) return (() => { Attention.Forward(q, k, v, scale, out var lse).Dispose(); lse.Dispose(); }, bag);
            var g = R(bag, d, 10, b, h, t, dh);
            var o = bag.Add(Attention.Forward(q, k, v, scale, out var l)); bag.Add(l);
            return (() => { var (dq, dk, dv) = Attention.Backward(g, q, k, v, o, l, scale); dq.Dispose(); dk.Dispose(); dv.Dispose(); }, bag);
        });
    }

    private static BenchCase Norm(string id, int n, int c, int hw, bool backward)
    {
        long count = (long)n * c * hw * hw;
        return new(id, 0, (backward ? 3.0 : 2.0) * count * 4, d =>
        {
            var bag = new Bag(); var x = R(bag, d, 3, n, c, hw, hw); var w = R(bag, d, 4, c); var b = R(bag, d, 5, c);
            if (!backward) return (() => { GroupNorm.Forward(x, 32, w, b, 1e-6f, out var m, out var r).Dispose(); m.Dispose(); r.Dispose(); }, bag);
            var g = R(bag, d, 6, n, c, hw, hw);
            bag.Add(GroupNorm.Forward(x, 32, w, b, 1e-6f, out var mean, out var rstd)); bag.Add(mean); bag.Add(rstd);
            return (() => { var (dx, dw, db) = GroupNorm.Backward(g, x, mean, rstd, w, 32); dx.Dispose(); dw?.Dispose(); db?.Dispose(); }, bag);
        });
    }

    /// <summary>
    /// GPU-sized shapes: the `paper` UNet at 128² latents, batch 4, and its layers' conv, norm, attention
    /// and upsampling shapes; the same ids in <c>scripts/torch_bench.py --gpu-shapes</c> (except the UNet cases).
    /// </summary>
    public static IReadOnlyList<BenchCase> Gpu()
    {
        const int n = 4;
        var list = new List<BenchCase>
        {
            new("gpu_matmul_4096", 2.0 * 4096 * 4096 * 4096, 3.0 * 4096 * 4096 * 4, d =>
            {
                var bag = new Bag(); var a = R(bag, d, 1, 4096, 4096); var b = R(bag, d, 2, 4096, 4096);
                return (() => MatMul.Gemm(a, b).Dispose(), bag);
            }),
            Conv("gpu_conv3x3_c128_128_fwd", n, 128, 128, 1, backward: false),
            Conv("gpu_conv3x3_c128_128_bwd", n, 128, 128, 1, backward: true),
            Conv("gpu_conv3x3_c512_32_fwd", n, 512, 32, 1, backward: false),
            Conv("gpu_conv3x3_c512_32_bwd", n, 512, 32, 1, backward: true),
            Conv("gpu_conv3x3s2_c256_64_fwd", n, 256, 64, 2, backward: false),
            Norm("gpu_groupnorm_fwd", n, 256, 64, backward: false),
            Norm("gpu_groupnorm_bwd", n, 256, 64, backward: true),
            Attn("gpu_attention_fwd", n, 16, 256, 64, backward: false),
            Attn("gpu_attention_bwd", n, 16, 256, 64, backward: true),
            Up("gpu_upsample_nearest_fwd", bilinear: false, backward: false, n, 512, 32),
            Up("gpu_upsample_nearest_bwd", bilinear: false, backward: true, n, 512, 32),
            UNetForward("gpu_unet_paper_forward", UNetConfig.Paper, n, 128, 250f, 0),
            UNetTrainStep("gpu_unet_paper_train_step", UNetConfig.Paper, n, 128, 250f, 0),
        };
        return list;
    }

    /// <summary>No-grad forward of a UNet at batch n, 8 input channels, res² (times 0, tStep, 2·tStep, …): one ODE evaluation.</summary>
    private static BenchCase UNetForward(string id, UNetConfig config, int n, int res, float tStep, double flops) => new(id, flops, 0, d =>
    {
        var bag = new Bag(); var unet = bag.Add(new UNetModel(config, d)); var x = R(bag, d, 11, n, 8, res, res);
        float[] t = Enumerable.Range(0, n).Select(i => i * tStep).ToArray();
        return (() => { using var s = Tape.NoGrad(); unet.Forward(Ops.Constant(x.Clone()), t); }, bag);
    });

    /// <summary>Forward + MSE + backward + AdamW of a UNet at batch n, res². On an ILGPU device the parameters live in a
    /// <see cref="ParameterArena"/> (one AdamW launch, one host read for the norm); the last run's launches and host
    /// reads are reported beside the time.</summary>
    private static BenchCase UNetTrainStep(string id, UNetConfig config, int n, int res, float tStep, double flops)
    {
        CounterSnapshot last = default;
        bool counted = false;
        return new(id, flops, 0, d =>
        {
            var bag = new Bag(); var unet = bag.Add(new UNetModel(config, d)); var x = R(bag, d, 11, n, 8, res, res); var y = R(bag, d, 12, n, 4, res, res);
            var parameters = unet.Parameters().ToList();
            if (ParameterArena.TryAdopt(parameters) is { } arena) bag.Add(arena);
            var opt = bag.Add(new AdamW(parameters) { WeightDecay = 0.01f });
            float[] t = Enumerable.Range(0, n).Select(i => i * tStep).ToArray();
            counted = d is IlgpuDevice;
            return (() =>
            {
                var s0 = d.Counters.Snapshot();
                unet.ZeroGrad();
                using (var tape = Tape.Record())
                    tape.Backward(Ops.MseLoss(unet.Forward(Ops.Constant(x.Clone()), t), Ops.Constant(y.Clone())));
                opt.Update(1e-4f);
                last = d.Counters.Snapshot() - s0;
            }, bag);
        })
        {
            Extra = () => counted ? new Dictionary<string, double> { ["launches"] = last.Launches, ["host_reads"] = last.HostReads } : null,
            Note = d => d is IlgpuDevice ? "parameter arena: one AdamW launch, one host read for the norm" : null,
        };
    }
}
