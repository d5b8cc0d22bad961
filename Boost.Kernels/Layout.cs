namespace Boost.Kernels;

/// <summary>
/// The index map of a broadcast binary op over rank ≤ 4: output dims D0..D3 (left-padded with 1s) and element
/// strides of each operand, 0 along the dims it is broadcast on. Passed to kernels by value.
/// </summary>
public struct BroadcastLayout
{
    public int D1, D2, D3;
    public int A0, A1, A2, A3;
    public int B0, B1, B2, B3;

    public readonly (int a, int b) Offsets(int i)
    {
        int i3 = i % D3; i /= D3;
        int i2 = i % D2; i /= D2;
        int i1 = i % D1; int i0 = i / D1;
        return (i0 * A0 + i1 * A1 + i2 * A2 + i3 * A3, i0 * B0 + i1 * B1 + i2 * B2 + i3 * B3);
    }

    /// <summary>Broadcasts <paramref name="a"/> against <paramref name="b"/> (numpy rules, aligned right).</summary>
    public static (BroadcastLayout layout, int[] shape) Create(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        if (rank > 4) throw new ArgumentException($"{op}: broadcasting supports rank ≤ 4, got {Tensor.Format(a)} and {Tensor.Format(b)}.");
        Span<int> da = stackalloc int[4], db = stackalloc int[4], d = stackalloc int[4];
        for (int k = 0; k < 4; k++)
        {
            int ia = k - (4 - a.Length), ib = k - (4 - b.Length);
            da[k] = ia >= 0 ? a[ia] : 1;
            db[k] = ib >= 0 ? b[ib] : 1;
            if (da[k] != db[k] && da[k] != 1 && db[k] != 1)
                throw new ArgumentException($"{op}: shapes {Tensor.Format(a)} and {Tensor.Format(b)} do not broadcast.");
            d[k] = da[k] == 1 ? db[k] : da[k];
        }
        Span<int> sa = stackalloc int[4], sb = stackalloc int[4];
        int stA = 1, stB = 1;
        for (int k = 3; k >= 0; k--)
        {
            sa[k] = da[k] == 1 ? 0 : stA; stA *= da[k];
            sb[k] = db[k] == 1 ? 0 : stB; stB *= db[k];
        }
        var layout = new BroadcastLayout
        {
            D1 = d[1], D2 = d[2], D3 = d[3],
            A0 = sa[0], A1 = sa[1], A2 = sa[2], A3 = sa[3],
            B0 = sb[0], B1 = sb[1], B2 = sb[2], B3 = sb[3],
        };
        return (layout, d[(4 - rank)..].ToArray());
    }
}

/// <summary>
/// The index map of a reduction over rank ≤ 4: the kept dims (K0..K3, element strides KS0..KS3) enumerate the
/// outputs, the reduced dims (R0..R3, strides RS0..RS3) the elements summed into each.
/// </summary>
public struct ReduceLayout
{
    public int K1, K2, K3, KS0, KS1, KS2, KS3;
    public int R1, R2, R3, RS0, RS1, RS2, RS3;
    public int OutCount, ReduceCount;

    public readonly int KeptOffset(int o)
    {
        int i3 = o % K3; o /= K3;
        int i2 = o % K2; o /= K2;
        int i1 = o % K1; int i0 = o / K1;
        return i0 * KS0 + i1 * KS1 + i2 * KS2 + i3 * KS3;
    }

    public readonly int ReducedOffset(int r)
    {
        int i3 = r % R3; r /= R3;
        int i2 = r % R2; r /= R2;
        int i1 = r % R1; int i0 = r / R1;
        return i0 * RS0 + i1 * RS1 + i2 * RS2 + i3 * RS3;
    }

    /// <summary>Reduces <paramref name="shape"/> over <paramref name="axes"/>; returns the layout and the kept dims.</summary>
    public static (ReduceLayout layout, int[] keptShape) Create(ReadOnlySpan<int> shape, ReadOnlySpan<int> axes, string op)
    {
        int rank = shape.Length;
        if (rank > 4) throw new ArgumentException($"{op}: reductions support rank ≤ 4, got {Tensor.Format(shape)}.");
        var reduced = new bool[rank];
        foreach (int ax0 in axes)
        {
            int ax = ax0 < 0 ? ax0 + rank : ax0;
            if (ax < 0 || ax >= rank) throw new ArgumentException($"{op}: axis {ax0} out of range for {Tensor.Format(shape)}.");
            if (reduced[ax]) throw new ArgumentException($"{op}: axis {ax0} given twice.");
            reduced[ax] = true;
        }
        var stride = new int[rank];
        for (int k = rank - 1, s = 1; k >= 0; k--) { stride[k] = s; s *= shape[k]; }
        var kd = new List<int>(); var ks = new List<int>(); var rd = new List<int>(); var rs = new List<int>();
        for (int k = 0; k < rank; k++)
        {
            if (reduced[k]) { rd.Add(shape[k]); rs.Add(stride[k]); }
            else { kd.Add(shape[k]); ks.Add(stride[k]); }
        }
        int[] kept = kd.ToArray();
        while (kd.Count < 4) { kd.Insert(0, 1); ks.Insert(0, 0); }
        while (rd.Count < 4) { rd.Insert(0, 1); rs.Insert(0, 0); }
        var layout = new ReduceLayout
        {
            K1 = kd[1], K2 = kd[2], K3 = kd[3], KS0 = ks[0], KS1 = ks[1], KS2 = ks[2], KS3 = ks[3],
            R1 = rd[1], R2 = rd[2], R3 = rd[3], RS0 = rs[0], RS1 = rs[1], RS2 = rs[2], RS3 = rs[3],
            OutCount = checked(kd[0] * kd[1] * kd[2] * kd[3]),
            ReduceCount = checked(rd[0] * rd[1] * rd[2] * rd[3]),
        };
        return (layout, kept);
    }
}
