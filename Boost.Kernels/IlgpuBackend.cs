namespace Boost.Kernels;

/// <summary>
/// The ILGPU backend: every op of <see cref="IBackend"/> as its kernel launcher (kept beside the kernel, in the op's
/// file), specialised with this device's <see cref="TileSet"/>. The one place a tile set becomes tile structs:
/// <see cref="TileSet.Small"/> → the simulator's tiny tiles, <see cref="TileSet.Cuda"/> → the production tiles.
/// </summary>
internal sealed class IlgpuBackend : IBackend
{
    private readonly IlgpuDevice _dev;
    private readonly bool _small;

    public IlgpuBackend(IlgpuDevice device)
    {
        _dev = device;
        _small = device.Tiles == TileSet.Small;
    }

    public void Fill(Tensor y, float value) => Elementwise.LaunchFill(_dev, y, value);

    public void Map<TOp>(Tensor x, TOp op, Tensor y) where TOp : struct, IUnaryOp => Elementwise.LaunchMap(_dev, x, op, y);

    public void Zip<TOp>(Tensor a, Tensor b, TOp op, Tensor y) where TOp : struct, IBinaryOp => Elementwise.LaunchZip(_dev, a, b, op, y);

    public void ZipBroadcast<TOp>(Tensor a, Tensor b, TOp op, BroadcastLayout m, Tensor y) where TOp : struct, IBinaryOp
        => Elementwise.LaunchZipBroadcast(_dev, a, b, op, m, y);

    public void MapReduce<TMap>(Tensor a, Tensor b, TMap map, ReduceLayout layout, float scale, Tensor y) where TMap : struct, IBinaryOp
        => Reduce.Launch(_dev, map, layout, a.View, b.View, y.View, scale);

    // ---------------------------------------------------------------- tiled ops: the tile set picks the tile

    public void ConvForward(ConvDims d, Tensor x, Tensor w, Tensor? b, Tensor y, ConvEpilogue e)
    {
        if (_small) Conv2d.LaunchForward<ConvTileSim>(_dev, d, x, w, b, y, e);
        else Conv2d.LaunchForward<ConvTileCuda>(_dev, d, x, w, b, y, e);
    }

    public void ConvBackwardInput(ConvDims d, Tensor dy, Tensor w, Tensor dx, float beta)
    {
        if (_small) Conv2d.LaunchBackwardInput<ConvTileSim>(_dev, dy, w, dx, d, beta);
        else Conv2d.LaunchBackwardInput<ConvTileCuda>(_dev, dy, w, dx, d, beta);
    }

    public void ConvBackwardWeight(ConvDims d, Tensor dy, Tensor x, Tensor dw, float beta)
    {
        if (_small) Conv2d.LaunchBackwardWeight<ConvTileSim>(_dev, dy, x, dw, d, beta);
        else Conv2d.LaunchBackwardWeight<ConvTileCuda>(_dev, dy, x, dw, d, beta);
    }

    public void ConvBackwardBias(int n, int c, int hw, Tensor dy, Tensor db, float beta)
    {
        if (_small) Conv2d.LaunchBackwardBias<ConvTileSim>(_dev, dy, db, n, c, hw, beta);
        else Conv2d.LaunchBackwardBias<ConvTileCuda>(_dev, dy, db, n, c, hw, beta);
    }

    public void Gemm(Tensor a, Tensor b, Tensor c, GemmLayout p, int batch)
    {
        if (_small) MatMul.LaunchGemm<ConvTileSim>(_dev, a, b, c, p, batch);
        else MatMul.LaunchGemm<ConvTileCuda>(_dev, a, b, c, p, batch);
    }

    /// <summary>The transpose tile: t×t elements walked by a group of <c>group</c> threads.</summary>
    public void TransposeLastTwo(Tensor x, Tensor y, int batch, int m, int n)
    {
        var (t, group) = _small ? (4, 16) : (32, 256);
        Transpose.Launch(_dev, x, y, batch, m, n, t, group);
    }

    /// <summary>The attention tile for head dim <paramref name="d"/>: the small simulator's 16-thread tile, else the
    /// smallest production tile whose MaxD ≥ d.</summary>
    internal Type AttentionTile(int d, string op)
    {
        if (d > default(AttentionTileD256).MaxD)
            throw new ArgumentException($"{op}: head dim D = {d} exceeds the GPU kernels' limit of {default(AttentionTileD256).MaxD}.");
        if (_small) return typeof(AttentionTileSim);
        return d <= default(AttentionTileD64).MaxD ? typeof(AttentionTileD64)
            : d <= default(AttentionTileD128).MaxD ? typeof(AttentionTileD128) : typeof(AttentionTileD256);
    }

    /// <summary>Attention forward and backward run on the tensor cores (<see cref="MmaAttention"/>) at TF32/BF16 for
    /// D ≤ 64, else on the FP32 tiles.</summary>
    public void AttentionForward(AttentionDims d, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse)
    {
        if (UsesTensorCoreAttention(d.D)) MmaAttention.LaunchForward(_dev, d, q, k, v, o, lse);
        else WithAttentionTile(d.D, "Attention.Forward", new AttentionForwardLaunch(_dev, d, q, k, v, o, lse));
    }

