using Boost.Train.Sampling;

namespace Boost.Train.Pipeline;

/// <summary>
/// The one table of training and sampling defaults: the option parser, the <c>--help</c> table, the main job and the
/// records' initialisers (<see cref="CfmConfig"/>, <see cref="CfmTrainOptions"/>, <see cref="AeOptions"/>) all read
/// it, so a default changed here changes everywhere it is used or shown.
/// </summary>
public static class TrainDefaults
{
    // What is trained (config.json).
    public const Objective Objective = Pipeline.Objective.Cfm;
    public const LrPath LrPath = Pipeline.LrPath.Psu;
    public const int Scale = 4;
    /// <summary>Source noise step of the cosine schedule: ᾱ(400/1000) ≈ 0.6545.</summary>
    public const int NoiseStep = 400;
    public const int NoiseStepsTotal = 1000;
    public const string UNet = "bench";
    public const Precision Precision = Pipeline.Precision.Fp32;
    /// <summary>Constant after warm-up: the shipped weights were trained so; cosine is opt-in.</summary>
    public const LrScheduleKind LrSchedule = LrScheduleKind.Constant;

    // The CFM's latent cache and training windows.
    public const int Crop = 128;
    public const int CropsPerImage = 32;
    public const int LatentCrop = 16;

    // train-ae.
    public const int AeCrop = 64;
    public const float AeKlWeight = 1e-5f;
    public const float AeEdgeWeight = 0.5f;

    /// <summary><c>train</c>'s budgets and optimiser; validation is sparser on a GPU, where steps are cheap.</summary>
    public static TrainOptions Cfm(bool cpu) => new()
    {
        RunDir = "", Steps = 20_000, Batch = 16, Lr = 2e-4f, Warmup = 200, EmaDecay = 0.999f, ClipNorm = 1f,
        ValidateEvery = cpu ? 500 : 2000, CheckpointEvery = 500,
    };

    /// <summary>
    /// The main job's budget: on a CPU 6 minutes of training, so clone → build → latent cache → train → eval fits in
    /// 15 minutes on 2 cores with the f = 2 autoencoder (whose cache and evaluation cost more than f = 4's); on a GPU 10.
    /// </summary>
    public static TrainOptions MainJob(bool cpu) => Cfm(cpu) with
    {
        Minutes = cpu ? 6 : 10, Steps = cpu ? 20_000 : 50_000, Batch = cpu ? 8 : 32, ValidateEvery = cpu ? 400 : 2000,
        CheckpointEvery = cpu ? 200 : 2000, CheckpointMinutes = 2,
    };

    /// <summary>Crops per photo in the main job's latent cache: fewer on a CPU, where encoding them is the cost.</summary>
    public static int MainJobCropsPerImage(bool cpu) => cpu ? 16 : CropsPerImage;

    /// <summary><c>train-ae</c>'s budgets and optimiser.</summary>
    public static TrainOptions Ae => new()
    {
        RunDir = "", Steps = 10_000, Batch = 8, Lr = 1e-3f, Warmup = 100, EmaDecay = 0.99f, ValidateEvery = 200, CheckpointEvery = 250,
    };

    // Sampling (boost, eval, the main job's evaluation).
    /// <summary>boost's solver and step count: chosen on the training photos from eval's curves against NFE
    /// (eval --data data/photos/train; BENCHMARKS.md): Euler 20 scored above dopri5 at a third of its NFE.</summary>
    public const SolverMethod Solver = SolverMethod.Euler;
    public const int SolverSteps = 20;
    /// <summary><see cref="Solver"/> with <see cref="SolverSteps"/> in eval's spelling ("euler20").</summary>
    public static string SolverSpec => Choice<SolverMethod>.Name(Solver) + (SolverRegistry.Find(Choice<SolverMethod>.Name(Solver)).Adaptive ? "" : SolverSteps.ToString(System.Globalization.CultureInfo.InvariantCulture));
    public const double Rtol = 1e-3;
    public const double Atol = 1e-3;
    public const ErrorNorm Norm = ErrorNorm.Batch;
    public const EndRule EndRule = Sampling.EndRule.Clip;
    public const string EvalSolvers = "dopri5,euler40";
    /// <summary>boost's sampling temperature (source noise × τ): chosen on the training photos
    /// (eval --data data/photos/train), not on the held-out ones the README reports.</summary>
    public const float Temperature = 0.5f;
    /// <summary>boost's back-projection iterations, chosen with <see cref="Temperature"/>.</summary>
    public const int BackProjection = 3;
    /// <summary>boost's tile side in LR pixels (0: the whole image at once) and the tiles' overlap: 128 LR pixels is a
    /// 512² output per tile, a few hundred MB of activations with the shipped autoencoder.</summary>
    public const int Tile = 128, Overlap = 16;
}
