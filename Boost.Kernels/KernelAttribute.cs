namespace Boost.Kernels;

/// <summary>
/// Marks a static method as an ILGPU kernel entry point. The PTX test finds every kernel by this attribute
/// (and fails on any kernel-shaped method that lacks it), compiles it for SM_80 and SM_90, and so proves that the
/// whole op set builds for CUDA without a GPU.
/// </summary>
/// <remarks>
/// Implicitly grouped kernels take an index (<c>Index1D</c>, ...) first; explicitly grouped ones
/// (<see cref="Grouped"/>) use <c>Grid</c>/<c>Group</c> and shared memory. Generic kernels are instantiated in the
/// PTX test with every struct of the assembly that satisfies their constraints.
/// </remarks>
[AttributeUsage(AttributeTargets.Method)]
public sealed class KernelAttribute : Attribute
{
    public bool Grouped { get; init; }
}
