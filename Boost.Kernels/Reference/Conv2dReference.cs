namespace Boost.Kernels.Reference;

/// <summary>
/// Naive double-precision twins of conv2d (NCHW, square kernel, zero padding): the oracle for every backend.
/// Each backward is the plain adjoint of the forward's loop nest, so all four share one index expression.
/// </summary>
public static class Conv2dReference
{
    /// <summary>y[n, co, oh, ow] = b[co] + Σ_{ci,kh,kw} w[co, ci, kh, kw] · x[n, ci, oh·s − p + kh, ow·s − p + kw].</summary>
    /// <param name="x">[N, Cin, H, W]</param>
    /// <param name="w">[Cout, Cin, k, k]</param>
    /// <param name="b">[Cout] or null</param>
    /// <returns>y [N, Cout, Ho, Wo]</returns>
    public static double[] Forward(double[] x, int[] xShape, double[] w, int[] wShape, double[]? b, int stride, int pad, out int[] yShape)
    {
        var g = new Geometry(xShape, wShape, stride, pad);
        yShape = [g.N, g.Cout, g.Ho, g.Wo];
        var y = new double[g.N * g.Cout * g.Ho * g.Wo];
        g.ForEachTap((yi, xi, wi) => y[yi] += w[wi] * x[xi]);
        if (b is not null)
            for (int i = 0; i < y.Length; i++) y[i] += b[i / (g.Ho * g.Wo) % g.Cout];
        return y;
    }

    /// <summary>The forward with its epilogue: y + e[n, co] (+ r[n, co, oh, ow]).</summary>
    /// <param name="e">[N, Cout] or null</param>
    /// <param name="r">[N, Cout, Ho, Wo] or null</param>
    public static double[] Forward(double[] x, int[] xShape, double[] w, int[] wShape, double[]? b, double[]? e, double[]? r, int stride, int pad, out int[] yShape)
    {
        var y = Forward(x, xShape, w, wShape, b, stride, pad, out yShape);
        int hw = yShape[2] * yShape[3];
        for (int i = 0; i < y.Length; i++)
        {
            if (e is not null) y[i] += e[i / hw];
            if (r is not null) y[i] += r[i];
        }
        return y;
    }

    /// <returns>dx [N, Cin, H, W]</returns>
    public static double[] BackwardInput(double[] dy, double[] w, int[] xShape, int[] wShape, int stride, int pad)
    {
        var g = new Geometry(xShape, wShape, stride, pad);
        var dx = new double[g.N * g.Cin * g.H * g.W];
        g.ForEachTap((yi, xi, wi) => dx[xi] += w[wi] * dy[yi]);
        return dx;
    }

    /// <returns>dw [Cout, Cin, k, k]</returns>
    public static double[] BackwardWeight(double[] dy, double[] x, int[] xShape, int[] wShape, int stride, int pad)
    {
        var g = new Geometry(xShape, wShape, stride, pad);
        var dw = new double[g.Cout * g.Cin * g.K * g.K];
        g.ForEachTap((yi, xi, wi) => dw[wi] += dy[yi] * x[xi]);
        return dw;
    }

    /// <returns>db [Cout]: Σ over n, oh, ow of dy</returns>
    public static double[] BackwardBias(double[] dy, int[] yShape)
    {
        int n = yShape[0], c = yShape[1], hw = yShape[2] * yShape[3];
        var db = new double[c];
        for (int i = 0; i < n * c * hw; i++) db[i / hw % c] += dy[i];
        return db;
    }

    private readonly struct Geometry
    {
        public readonly int N, Cin, H, W, Cout, K, Stride, Pad, Ho, Wo;

        public Geometry(int[] x, int[] w, int stride, int pad)
        {
            if (x.Length != 4 || w.Length != 4 || x[1] != w[1] || w[2] != w[3])
                throw new ArgumentException($"Conv2dReference: x {Tensor.Format(x)} and w {Tensor.Format(w)} do not match.");
            (N, Cin, H, W, Cout, K, Stride, Pad) = (x[0], x[1], x[2], x[3], w[0], w[2], stride, pad);
            Ho = (H + 2 * pad - K) / stride + 1;
            Wo = (W + 2 * pad - K) / stride + 1;
        }

        /// <summary>Calls tap(y index, x index, w index) for every product that the forward sums.</summary>
        public void ForEachTap(Action<int, int, int> tap)
        {
            for (int n = 0; n < N; n++)
                for (int co = 0; co < Cout; co++)
                    for (int oh = 0; oh < Ho; oh++)
                        for (int ow = 0; ow < Wo; ow++)
                        {
                            int yi = ((n * Cout + co) * Ho + oh) * Wo + ow;
                            for (int ci = 0; ci < Cin; ci++)
                                for (int kh = 0; kh < K; kh++)
                                    for (int kw = 0; kw < K; kw++)
                                    {
                                        int ih = oh * Stride - Pad + kh, iw = ow * Stride - Pad + kw;
                                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                        tap(yi, ((n * Cin + ci) * H + ih) * W + iw, ((co * Cin + ci) * K + kh) * K + kw);
                                    }
                        }
        }
    }
}
