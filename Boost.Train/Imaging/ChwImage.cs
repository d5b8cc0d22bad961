using Boost.Kernels;

namespace Boost.Train.Imaging;

/// <summary>
/// A host-side image: float32 planes in CHW order (channel, row, column), values nominally in [-1, 1]
/// (byte b ↦ b / 127.5 − 1). The data pipeline works on these and turns them into <see cref="Tensor"/>s only at
/// the edge (<see cref="ToTensor"/>, <see cref="Stack"/>, <see cref="FromTensor"/>).
/// </summary>
public sealed class ChwImage
{
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    /// <summary>The planes, <c>[Channels, Height, Width]</c> row-major.</summary>
    public float[] Data { get; }

    public ChwImage(int channels, int height, int width)
        : this(new float[CheckedLength(channels, height, width)], channels, height, width) { }

    /// <param name="data">[channels, height, width]; kept, not copied</param>
    public ChwImage(float[] data, int channels, int height, int width)
    {
        long n = CheckedLength(channels, height, width);
        if (data.Length != n)
            throw new ArgumentException($"ChwImage: {data.Length} values do not fill [{channels}, {height}, {width}] ({n}).");
        Data = data;
        Channels = channels;
        Height = height;
        Width = width;
    }

    /// <summary>The element count of [c, h, w]; an <see cref="ArgumentException"/> (one line, which the CLI prints) when
    /// a side is not positive or the planes would not fit one .NET array (<see cref="Array.MaxLength"/> floats).</summary>
    public static int CheckedLength(int c, int h, int w)
    {
        if (c <= 0 || h <= 0 || w <= 0) throw new ArgumentException($"ChwImage: shape [{c}, {h}, {w}] must be positive.");
        long n = (long)c * h * w; // < 2^63: each factor < 2^31
        if (n > Array.MaxLength)
            throw new ArgumentException($"ChwImage: [{c}, {h}, {w}] is {n:N0} values, more than the {Array.MaxLength:N0} one image can hold; use a smaller image.");
        return (int)n;
    }

    public int PlaneSize => Height * Width;
    public int[] Shape => [Channels, Height, Width];
    public string ShapeString => $"[{Channels}, {Height}, {Width}]";

    public ref float this[int c, int y, int x] => ref Data[(c * Height + y) * Width + x];

    /// <summary>One channel's plane, <c>[Height, Width]</c>.</summary>
    public Span<float> Plane(int c) => Data.AsSpan(c * PlaneSize, PlaneSize);

    public ChwImage Clone() => new((float[])Data.Clone(), Channels, Height, Width);

    /// <summary>Same shape as <paramref name="other"/>; throws naming <paramref name="op"/> otherwise.</summary>
    public void CheckSameShape(ChwImage other, string op)
    {
        if (Channels != other.Channels || Height != other.Height || Width != other.Width)
            throw new ArgumentException($"{op}: shapes differ, {ShapeString} vs {other.ShapeString}.");
    }

    /// <returns>[1, C, H, W] on <paramref name="device"/></returns>
    public Tensor ToTensor(Device device) => Tensor.FromArray(device, Data, 1, Channels, Height, Width);

    /// <summary>A batch of equally shaped images.</summary>
    /// <returns>[N, C, H, W] on <paramref name="device"/></returns>
    public static Tensor Stack(Device device, IReadOnlyList<ChwImage> images)
    {
        if (images.Count == 0) throw new ArgumentException("Stack: no images.");
        var first = images[0];
        var all = new float[checked(images.Count * first.Data.Length)];
        for (int i = 0; i < images.Count; i++)
        {
            first.CheckSameShape(images[i], $"Stack (image {i})");
            images[i].Data.CopyTo(all, i * first.Data.Length);
        }
        return Tensor.FromArray(device, all, images.Count, first.Channels, first.Height, first.Width);
    }

    /// <summary>Image <paramref name="index"/> of a batch.</summary>
    /// <param name="t">[N, C, H, W] or [C, H, W]</param>
    public static ChwImage FromTensor(Tensor t, int index = 0)
    {
        if (t.Rank is not (3 or 4)) throw new ArgumentException($"FromTensor: expected [N, C, H, W] or [C, H, W], got {t.ShapeString}.");
        int c = t.Dim(-3), h = t.Dim(-2), w = t.Dim(-1), n = t.Rank == 4 ? t.Dim(0) : 1;
        if ((uint)index >= (uint)n) throw new ArgumentException($"FromTensor: index {index} outside a batch of {n} ({t.ShapeString}).");
        var all = t.ToArray();
        int size = c * h * w;
        return new ChwImage(all.AsSpan(index * size, size).ToArray(), c, h, w);
    }
}
