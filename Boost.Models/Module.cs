using Boost.Autograd;
using Boost.Kernels;

namespace Boost.Models;

/// <summary>
/// A tree of named parameters, as PyTorch's nn.Module: the dotted path of a parameter
/// (<c>input_blocks.1.0.in_layers.0.weight</c>) is its checkpoint key, so weights load by name, strictly.
/// Children and parameters are registered in construction order.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string name, Module module)> _children = new();
    private readonly List<(string name, Parameter param)> _params = new();

    protected T Child<T>(string name, T module) where T : Module
    {
        _children.Add((name, module));
        return module;
    }

    protected Parameter Param(string name, Tensor value)
    {
        var p = new Parameter(value, name);
        _params.Add((name, p));
        return p;
    }

    /// <summary>Every parameter with its dotted key, depth first in registration order.</summary>
    public IEnumerable<(string key, Parameter param)> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _params) yield return (prefix + name, p);
        foreach (var (name, m) in _children)
            foreach (var item in m.NamedParameters(prefix + name + ".")) yield return item;
    }

    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(x => x.param);

    public long ParameterCount => Parameters().Sum(p => p.Value.Length);

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    public virtual void Dispose()
    {
        foreach (var (_, p) in _params) p.Dispose();
        foreach (var (_, m) in _children) m.Dispose();
    }
}

/// <summary>An ordered container whose children are named 0, 1, 2, … (nn.Sequential / nn.ModuleList keys).</summary>
public sealed class ModuleList : Module
{
    private readonly List<Module> _items = new();
    public ModuleList(IEnumerable<Module?> items)
    {
        int i = 0;
        foreach (var m in items)
        {
            if (m is not null) _items.Add(Child(i.ToString(), m));
            i++; // a parameter-free slot (SiLU, Dropout) still takes its index, as in PyTorch
        }
    }
    public int Count => _items.Count;
    public Module this[int i] => _items[i];
    public IReadOnlyList<Module> Items => _items;
}

/// <summary>PyTorch's default initialisation: U(−1/√fan_in, 1/√fan_in) for weights and biases, seeded.</summary>
public static class Init
{
    public static Tensor Uniform(Device device, ulong seed, float bound, params int[] shape)
        => Rng.Uniform(device, seed, 0, shape, -bound, bound);
}
