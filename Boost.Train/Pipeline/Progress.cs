using System.Diagnostics;

namespace Boost.Train.Pipeline;

/// <summary>
/// The live training line: step/total, loss (running mean), it/s, elapsed and ETA. On a terminal it redraws one
/// line; when the output is redirected (CI, a log file) it prints a full line every <see cref="LogSeconds"/>.
/// </summary>
public sealed class Progress
{
    private readonly TextWriter _out;
    private readonly string _label;
    private readonly int _start;
    private int _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _terminal;
    private double _lastDraw = double.NegativeInfinity;
    private double _lossEma = double.NaN;
    public double LogSeconds { get; init; } = 10;
    /// <summary>A wall-clock budget in seconds (0: none): the ETA is whichever end comes first.</summary>
    public double BudgetSeconds { get; init; }

    public Progress(string label, int startStep, int totalSteps, TextWriter? output = null)
    {
        _out = output ?? Console.Out;
        _label = label;
        _start = startStep;
        _total = totalSteps;
        _terminal = output is null && !Console.IsOutputRedirected;
    }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <param name="total">a total learned late (tiles are counted once the image is known); 0 keeps the constructor's</param>
    public void Report(int step, double loss, string extra = "", bool force = false, int total = 0)
    {
        if (total > 0) _total = total;
        if (double.IsFinite(loss)) _lossEma = double.IsNaN(_lossEma) ? loss : 0.9 * _lossEma + 0.1 * loss;
        double now = _clock.Elapsed.TotalSeconds;
        if (!force && now - _lastDraw < (_terminal ? 0.25 : LogSeconds)) return;
        _lastDraw = now;
        int done = step - _start;
        double rate = done / Math.Max(now, 1e-9);
        double left = rate > 0 ? (_total - step) / rate : double.NaN;
        if (BudgetSeconds > 0) left = double.IsNaN(left) ? BudgetSeconds - now : Math.Min(left, BudgetSeconds - now);
        string eta = Clock(left);
        string lossText = double.IsNaN(_lossEma) ? "" : $" loss {_lossEma:G4}";
        string line = $"{_label} {step}/{_total}{lossText} {rate:F2} it/s {Clock(now)} elapsed, ETA {eta}{extra}";
        if (_terminal) _out.Write("\r" + line.PadRight(Math.Min(Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 100, 160)));
        else _out.WriteLine(line);
    }

    /// <summary>Ends the redrawn line so the next message starts on its own.</summary>
    public void Break()
    {
        if (_terminal) _out.WriteLine();
    }

    public static string Clock(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
    }
}
