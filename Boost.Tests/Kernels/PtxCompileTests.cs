using System.Reflection;
using Boost.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Boost.Tests.Kernels;

/// <summary>
/// Proves without a GPU that every kernel in Boost.Kernels compiles for CUDA: each [Kernel] method, found by
/// reflection (generic ones instantiated with every operator struct that fits), is compiled by ILGPU's PTX backend
/// for SM_80 and SM_90 in a fresh context (a failed compile poisons a shared one). Any exception fails, and so does
/// an `.extern .func` left in the PTX (an unresolved math call, e.g. a double Math function).
/// </summary>
public class PtxCompileTests
{
    private static readonly Assembly KernelAssembly = typeof(Tensor).Assembly;

    public static IEnumerable<TestCaseData> Kernels()
    {
        foreach (var (method, label) in KernelInstances())
            foreach (var arch in new[] { CudaArchitecture.SM_80, CudaArchitecture.SM_90 })
                yield return new TestCaseData(method, arch).SetName($"Ptx_{arch}_{label}");
    }

    /// <summary>Every kernel entry point of the assembly, generic ones closed over each fitting struct.</summary>
    public static IEnumerable<(MethodInfo method, string label)> KernelInstances()
    {
        var structs = KernelAssembly.GetTypes().Where(t => t.IsValueType && !t.IsGenericTypeDefinition && !t.IsEnum && t.IsPublic).ToArray();
        foreach (var m in KernelMethods())
        {
            string baseLabel = $"{m.DeclaringType!.Name}.{m.Name}";
            if (!m.IsGenericMethodDefinition) { yield return (m, baseLabel); continue; }
            var args = m.GetGenericArguments();
            var choices = args.Select(a => structs.Where(s => Fits(s, a)).ToArray()).ToArray();
            if (choices.Any(c => c.Length == 0))
                throw new InvalidOperationException($"{baseLabel}: no struct in the assembly satisfies its generic constraints.");
            foreach (var combo in Cartesian(choices))
                yield return (m.MakeGenericMethod(combo), $"{baseLabel}<{string.Join(",", combo.Select(c => c.Name))}>");
        }
    }

    public static IEnumerable<MethodInfo> KernelMethods()
        => KernelAssembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<KernelAttribute>() is not null)
            .OrderBy(m => m.DeclaringType!.FullName).ThenBy(m => m.Name);

    private static bool Fits(Type candidate, Type genericParameter)
        => genericParameter.GetGenericParameterConstraints().All(c => c.IsAssignableFrom(candidate));

    private static IEnumerable<Type[]> Cartesian(Type[][] choices)
    {
        IEnumerable<Type[]> acc = [[]];
        foreach (var c in choices) acc = acc.SelectMany(prefix => c.Select(t => prefix.Append(t).ToArray()));
        return acc;
    }

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
    public void CompilesToPtx(MethodInfo kernel, CudaArchitecture arch)
    {
        using var context = Context.Create(b => b.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, arch == CudaArchitecture.SM_90 ? CudaInstructionSet.ISA_83 : CudaInstructionSet.ISA_70, nvvmAPI: null!);
        bool grouped = kernel.GetCustomAttribute<KernelAttribute>()!.Grouped;
        var entry = grouped ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel) : EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization());
        string ptx = compiled.PTXAssembly;
        Assert.That(ptx, Does.Contain(".entry"), "no entry point in the PTX");
        Assert.That(ptx, Does.Not.Contain(".extern .func"), "unresolved external function in the PTX (a double Math call?)");
        // ILGPU 1.5.3 writes `.target sm_80` for every architecture from SM_80 up (measured); the driver JITs sm_80
        // PTX for newer cards, so the check is that the target is a real one no newer than the one asked for.
        var target = System.Text.RegularExpressions.Regex.Match(ptx, @"\.target sm_(\d+)");
        Assert.That(target.Success, "no .target line in the PTX");
        Assert.That(int.Parse(target.Groups[1].Value), Is.InRange(80, int.Parse(arch.ToString()[3..])), "PTX target architecture");
    }
}
