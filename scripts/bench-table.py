#!/usr/bin/env python3
"""Prints the Markdown table of a Boost.Bench quick-mode JSON (--json FILE), for BENCHMARKS.md.

usage: python3 scripts/bench-table.py bench-results/FILE.json
Columns: median ms, GFLOP/s or GB/s, % of the run's measured peak, PyTorch measured on the same machine in the same
run (when it was installed) and the speed ratio (torch ms / ours), then issue 3/6's libtorch figure (another CPU)
with its ratio and the issue's bar. Numbers are copied, never typed.
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
    here = doc.get("torch_here") or {}
    torch_ms = here.get("ms", {})
    if here:
        print(f"PyTorch measured on this machine right after our cases: torch {here['version']} "
              f"(oneDNN {'on' if here.get('mkldnn') else 'off'}, BLAS `{here.get('blas', '?')}`), same thread count.")
    print()
    print("| case | ms | GFLOP/s | GB/s | % of peak | PyTorch here ms | vs PyTorch here | issue's libtorch ms | vs issue's libtorch | issue's bar |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for case, r in doc["cases"].items():
        ms = r["median_ms"]
        speed, target = r.get("speed_vs_libtorch"), r.get("target_speed")
        bar = "" if target is None else (f"≥ {target:g}: met" if speed is not None and speed >= target else f"≥ {target:g}: not met")
        extra = r.get("extra") or {}
        name = f"`{case}`" + "".join(f" ({k} {v:g})" for k, v in extra.items())
        lib = r.get("libtorch_ms")
        cells = [name, fmt(ms, 3 if ms < 10 else 2), fmt(r.get("gflops"), 1), fmt(r.get("gbs"), 1), fmt(r.get("pct_of_peak"), 1),
                 fmt(torch_ms.get(case), 3), ratio(torch_ms.get(case), ms),
                 fmt(lib, 3 if lib is not None and lib < 1 else 2), ratio(lib, ms), bar]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
