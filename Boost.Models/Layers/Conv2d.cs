using Boost.Autograd;
using Boost.Kernels;

namespace Boost.Models.Layers;

/// <summary>nn.Conv2d (square kernel, zero padding, bias). Keys: <c>weight</c> [Cout, Cin, k, k], <c>bias</c> [Cout].</summary>
public sealed class Conv2d : Module
{
    public readonly Parameter weight;
    public readonly Parameter? bias;
    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public int Stride { get; }
    public int Padding { get; }

    /// <param name="zeroInit">Zero weights and bias (ADM's <c>zero_module</c> on output convs).</param>
    public Conv2d(Device device, ulong seed, int cin, int cout, int kernel, int stride = 1, int padding = -1, bool useBias = true, bool zeroInit = false)
    {
        InChannels = cin; OutChannels = cout; Kernel = kernel; Stride = stride; Padding = padding < 0 ? kernel / 2 : padding;
        float bound = 1f / MathF.Sqrt(cin * kernel * kernel);
        weight = Param("weight", zeroInit ? Tensor.Zeros(device, cout, cin, kernel, kernel) : Init.Uniform(device, seed, bound, cout, cin, kernel, kernel));
        if (useBias) bias = Param("bias", zeroInit ? Tensor.Zeros(device, cout) : Init.Uniform(device, seed + 1, bound, cout));
    }

    /// <param name="x">[N, Cin, H, W]</param>
    /// <returns>[N, Cout, H', W']</returns>
    public Var Forward(Var x) => Ops.Conv2d(x, weight, bias, Stride, Padding);

    /// <summary>conv(x) + e[:, :, None, None] + residual in one op (the adds happen in the conv's store).</summary>
    /// <param name="channelBias">[N, Cout] or null</param>
    /// <param name="residual">[N, Cout, H', W'] or null</param>
    public Var Forward(Var x, Var? channelBias, Var? residual) => Ops.Conv2d(x, weight, bias, Stride, Padding, channelBias, residual);
}
