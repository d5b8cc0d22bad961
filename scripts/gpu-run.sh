#!/usr/bin/env bash
# The GPU run: build here, run there (a machine with an NVIDIA GPU and no .NET SDK), bring one archive back.
#
#   scripts/gpu-run.sh prepare          build publish/gpu.tar.xz (the self-contained, trimmed runner Boost.GpuRun plus
#                                       Boost.Tests.dll and a 32² test image), print what will travel (tracked tree +
#                                       archive) and fail above 60 MiB; then dry-run the device command on this machine
#                                       (ILGPU's CPU simulator, small shapes, a few minutes)
#   scripts/gpu-run.sh device OUTDIR    on the GPU machine, from the repository root, with publish/gpu.tar.xz beside it:
#                                       every stage below, each under its own time limit inside one overall budget
#                                       (BOOST_GPU_BUDGET_S, default 480 s), results saved as they come
#
# Stages (device): environment (nvidia-smi, the driver library, ILGPU's view); every kernel's PTX through
# `ptxas -arch=sm_90 -v` (registers, spills, shared bytes); the device check (every op vs the managed CPU backend,
# outputs poisoned) at small, odd and real shapes; Boost.Tests' CUDA cases; PyTorch on the bench cases (defaults,
# TF32 off, bf16 autocast) with its matmul and copy ceilings, then every bench case on CUDA (% of those ceilings);
# a 60-second CFM training on CUDA and its first step on the CPU (same seed: same loss); `boost` of one 32² image on
# CUDA and on the CPU (PSNR between the two); compute-sanitizer's memcheck and racecheck over the small check.
# OUTDIR gets results.tar.gz (every JSON and log, refreshed after each stage), summary.txt and run.log: few files, so
# the device tool's limit on returned files holds even if the run is cut short. Then, here:
#   tar -xzf OUTDIR/results.tar.gz -C W; python3 scripts/gpu-summary.py W --markdown   → BENCHMARKS.md's CUDA section
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

