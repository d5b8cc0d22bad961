using System.Globalization;
using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Train.Imaging;

/// <summary>
/// A line chart drawn by hand into a <see cref="Canvas"/> (e.g. loss against step): framed axes with "nice"
/// ticks and grid lines, labels in the bitmap font, one antialiased line per series, a legend. With
/// <see cref="LogY"/> the y axis is log10 with ticks at decades (and 2×, 5× on short ranges), and non-positive values are left out.
/// Non-finite points break a line rather than end the plot.
/// </summary>
public sealed class LinePlot
{
    public static readonly Rgb24[] Palette =
    [
        new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40),
        new(148, 103, 189), new(140, 86, 75), new(227, 119, 194), new(127, 127, 127),
    ];

    private static readonly Rgb24 White = new(255, 255, 255), Ink = new(0, 0, 0), Frame = new(60, 60, 60), Grid = new(225, 225, 225);

    public sealed record Series(string Name, double[] X, double[] Y, Rgb24 Color);

    public int Width { get; init; } = 800;
    public int Height { get; init; } = 500;
    public string? Title { get; init; }
    public string? XLabel { get; init; }
    public string? YLabel { get; init; }
    public bool LogY { get; init; }
    public double LineWidth { get; init; } = 1.5;

    private readonly List<Series> _series = [];
    public IReadOnlyList<Series> AllSeries => _series;

    /// <summary>Adds a series; the colour defaults to the next in <see cref="Palette"/>.</summary>
    public LinePlot Add(string name, IReadOnlyList<double> x, IReadOnlyList<double> y, Rgb24? color = null)
    {
        if (x.Count != y.Count) throw new ArgumentException($"LinePlot.Add({name}): {x.Count} x values but {y.Count} y values.");
        _series.Add(new Series(name, x.ToArray(), y.ToArray(), color ?? Palette[_series.Count % Palette.Length]));
        return this;
    }

    /// <summary>Adds a series plotted against its index 0, 1, 2, ….</summary>
    public LinePlot Add(string name, IReadOnlyList<double> y, Rgb24? color = null)
        => Add(name, Enumerable.Range(0, y.Count).Select(i => (double)i).ToArray(), y, color);

    public void Save(string path) => Render().SavePng(path);

    public Canvas Render()
    {
        var canvas = new Canvas(Width, Height, White);
        bool Usable(double x, double y) => double.IsFinite(x) && double.IsFinite(y) && (!LogY || y > 0);
        var xs = _series.SelectMany(s => s.X.Where((x, i) => Usable(x, s.Y[i]))).ToArray();
        var ys = _series.SelectMany(s => s.Y.Where((y, i) => Usable(s.X[i], y))).Select(y => LogY ? Math.Log10(y) : y).ToArray();

        var (xLo, xHi, xTicks) = LinearTicks(xs, 8);
        var (yLo, yHi, yTicks) = LogY ? LogTicks(ys) : LinearTicks(ys, 6);
        var yLabels = yTicks.Select(t => LogY ? FormatPower(t) : FormatTick(t, yTicks)).ToArray();
        var xLabels = xTicks.Select(t => FormatTick(t, xTicks)).ToArray();

        const int s = 1; // tick text scale
        int charH = BitmapFont.MeasureHeight(s);
        int left = 12 + (yLabels.Length > 0 ? yLabels.Max(l => BitmapFont.MeasureWidth(l, s)) : 0) + 6;
        int top = 10 + (Title is null ? 0 : BitmapFont.MeasureHeight(2) + 10) + (YLabel is null ? 0 : charH + 8);
        int bottom = 10 + charH + 8 + (XLabel is null ? 0 : charH + 8);
        int right = 20;
        int pw = Width - left - right, ph = Height - top - bottom;
        if (pw < 20 || ph < 20) throw new ArgumentException($"LinePlot: {Width}x{Height} leaves no room for the plot area.");

        double Px(double x) => left + (x - xLo) / (xHi - xLo) * (pw - 1);
        double Py(double y) => top + (ph - 1) - ((LogY ? Math.Log10(y) : y) - yLo) / (yHi - yLo) * (ph - 1);
        double PyRaw(double v) => top + (ph - 1) - (v - yLo) / (yHi - yLo) * (ph - 1);

        // Grid, minor log ticks, tick marks and labels.
        for (int i = 0; i < xTicks.Length; i++)
        {
            int x = (int)Math.Round(Px(xTicks[i]));
            canvas.FillRect(x, top, 1, ph, Grid);
            canvas.FillRect(x, top + ph, 1, 4, Frame);
            canvas.TextCentered(xLabels[i], x, top + ph + 7, Ink, s);
        }
        if (LogY && yHi - yLo <= 4)
            for (double d = Math.Floor(yLo); d < yHi; d++)
                for (int m = 2; m <= 9; m++)
                {
                    double t = d + Math.Log10(m);
                    if (t >= yLo && t <= yHi) canvas.FillRect(left - 2, (int)Math.Round(PyRaw(t)), 2, 1, Frame);
                }
        for (int i = 0; i < yTicks.Length; i++)
        {
            int y = (int)Math.Round(PyRaw(yTicks[i]));
            canvas.FillRect(left, y, pw, 1, Grid);
            canvas.FillRect(left - 4, y, 4, 1, Frame);
            canvas.Text(yLabels[i], left - 7 - BitmapFont.MeasureWidth(yLabels[i], s), y - charH / 2, Ink, s);
        }
        canvas.StrokeRect(left, top, pw, ph, Frame);

        if (Title is not null) canvas.TextCentered(Title, left + pw / 2, 10, Ink, 2);
        if (YLabel is not null) canvas.Text(YLabel, Math.Max(2, left - BitmapFont.MeasureWidth(YLabel, s) / 2), top - charH - 8, Ink, s);
        if (XLabel is not null) canvas.TextCentered(XLabel, left + pw / 2, top + ph + 7 + charH + 8, Ink, s);

        // The axis limits contain all data, so no clipping is needed.
        foreach (var series in _series)
        {
            double? px = null, py = null;
            for (int i = 0; i < series.X.Length; i++)
            {
                if (!Usable(series.X[i], series.Y[i])) { px = py = null; continue; }
                double x = Px(series.X[i]), y = Py(series.Y[i]);
                if (px is null) canvas.Line(x, y, x, y, series.Color, LineWidth);
                else canvas.Line(px.Value, py!.Value, x, y, series.Color, LineWidth);
                px = x; py = y;
            }
        }

        DrawLegend(canvas, (left, top, pw, ph), Px, Py, Usable, s);
        return canvas;
    }

    /// <summary>The legend box goes in the plot-area corner that hides the fewest line samples (top right first on ties).</summary>
    private void DrawLegend(Canvas canvas, (int X, int Y, int W, int H) area, Func<double, double> px, Func<double, double> py,
                            Func<double, double, bool> usable, int s)
    {
        if (_series.Count == 0) return;
        const int sample = 18, pad = 6, margin = 8;
        int lineH = BitmapFont.LineHeight * s + 3;
        int w = pad + sample + 5 + _series.Max(x => BitmapFont.MeasureWidth(x.Name, s)) + pad;
        int h = pad + _series.Count * lineH - 3 + pad;
        (int, int)[] corners =
        [
            (area.X + area.W - margin - w, area.Y + margin), (area.X + margin, area.Y + margin),
            (area.X + area.W - margin - w, area.Y + area.H - margin - h), (area.X + margin, area.Y + area.H - margin - h),
        ];
        var hidden = new int[corners.Length];
        foreach (var series in _series)
            for (int i = 1; i < series.X.Length; i++)
            {
                if (!usable(series.X[i - 1], series.Y[i - 1]) || !usable(series.X[i], series.Y[i])) continue;
                double x0 = px(series.X[i - 1]), y0 = py(series.Y[i - 1]), x1 = px(series.X[i]), y1 = py(series.Y[i]);
                int steps = 1 + (int)(Math.Abs(x1 - x0) + Math.Abs(y1 - y0)) / 3; // a sample every few pixels
                for (int k = 0; k <= steps; k++)
                {
                    double x = x0 + (x1 - x0) * k / steps, y = y0 + (y1 - y0) * k / steps;
                    for (int c = 0; c < corners.Length; c++)
                        if (x >= corners[c].Item1 && x < corners[c].Item1 + w && y >= corners[c].Item2 && y < corners[c].Item2 + h) hidden[c]++;
                }
            }
        var (lx, ly) = corners[Array.IndexOf(hidden, hidden.Min())];

        canvas.FillRect(lx, ly, w, h, White);
        canvas.StrokeRect(lx, ly, w, h, Frame);
        for (int i = 0; i < _series.Count; i++)
        {
            int y = ly + pad + i * lineH;
            int mid = y + BitmapFont.MeasureHeight(s) / 2;
            canvas.Line(lx + pad, mid, lx + pad + sample, mid, _series[i].Color, 2.5);
            canvas.Text(_series[i].Name, lx + pad + sample + 5, y, Ink, s);
        }
    }

    /// <summary>Axis limits on multiples of a 1/2/5×10ⁿ step giving about <paramref name="target"/> ticks.</summary>
    internal static (double Lo, double Hi, double[] Ticks) LinearTicks(double[] values, int target)
    {
        double lo = values.Length > 0 ? values.Min() : 0, hi = values.Length > 0 ? values.Max() : 1;
        if (hi - lo < 1e-12 * Math.Max(1, Math.Abs(hi))) { double pad = Math.Abs(hi) > 0 ? Math.Abs(hi) * 0.1 : 1; lo -= pad; hi += pad; }
        double step = NiceStep((hi - lo) / target);
        double first = Math.Floor(lo / step) * step, last = Math.Ceiling(hi / step) * step;
        int n = (int)Math.Round((last - first) / step) + 1;
        var ticks = Enumerable.Range(0, n).Select(i => first + i * step).ToArray();
        return (first, last, ticks);
    }

    private static double NiceStep(double raw)
    {
        double p = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double m = raw / p;
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    }

    /// <summary>
    /// log10 limits: the data range padded by 4% (at least a factor 2 overall); ticks at the decades inside,
    /// then 2× and 5×, then every multiple, until there are three (every k-th decade when there are many).
    /// </summary>
    internal static (double Lo, double Hi, double[] Ticks) LogTicks(double[] logValues)
    {
        double lo = logValues.Length > 0 ? logValues.Min() : -1, hi = logValues.Length > 0 ? logValues.Max() : 0;
        double span = Math.Max(hi - lo, Math.Log10(2));
        double mid = (lo + hi) / 2;
        lo = Math.Min(lo, mid - span / 2) - 0.04 * span;
        hi = Math.Max(hi, mid + span / 2) + 0.04 * span;
        int every = Math.Max(1, (int)Math.Ceiling((hi - lo) / 10));
        var decades = new List<double>();
        for (double d = Math.Ceiling(lo / every) * every; d <= hi; d += every) decades.Add(d);
        if (decades.Count >= 3) return (lo, hi, decades.ToArray());
        foreach (var multiples in new[] { new[] { 1.0, 2, 5 }, [1.0, 2, 3, 4, 5, 6, 7, 8, 9] })
        {
            var ticks = new List<double>();
            for (double d = Math.Floor(lo); d <= hi; d++)
                foreach (double m in multiples)
                {
                    double t = d + Math.Log10(m);
                    if (t >= lo && t <= hi) ticks.Add(t);
                }
            if (ticks.Count >= 3 || multiples.Length == 9) return (lo, hi, ticks.ToArray());
        }
        throw new InvalidOperationException("unreachable");
    }

    private static string FormatPower(double logValue)
    {
        double v = Math.Pow(10, logValue);
        int e = (int)Math.Floor(logValue + 1e-9);
        if (e is >= -3 and <= 4) return v.ToString("0.####", CultureInfo.InvariantCulture);
        double mantissa = Math.Round(v / Math.Pow(10, e), 6);
        return mantissa == 1 ? $"1e{e}" : $"{mantissa.ToString("0.#", CultureInfo.InvariantCulture)}e{e}";
    }

    private static string FormatTick(double v, double[] ticks)
    {
        double step = ticks.Length > 1 ? ticks[1] - ticks[0] : 1;
        if (Math.Abs(v) < step * 1e-9) return "0";
        double big = ticks.Max(Math.Abs);
        if (big >= 1e6 || step < 1e-4) return v.ToString("0.##e0", CultureInfo.InvariantCulture);
        int decimals = Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9));
        return v.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }
}
