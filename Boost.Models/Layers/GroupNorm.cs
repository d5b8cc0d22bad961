using Boost.Autograd;
using Boost.Kernels;

namespace Boost.Models.Layers;

/// <summary>nn.GroupNorm (affine). Keys: <c>weight</c>, <c>bias</c> [C].</summary>
public sealed class GroupNorm : Module
{
    public readonly Parameter weight, bias;
    public int Groups { get; }
    public float Eps { get; }

    public GroupNorm(Device device, int groups, int channels, float eps)
    {
        if (channels % groups != 0) throw new ArgumentException($"GroupNorm: {channels} channels do not split into {groups} groups.");
        Groups = groups; Eps = eps;
        weight = Param("weight", Tensor.Full(device, 1f, channels));
        bias = Param("bias", Tensor.Zeros(device, channels));
    }

    /// <param name="x">[N, C, H, W]</param>
    public Var Forward(Var x) => Ops.GroupNorm(x, Groups, weight, bias, Eps);

    /// <summary>SiLU(GroupNorm(x)) in one fused op (one pass instead of two, no stored pre-activation).</summary>
    /// <param name="x">[N, C, H, W]</param>
    public Var ForwardSiLU(Var x) => Ops.GroupNorm(x, Groups, weight, bias, Eps, silu: true);
}
