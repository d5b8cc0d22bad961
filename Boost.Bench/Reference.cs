namespace Boost.Bench;

/// <summary>
/// Issues 3 and 6's anchor: libtorch 2.10 (MKL/oneDNN), float32, 2 threads, on the developers' machine type (2 cores of AMD
/// EPYC Zen 5 with AVX-512), median of many runs; the midpoint of each quoted range. Not measured in our run: the
/// ratio compares against the figure, so it is only like for like on that machine type.
/// </summary>
public static class Reference
{
    public static readonly IReadOnlyDictionary<string, double> LibtorchMs = new Dictionary<string, double>
    {
        ["matmul_1024"] = 12.85,
        ["conv3x3_c128_32_fwd"] = 7.65,
        ["conv3x3_c128_32_bwd"] = 15.95,
        ["conv3x3_c64_64_fwd"] = 8.45,
        ["conv3x3_c64_64_bwd"] = 17.75,
        ["conv3x3s2_c128_32_fwd"] = 2.15,
        ["groupnorm_fwd"] = 0.165,
        ["groupnorm_bwd"] = 0.28,
        ["attention_fwd"] = 5.5,
        ["attention_bwd"] = 12.7,
        ["upsample_nearest_fwd"] = 10.95,
        ["upsample_nearest_bwd"] = 2.85,
        ["upsample_bilinear_fwd"] = 10.75,
        ["upsample_bilinear_bwd"] = 12.75,
        ["unet_bench_forward"] = 123,      // issue 6: 118–128 ms
        ["unet_bench_train_step"] = 430,   // issue 6
    };

    /// <summary>Issue 3's bar for each case, as a speed ratio (libtorch ms / ours): conv and attention ≥ 0.5,
    /// group norm ≥ 1, upsampling ≥ 2; null where the issue sets none.</summary>
    public static double? Target(string id) =>
        id.StartsWith("conv") || id.StartsWith("attention") ? 0.5
        : id.StartsWith("groupnorm") ? 1.0
        : id.StartsWith("upsample") ? 2.0
        : null;
}
