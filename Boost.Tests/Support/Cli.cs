using Boost.Train.Cli;

namespace Boost.Tests.Support;

/// <summary>Runs the CLI in-process as a user would, capturing stdout and stderr together (callers mark their fixture
/// [NonParallelizable]: the console is process-wide).</summary>
internal static class Cli
{
    public static (int code, string output) Run(params string[] args)
    {
        var w = new StringWriter();
        var oldOut = Console.Out; var oldErr = Console.Error;
        Console.SetOut(w); Console.SetError(w);
        try { return (Commands.Run(args), w.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }
}
