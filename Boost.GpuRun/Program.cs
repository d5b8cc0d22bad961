using Boost.GpuRun;

// boost-gpu: the GPU runner (scripts/gpu-run.sh builds it self-contained and runs it on a machine without .NET).
//   boost-gpu env   [--device D] [--json F]                      what the runtime and ILGPU see
//   boost-gpu ptx   DIR [--device D]                             every kernel's PTX as the device will load it + audit.json
//   boost-gpu check --shapes small|real|odd [--device D] [--json F]   every op vs the managed CPU backend, outputs poisoned
//   boost-gpu bench [--gpu-shapes] [--filter S] [--budget-s S] [--ceiling TORCH.json] [--device D] [--json F]   median timings
//   boost-gpu tests [--backend cuda] [--where S] [--json F]      Boost.Tests' cases of one backend via NUnit's runner
//   boost-gpu crop IN OUT SIZE; boost-gpu psnr A B [--json F]   a small LR input; PSNR between two outputs
//   boost-gpu train|boost|eval ...                               Boost.Train's commands
return Runner.Run(args);
