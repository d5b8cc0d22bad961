#!/usr/bin/env python3
"""Prints the Markdown table of a Boost.Bench quick-mode JSON (--json FILE), for BENCHMARKS.md.

usage: python3 scripts/bench-table.py bench-results/FILE.json
Columns: median ms, GFLOP/s or GB/s, % of the run's measured peak (CUDA: PyTorch's fp32 matmul and device copy when
the run has them), each PyTorch run of the same run (CPU: one; CUDA: PyTorch's defaults, TF32 off, bf16 autocast) with
its speed ratio (torch ms / ours), then the recorded libtorch figure (another CPU, Boost.Bench/Reference.cs) with its ratio and the target bar.
Numbers are copied, never typed.
"""
import json
import sys


def fmt(x, digits):
    return "" if x is None else f"{x:.{digits}f}"


def ratio(reference, ours):
    return "" if reference is None else f"{reference / ours:.2f}×"


def main(path):
    doc = json.load(open(path))
    peak = doc.get("peak", {})
    print(f"Machine: {doc['machine']}; device `{doc['device']}`; practical peak measured in the run: "
          f"{fmt(peak.get('gflops'), 1)} GFLOP/s, {fmt(peak.get('gbs'), 1)} GB/s ({peak.get('how', '?')}). Raw JSON: `{path}`.")
    ceiling = doc.get("torch_ceiling")
    if ceiling:
        print(f"PyTorch's ceiling in the run: fp32 {fmt(ceiling.get('fp32_gflops'), 0)}, TF32 {fmt(ceiling.get('tf32_gflops'), 0)}, "
              f"bf16 {fmt(ceiling.get('bf16_gflops'), 0)} GFLOP/s; copy {fmt(ceiling.get('copy_gbs'), 0)} GB/s ({ceiling.get('how', '?')}).")
    runs = doc.get("torch_runs")
    if runs is None:  # the first session-3 files: one CPU run under "torch_here"
        here = doc.get("torch_here")
        runs = [dict(here, label="PyTorch here")] if here else []
    for r in runs:
        print(f"{r['label']}: torch {r['version']} on {r.get('device', 'cpu')} (oneDNN {'on' if r.get('mkldnn') else 'off'}, "
              f"BLAS `{r.get('blas', '?')}`{', TF32 on' if r.get('tf32') else ''}), measured in the same run.")
    print()
    head = ["case", "ms", "GFLOP/s", "GB/s", "% of peak"]
    for r in runs:
        head += [f"{r['label']} ms", f"vs {r['label']}"]
    head += ["libtorch anchor ms", "vs anchor", "target"]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 2) + "---|")
    notes = []
    for case, r in doc["cases"].items():
        ms = r["median_ms"]
        speed, target = r.get("speed_vs_libtorch"), r.get("target_speed")
        bar = "" if target is None else (f"≥ {target:g}: met" if speed is not None and speed >= target else f"≥ {target:g}: not met")
        extra = r.get("extra") or {}
        name = f"`{case}`" + "".join(f" ({k} {v:g})" for k, v in extra.items())
        if r.get("note"):
            if r["note"] not in notes:
                notes.append(r["note"])
            name += f" [{notes.index(r['note']) + 1}]"
        lib = r.get("libtorch_ms")
        cells = [name, fmt(ms, 3 if ms < 10 else 2), fmt(r.get("gflops"), 1), fmt(r.get("gbs"), 1), fmt(r.get("pct_of_peak"), 1)]
        for run in runs:
            t = run["ms"].get(case)
            cells += [fmt(t, 3), ratio(t, ms)]
        cells += [fmt(lib, 3 if lib is not None and lib < 1 else 2), ratio(lib, ms), bar]
        print("| " + " | ".join(cells) + " |")
    if notes:
        print()
        for i, n in enumerate(notes, 1):
            print(f"[{i}] {n}.")


if __name__ == "__main__":
    main(sys.argv[1])