    /// <summary>Whether the attention forward of head dim <paramref name="d"/> runs on the tensor cores here
    /// (<see cref="Device.Precision"/> is TF32 or BF16, which already requires the CUDA tiles).</summary>
    internal bool UsesTensorCoreAttention(int d) => _dev.Precision != MatmulPrecision.Fp32 && d <= MmaAttention.MaxD;

    public void AttentionBackward(AttentionDims d, Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor dq, Tensor dk, Tensor dv)
    {
        if (UsesTensorCoreAttention(d.D)) MmaAttention.LaunchBackward(_dev, d, dO, q, k, v, o, lse, dq, dk, dv);
        else WithAttentionTile(d.D, "Attention.Backward", new AttentionBackwardLaunch(_dev, d, dO, q, k, v, o, lse, dq, dk, dv));
    }

    /// <summary>Runs <paramref name="launch"/> specialised with <see cref="AttentionTile"/>'s tile.</summary>
    private void WithAttentionTile<TL>(int d, string op, TL launch) where TL : struct, IAttentionLaunch
    {
        var tile = AttentionTile(d, op);
        if (tile == typeof(AttentionTileSim)) launch.Run<AttentionTileSim>();
        else if (tile == typeof(AttentionTileD64)) launch.Run<AttentionTileD64>();
        else if (tile == typeof(AttentionTileD128)) launch.Run<AttentionTileD128>();
        else launch.Run<AttentionTileD256>();
    }

    private interface IAttentionLaunch
    {
        void Run<T>() where T : struct, IAttentionTile;
    }

    private readonly record struct AttentionForwardLaunch(IlgpuDevice Dev, AttentionDims D, Tensor Q, Tensor K, Tensor V, Tensor O, Tensor Lse)
        : IAttentionLaunch
    {
        public void Run<T>() where T : struct, IAttentionTile => Attention.LaunchForward<T>(Dev, D, Q, K, V, O, Lse);
    }

    private readonly record struct AttentionBackwardLaunch(IlgpuDevice Dev, AttentionDims D, Tensor DO, Tensor Q, Tensor K, Tensor V, Tensor O,
        Tensor Lse, Tensor Dq, Tensor Dk, Tensor Dv) : IAttentionLaunch
    {
        public void Run<T>() where T : struct, IAttentionTile => Attention.LaunchBackward<T>(Dev, D, DO, Q, K, V, O, Lse, Dq, Dk, Dv);
    }

    // ---------------------------------------------------------------- untiled ops

    public void FillRows(Tensor bias, Tensor y, int m, int n) => MatMul.LaunchFillRows(_dev, bias, y, m, n);

    public void ColumnSum(Tensor x, Tensor sum, int rows, int n, float beta) => MatMul.LaunchColumnSum(_dev, x, sum, rows, n, beta);

    public void GroupNormForward(Tensor x, Tensor? weight, Tensor? bias, Tensor y, Tensor mean, Tensor rstd, int n, int c, int hw, int groups, float eps, bool silu)
        => GroupNorm.LaunchForward(_dev, x, weight, bias, y, mean, rstd, n, c, hw, groups, eps, silu);

    public void GroupNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor? weight, Tensor? bias, Tensor dx, Tensor? dweight, Tensor? dbias,
        int n, int c, int hw, int groups, bool silu)
        => GroupNorm.LaunchBackward(_dev, dy, x, mean, rstd, weight, bias, dx, dweight, dbias, n, c, hw, groups, silu);

    public void Nearest(Tensor x, Tensor y, int planes, int h, int w, int factor) => Upsample.LaunchNearest(_dev, x, y, h, w, factor);

    public void NearestBackward(Tensor dy, Tensor dx, int planes, int h, int w, int factor) => Upsample.LaunchNearestBackward(_dev, dy, dx, h, w, factor);

    public void Bilinear(Tensor x, Tensor y, int planes, int h, int w, int outH, int outW, float sh, float sw)
        => Upsample.LaunchBilinear(_dev, x, y, h, w, outH, outW, sh, sw);

    public void BilinearBackward(Tensor dy, Tensor dx, int planes, int inH, int inW, int outH, int outW, float sh, float sw)
        => Upsample.LaunchBilinearBackward(_dev, dy, dx, inH, inW, outH, outW, sh, sw);

    public void CopyChannels(Tensor src, int srcStart, Tensor dst, int dstStart, int n, int count, int hw, bool accumulate)
        => Channels.LaunchCopy(_dev, src, srcStart, dst, dstStart, n, count, hw, accumulate);

    public void Pad(Tensor x, Tensor y, int planes, int h, int w, int top, int left) => Kernels.Pad.LaunchPad(_dev, x, y, h, w, top, left);

    public void Crop(Tensor dy, Tensor dx, int planes, int h, int w, int top, int left) => Kernels.Pad.LaunchCrop(_dev, dy, dx, h, w, top, left);

    public void Uniform(Tensor y, ulong seed, ulong stream, float lo, float hi) => Rng.LaunchUniform(_dev, y, seed, stream, lo, hi);

    public void Normal(Tensor y, ulong seed, ulong stream, float mean, float std) => Rng.LaunchNormal(_dev, y, seed, stream, mean, std);

    public void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, AdamWParams h) => Optim.LaunchAdamW(_dev, p, g, m, v, h);

    public void Ema(Tensor ema, Tensor p, float decay) => Optim.LaunchEma(_dev, ema, p, decay);
}
