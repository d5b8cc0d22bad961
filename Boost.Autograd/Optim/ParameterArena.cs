using Boost.Kernels;

namespace Boost.Autograd.Optim;

/// <summary>
/// Flat storage for a list of parameters on one ILGPU device (llm.c's layout): every value lives in one flat buffer
/// (<see cref="Values"/>) and every gradient in another (<see cref="Grads"/>), each parameter's
/// <see cref="Var.Value"/> and gradient being views at the same offset into them. An <see cref="AdamW"/> or
/// <see cref="Ema"/> made over exactly these parameters (same list, same order) keeps its moments / shadow in flat
/// buffers of this layout too and then updates all parameters with one launch, and takes the global gradient norm
/// with one reduction and one host read.
/// <para>
/// Layout: parameter i at <see cref="Offset"/>(i), each start rounded up to <see cref="Alignment"/> floats; the gaps
/// hold zeros in every flat buffer, and the AdamW and EMA updates keep zeros at zero (g = p = m = v = 0 ⇒ no change).
/// </para>
/// <para>
/// Gradients keep PyTorch's <c>set_to_none</c> meaning: <see cref="Var.ZeroGrad"/> only marks a parameter's slot
/// stale (Grad = null); the first contribution of a step is copied into the slot, later ones are added. A parameter
/// that received no gradient in a step still has Grad = null and is left untouched by AdamW exactly as on the
/// per-tensor path: in such a step <see cref="AdamW"/> zeroes the stale slots (so the flat norm counts them as 0)
/// and falls back to one update launch per parameter that has a gradient; steps where every parameter has one use
/// the single flat launch.
/// </para>
/// <para>
/// Lifetime: dispose the arena after the optimizer and EMA built on it. Views keep the flat buffers alive, so
/// parameters stay valid after the arena is disposed (and the arena stays valid if a parameter is disposed first).
/// On the managed CPU device there is no launch cost and no arena: <see cref="TryAdopt"/> returns null there.
/// </para>
/// </summary>
public sealed class ParameterArena : IDisposable
{
    /// <summary>Floats each parameter's start is rounded up to (256 bytes, the CUDA allocation alignment).</summary>
    public const int Alignment = 64;

    private readonly Parameter[] _params;
    private readonly long[] _offsets;
    private bool _disposed;

    public IReadOnlyList<Parameter> Parameters => _params;
    public IlgpuDevice Device { get; }
    /// <summary>The flat length of every buffer of this layout (gaps included).</summary>
    public long Length { get; }
    /// <summary>All parameter values, flat: each parameter's <see cref="Var.Value"/> is a view into it.</summary>
    public Tensor Values { get; }
    /// <summary>All gradients, flat: each parameter's gradient slot is a view into it.</summary>
    public Tensor Grads { get; }
    public bool IsDisposed => _disposed;

    /// <summary>Where parameter <paramref name="i"/> starts in every flat buffer.</summary>
    public long Offset(int i) => _offsets[i];

    /// <summary>An arena over <paramref name="parameters"/> when they all live on one ILGPU device; null on the managed
    /// CPU device (which keeps separate arrays and per-tensor loops).</summary>
    public static ParameterArena? TryAdopt(IEnumerable<Parameter> parameters)
    {
        var list = parameters.ToList();
        return list.Count > 0 && list.All(p => p.Device is IlgpuDevice) ? new ParameterArena(list) : null;
    }

    /// <summary>
    /// Adopts <paramref name="parameters"/>: copies their values into the flat buffer and rebinds each
    /// <see cref="Var.Value"/> to its view (the old value tensors are disposed: don't hold them across this call); a
    /// gradient already present moves into the parameter's slot.
    /// </summary>
    public ParameterArena(IEnumerable<Parameter> parameters)
    {
        _params = parameters.ToArray();
        if (_params.Length == 0) throw new ArgumentException("ParameterArena: no parameters.");
        Device = _params[0].Device as IlgpuDevice
            ?? throw new ArgumentException($"ParameterArena: parameters on {_params[0].Device.Name}; arenas are for ILGPU devices (use TryAdopt).");
        if (_params.Distinct().Count() != _params.Length) throw new ArgumentException("ParameterArena: a parameter is listed twice.");
        foreach (var p in _params)
        {
            if (!ReferenceEquals(p.Device, Device)) throw new ArgumentException($"ParameterArena: {p} is on {p.Device.Name}, not {Device.Name}.");
            if (p.Arena is not null) throw new ArgumentException($"ParameterArena: {p} already belongs to an arena.");
        }
        _offsets = new long[_params.Length];
        long at = 0;
        for (int i = 0; i < _params.Length; i++)
        {
            _offsets[i] = at;
            at = checked(at + (_params[i].Value.Length + Alignment - 1) / Alignment * Alignment);
        }
        Length = Math.Max(at, 1);
        if (Length > int.MaxValue) throw new ArgumentException($"ParameterArena: {Length} floats exceed the kernels' 32-bit indexing.");
        Values = Tensor.Zeros(Device, checked((int)Length));
        Grads = Tensor.Zeros(Device, checked((int)Length));
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            var value = Values.Slice(_offsets[i], p.Shape);
            if (value.Length > 0) value.CopyOnDevice(p.Value);
            p.Rebind(value);
            var slot = Grads.Slice(_offsets[i], p.Shape);
            if (p.Grad is { } g)
            {
                if (slot.Length > 0) slot.CopyOnDevice(g);
                g.Dispose();
                p.Grad = slot;
            }
            p.GradSlot = slot;
            p.Arena = this;
        }
    }

    /// <summary>True when <paramref name="parameters"/> is exactly this arena's list, in order.</summary>
    public bool Covers(IReadOnlyList<Parameter> parameters)
        => parameters.Count == _params.Length && parameters.Select((p, i) => ReferenceEquals(p, _params[i])).All(b => b);

    /// <summary>The arena all of <paramref name="parameters"/> belong to, if they are exactly its list; else null.</summary>
    public static ParameterArena? Of(IReadOnlyList<Parameter> parameters)
        => parameters.Count > 0 && parameters[0].Arena is { _disposed: false } a && a.Covers(parameters) ? a : null;

    /// <summary>A new flat buffer of this layout filled with <paramref name="value"/>.</summary>
    internal Tensor NewFlat(float value = 0f) => Tensor.Full(Device, value, checked((int)Length));

    /// <summary>Each parameter's view into <paramref name="flat"/> (a buffer of this layout); dispose them with it.</summary>
    internal Tensor[] ViewsOf(Tensor flat) => _params.Select((p, i) => flat.Slice(_offsets[i], p.Shape)).ToArray();

    /// <summary>
    /// Readies <see cref="Grads"/> for a flat reduction: zeroes the slot of every parameter without a gradient this
    /// step (so it counts as 0). Returns true when every parameter has one (the flat update applies), false when some
    /// must be left untouched.
    /// </summary>
    internal bool PrepareGradients()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        bool all = true;
        foreach (var p in _params)
        {
            if (p.Grad is not null) continue;
            all = false;
            p.GradSlot?.Fill(0f);
        }
        return all;
    }

    /// <summary>Releases the flat buffers and the slots; each parameter keeps its value view (and a gradient it has
    /// this step, which it then owns) and leaves the arena.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _params)
        {
            if (!ReferenceEquals(p.Arena, this)) continue;
            if (!ReferenceEquals(p.Grad, p.GradSlot)) p.GradSlot?.Dispose();
            p.GradSlot = null;
            p.Arena = null;
        }
        Values.Dispose();
        Grads.Dispose();
    }
}
