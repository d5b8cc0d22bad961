using Boost.Kernels;

namespace Boost.Autograd;

/// <summary>
/// A node of the computation: a value, and (when it requires grad) the gradient accumulated into it by
/// <see cref="Tape.Backward"/>. Parameters are Vars that own their value and gradient across steps; every other Var
/// belongs to the <see cref="Tape"/> that was current when it was made and is disposed with it.
/// </summary>
public class Var : IDisposable
{
    public Tensor Value { get; private set; }
    public Tensor? Grad { get; internal set; }
    public bool RequiresGrad { get; }
    public string? Name { get; set; }
    /// <summary>The value belongs to the caller (<see cref="Ops.Borrow"/>): disposing this Var leaves it alone.</summary>
    internal bool Borrowed { get; init; }
    /// <summary>Set while a <see cref="Optim.ParameterArena"/> holds this parameter: its value is a view into the
    /// arena's flat value buffer and <see cref="GradSlot"/> its persistent view into the flat gradient buffer.</summary>
    internal Optim.ParameterArena? Arena { get; set; }
    /// <summary>The arena's gradient view for this parameter; <see cref="Grad"/> is it (fresh this step) or null (stale).</summary>
    internal Tensor? GradSlot { get; set; }

    public Var(Tensor value, bool requiresGrad = false, string? name = null)
    {
        Value = value;
        RequiresGrad = requiresGrad;
        Name = name;
    }

    public int[] Shape => Value.Shape;
    public int Dim(int axis) => Value.Dim(axis);
    public Device Device => Value.Device;

    /// <summary>
    /// The one rule for gradients: the first contribution is taken as the gradient (ownership moves here), every
    /// later one is added to it (and disposed). A parameter in an arena copies its first contribution into its
    /// gradient slot instead (queued on the device, no host wait), so the gradient lands in the flat buffer.
    /// </summary>
    internal void Accumulate(Tensor g)
    {
        if (!g.ShapeSpan.SequenceEqual(Value.ShapeSpan))
            throw new InvalidOperationException($"Gradient {g.ShapeString} does not match value {Value.ShapeString}{(Name is null ? "" : $" of '{Name}'")}.");
        if (Grad is null && GradSlot is { } slot)
        {
            slot.CopyOnDevice(g);
            g.Dispose();
            Grad = slot;
            return;
        }
        if (Grad is null) { Grad = g; return; }
        Elementwise.ZipInto(Grad, g, new LinearCombOp(1f, 1f), Grad);
        g.Dispose();
    }

    /// <summary>Drops the gradient (PyTorch's <c>zero_grad(set_to_none=True)</c>). In an arena the slot is kept and
    /// only marked stale (Grad = null); its stale contents are never read as a gradient.</summary>
    public void ZeroGrad()
    {
        if (!ReferenceEquals(Grad, GradSlot)) Grad?.Dispose();
        Grad = null;
    }

    /// <summary>Takes the value out of this Var (and its tape): the caller now owns and must dispose it.</summary>
    public Tensor Detach()
    {
        var v = Value;
        Value = null!;
        return v;
    }

    /// <summary>Replaces the value (for loading weights); the old one is disposed. In an arena the elements are
    /// copied into the parameter's view instead (the view stays) and <paramref name="value"/> is disposed.</summary>
    public void SetValue(Tensor value)
    {
        if (!value.ShapeSpan.SequenceEqual(Value.ShapeSpan))
            throw new ArgumentException($"SetValue: {value.ShapeString} does not match {Value.ShapeString}{(Name is null ? "" : $" of '{Name}'")}.");
        if (Arena is not null)
        {
            Value.CopyFrom(value);
            value.Dispose();
            return;
        }
        Value.Dispose();
        Value = value;
    }

    /// <summary>Points the value at <paramref name="view"/> (an arena's view holding the same elements) and disposes
    /// the old value.</summary>
    internal void Rebind(Tensor view)
    {
        var old = Value;
        Value = view;
        if (!Borrowed) old.Dispose();
    }

    public virtual void Dispose()
    {
        if (!Borrowed) Value?.Dispose();
        if (!ReferenceEquals(Grad, GradSlot)) Grad?.Dispose(); // the arena owns the slot
        Grad = null;
    }

    public override string ToString() => $"Var{Value?.ShapeString}{(Name is null ? "" : $" '{Name}'")}";
}

/// <summary>A trainable tensor: requires grad, survives tapes, owned by its module.</summary>
public sealed class Parameter(Tensor value, string? name = null) : Var(value, requiresGrad: true, name);
