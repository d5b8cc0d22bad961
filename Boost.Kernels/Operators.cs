using System.Numerics;
namespace Boost.Kernels;

// Elementwise operators as readonly structs: ILGPU specialises the generic kernels per struct, and the managed
// backend's loops inline them the same way. Each doc comment is the formula.

/// <summary>An elementwise op: the scalar form runs in the GPU kernels, the lane form in the managed backend's SIMD
/// loops (same arithmetic, so the same bits, except where a vector exp replaces MathF.Exp).</summary>
public interface IUnaryOp { float Apply(float x); Vector<float> Apply(Vector<float> x); }
public interface IBinaryOp { float Apply(float a, float b); Vector<float> Apply(Vector<float> a, Vector<float> b); }

/// <summary>y = a·x + b</summary>
public readonly struct AffineOp(float a, float b) : IUnaryOp
{
    public readonly float A = a, B = b;
    public float Apply(float x) => A * x + B;
    public Vector<float> Apply(Vector<float> x) => new Vector<float>(A) * x + new Vector<float>(B);
}

/// <summary>y = x·σ(x)</summary>
public readonly struct SiLUOp : IUnaryOp
{
    public float Apply(float x) => x / (1f + MathF.Exp(-x));
    public Vector<float> Apply(Vector<float> x) => x / (Vector<float>.One + Vector.Exp(-x));
}

/// <summary>y = x²</summary>
public readonly struct SquareOp : IUnaryOp
{
    public float Apply(float x) => x * x;
    public Vector<float> Apply(Vector<float> x) => x * x;
}

/// <summary>y = α·a + β·b (add: 1,1; sub: 1,−1; also the axpy of the ODE solvers)</summary>
public readonly struct LinearCombOp(float alpha, float beta) : IBinaryOp
{
    public readonly float Alpha = alpha, Beta = beta;
    public float Apply(float a, float b) => Alpha * a + Beta * b;
    public Vector<float> Apply(Vector<float> a, Vector<float> b) => new Vector<float>(Alpha) * a + new Vector<float>(Beta) * b;
}

/// <summary>y = a·b</summary>
public readonly struct MulOp : IBinaryOp
{
    public float Apply(float a, float b) => a * b;
    public Vector<float> Apply(Vector<float> a, Vector<float> b) => a * b;
}

/// <summary>SiLU backward: a = x, b = dy; y = dy·σ(x)·(1 + x·(1 − σ(x)))</summary>
public readonly struct SiLUGradOp : IBinaryOp
{
    public float Apply(float x, float dy)
    {
        float s = 1f / (1f + MathF.Exp(-x));
        return dy * s * (1f + x * (1f - s));
    }
    public Vector<float> Apply(Vector<float> x, Vector<float> dy)
    {
        var s = Vector<float>.One / (Vector<float>.One + Vector.Exp(-x));
        return dy * s * (Vector<float>.One + x * (Vector<float>.One - s));
    }
}

/// <summary>y = a (reductions of one tensor pass it twice)</summary>
public readonly struct FirstOp : IBinaryOp
{
    public float Apply(float a, float b) => a;
    public Vector<float> Apply(Vector<float> a, Vector<float> b) => a;
}

/// <summary>y = (a − b)²</summary>
public readonly struct SquaredDiffOp : IBinaryOp
{
    public float Apply(float a, float b) { float d = a - b; return d * d; }
    public Vector<float> Apply(Vector<float> a, Vector<float> b) { var d = a - b; return d * d; }
}

/// <summary>Dropout mask from a uniform u: 1/(1 − p) where u ≥ p, else 0.</summary>
public readonly struct DropoutMaskOp(float p) : IUnaryOp
{
    public readonly float P = p;
    public float Apply(float u) => u >= P ? 1f / (1f - P) : 0f;
    public Vector<float> Apply(Vector<float> u) => Vector.ConditionalSelect(Vector.GreaterThanOrEqual(u, new Vector<float>(P)), new Vector<float>(1f / (1f - P)), Vector<float>.Zero);
}

/// <summary>y = eˣ</summary>
public readonly struct ExpOp : IUnaryOp
{
    public float Apply(float x) => MathF.Exp(x);
    public Vector<float> Apply(Vector<float> x) => Vector.Exp(x);
}

/// <summary>y = min(max(x, lo), hi)</summary>
public readonly struct ClampOp(float lo, float hi) : IUnaryOp
{
    public readonly float Lo = lo, Hi = hi;
    public float Apply(float x) => x < Lo ? Lo : x > Hi ? Hi : x;
    public Vector<float> Apply(Vector<float> x)
    {
        var lo = new Vector<float>(Lo); var hi = new Vector<float>(Hi);
        return Vector.ConditionalSelect(Vector.LessThan(x, lo), lo, Vector.ConditionalSelect(Vector.GreaterThan(x, hi), hi, x)); // NaN stays NaN
    }
}

/// <summary>Clamp backward: a = x, b = dy; dy where lo ≤ x ≤ hi, else 0.</summary>
public readonly struct ClampGradOp(float lo, float hi) : IBinaryOp
{
    public readonly float Lo = lo, Hi = hi;
    public float Apply(float x, float dy) => x >= Lo && x <= Hi ? dy : 0f;
    public Vector<float> Apply(Vector<float> x, Vector<float> dy)
        => Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, new Vector<float>(Lo)) & Vector.LessThanOrEqual(x, new Vector<float>(Hi)), dy, Vector<float>.Zero);
}
