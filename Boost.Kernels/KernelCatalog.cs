using System.Reflection;
using System.Reflection.Emit;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Boost.Kernels;

/// <summary>
/// Every kernel of this assembly, found by reflection (each [Kernel] method; generic ones closed over every public
/// struct that fits their constraints), compiled to PTX without a GPU the way the CUDA runtime compiles it, and
/// audited. The tests (PtxAuditTests) and the GPU runner (which hands the PTX to <c>ptxas</c>) use this one list.
/// </summary>
/// <remarks>
/// The audit checks what ILGPU's CPU simulator can never show, because it runs the kernel's C# method and not the
/// PTX: (1) one <c>.shared</c> array per <c>SharedMemory.Allocate</c> call site in the kernel's IL (ILGPU gives each
/// allocation site its own array, and a site under divergent control flow can become several arrays: threads then
/// write one copy and read another); (2) static shared memory within the 48 KiB a launch gets without opting in;
/// (3) no <c>.extern .func</c> (an unresolved call, e.g. a double-precision Math function); (4) no <c>.local</c>
/// arrays (register blocks spilled to local memory by a loop ILGPU does not unroll), except the scalar operand slots
/// of inline tensor-core instructions (<see cref="IsInlineAsmSlot"/>).
/// </remarks>
public static class KernelCatalog
{
    private static readonly Assembly KernelAssembly = typeof(Tensor).Assembly;

    /// <summary>Static shared memory a launch gets without a dynamic opt-in (every CUDA GPU since sm_20).</summary>
    public const int StaticSharedLimit = 48 * 1024;

    /// <summary>The PTX ISA the runtime picks for a CUDA 12.9+ or 13.x driver (ILGPU 1.5.3's newest, 8.8).</summary>
    public static readonly CudaInstructionSet RuntimeIsa = CudaInstructionSet.ISA_88;

