#!/usr/bin/env python3
"""Renders an eval.json (written by `Boost.Train eval` or the main job) as the Markdown table README.md and
weights/README.md show, so the scores there are never typed by hand.

usage: scripts/eval-table.py weights/eval/eval.json [row ...]   (rows: method names to keep, in that order; default all)
"""
import json
import sys


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    doc = json.load(open(argv[1]))
    methods = doc["methods"]
    names = argv[2:] or list(methods)
    missing = [n for n in names if n not in methods]
    if missing:
        sys.exit(f"{argv[1]}: no rows {missing}; it has {list(methods)}")
    print("| method | PSNR (dB) | SSIM | HF ratio | NFE | s / image |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        m = methods[name]
        nfe, sec = m.get("nfe"), m.get("sec_per_image")
        print(f"| `{name}` | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['hf_ratio']:.3f} | "
              f"{'' if nfe is None else f'{nfe:g}'} | {'' if sec is None else f'{sec:.2f}'} |")


if __name__ == "__main__":
    main(sys.argv)
