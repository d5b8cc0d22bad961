using Boost.Autograd;
using Boost.Kernels;

namespace Boost.Models.Layers;

/// <summary>nn.Linear. Keys: <c>weight</c> [out, in], <c>bias</c> [out].</summary>
public sealed class Linear : Module
{
    public readonly Parameter weight;
    public readonly Parameter? bias;

    public Linear(Device device, ulong seed, int inFeatures, int outFeatures, bool useBias = true, bool zeroInit = false)
    {
        float bound = 1f / MathF.Sqrt(inFeatures);
        weight = Param("weight", zeroInit ? Tensor.Zeros(device, outFeatures, inFeatures) : Init.Uniform(device, seed, bound, outFeatures, inFeatures));
        if (useBias) bias = Param("bias", zeroInit ? Tensor.Zeros(device, outFeatures) : Init.Uniform(device, seed + 1, bound, outFeatures));
    }

    /// <param name="x">[M, in]</param>
    /// <returns>[M, out]</returns>
    public Var Forward(Var x) => Ops.Linear(x, weight, bias);
}