    /// <summary>Every [Kernel] method of the assembly, ordered by type and name.</summary>
    public static IEnumerable<MethodInfo> KernelMethods()
        => KernelAssembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<KernelAttribute>() is not null)
            .OrderBy(m => m.DeclaringType!.FullName).ThenBy(m => m.Name);

    /// <summary>Every kernel entry point, generic ones closed over each fitting struct, with a readable label.</summary>
    public static IEnumerable<(MethodInfo Method, string Label)> Instances()
    {
        var structs = KernelAssembly.GetTypes().Where(t => t.IsValueType && !t.IsGenericTypeDefinition && !t.IsEnum && t.IsPublic).ToArray();
        foreach (var m in KernelMethods())
        {
            string baseLabel = $"{m.DeclaringType!.Name}.{m.Name}";
            if (!m.IsGenericMethodDefinition) { yield return (m, baseLabel); continue; }
            var args = m.GetGenericArguments();
            var choices = args.Select(a => structs.Where(s => a.GetGenericParameterConstraints().All(c => c.IsAssignableFrom(s))).ToArray()).ToArray();
            if (choices.Any(c => c.Length == 0))
                throw new InvalidOperationException($"{baseLabel}: no struct in the assembly satisfies its generic constraints.");
            foreach (var combo in Cartesian(choices))
                yield return (m.MakeGenericMethod(combo), $"{baseLabel}<{string.Join(",", combo.Select(c => c.Name))}>");
        }
    }

    private static IEnumerable<Type[]> Cartesian(Type[][] choices)
    {
        IEnumerable<Type[]> acc = [[]];
        foreach (var c in choices) acc = acc.SelectMany(prefix => c.Select(t => prefix.Append(t).ToArray()));
        return acc;
    }

    /// <summary>Compiles one kernel to PTX in a fresh context (a failed compile poisons a shared one), with the
    /// devices' own settings: algorithms enabled, O2, explicit grouping for [Kernel(Grouped = true)].</summary>
    public static string CompilePtx(MethodInfo kernel, CudaArchitecture arch, CudaInstructionSet isa)
    {
        using var context = Context.Create(b => b.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, isa, nvvmAPI: null!);
        bool grouped = kernel.GetCustomAttribute<KernelAttribute>()!.Grouped;
        var entry = grouped ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel) : EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
        return ((PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization())).PTXAssembly;
    }

    /// <summary>What a kernel's PTX declares: static shared arrays (name, bytes), whether it takes dynamic shared
    /// memory, local arrays, unresolved externals.</summary>
    public sealed record PtxFacts(IReadOnlyList<(string Name, long Bytes)> Shared, bool DynamicShared,
        IReadOnlyList<(string Name, long Bytes)> Local, IReadOnlyList<string> Externs, bool InlineMma = false)
    {
        public long SharedBytes => Shared.Sum(s => s.Bytes);
    }

    /// <summary>
    /// A 4-byte <c>.local</c> slot in a kernel with inline <c>mma.sync</c>: ILGPU hands each operand of
    /// <c>CudaAsm.EmitRef</c> to the instruction through its own scalar slot, loaded right before and stored right after
    /// it. ptxas promotes such slots to registers; the device script's <c>ptxas -v</c> stage flags any tensor-core kernel
    /// left with a stack frame. Anything larger is a spilled register block, as in every other kernel.
    /// </summary>
    public static bool IsInlineAsmSlot(PtxFacts facts, (string Name, long Bytes) local) => facts.InlineMma && local.Bytes == 4;

    private static readonly Regex Decl = new(@"^\s*(\.extern\s+)?\.(shared|local)\s+\.align\s+\d+\s+\.(b|u|s|f)(\d+)\s+([%\w$]+)\[(\d*)\]", RegexOptions.Multiline);

    public static PtxFacts Read(string ptx)
    {
        var shared = new List<(string, long)>(); var local = new List<(string, long)>(); bool dynamic = false;
        foreach (Match m in Decl.Matches(ptx))
        {
            bool isExtern = m.Groups[1].Success, isShared = m.Groups[2].Value == "shared";
            long elem = int.Parse(m.Groups[4].Value) / 8, count = m.Groups[6].Value.Length == 0 ? 0 : long.Parse(m.Groups[6].Value);
            if (isShared && (isExtern || count == 0)) { dynamic = true; continue; }
            (isShared ? shared : local).Add((m.Groups[5].Value, elem * count));
        }
        var externs = Regex.Matches(ptx, @"\.extern\s+\.func[^\n]*").Select(m => m.Value.Trim()).ToList();
        return new PtxFacts(shared, dynamic, local, externs, ptx.Contains("mma.sync.aligned"));
    }

    /// <summary>The number of <c>SharedMemory.Allocate</c> call sites in the method's IL, following calls into this
    /// assembly (an allocation in a helper is still one site per call), and whether it asks for dynamic memory.</summary>
    public static (int Sites, bool Dynamic) SharedAllocationSites(MethodInfo method)
    {
        int sites = 0; bool dynamic = false;
        Walk(method.IsGenericMethod ? method.GetGenericMethodDefinition() : method, 0);
        return (sites, dynamic);

        void Walk(MethodBase m, int depth)
        {
            if (depth > 8) return;
            foreach (var callee in Calls(m))
            {
                if (callee.DeclaringType == typeof(SharedMemory))
                {
                    if (callee.Name == "Allocate") sites++;
                    else if (callee.Name == "GetDynamic") dynamic = true;
                }
                else if (callee.DeclaringType?.Assembly == KernelAssembly && callee is MethodInfo { IsStatic: true })
                    Walk(callee, depth + 1);
            }
        }
    }

    private static readonly Dictionary<short, OpCode> OpCodes = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).GroupBy(o => o.Value).ToDictionary(g => g.Key, g => g.First());

    /// <summary>The methods a method calls, in IL order (call, callvirt and newobj operands).</summary>
    private static IEnumerable<MethodBase> Calls(MethodBase m)
    {
        var il = m.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var typeArgs = m.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null;
        var methodArgs = m.IsGenericMethod ? m.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            var op = OpCodes[value];
            i += op.Size;
            int operand = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try { callee = m.Module.ResolveMethod(BitConverter.ToInt32(il, i), typeArgs, methodArgs); } catch (ArgumentException) { }
                if (callee is not null) yield return callee;
            }
            i += operand;
        }
    }
}
