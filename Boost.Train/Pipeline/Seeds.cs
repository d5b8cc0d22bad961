namespace Boost.Train.Pipeline;

/// <summary>
/// Every random draw of a training step comes from (run seed, step, purpose): a step can be replayed on its own,
/// which is what makes <c>--resume</c> exact without saving generator state.
/// </summary>
public static class Seeds
{
    /// <summary>SplitMix64 finaliser over the three words.</summary>
    public static ulong Mix(ulong seed, ulong step, ulong purpose)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL ^ (step + 0x632BE59BD9B4E019UL) * 0xBF58476D1CE4E5B9UL ^ purpose * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A host generator for step <paramref name="step"/> (crops, flips, picks).</summary>
    public static Random Host(ulong seed, int step, ulong purpose = 0) => new((int)(Mix(seed, (ulong)step, purpose) & 0x7FFFFFFF));

    public const ulong Data = 1, Noise = 2, Time = 3, Posterior = 4;
}
