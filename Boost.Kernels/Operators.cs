namespace Boost.Kernels;

// Elementwise operators as readonly structs: ILGPU specialises the generic kernels per struct, and the managed
// backend's loops inline them the same way. Each doc comment is the formula.

public interface IUnaryOp { float Apply(float x); }
public interface IBinaryOp { float Apply(float a, float b); }

/// <summary>y = a·x + b</summary>
public readonly struct AffineOp(float a, float b) : IUnaryOp
{
    public readonly float A = a, B = b;
    public float Apply(float x) => A * x + B;
}

/// <summary>y = x·σ(x)</summary>
public readonly struct SiLUOp : IUnaryOp
{
    public float Apply(float x) => x / (1f + MathF.Exp(-x));
}

/// <summary>y = x²</summary>
public readonly struct SquareOp : IUnaryOp
{
    public float Apply(float x) => x * x;
}

/// <summary>y = α·a + β·b (add: 1,1; sub: 1,−1; also the axpy of the ODE solvers)</summary>
public readonly struct LinearCombOp(float alpha, float beta) : IBinaryOp
{
    public readonly float Alpha = alpha, Beta = beta;
    public float Apply(float a, float b) => Alpha * a + Beta * b;
}

/// <summary>y = a·b</summary>
public readonly struct MulOp : IBinaryOp
{
    public float Apply(float a, float b) => a * b;
}

/// <summary>SiLU backward: a = x, b = dy; y = dy·σ(x)·(1 + x·(1 − σ(x)))</summary>
public readonly struct SiLUGradOp : IBinaryOp
{
    public float Apply(float x, float dy)
    {
        float s = 1f / (1f + MathF.Exp(-x));
        return dy * s * (1f + x * (1f - s));
    }
}

/// <summary>y = a (reductions of one tensor pass it twice)</summary>
public readonly struct FirstOp : IBinaryOp
{
    public float Apply(float a, float b) => a;
}

/// <summary>y = (a − b)²</summary>
public readonly struct SquaredDiffOp : IBinaryOp
{
    public float Apply(float a, float b) { float d = a - b; return d * d; }
}

/// <summary>Dropout mask from a uniform u: 1/(1 − p) where u ≥ p, else 0.</summary>
public readonly struct DropoutMaskOp(float p) : IUnaryOp
{
    public readonly float P = p;
    public float Apply(float u) => u >= P ? 1f / (1f - P) : 0f;
}

/// <summary>y = eˣ</summary>
public readonly struct ExpOp : IUnaryOp
{
    public float Apply(float x) => MathF.Exp(x);
}

/// <summary>y = min(max(x, lo), hi)</summary>
public readonly struct ClampOp(float lo, float hi) : IUnaryOp
{
    public readonly float Lo = lo, Hi = hi;
    public float Apply(float x) => x < Lo ? Lo : x > Hi ? Hi : x;
}

/// <summary>Clamp backward: a = x, b = dy; dy where lo ≤ x ≤ hi, else 0.</summary>
public readonly struct ClampGradOp(float lo, float hi) : IBinaryOp
{
    public readonly float Lo = lo, Hi = hi;
    public float Apply(float x, float dy) => x >= Lo && x <= Hi ? dy : 0f;
}
