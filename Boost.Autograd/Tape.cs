using Boost.Kernels;

namespace Boost.Autograd;

/// <summary>
/// The reverse-mode tape. While a tape is current (<see cref="Current"/>), every op registers its output Var here
/// (the tape owns and disposes it) and, if grad is enabled and an input requires grad, a backward closure that reads
/// what the forward saved. <see cref="Backward"/> runs the closures in reverse order. A no-grad tape (inference)
/// records no closures but still owns the intermediates, so one <c>using</c> frees a whole forward pass.
/// </summary>
public sealed class Tape : IDisposable
{
    [ThreadStatic] private static Stack<Tape>? _stack;

    private readonly List<(Var output, Action<Tensor> backward)> _nodes = new();
    private readonly List<IDisposable> _owned = new();
    private bool _disposed;

    public bool GradEnabled { get; }

    private Tape(bool gradEnabled)
    {
        GradEnabled = gradEnabled;
        (_stack ??= new()).Push(this);
    }

    /// <summary>A recording tape, current until disposed.</summary>
    public static Tape Record() => new(gradEnabled: true);

    /// <summary>An inference scope: no gradients recorded, intermediates freed on dispose.</summary>
    public static Tape NoGrad() => new(gradEnabled: false);

    /// <summary>The innermost live tape of this thread, or null.</summary>
    public static Tape? Current => _stack is { Count: > 0 } s ? s.Peek() : null;

    /// <summary>True when ops on this thread should record backward closures.</summary>
    public static bool IsRecording => Current is { GradEnabled: true };

    /// <summary>Registers an op's output: owned by the current tape, if any (else the caller owns it). A borrowed
    /// value stays the caller's: the tape disposes the Var, not the tensor.</summary>
    internal static Var Output(Tensor value, bool requiresGrad, bool borrowed = false)
    {
        var v = new Var(value, requiresGrad && IsRecording) { Borrowed = borrowed };
        Current?._owned.Add(v);
        return v;
    }

    /// <summary>Keeps a saved tensor alive until the tape is disposed.</summary>
    internal static Tensor Save(Tensor t)
    {
        if (Current is { } tape) tape._owned.Add(t);
        return t;
    }

    /// <summary>Records the backward of an op whose output is <paramref name="output"/>.</summary>
    internal static void Record(Var output, Action<Tensor> backward)
    {
        if (!output.RequiresGrad) return;
        Current!._nodes.Add((output, backward));
    }

    /// <summary>True when any input needs a gradient and the current tape records.</summary>
    internal static bool Needs(params Var?[] inputs)
    {
        if (!IsRecording) return false;
        foreach (var v in inputs) if (v is { RequiresGrad: true }) return true;
        return false;
    }

    /// <summary>
    /// Back-propagates from <paramref name="loss"/> (a one-element Var, seeded with 1, or with
    /// <paramref name="seed"/>): every Var on the path gets its <see cref="Var.Grad"/>, parameters accumulate (+=).
    /// </summary>
    public void Backward(Var loss, Tensor? seed = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!loss.RequiresGrad) throw new InvalidOperationException("Backward: the loss does not depend on anything that requires grad (was it computed under NoGrad?).");
        if (seed is null && loss.Value.Length != 1) throw new InvalidOperationException($"Backward: the loss must have one element, got {loss.Value.ShapeString}; pass a seed gradient.");
        loss.Accumulate(seed?.Clone() ?? Tensor.Full(loss.Device, 1f, loss.Shape));
        for (int i = _nodes.Count - 1; i >= 0; i--)
        {
            var (output, backward) = _nodes[i];
            if (output.Grad is null) continue; // not on the loss's path
            backward(output.Grad);
            // An intermediate's gradient is spent once its op has passed it on: free it now to cap peak memory.
            output.ZeroGrad();
        }
        _nodes.Clear();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_stack is null || _stack.Count == 0 || !ReferenceEquals(_stack.Peek(), this))
            throw new InvalidOperationException("Tapes must be disposed innermost first.");
        _stack.Pop();
        foreach (var o in _owned) o.Dispose();
        _owned.Clear();
        _nodes.Clear();
    }
}
