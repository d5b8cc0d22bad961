using Boost.Train.Cli;
using Boost.Train.Sampling;

namespace Boost.Tests.Train;

/// <summary>The option tables (parsing and --help from one list) and the solver registry behind boost and eval.</summary>
[NonParallelizable]
public class CliTableTests
{
    private static (int code, string output) Run(params string[] args) => Support.Cli.Run(args);

    [Test]
    public void BoostHelp_ListsEveryOptionWithItsDefault()
    {
        var (code, text) = Run("boost", "--help");
        Assert.That(code, Is.EqualTo(0), text);
        foreach (var o in Commands.CommandOptions["boost"])
        {
            var line = text.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith("--" + o.Name + " ", StringComparison.Ordinal) || l.Trim() == "--" + o.Name
                                                            || l.TrimStart().StartsWith("--" + o.Name + "  ", StringComparison.Ordinal));
            Assert.That(line, Is.Not.Null, $"--{o.Name} missing from boost --help:\n{text}");
            if (o.Default != "") Assert.That(line, Does.Contain($"(default: {o.Default})"));
        }
        Assert.That(text, Does.Contain("--temperature T").And.Contain($"(default: {Commands.DefaultTemperature})"));
        Assert.That(text, Does.Contain("--solver " + SolverRegistry.Names));
    }

    [TestCaseSource(nameof(CommandNames))]
    public void EveryCommandsHelp_NamesEveryOptionItAccepts(string command)
    {
        var (code, text) = command == "" ? Run("--help") : Run("help", command);
        Assert.That(code, Is.EqualTo(0), text);
        foreach (var o in Commands.CommandOptions[command].Concat(Commands.GlobalOptions))
        {
            Assert.That(text, Does.Contain("--" + o.Name + (o.IsFlag ? "" : " " + o.Value)), $"'{command}' help lacks --{o.Name}");
            // Accepted by the parser: given alone, it is not rejected as unknown (the command may fail later for other reasons).
            string[] argv = [.. (command == "" ? Array.Empty<string>() : [command]), "--" + o.Name, .. (o.IsFlag ? Array.Empty<string>() : ["1"])];
            var args = new Args(argv, [.. Commands.CommandOptions[command], .. Commands.GlobalOptions]);
            Assert.That(args.Has(o.Name), $"'{command}' does not parse --{o.Name}");
        }
    }

    private static IEnumerable<string> CommandNames => Commands.CommandOptions.Keys;

    [Test]
    public void AnOptionNotInTheTable_IsRejectedInOneLineListingTheValidOnes()
    {
        var (code, text) = Run("boost", "--device", "cpu", "--in", "x.png", "--out", "y.png", "--temprature", "1");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(text.Trim().Split('\n'), Has.Length.EqualTo(1), text);
        Assert.That(text, Does.Contain("--temprature").And.Contain("valid: --in --out").And.Contain("--temperature"));
        // And a command that reads an option its table lacks is a bug, said as such.
        var a = new Args(["boost"], Commands.CommandOptions["boost"]);
        Assert.Throws<InvalidOperationException>(() => a.String("sovlers"));
    }

    [Test]
    public void EveryRegisteredSolver_IsAcceptedByBoostAndEvalParsing()
    {
        Assert.That(SolverRegistry.All.Select(e => e.Name), Is.EquivalentTo(Samplers.Methods), "the registry is the sampler's list");
        foreach (var e in SolverRegistry.All)
        {
            var boost = SolverRegistry.Options(e.Name, 0, 1e-3, 1e-3);
            Assert.That((boost.Method, boost.Steps), Is.EqualTo((e.Method, e.DefaultSteps)));
            var (name, eval, t) = SolverRegistry.ParseSpec(e.Name, 1e-3, 1e-3);
            Assert.That((eval.Method, eval.Steps, t), Is.EqualTo((e.Method, e.DefaultSteps, 1f)), name);
            if (!e.Adaptive)
            {
                var (n7, s7, _) = SolverRegistry.ParseSpec(e.Name + "7@0.5", 0, 0);
                Assert.That((s7.Method, s7.Steps), Is.EqualTo((e.Method, 7)), n7);
                Assert.That(SolverRegistry.ParseSpec(e.Name + "_7", 0, 0).solver.Steps, Is.EqualTo(7));
                Assert.That(SolverRegistry.Options(e.Name, 7, 0, 0).Steps, Is.EqualTo(7));
            }
        }
        Assert.That(SolverRegistry.ParseSpec("euler40", 0, 0).name, Is.EqualTo("euler40"));
        Assert.That(SolverRegistry.ParseSpec("rk4_10", 0, 0).name, Is.EqualTo("rk4_10"));
        Assert.That(SolverRegistry.ParseSpec("dopri5@0.5", 1e-3, 1e-3).name, Is.EqualTo("dopri5_t0.5"));
    }

    [Test]
    public void AnUnknownSolver_GivesOneLineListingTheValidOnes()
    {
        foreach (var argv in new[] { new[] { "boost", "--device", "cpu", "--in", "x.png", "--out", "y.png", "--solver", "bosh3" },
                                     new[] { "eval", "--device", "cpu", "--solvers", "euler4,bosh3" } })
        {
            var (code, text) = Run(argv);
            Assert.That(code, Is.EqualTo(2), text);
            var errors = text.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
            Assert.That(errors, Has.Count.EqualTo(1), text);
            Assert.That(errors[0], Does.Contain("bosh3").And.Contain(SolverRegistry.Names));
        }
    }
}
