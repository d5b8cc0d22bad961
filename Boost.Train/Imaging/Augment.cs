namespace Boost.Train.Imaging;

/// <summary>Crops and flips of <see cref="ChwImage"/>s; randomness only through the caller's seeded <see cref="Random"/>.</summary>
public static class Augment
{
    /// <param name="x">[C, H, W]</param>
    /// <returns>[C, height, width]: rows top…top+height−1, columns left…left+width−1</returns>
    public static ChwImage Crop(ChwImage x, int top, int left, int height, int width)
    {
        if (top < 0 || left < 0 || height <= 0 || width <= 0 || top + height > x.Height || left + width > x.Width)
            throw new ArgumentException($"Crop: window {height}x{width} at ({top}, {left}) is outside {x.ShapeString}.");
        var y = new ChwImage(x.Channels, height, width);
        for (int c = 0; c < x.Channels; c++)
            for (int r = 0; r < height; r++)
                x.Data.AsSpan(((c * x.Height) + top + r) * x.Width + left, width).CopyTo(y.Data.AsSpan((c * height + r) * width, width));
        return y;
    }

    /// <summary>The centred window (an odd remainder puts the extra pixel after it, like torchvision's CenterCrop with rounding down).</summary>
    /// <returns>[C, height, width]</returns>
    public static ChwImage CenterCrop(ChwImage x, int height, int width)
    {
        if (height > x.Height || width > x.Width) throw new ArgumentException($"CenterCrop: {height}x{width} is larger than {x.ShapeString}.");
        return Crop(x, (x.Height - height) / 2, (x.Width - width) / 2, height, width);
    }

    /// <returns>[C, size, size]</returns>
    public static ChwImage CenterCrop(ChwImage x, int size) => CenterCrop(x, size, size);

    /// <summary>A uniformly placed <paramref name="size"/>×<paramref name="size"/> window.</summary>
    /// <returns>[C, size, size]</returns>
    public static ChwImage RandomCrop(ChwImage x, int size, Random random)
    {
        if (size > x.Height || size > x.Width) throw new ArgumentException($"RandomCrop: {size}x{size} is larger than {x.ShapeString}.");
        int top = random.Next(x.Height - size + 1), left = random.Next(x.Width - size + 1);
        return Crop(x, top, left, size, size);
    }

    /// <summary>Mirror left ↔ right.</summary>
    /// <returns>[C, H, W]</returns>
    public static ChwImage FlipHorizontal(ChwImage x)
    {
        var y = new ChwImage(x.Channels, x.Height, x.Width);
        for (int r = 0; r < x.Channels * x.Height; r++)
        {
            var dst = y.Data.AsSpan(r * x.Width, x.Width);
            x.Data.AsSpan(r * x.Width, x.Width).CopyTo(dst);
            dst.Reverse();
        }
        return y;
    }

    /// <summary>Flips with probability ½ (returns <paramref name="x"/> itself when not flipping).</summary>
    public static ChwImage RandomFlipHorizontal(ChwImage x, Random random) => random.Next(2) == 1 ? FlipHorizontal(x) : x;
}
