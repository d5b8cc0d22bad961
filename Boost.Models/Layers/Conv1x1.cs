using Boost.Autograd;
using Boost.Kernels;

namespace Boost.Models.Layers;

/// <summary>A conv1d with kernel 1 (ADM's qkv / proj_out): weight [Cout, Cin, 1], bias [Cout].</summary>
public sealed class Conv1x1 : Module
{
    public readonly Parameter weight, bias;
    public Conv1x1(Device d, ulong seed, int cin, int cout, bool zeroInit)
    {
        float bound = 1f / MathF.Sqrt(cin);
        weight = Param("weight", zeroInit ? Tensor.Zeros(d, cout, cin, 1) : Init.Uniform(d, seed, bound, cout, cin, 1));
        bias = Param("bias", zeroInit ? Tensor.Zeros(d, cout) : Init.Uniform(d, seed + 1, bound, cout));
    }
}
