using System.Reflection;
using Boost.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Boost.Tests.Kernels;

/// <summary>
/// Proves without a GPU that every kernel in Boost.Kernels compiles for CUDA (KernelCatalog): each [Kernel] method, found by
/// reflection (generic ones instantiated with every operator struct that fits), is compiled by ILGPU's PTX backend
/// for SM_80 and SM_90 in a fresh context (a failed compile poisons a shared one). Any exception fails, and so does
/// an `.extern .func` left in the PTX (an unresolved math call, e.g. a double Math function).
/// </summary>
public class PtxCompileTests
{
    private static readonly Assembly KernelAssembly = typeof(Tensor).Assembly;

    public static IEnumerable<TestCaseData> Kernels()
    {
        foreach (var (method, label) in KernelCatalog.Instances())
            foreach (var (arch, isa) in new[] { (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70), (CudaArchitecture.SM_90, KernelCatalog.RuntimeIsa) })
                yield return new TestCaseData(method, arch, isa).SetName($"Ptx_{arch}_{label}");
    }

    /// <summary>Every kernel entry point of the assembly, generic ones closed over each fitting struct.</summary>
    public static IEnumerable<(MethodInfo method, string label)> KernelInstances() => KernelCatalog.Instances();

    [Test]
    public void TheAssemblyHasKernels()
    {
        var all = KernelInstances().ToList();
        TestContext.Out.WriteLine($"{all.Count} kernel instances: " + string.Join(", ", all.Select(k => k.label)));
        Assert.That(all.Count, Is.GreaterThan(5));
    }

    /// <summary>A kernel-shaped method (static, void, ILGPU index first) without [Kernel] would escape this test.</summary>
    [Test]
    public void NoKernelIsUnmarked()
    {
        var indexTypes = new[] { typeof(Index1D), typeof(Index2D), typeof(Index3D), typeof(LongIndex1D) };
        var unmarked = KernelAssembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void) && m.GetParameters().Length > 0 && indexTypes.Contains(m.GetParameters()[0].ParameterType))
            .Where(m => m.GetCustomAttribute<KernelAttribute>() is null && !m.Name.Contains('<'))
            .Select(m => $"{m.DeclaringType!.Name}.{m.Name}").ToList();
        Assert.That(unmarked, Is.Empty, "kernel-shaped methods without [Kernel]");
    }

    [TestCaseSource(nameof(Kernels))]
    public void CompilesToPtx(MethodInfo kernel, CudaArchitecture arch, CudaInstructionSet isa)
    {
        string ptx = KernelCatalog.CompilePtx(kernel, arch, isa);
        Assert.That(ptx, Does.Contain(".entry"), "no entry point in the PTX");
        Assert.That(ptx, Does.Not.Contain(".extern .func"), "unresolved external function in the PTX (a double Math call?)");
        // ILGPU 1.5.3 writes `.target sm_80` for every architecture from SM_80 up (measured); the driver JITs sm_80
        // PTX for newer cards, so the check is that the target is a real one no newer than the one asked for.
        var target = System.Text.RegularExpressions.Regex.Match(ptx, @"\.target sm_(\d+)");
        Assert.That(target.Success, "no .target line in the PTX");
        Assert.That(int.Parse(target.Groups[1].Value), Is.InRange(80, int.Parse(arch.ToString()[3..])), "PTX target architecture");
    }

    public static IEnumerable<TestCaseData> Sm90Kernels()
        => KernelCatalog.Instances().Select(k => new TestCaseData(k.Method).SetName($"PtxAudit_{k.Label}"));

    /// <summary>
    /// The PTX the runtime will load for an H100/H200 (SM_90, ISA 8.8) declares exactly one `.shared` array per
    /// SharedMemory.Allocate call site in the kernel's source, uses dynamic shared memory only where the source asks
    /// for it, stays within the 48 KiB of static shared memory a launch gets, has no `.local` arrays (a register
    /// block spilled by a loop ILGPU did not unroll) and no unresolved externals. See KernelCatalog for why.
    /// </summary>
    [TestCaseSource(nameof(Sm90Kernels))]
    public void PtxAudit(MethodInfo kernel)
    {
        var facts = KernelCatalog.Read(KernelCatalog.CompilePtx(kernel, CudaArchitecture.SM_90, KernelCatalog.RuntimeIsa));
        var (sites, dynamic) = KernelCatalog.SharedAllocationSites(kernel);
        string shared = string.Join(", ", facts.Shared.Select(s => $"{s.Name} {s.Bytes} B"));
        TestContext.Out.WriteLine($"source: {sites} shared allocation site(s){(dynamic ? " + dynamic" : "")}; PTX: {shared}{(facts.DynamicShared ? " + dynamic" : "")}");
        Assert.Multiple(() =>
        {
            Assert.That(facts.Shared.Count, Is.EqualTo(sites),
                $"`.shared` arrays in the PTX ({shared}) vs SharedMemory.Allocate sites in the source: an allocation inside divergent control flow? Allocate shared memory at the top of the kernel.");
            Assert.That(facts.DynamicShared, Is.EqualTo(dynamic), "dynamic shared memory in the PTX vs SharedMemory.GetDynamic in the source");
            Assert.That(facts.SharedBytes, Is.LessThanOrEqualTo(KernelCatalog.StaticSharedLimit), "static shared memory over the 48 KiB a launch gets");
            Assert.That(facts.Local.Where(l => !KernelCatalog.IsInlineAsmSlot(facts, l)).Select(l => $"{l.Name} {l.Bytes} B"), Is.Empty,
                "local-memory arrays in the PTX");
            Assert.That(facts.Externs, Is.Empty, "unresolved external functions in the PTX");
        });
    }
}
