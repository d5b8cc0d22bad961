using Boost.Train.Cli;

return Commands.Run(args);
