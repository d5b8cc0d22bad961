#!/usr/bin/env bash
# Publishes Boost.Bench as one self-contained linux-x64 file (publish/gpu/Boost.Bench, git-ignored) so that a
# device machine without the .NET SDK can run the GPU check and the quick bench. Carry publish/gpu to it.
#
# On the device machine (from the repository root):
#   ./publish/gpu/Boost.Bench --check --device cuda --json $OUT/gpu-check.json   # every op vs the CPU backend; exit 1 on FAIL
#   ./publish/gpu/Boost.Bench --quick --device cuda --json $OUT/bench-cuda.json  # median timings of the bench cases
#   ./publish/gpu/Boost.Bench --quick --gpu-shapes --device cuda --json $OUT/bench-cuda-gpu.json
#       # the paper UNet at 128² latents (batch 4) and its layers' shapes; where python3 imports torch (the device
#       # machine has it), scripts/torch_bench.py first times the same cases on the GPU in three precision modes
#       # (PyTorch's defaults, TF32 off, bf16 autocast) and measures the ceiling that "% of peak" uses there;
#       # `python3 scripts/bench-table.py FILE` then gives BENCHMARKS.md's table with every ratio.
# Here, without a GPU (proves the comparison and the ILGPU launch paths; the real shapes on the simulator are far too slow):
#   ./publish/gpu/Boost.Bench --check --device cpu                  # CPU vs CPU: must PASS trivially
#   ./publish/gpu/Boost.Bench --check --small --device ilgpu-cpu    # tiny shapes on the simulator, a few seconds
# Tolerance rule and columns: see the doc comment of Boost.Bench/GpuCheck.cs.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet publish Boost.Bench -c Release -r linux-x64 --self-contained \
  -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:DebugType=none -o publish/gpu
# BenchmarkDotNet's Windows-only profiler DLLs: dead weight on Linux, and the carry limit is 64 MiB.
rm -rf publish/gpu/amd64 publish/gpu/*.pdb
du -sh publish/gpu
ls -l publish/gpu