prepare() {
  set -e
  dotnet build Boost.Tests -c Release -v q -nologo | grep -E "error|Warn|Elapsed" || true
  rm -rf publish/gpu publish/gpu.tar.xz
  dotnet publish Boost.GpuRun -c Release -r linux-x64 --self-contained -p:BoostTrim=true -p:DebugType=none -o publish/gpu -v q -nologo
  # The debugger's and crash dumper's native parts: unused there, and 4 MiB of the travel limit.
  rm -f publish/gpu/libmscordbi.so publish/gpu/libmscordaccore.so publish/gpu/createdump publish/gpu/*.pdb
  cp Boost.Tests/bin/Release/net10.0/Boost.Tests.dll publish/gpu/
  publish/gpu/boost-gpu crop data/photos/val/palapeli-citrus-fruits.jpg publish/gpu/lr32.png 32
  tar -C publish -cf - gpu | xz -6 -T2 > publish/gpu.tar.xz
  local tracked untracked archive total
  tracked=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
  untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
  archive=$(stat -c %s publish/gpu.tar.xz)
  total=$((tracked + untracked + archive))
  echo "travels: tracked $(mib "$tracked") MiB + untracked $(mib "$untracked") MiB + publish/gpu.tar.xz $(mib "$archive") MiB = $(mib "$total") MiB (limit 64, ours 60)"
  if [ "$total" -gt $((60 * 1048576)) ]; then echo "error: over 60 MiB" >&2; exit 1; fi
  set +e
  echo "dry run on this machine (ILGPU's CPU simulator, small shapes):"
  local dry; dry=$(mktemp -d)
  BOOST_GPU_DRY=1 BOOST_GPU_BUDGET_S=${BOOST_GPU_BUDGET_S:-900} "$0" device "$dry"
  local rc=$?
  echo "dry run: exit $rc, outputs in $dry"
  return $rc
}

device() {
  local out=$1; mkdir -p "$out"
  local work; work=$(mktemp -d); mkdir -p "$work/logs"
  local budget=${BOOST_GPU_BUDGET_S:-480} start=$SECONDS failures=0
  exec > >(tee "$out/run.log") 2>&1
  if [ ! -x publish/gpu/boost-gpu ]; then
    [ -f publish/gpu.tar.xz ] || { echo "error: publish/gpu.tar.xz missing: run scripts/gpu-run.sh prepare and carry it"; return 1; }
    tar -C publish -xJf publish/gpu.tar.xz 2>/dev/null \
      || python3 -c "import tarfile; tarfile.open('publish/gpu.tar.xz').extractall('publish')" \
      || { echo "error: cannot unpack publish/gpu.tar.xz"; return 1; }
  fi
  # The driver may live outside the loader's cache (a read-only /usr/local/nvidia mount); the toolkit outside PATH.
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64:/usr/local/nvidia/lib"
  export PATH="$PATH:/usr/local/cuda/bin"
  local B="$ROOT/publish/gpu/boost-gpu" dev=cuda shapes=(small odd real) dry=${BOOST_GPU_DRY:-}
  if [ -n "$dry" ]; then dev=${BOOST_GPU_DRY_DEVICE:-ilgpu-cpu}; shapes=(small); fi
  export DOTNET_gcServer=0 BOOST_DEVICE=$dev
  local -a summary=()

  # stage NAME LIMIT_S CMD...: runs CMD with its output in logs/NAME.log, under the smaller of LIMIT_S and what is
  # left of the budget; skipped when under 10 s are left. Refreshes results.tar.gz after each stage.
  stage() {
    local name=$1 limit=$2; shift 2
    local left=$((budget - (SECONDS - start)))
    if [ "$left" -lt 10 ]; then summary+=("$(printf '%-22s skipped (budget spent)' "$name")"); echo "== $name: skipped, budget spent"; return; fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (limit ${limit} s, $((SECONDS - start)) s into the run)"
    local t0=$SECONDS rc
    timeout --kill-after=5 "$limit" "$@" > "$work/logs/$name.log" 2>&1; rc=$?
    tail -n 25 "$work/logs/$name.log"
    local verdict="ok"; [ "$rc" -ne 0 ] && { verdict="FAILED (exit $rc)"; failures=$((failures + 1)); }
    [ "$rc" -eq 124 ] && verdict="TIMED OUT after ${limit} s"
    summary+=("$(printf '%-22s %-26s %4d s' "$name" "$verdict" $((SECONDS - t0)))")
    echo "== $name: $verdict in $((SECONDS - t0)) s"
    tar -C "$work" -czf "$out/results.tar.gz.tmp" . && mv "$out/results.tar.gz.tmp" "$out/results.tar.gz"
  }

  stage env 30 bash -c "nvidia-smi || true; nvidia-smi -q | head -60 || true; (ldconfig -p | grep -E 'libcuda|libnvidia-ptxjitcompiler') || true; which ptxas nvcc python3 || true; \"$B\" env --json \"$work/env.json\""
  stage ptx 90 bash -c "\"$B\" ptx \"$work/ptx\"; rc=\$?; if command -v ptxas >/dev/null; then for f in \"$work\"/ptx/*.ptx; do printf '%s\t' \"\$(basename \"\$f\")\"; ptxas -arch=sm_90 -v \"\$f\" -o /dev/null 2>&1 | tr '\n' ' '; echo; done > \"$work/ptxas.tsv\"; grep -c 'error' \"$work/ptxas.tsv\" && rc=1; fi; exit \$rc"
  for s in "${shapes[@]}"; do stage "check-$s" 120 "$B" check --shapes "$s" --json "$work/check-$s.json"; done
  # The TF32 and BF16 tensor-core kernels (inline mma.sync): the fragment layouts the tests prove on the simulator's
  # emulation (MmaTests), here on the instructions themselves. Not in the dry run: emulated on the NVIDIA-shaped
  # simulator, these checks take far longer than a stage's limit.
  if [ -z "$dry" ]; then
    stage check-tf32 60 "$B" check --shapes real --precision tf32 --json "$work/check-tf32.json"
    stage check-bf16 60 "$B" check --shapes real --precision bf16 --json "$work/check-bf16.json"
  fi
  if [ -n "$dry" ]; then stage tests 300 "$B" tests --backend "$dev" --where "${BOOST_GPU_DRY_TESTS:-Conv2dTests}" --json "$work/tests.json"
  else stage tests 180 "$B" tests --backend cuda --json "$work/tests.json"; fi
  if [ -z "$dry" ]; then
    stage torch 150 env PYTHONUNBUFFERED=1 python3 scripts/torch_bench.py --device cuda --shapes all --modes default,fp32,bf16 --budget 100 --json "$work/torch.json"
    stage bench 120 "$B" bench --budget-s 1.5 --ceiling "$work/torch.json" --json "$work/bench.json"
    stage bench-tf32 60 "$B" bench --budget-s 1 --precision tf32 --filter "conv|attention" --ceiling "$work/torch.json" --json "$work/bench-tf32.json"
    stage bench-bf16 60 "$B" bench --budget-s 1 --precision bf16 --filter "conv|attention" --ceiling "$work/torch.json" --json "$work/bench-bf16.json"
  else
    stage bench 300 "$B" bench --budget-s 0 --filter groupnorm --json "$work/bench.json"
  fi
  # Training: the latent cache is built once (on the GPU) and shared, so the CPU's first step sees the same batch.
  # The dry run trains 3 small steps and boosts on the managed CPU backend instead: the autoencoder on the simulator
  # takes hours.
  local tdev=$dev small=() solver=()
  if [ -n "$dry" ]; then tdev=cpu; small=(--batch 2 --crops-per-image 1); solver=(--solver euler --steps 2); fi
  local train=(train --cache "$work/latent-cache" --validate-every 100000 --checkpoint-every 100000 --seed 7 "${small[@]}")
  if [ -n "$dry" ]; then stage train-gpu 150 "$B" "${train[@]}" --run "$work/train-$tdev-gpu" --steps 3 --device "$tdev"
  else stage train-gpu 150 "$B" "${train[@]}" --run "$work/train-$tdev" --minutes 1 --device "$tdev"; fi
  stage train-cpu-step1 120 "$B" "${train[@]}" --run "$work/train-cpu" --steps 1 --device cpu
  stage boost-gpu 90 "$B" boost --in publish/gpu/lr32.png --out "$work/boost-$dev.png" --seed 3 "${solver[@]}" --device "$tdev"
  stage boost-cpu 120 "$B" boost --in publish/gpu/lr32.png --out "$work/boost-cpu.png" --seed 3 "${solver[@]}" --device cpu
  stage psnr 20 "$B" psnr "$work/boost-$dev.png" "$work/boost-cpu.png" --json "$work/psnr.json"
  # compute-sanitizer on the small check: out-of-bounds and misaligned accesses on the real GPU (memcheck), then
  # shared-memory races (racecheck). Skipped where the tool is absent.
  if [ -z "$dry" ] && command -v compute-sanitizer >/dev/null; then
    stage memcheck 90 compute-sanitizer --tool memcheck --print-limit 20 --error-exitcode 9 "$B" check --shapes small --json "$work/memcheck-check.json"
    stage racecheck 90 compute-sanitizer --tool racecheck --print-limit 20 --error-exitcode 9 "$B" check --shapes small --json "$work/racecheck-check.json"
  fi
  if [ -z "$dry" ]; then stage bench-gpu-shapes 120 "$B" bench --gpu-shapes --budget-s 1 --ceiling "$work/torch.json" --json "$work/bench-gpu-shapes.json"; fi
  # The summary runs whatever is left of the budget: it reads files and takes a second.
  timeout 30 python3 scripts/gpu-summary.py "$work" > "$out/summary.txt" 2>&1
  tar -C "$work" -czf "$out/results.tar.gz.tmp" . && mv "$out/results.tar.gz.tmp" "$out/results.tar.gz"
  echo "== stages ($((SECONDS - start)) s of a ${budget} s budget)"
  printf '%s\n' "${summary[@]}"
  cat "$out/summary.txt" 2>/dev/null
  return $((failures > 0))
}

# Each branch exits itself, so bash never reads past this point (the script may be edited while it runs).
case "${1:-}" in
  prepare) prepare; exit $? ;;
  device) [ -n "${2:-}" ] || { echo "usage: $0 device OUTDIR" >&2; exit 2; }; device "$2"; exit $? ;;
  *) echo "usage: $0 prepare | device OUTDIR" >&2; exit 2 ;;
esac
