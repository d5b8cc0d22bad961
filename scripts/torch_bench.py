#!/usr/bin/env python3
"""PyTorch on this machine, the same cases and shapes as Boost.Bench's quick mode (float32, NCHW, CPU).

usage: python3 scripts/torch_bench.py --threads 2 --json OUT.json [--filter SUBSTRING]
Boost.Bench --quick runs it after its own cases when `import torch` works and puts the figures beside ours. Debian:
`apt install python3-torch libopenblas0-pthread` (Debian's torch calls the system BLAS for matmul and attention:
without OpenBLAS that is the reference BLAS, ~30x slower; convolutions go through oneDNN either way). Median of up to 30 timed runs after a warm-up, each case stopping after ~4 s.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F


def timed(fn, budget=4.0):
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (len(times) < 30 and time.perf_counter() - start < budget):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def rand(*shape, grad=False):
    return (torch.rand(*shape) * 4 - 2).requires_grad_(grad)


def conv(n, c, s, stride, backward):
    x, w, b = rand(n, c, s, s, grad=backward), rand(c, c, 3, 3, grad=backward), rand(c)
    if not backward:
        return lambda: F.conv2d(x, w, b, stride=stride, padding=1)
    y = F.conv2d(x, w, b, stride=stride, padding=1)
    g = rand(*y.shape)
    return lambda: torch.autograd.grad(y, (x, w), g, retain_graph=True)


def groupnorm(backward):
    x, w, b = rand(8, 128, 32, 32, grad=backward), rand(128, grad=backward), rand(128, grad=backward)
    if not backward:
        return lambda: F.group_norm(x, 32, w, b, 1e-6)
    y = F.group_norm(x, 32, w, b, 1e-6)
    g = rand(*y.shape)
    return lambda: torch.autograd.grad(y, (x, w, b), g, retain_graph=True)


def attention(backward):
    q, k, v = (rand(8, 4, 256, 64, grad=backward) for _ in range(3))

    def fwd():
        return torch.softmax(q @ k.transpose(-1, -2) * 0.125, dim=-1) @ v
    if not backward:
        return fwd
    y = fwd()
    g = rand(*y.shape)
    return lambda: torch.autograd.grad(y, (q, k, v), g, retain_graph=True)


def upsample(mode, backward):
    x = rand(8, 128, 32, 32, grad=backward)
    kw = {"align_corners": False} if mode == "bilinear" else {}
    if not backward:
        return lambda: F.interpolate(x, scale_factor=2, mode=mode, **kw)
    y = F.interpolate(x, scale_factor=2, mode=mode, **kw)
    g = rand(*y.shape)
    return lambda: torch.autograd.grad(y, (x,), g, retain_graph=True)


CASES = {
    "matmul_1024": lambda: (lambda a, b: (lambda: a @ b))(rand(1024, 1024), rand(1024, 1024)),
    "conv3x3_c128_32_fwd": lambda: conv(8, 128, 32, 1, False),
    "conv3x3_c128_32_bwd": lambda: conv(8, 128, 32, 1, True),
    "conv3x3_c64_64_fwd": lambda: conv(8, 64, 64, 1, False),
    "conv3x3_c64_64_bwd": lambda: conv(8, 64, 64, 1, True),
    "conv3x3s2_c128_32_fwd": lambda: conv(8, 128, 32, 2, False),
    "groupnorm_fwd": lambda: groupnorm(False),
    "groupnorm_bwd": lambda: groupnorm(True),
    "attention_fwd": lambda: attention(False),
    "attention_bwd": lambda: attention(True),
    "upsample_nearest_fwd": lambda: upsample("nearest", False),
    "upsample_nearest_bwd": lambda: upsample("nearest", True),
    "upsample_bilinear_fwd": lambda: upsample("bilinear", False),
    "upsample_bilinear_bwd": lambda: upsample("bilinear", True),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", required=True)
    p.add_argument("--filter", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cases = {}
    for name, make in CASES.items():
        if a.filter and a.filter not in name:
            continue
        cases[name] = timed(make())
        print(f"torch {name:<26} {cases[name]:10.3f} ms", flush=True)
    blas = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu"
    doc = {"torch": torch.__version__, "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(),
           "blas": os.path.realpath(blas) if os.path.exists(blas) else "unknown", "cases": cases}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
