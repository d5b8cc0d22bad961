using System.Reflection;
using NUnit;
using NUnit.Framework.Api;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace Boost.GpuRun;

/// <summary>
/// Runs Boost.Tests' cases of one backend without the .NET SDK: NUnit's own framework runner
/// (<see cref="NUnitTestAssemblyRunner"/>) over Boost.Tests.dll, copied beside this executable, filtered to the test
/// cases that take the backend's name as an argument (every kernel test is parameterised by backend: "cpu",
/// "ilgpu-cpu", "cuda"). Prints each failure as it happens and writes the counts, the failures and the slowest cases.
/// </summary>
public static class TestRun
{
    public static int Run(string backend, string? where, string? json)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Boost.Tests.dll");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found: scripts/gpu-run.sh prepare copies it beside the runner");
        var assembly = Assembly.LoadFrom(path);
        var runner = new NUnitTestAssemblyRunner(new DefaultTestAssemblyBuilder());
        runner.Load(assembly, new Dictionary<string, object> { [FrameworkPackageSettings.NumberOfTestWorkers] = 0 });
        if (runner.LoadedTest is { RunState: RunState.NotRunnable } broken)
            throw new InvalidOperationException($"Boost.Tests.dll could not be loaded for running: {broken.Properties.Get(PropertyNames.SkipReason)}");
        var filter = new BackendFilter(backend, where);
        int count = runner.CountTestCases(filter);
        Console.WriteLine($"{count} test cases of backend '{backend}'{(where is null ? "" : $" matching '{where}'")}");
        var listener = new Listener(json, backend, count);
        var result = runner.Run(listener, filter);
        listener.Save(complete: true);
        Console.WriteLine($"{listener.Passed} passed, {listener.Failed} failed, {listener.Skipped} skipped");
        return listener.Failed > 0 || listener.Passed == 0 ? 1 : 0;
    }

    /// <summary>Test cases whose arguments include the backend's name, or that loop over every backend themselves
    /// (category EveryBackend), and whose full name contains <c>where</c> if given; suites pass when any descendant
    /// does.</summary>
    private sealed class BackendFilter(string backend, string? where) : TestFilter
    {
        public override bool Match(ITest test)
            => !test.IsSuite && (test.Arguments.Any(a => a is string s && s == backend) || InCategory(test, "EveryBackend"))
               && (where is null || test.FullName.Contains(where));

        private static bool InCategory(ITest? test, string category)
        {
            for (; test is not null; test = test.Parent)
                if (test.Properties[PropertyNames.Category].Contains(category)) return true;
            return false;
        }

        public override TNode AddToXml(TNode parentNode, bool recursive) => parentNode.AddElement("backend", backend);
    }

    private sealed class Listener(string? json, string backend, int total) : ITestListener
    {
        public int Passed, Failed, Skipped;
        private readonly List<object> _failures = new();
        private readonly List<(string name, double s)> _times = new();
        private readonly Dictionary<string, int> _skipReasons = new();
        private DateTime _lastSave = DateTime.MinValue;

        public void TestStarted(ITest test) { }

        public void TestFinished(ITestResult r)
        {
            if (r.Test.IsSuite)
            {
                // A fixture's one-time setup failure is reported on the suite; its cases then fail with it.
                if (r.ResultState.Site == FailureSite.SetUp && r.ResultState.Status == TestStatus.Failed)
                    Console.WriteLine($"SETUP FAILED {r.FullName}: {r.Message}");
                return;
            }
            _times.Add((r.FullName, r.Duration));
            switch (r.ResultState.Status)
            {
                case TestStatus.Passed: Passed++; break;
                case TestStatus.Skipped or TestStatus.Inconclusive:
                    Skipped++;
                    string why = (r.Message ?? "").Split('\n')[0];
                    _skipReasons[why] = _skipReasons.GetValueOrDefault(why) + 1;
                    break;
                default:
                    Failed++;
                    string message = (r.Message ?? "").Trim();
                    Console.WriteLine($"FAILED {r.FullName}: {message.Split('\n')[0]}");
                    _failures.Add(new { name = r.FullName, message, stack = r.StackTrace?.Split('\n').Take(8) });
                    break;
            }
            if ((DateTime.UtcNow - _lastSave).TotalSeconds > 5) Save(complete: false);
        }

        public void TestOutput(TestOutput output) { }
        public void SendMessage(TestMessage message) { }

        public void Save(bool complete)
        {
            _lastSave = DateTime.UtcNow;
            Runner.Save(json, new
            {
                backend, complete, total, passed = Passed, failed = Failed, skipped = Skipped,
                skip_reasons = _skipReasons, failures = _failures,
                slowest = _times.OrderByDescending(t => t.s).Take(15).Select(t => new { name = t.name, seconds = t.s }),
                seconds = _times.Sum(t => t.s),
            });
        }
    }
}
