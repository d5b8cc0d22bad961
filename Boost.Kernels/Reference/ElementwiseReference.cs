namespace Boost.Kernels.Reference;

/// <summary>Naive double-precision twins of the elementwise ops: the oracle for every backend.</summary>
public static class ElementwiseReference
{
    public static double SiLU(double x) => x / (1 + Math.Exp(-x));

    public static double SiLUGrad(double x, double dy)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return dy * s * (1 + x * (1 - s));
    }

    public static double[] Map(double[] x, Func<double, double> f) => Array.ConvertAll(x, v => f(v));

    /// <summary>y = f(a, b) with numpy broadcasting over rank ≤ 4 (via the same layout the kernels use).</summary>
    public static double[] Zip(double[] a, int[] aShape, double[] b, int[] bShape, Func<double, double, double> f, out int[] shape)
    {
        var (m, s) = BroadcastLayout.Create(aShape, bShape, "Zip");
        shape = s;
        var y = new double[Tensor.Count(s)];
        for (int i = 0; i < y.Length; i++) { var (ia, ib) = m.Offsets(i); y[i] = f(a[ia], b[ib]); }
        return y;
    }

    /// <summary>Gradient of a broadcast operand: sums dy over the dims where the operand has size 1.</summary>
    public static double[] SumToShape(double[] dy, int[] dyShape, int[] shape)
    {
        var (m, _) = BroadcastLayout.Create(dyShape, shape, "SumTo");
        var g = new double[Tensor.Count(shape)];
        for (int i = 0; i < dy.Length; i++) g[m.Offsets(i).b] += dy[i];
        return g;
    }
}
