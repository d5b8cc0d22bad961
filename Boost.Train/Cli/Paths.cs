namespace Boost.Train.Cli;

/// <summary>Where the shipped photos and weights are: the repository root (the folder holding Boost.sln).</summary>
public static class Paths
{
    /// <summary>The first folder holding Boost.sln, searched up from the working directory, then from the program's own.</summary>
    public static string Root { get; } = Find(Directory.GetCurrentDirectory()) ?? Find(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();

    private static string? Find(string start)
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Boost.sln"))) return d.FullName;
        return null;
    }

    public static string TrainPhotos => Path.Combine(Root, "data", "photos", "train");
    public static string ValPhotos => Path.Combine(Root, "data", "photos", "val");
    public static string Weights => Path.Combine(Root, "weights");
    public static string Runs => Path.Combine(Root, "runs");

    public static string NewRun(string command) => Path.Combine(Runs, $"{command}-{DateTime.Now:yyyyMMdd-HHmmss}");
}
