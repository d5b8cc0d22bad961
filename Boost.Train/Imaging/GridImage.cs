using SixLabors.ImageSharp.PixelFormats;

namespace Boost.Train.Imaging;

/// <summary>
/// Rows × columns of CHW images on one canvas, e.g. per row "LR | bicubic | CFM | ground truth", with optional
/// column titles in the bitmap font. Cells may differ in size: every cell is drawn at one cell size (by default
/// the largest height and width present), smaller images enlarged with nearest neighbour so LR pixels stay
/// visible, larger ones reduced with antialiased bicubic.
/// </summary>
public static class GridImage
{
    public static readonly Rgb24 Background = new(255, 255, 255), EmptyCell = new(224, 224, 224), TitleColor = new(0, 0, 0);

    /// <param name="rows">rows of cells, each [1 or 3, H, W] in [-1, 1]; a null cell is left grey; rows may be ragged</param>
    /// <param name="titles">one per column (fewer is fine), or null for none</param>
    /// <param name="gap">pixels between cells and around the edge</param>
    /// <param name="cellHeight">cell height (default: the tallest image)</param>
    /// <param name="cellWidth">cell width (default: the widest image)</param>
    public static Canvas Compose(IReadOnlyList<IReadOnlyList<ChwImage?>> rows, IReadOnlyList<string>? titles = null,
                                 int gap = 4, int? cellHeight = null, int? cellWidth = null)
    {
        if (rows.Count == 0) throw new ArgumentException("GridImage: no rows.");
        if (gap < 0) throw new ArgumentException($"GridImage: gap {gap} must be ≥ 0.");
        int columns = Math.Max(rows.Max(r => r.Count), titles?.Count ?? 0);
        if (columns == 0) throw new ArgumentException("GridImage: no columns.");
        var cells = rows.SelectMany(r => r).OfType<ChwImage>().ToArray();
        int ch = cellHeight ?? (cells.Length > 0 ? cells.Max(c => c.Height) : 64);
        int cw = cellWidth ?? (cells.Length > 0 ? cells.Max(c => c.Width) : 64);
        if (ch <= 0 || cw <= 0) throw new ArgumentException($"GridImage: cell size {ch}x{cw} must be positive.");

        bool hasTitles = titles is { Count: > 0 } && titles.Any(t => !string.IsNullOrEmpty(t));
        int textScale = cw >= 160 ? 2 : 1;
        int titleHeight = hasTitles ? BitmapFont.MeasureHeight(textScale) + gap + 2 : 0;
        int width = columns * cw + (columns + 1) * gap;
        int height = titleHeight + rows.Count * ch + (rows.Count + 1) * gap;
        var canvas = new Canvas(width, height, Background);

        if (hasTitles)
            for (int c = 0; c < titles!.Count; c++)
                if (!string.IsNullOrEmpty(titles[c]))
                    canvas.TextCentered(Fit(titles[c], cw, textScale), gap + c * (cw + gap) + cw / 2, gap + 1, TitleColor, textScale);

        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < columns; c++)
            {
                int x = gap + c * (cw + gap), y = titleHeight + gap + r * (ch + gap);
                var image = c < rows[r].Count ? rows[r][c] : null;
                if (image is null) { canvas.FillRect(x, y, cw, ch, EmptyCell); continue; }
                canvas.Draw(FitCell(image, ch, cw), x, y);
            }
        return canvas;
    }

    /// <summary><see cref="Compose"/> and write it atomically in the format of the extension (<see cref="ImageOutput"/>).</summary>
    public static void Save(string path, IReadOnlyList<IReadOnlyList<ChwImage?>> rows, IReadOnlyList<string>? titles = null, int gap = 4)
    {
        var encoder = ImageOutput.EncoderFor(path);
        using var image = Compose(rows, titles, gap).ToImage();
        ImageOutput.Save(image, path, encoder);
    }

    private static ChwImage FitCell(ChwImage image, int h, int w)
    {
        if (image.Height == h && image.Width == w) return image;
        return image.Height <= h && image.Width <= w ? Resample.Nearest(image, h, w) : Resample.ResizeAntialiased(image, h, w);
    }

    // Titles wider than their cell are cut with a trailing "." rather than spilling into the neighbour.
    private static string Fit(string title, int width, int scale)
    {
        if (BitmapFont.MeasureWidth(title, scale) <= width) return title;
        int n = Math.Max(1, width / (BitmapFont.Advance * scale) - 1);
        return title[..Math.Min(n, title.Length)] + ".";
    }
}
