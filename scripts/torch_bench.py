#!/usr/bin/env python3
"""PyTorch on this machine, the same cases and shapes as Boost.Bench's quick mode (float32, NCHW, CPU).

usage: python3 scripts/torch_bench.py --threads 2 --json OUT.json [--filter SUBSTRING] [--gpu-shapes] [--device cuda --tf32 on|off]
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


DEVICE = "cpu"


def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(fn, budget=4.0):
    fn()
    sync()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (len(times) < 30 and time.perf_counter() - start < budget):
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def rand(*shape, grad=False):
    return (torch.rand(*shape, device=DEVICE) * 4 - 2).requires_grad_(grad)


def forward_or_grad(fwd, inputs, backward):
    """The forward itself, or the gradients of one forward's output with respect to `inputs` (graph kept)."""
    if not backward:
        return fwd
    y = fwd()
    g = rand(*y.shape)
    return lambda: torch.autograd.grad(y, inputs, g, retain_graph=True)


def conv(n, c, s, stride, backward):
    """3×3, c → c channels, padding 1; backward = dX + dW."""
    x, w, b = rand(n, c, s, s, grad=backward), rand(c, c, 3, 3, grad=backward), rand(c)
    return forward_or_grad(lambda: F.conv2d(x, w, b, stride=stride, padding=1), (x, w), backward)


def groupnorm(backward, n=8, c=128, s=32):
    x, w, b = rand(n, c, s, s, grad=backward), rand(c, grad=backward), rand(c, grad=backward)
    return forward_or_grad(lambda: F.group_norm(x, 32, w, b, 1e-6), (x, w, b), backward)


def attention(backward, b=8, h=4, t=256, d=64):
    q, k, v = (rand(b, h, t, d, grad=backward) for _ in range(3))

    return forward_or_grad(lambda: torch.softmax(q @ k.transpose(-1, -2) * d ** -0.5, dim=-1) @ v, (q, k, v), backward)


def upsample(mode, backward, n=8, c=128, s=32):
    x = rand(n, c, s, s, grad=backward)
    kw = {"align_corners": False} if mode == "bilinear" else {}
    return forward_or_grad(lambda: F.interpolate(x, scale_factor=2, mode=mode, **kw), (x,), backward)


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


# Boost.Bench --gpu-shapes: the `paper` UNet's layer shapes at 128² latents, batch 4 (the UNet itself is not here).
GPU_CASES = {
    "gpu_matmul_4096": lambda: (lambda a, b: (lambda: a @ b))(rand(4096, 4096), rand(4096, 4096)),
    "gpu_conv3x3_c128_128_fwd": lambda: conv(4, 128, 128, 1, False),
    "gpu_conv3x3_c128_128_bwd": lambda: conv(4, 128, 128, 1, True),
    "gpu_conv3x3_c512_32_fwd": lambda: conv(4, 512, 32, 1, False),
    "gpu_conv3x3_c512_32_bwd": lambda: conv(4, 512, 32, 1, True),
    "gpu_conv3x3s2_c256_64_fwd": lambda: conv(4, 256, 64, 2, False),
    "gpu_groupnorm_fwd": lambda: groupnorm(False, 4, 256, 64),
    "gpu_groupnorm_bwd": lambda: groupnorm(True, 4, 256, 64),
    "gpu_attention_fwd": lambda: attention(False, 4, 16, 256, 64),
    "gpu_attention_bwd": lambda: attention(True, 4, 16, 256, 64),
    "gpu_upsample_nearest_fwd": lambda: upsample("nearest", False, 4, 512, 32),
    "gpu_upsample_nearest_bwd": lambda: upsample("nearest", True, 4, 512, 32),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", required=True)
    p.add_argument("--filter", default=None)
    p.add_argument("--gpu-shapes", action="store_true")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--tf32", default="off", choices=["on", "off"])
    a = p.parse_args()
    global DEVICE
    DEVICE = a.device
    torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = a.tf32 == "on"
    torch.manual_seed(0)
    cases = {}
    for name, make in (GPU_CASES if a.gpu_shapes else CASES).items():
        if a.filter and a.filter not in name:
            continue
        cases[name] = timed(make())
        print(f"torch {name:<26} {cases[name]:10.3f} ms", flush=True)
    blas = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu"
    doc = {"torch": torch.__version__, "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(),
           "device": a.device if a.device == "cpu" else torch.cuda.get_device_name(0), "tf32": a.tf32 == "on",
           "blas": os.path.realpath(blas) if os.path.exists(blas) else "unknown", "cases": cases}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
