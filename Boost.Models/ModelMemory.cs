using Boost.Kernels;

namespace Boost.Models;

/// <summary>
/// Bounds shared by the model configs read from disk, and the memory check made before a model is built: a config
/// whose weights would not fit is refused with the bytes it needs, instead of an out-of-memory abort mid-construction.
/// </summary>
public static class ModelMemory
{
    /// <summary>The most channels any layer may have (SD's largest is 1,280; this leaves room and keeps counts in range).</summary>
    public const int MaxChannels = 65_536;
    /// <summary>The most resolution levels (UNet channel_mult, autoencoder block_out_channels).</summary>
    public const int MaxLevels = 8;
    /// <summary>The most res blocks per level.</summary>
    public const int MaxBlocksPerLevel = 16;
    /// <summary>The most attention heads.</summary>
    public const int MaxHeads = 1_024;

    /// <summary>Memory the process may use on the host (the GC's view: physical memory or the container limit).</summary>
    public static long HostAvailableBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> when float32 weights of <paramref name="parameters"/> values do not
    /// fit in <paramref name="availableBytes"/> (default: <see cref="HostAvailableBytes"/>; loading reads every
    /// tensor into host memory first, whatever the device).
    /// </summary>
    public static void RequireFits(string what, long parameters, long? availableBytes = null, string where = "available to this process")
    {
        long limit = availableBytes ?? HostAvailableBytes;
        long bytes = parameters > long.MaxValue / sizeof(float) ? long.MaxValue : parameters * sizeof(float);
        if (bytes > limit)
            throw new ArgumentException($"{what} has {parameters:N0} parameters: its float32 weights need {bytes:N0} bytes ({Gib(bytes)}), " +
                                        $"more than the {limit:N0} bytes ({Gib(limit)}) {where}.");
    }

    /// <summary>As <see cref="RequireFits(string, long, long?, string)"/> for the memory of <paramref name="device"/>: a CUDA
    /// device's total memory, else the host's.</summary>
    public static void RequireFits(string what, long parameters, Device device)
    {
        if (device is IlgpuDevice { IsSimulator: false } gpu)
            RequireFits(what, parameters, gpu.Accelerator.MemorySize, $"of {gpu.Name}");
        else
            RequireFits(what, parameters);
    }

    /// <summary>value in [min, max], or an exception naming the field.</summary>
    internal static void Range(string owner, string field, long value, long min, long max)
    {
        if (value < min || value > max) throw new ArgumentException($"{owner}: {field} is {value}; it must be in [{min}, {max}].");
    }

    private static string Gib(long bytes) => (bytes / (1024.0 * 1024 * 1024)).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + " GiB";
}
