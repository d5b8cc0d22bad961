using Boost.Kernels;

// The Boost command line. Commands grow with the pipeline (issue 5); today it selects and reports the device.
string? deviceOption = null;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--device" && i + 1 < args.Length) deviceOption = args[++i];

try
{
    using var device = Device.Select(deviceOption);
    Console.WriteLine($"device: {device.Name}");
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
return 0;
