namespace Boost.Kernels.Reference;

/// <summary>
/// Naive double-precision twin of attention over <c>heads</c> independent heads (B·H flattened):
/// q [heads, tq, d], k and v [heads, tk, d]; O = softmax(scale·Q·Kᵀ)·V. The oracle for every backend.
/// </summary>
public static class AttentionReference
{
    /// <summary>o [heads, tq, d]; <paramref name="lse"/> [heads, tq] = log Σ_j exp(scale·q_i·k_j).</summary>
    public static double[] Forward(double[] q, double[] k, double[] v, int heads, int tq, int tk, int d, double scale, out double[] lse)
    {
        var o = new double[heads * tq * d];
        lse = new double[heads * tq];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < tq; i++)
            {
                var p = Probabilities(q, k, h, i, tq, tk, d, scale, out double rowLse);
                lse[h * tq + i] = rowLse;
                for (int j = 0; j < tk; j++)
                    for (int c = 0; c < d; c++) o[(h * tq + i) * d + c] += p[j] * v[(h * tk + j) * d + c];
            }
        return o;
    }

    /// <summary>
    /// Gradients of L with dL/dO = <paramref name="dO"/>, recomputing the softmax from scratch:
    /// dV = Pᵀ·dO, dP = dO·Vᵀ, dS_ij = P_ij·(dP_ij − Σ_l P_il·dP_il), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
    /// </summary>
    public static (double[] dq, double[] dk, double[] dv) Backward(double[] dO, double[] q, double[] k, double[] v,
        int heads, int tq, int tk, int d, double scale)
    {
        var dq = new double[q.Length]; var dk = new double[k.Length]; var dv = new double[v.Length];
        var dp = new double[tk];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < tq; i++)
            {
                var p = Probabilities(q, k, h, i, tq, tk, d, scale, out _);
                int qi = (h * tq + i) * d;
                double pdp = 0;
                for (int j = 0; j < tk; j++)
                {
                    dp[j] = 0;
                    for (int c = 0; c < d; c++)
                    {
                        dp[j] += dO[qi + c] * v[(h * tk + j) * d + c];
                        dv[(h * tk + j) * d + c] += p[j] * dO[qi + c];
                    }
                    pdp += p[j] * dp[j];
                }
                for (int j = 0; j < tk; j++)
                {
                    double ds = p[j] * (dp[j] - pdp) * scale;
                    for (int c = 0; c < d; c++)
                    {
                        dq[qi + c] += ds * k[(h * tk + j) * d + c];
                        dk[(h * tk + j) * d + c] += ds * q[qi + c];
                    }
                }
            }
        return (dq, dk, dv);
    }

    /// <summary>Softmax row i of head h: p_j = exp(s_j − lse) with s_j = scale·q_i·k_j.</summary>
    private static double[] Probabilities(double[] q, double[] k, int h, int i, int tq, int tk, int d, double scale, out double lse)
    {
        var s = new double[tk];
        double max = double.NegativeInfinity;
        for (int j = 0; j < tk; j++)
        {
            double dot = 0;
            for (int c = 0; c < d; c++) dot += q[(h * tq + i) * d + c] * k[(h * tk + j) * d + c];
            s[j] = dot * scale;
            max = Math.Max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < tk; j++) sum += Math.Exp(s[j] - max);
        lse = max + Math.Log(sum);
        for (int j = 0; j < tk; j++) s[j] = Math.Exp(s[j] - lse);
        return s;
    }
}
