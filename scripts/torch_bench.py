#!/usr/bin/env python3
"""PyTorch on this machine, the same cases and shapes as Boost.Bench's quick mode (float32, NCHW).

usage: python3 scripts/torch_bench.py --threads 2 --json OUT.json [--filter SUBSTRING[|SUBSTRING...]] [--gpu-shapes | --shapes all]
       python3 scripts/torch_bench.py --device cuda --modes default,fp32,bf16 --shapes all --json OUT.json
Boost.Bench --quick runs it where `import torch` works (CPU: after its own cases; CUDA: before them, with --modes
default,fp32,bf16, and its ceiling is then the "% of peak") and puts the figures beside ours. Debian: `apt install python3-torch libopenblas0-pthread`
(Debian's torch calls the system BLAS for matmul and attention: without OpenBLAS that is the reference BLAS, ~30x
slower; convolutions go through oneDNN either way).

Cases: Boost.Bench/Cases.cs's ids. `--shapes bench` (default): Cases.All() (the op cases, unet_bench_forward and
unet_bench_train_step: the bench UNet, batch 8, 8×32² inputs, t = 0, 120, …, 840; the train step is forward, MSE
against a fixed target, backward and AdamW at lr 1e-4, weight decay 0.01, as Boost's); `gpu` (= --gpu-shapes):
Cases.Gpu() (the paper UNet's layer shapes and gpu_unet_paper_forward / _train_step: batch 4, 128², t step 250);
`all`: both. Parameter counts are checked against Boost's (bench 6,475,652; paper 330,990,596).

CPU: one run ("torch"), median of up to 30 timed runs after a warm-up, each case stopping after ~4 s (as before).
CUDA: cudnn.benchmark on; each precision mode of --modes is a separate run, each case timed in every mode before the
next case: `default` = PyTorch's own settings (cuDNN convolutions in TF32, matmul in fp32), `fp32` = TF32 off
everywhere, `tf32` = TF32 on everywhere (what --tf32 on meant), `bf16` = the defaults under
torch.autocast("cuda", bfloat16). Per case and mode: two warm-up calls (the first autotunes), then up to 100 calls
each between two CUDA events, stopping after --case-seconds (at least 5 calls), median. Past --budget seconds every
later case gets one warm-up and 5 calls. A failing case prints a line and the rest go on; the JSON is rewritten after
every case, so a killed run keeps what it finished. The ceiling (CUDA, unless --no-ceiling): the best of 10 matmuls
8192² in fp32 (TF32 off), TF32 and bf16 (GFLOP/s = 2n³/s) and of a 1 GiB device-to-device copy (GB/s, read + write).
JSON: "cases" is the first run's (what older readers take), "runs" every mode's, "ceiling" the peaks.
"""
import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no scripts/__pycache__ in the working tree
import torch_reference  # noqa: E402  (the UNet definitions, beside this script)


DEVICE = "cpu"
AUTOCAST = None  # torch.bfloat16 in the bf16 mode


def amp():
    """The current mode's autocast region (none outside the bf16 mode)."""
    return torch.autocast("cuda", dtype=AUTOCAST) if AUTOCAST is not None else contextlib.nullcontext()


def timed_cpu(fn, budget=4.0):
    """Host timer: one warm-up, then the median of up to 30 runs (at least 3), stopping after `budget` seconds."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (len(times) < 30 and time.perf_counter() - start < budget):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), len(times)


def timed_cuda(fn, budget, warmups=2):
    """CUDA events around each call, no synchronisation between calls (the GPU's time per call, launch gaps
    included); the calls go in rounds, each sized from the last, until `budget` seconds or 100 calls (at least 5)."""
    for _ in range(warmups):
        fn()
    torch.cuda.synchronize()
    times, start, rnd = [], time.perf_counter(), 5
    while len(times) < 5 or (len(times) < 100 and time.perf_counter() - start < budget):
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(rnd)]
        for a, b in events:
            a.record()
            fn()
            b.record()
        torch.cuda.synchronize()
        times += [a.elapsed_time(b) for a, b in events]
        per = (time.perf_counter() - start) / len(times)
        rnd = max(1, min(100 - len(times), int((budget - (time.perf_counter() - start)) / max(per, 1e-6))))
    return statistics.median(times), len(times)


def rand(*shape, grad=False):
    return (torch.rand(*shape, device=DEVICE) * 4 - 2).requires_grad_(grad)


def forward_or_grad(fwd, inputs, backward):
    """The forward itself, or the gradients of one forward's output with respect to `inputs` (graph kept)."""
    if not backward:
        def run():
            with amp():
                return fwd()
        return run
    with amp():
        y = fwd()
    g = rand(*y.shape).to(y.dtype)
    return lambda: torch.autograd.grad(y, inputs, g, retain_graph=True)


def matmul(n):
    a, b = rand(n, n), rand(n, n)
    return forward_or_grad(lambda: a @ b, (), False)


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


# One model per configuration, shared by its forward and train-step cases and by every mode; dropped with the set.
MODELS = {}


def unet_model(name):
    if name not in MODELS:
        MODELS.clear()
        gc.collect()
        with torch.device(DEVICE) if hasattr(torch.device, "__enter__") else contextlib.nullcontext():
            model = torch_reference.unet(name).to(DEVICE)
        count, want = sum(p.numel() for p in model.parameters()), torch_reference.UNET_PARAMS[name]
        if count != want:
            raise RuntimeError(f"{name} UNet: {count:,} parameters, Boost's has {want:,}")
        MODELS[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01))
    return MODELS[name]


def model_of(case):
    return "bench" if "unet_bench" in case else "paper" if "unet_paper" in case else None


def unet_forward(name, n, res, t_step):
    """No-grad forward at batch n, 8 input channels, res², times 0, t_step, 2·t_step, …: one ODE evaluation."""
    model, _ = unet_model(name)
    model.eval()
    x, t = rand(n, 8, res, res), torch.arange(n, device=DEVICE, dtype=torch.float32) * t_step

    def run():
        with torch.no_grad(), amp():
            return model(x, t)
    return run


def unet_train_step(name, n, res, t_step):
    """Zero the gradients, forward, MSE against a fixed target, backward, AdamW (lr 1e-4, weight decay 0.01)."""
    model, opt = unet_model(name)
    model.train()
    x, y = rand(n, 8, res, res), rand(n, 4, res, res)
    t = torch.arange(n, device=DEVICE, dtype=torch.float32) * t_step

    def run():
        opt.zero_grad(set_to_none=True)
        with amp():
            loss = F.mse_loss(model(x, t), y)
        loss.backward()
        opt.step()
    return run


CASES = {
    "matmul_1024": lambda: matmul(1024),
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
    "unet_bench_forward": lambda: unet_forward("bench", 8, 32, 120.0),
    "unet_bench_train_step": lambda: unet_train_step("bench", 8, 32, 120.0),
}


# Boost.Bench --gpu-shapes: the `paper` UNet's layer shapes at 128² latents, batch 4, and the UNet itself.
GPU_CASES = {
    "gpu_matmul_4096": lambda: matmul(4096),
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
    "gpu_unet_paper_forward": lambda: unet_forward("paper", 4, 128, 250.0),
    "gpu_unet_paper_train_step": lambda: unet_train_step("paper", 4, 128, 250.0),
}


# ---------------------------------------------------------------------------------------------------- precision

def has_attr(obj, name):
    """hasattr for torch.backends' modules, whose __getattr__ raises AssertionError (1.x) for unknown names."""
    try:
        getattr(obj, name)
        return True
    except Exception:  # noqa: BLE001
        return False


NEW_TF32_API = has_attr(torch.backends.cuda.matmul, "fp32_precision")  # PyTorch ≥ 2.9; the old flags must not be mixed in


def tf32_state():
    """(matmul, cuDNN conv) as the API in use spells them: 'tf32'/'ieee'/'none' (new) or True/False (old)."""
    if NEW_TF32_API:
        return torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def set_tf32(matmul_on, conv_on):
    """True/False turns TF32 on/off for cuBLAS matmul and cuDNN conv; None leaves PyTorch's default (read at start).
    PyTorch ≥ 2.9: the fp32_precision API only (mixing it with allow_tf32 is an error there), checked once per
    setting by a small matmul and convolution; should that raise, the allow_tf32 flags from then on."""
    global NEW_TF32_API, DEFAULT_TF32
    m0, c0 = DEFAULT_TF32
    if NEW_TF32_API:
        m = m0 if matmul_on is None else ("tf32" if matmul_on else "ieee")
        c = c0 if conv_on is None else ("tf32" if conv_on else "ieee")
        try:
            torch.backends.cuda.matmul.fp32_precision = m
            torch.backends.cudnn.conv.fp32_precision = c
            if has_attr(torch.backends.cudnn, "rnn"):  # conv and rnn differing reads as a mix of the two APIs
                torch.backends.cudnn.rnn.fp32_precision = c
            if (m, c) not in TF32_CHECKED:
                probe = torch.ones(1, 1, 8, 8, device="cuda")
                F.conv2d(probe @ probe, torch.ones(1, 1, 3, 3, device="cuda"), padding=1)
                torch.cuda.synchronize()
                TF32_CHECKED.add((m, c))
            return
        except Exception as e:  # noqa: BLE001
            print(f"torch: fp32_precision ({m}, {c}) failed, using allow_tf32 instead: {str(e).strip()[:200]}", flush=True)
            NEW_TF32_API, DEFAULT_TF32 = False, (is_tf32(m0), is_tf32(c0))
            m0, c0 = DEFAULT_TF32
    torch.backends.cuda.matmul.allow_tf32 = m0 if matmul_on is None else matmul_on
    torch.backends.cudnn.allow_tf32 = c0 if conv_on is None else conv_on


TF32_CHECKED = set()


def is_tf32(v):
    return v is True or v == "tf32"


# mode → (label, matmul TF32, conv TF32, autocast dtype, what it is); None = PyTorch's default
MODES = {
    "default": ("torch default", None, None, None, "PyTorch's defaults"),
    "fp32": ("torch fp32", False, False, None, "TF32 off for matmul and cuDNN"),
    "tf32": ("torch tf32", True, True, None, "TF32 on for matmul and cuDNN"),
    "bf16": ("torch bf16", None, None, "bfloat16", "torch.autocast('cuda', bfloat16) over PyTorch's defaults"),
}
DEFAULT_TF32 = None


def enter_mode(mode):
    global AUTOCAST
    _, mm, cv, ac, _ = MODES[mode]
    if DEVICE == "cuda":
        set_tf32(mm, cv)
    AUTOCAST = getattr(torch, ac) if ac else None


# ---------------------------------------------------------------------------------------------------- ceiling

def ceiling(n=8192, copy_mib=1024):
    """Practical peaks on this GPU: best of 10 n² matmuls per precision, best of 10 copies of `copy_mib` MiB."""
    out = {}
    g = torch.Generator(device="cuda").manual_seed(1)
    a = torch.rand(n, n, device="cuda", generator=g) * 2 - 1
    b = torch.rand(n, n, device="cuda", generator=g) * 2 - 1

    def best(fn, reps=10):
        fn()
        torch.cuda.synchronize()
        ms = []
        for _ in range(reps):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            e.synchronize()
            ms.append(s.elapsed_time(e))
        return min(ms) / 1e3

    for key, tf32, dt in (("fp32_gflops", False, None), ("tf32_gflops", True, None), ("bf16_gflops", None, torch.bfloat16)):
        try:
            set_tf32(tf32, tf32)
            x, y = (a, b) if dt is None else (a.to(dt), b.to(dt))
            out[key] = 2.0 * n ** 3 / best(lambda: torch.mm(x, y)) / 1e9
            print(f"torch ceiling {key:<14} {out[key]:12.1f}", flush=True)
        except Exception as e:  # noqa: BLE001
            print(f"torch ceiling {key}: FAILED {type(e).__name__}: {e}", flush=True)
    set_tf32(None, None)
    del a, b
    try:
        src = torch.rand(copy_mib << 18, device="cuda", generator=g)
        dst = torch.empty_like(src)
        out["copy_gbs"] = 2.0 * src.numel() * 4 / best(lambda: dst.copy_(src)) / 1e9
        print(f"torch ceiling {'copy_gbs':<14} {out['copy_gbs']:12.1f}", flush=True)
        del src, dst
    except Exception as e:  # noqa: BLE001
        print(f"torch ceiling copy_gbs: FAILED {type(e).__name__}: {e}", flush=True)
    out["how"] = f"PyTorch {torch.__version__}: best of 10 torch.mm {n}² (fp32 with TF32 off, TF32, bf16) and of 10 device copies of {copy_mib} MiB (read + write)"
    torch.cuda.empty_cache()
    return out


# ---------------------------------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", required=True)
    p.add_argument("--filter", default=None, help="run the cases whose id contains this (or one of several, separated by |)")
    p.add_argument("--gpu-shapes", action="store_true", help="= --shapes gpu")
    p.add_argument("--shapes", default=None, choices=["bench", "gpu", "all"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--tf32", default="off", choices=["on", "off"], help="without --modes (CUDA): tf32 or fp32")
    p.add_argument("--modes", default=None, help="CUDA: comma-separated, of " + ", ".join(MODES))
    p.add_argument("--case-seconds", type=float, default=None, help="timed seconds per case and mode (CPU 4, CUDA 0.4)")
    p.add_argument("--budget", type=float, default=90.0, help="CUDA: seconds after which cases get minimal runs")
    p.add_argument("--no-ceiling", action="store_true")
    p.add_argument("--ceiling-n", type=int, default=8192, help="the ceiling's matmul size n (its copy: 4·n² floats)")
    a = p.parse_args()
    global DEVICE, DEFAULT_TF32
    DEVICE = a.device
    start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    shapes = a.shapes or ("gpu" if a.gpu_shapes else "bench")
    table = {"bench": CASES, "gpu": GPU_CASES, "all": {**CASES, **GPU_CASES}}[shapes]
    names = [n for n in table if not a.filter or any(f in n for f in a.filter.split("|"))]

    if DEVICE == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("torch_bench.py: --device cuda but torch.cuda.is_available() is False")
        DEFAULT_TF32 = tf32_state()
        torch.backends.cudnn.benchmark = True
        modes = (a.modes or ("tf32" if a.tf32 == "on" else "fp32")).split(",")
        bad = [m for m in modes if m not in MODES]
        if bad:
            raise SystemExit(f"torch_bench.py: unknown mode(s) {bad}: use {', '.join(MODES)}")
        case_seconds = 0.4 if a.case_seconds is None else a.case_seconds
        where = torch.cuda.get_device_name(0)
    else:
        if a.modes and a.modes != "fp32":
            print(f"torch: on the CPU only fp32 is timed (--modes {a.modes} ignored)", flush=True)
        modes, case_seconds, where = ["fp32"], 4.0 if a.case_seconds is None else a.case_seconds, "cpu"

    blas = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu"
    runs = [{"mode": m, "label": "torch" if DEVICE == "cpu" else MODES[m][0], "what": MODES[m][4] if DEVICE == "cuda" else "fp32",
             "tf32": False, "cases": {}, "calls": {}, "failed": {}} for m in modes]
    doc = {"torch": torch.__version__, "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(),
           "device": where, "tf32": False, "blas": os.path.realpath(blas) if os.path.exists(blas) else "unknown",
           "shapes": shapes, "cases": runs[0]["cases"], "runs": runs,
           "timing": "median ms; CPU: host timer, ≤30 runs; CUDA: CUDA events per call, ≤100 calls, cudnn.benchmark on"}
    if DEVICE == "cuda":
        doc["cuda"] = torch.version.cuda
        doc["cudnn"] = torch.backends.cudnn.version()
        doc["tf32_defaults"] = {"matmul": DEFAULT_TF32[0], "cudnn_conv": DEFAULT_TF32[1]}
        for run in runs:
            run["what"] = run["what"].replace("PyTorch's defaults", f"PyTorch's defaults (matmul {DEFAULT_TF32[0]}, cuDNN conv {DEFAULT_TF32[1]})")
        print(f"torch {torch.__version__} on {where} (CUDA {doc['cuda']}, cuDNN {doc['cudnn']}); TF32 defaults: matmul "
              f"{DEFAULT_TF32[0]}, cuDNN conv {DEFAULT_TF32[1]}; modes {', '.join(modes)}; {len(names)} cases", flush=True)

    def save():
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, a.json)

    if DEVICE == "cuda" and not a.no_ceiling:
        try:
            doc["ceiling"] = ceiling(a.ceiling_n, max(1, a.ceiling_n * a.ceiling_n * 16 >> 20))
        except Exception as e:  # noqa: BLE001
            print(f"torch ceiling: FAILED {type(e).__name__}: {e}", flush=True)
        save()

    for i, name in enumerate(names):
        for run in runs:
            fn = None
            try:
                enter_mode(run["mode"])
                run["tf32"] = DEVICE == "cuda" and any(is_tf32(v) for v in tf32_state())
                late = DEVICE == "cuda" and time.perf_counter() - start > a.budget
                fn = table[name]()
                if DEVICE == "cuda":
                    ms, count = timed_cuda(fn, 0.0 if late else case_seconds, warmups=1 if late else 2)
                else:
                    ms, count = timed_cpu(fn, case_seconds)
                run["cases"][name], run["calls"][name] = ms, count
                label = "torch" if DEVICE == "cpu" else f"torch {run['mode']:<7}"
                print(f"{label} {name:<26} {ms:10.3f} ms  ({count} runs)", flush=True)
            except Exception as e:  # noqa: BLE001  (one case failing must not stop the others)
                text = str(e).strip()
                run["failed"][name] = f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"
                print(f"torch {run['mode']} {name}: FAILED {run['failed'][name]}", flush=True)
                traceback.print_exc(limit=3, file=sys.stderr)
            fn = None
        if model_of(name) and (i + 1 == len(names) or model_of(names[i + 1]) != model_of(name)):
            MODELS.clear()  # the next case needs no UNet (or another one)
            gc.collect()
        if DEVICE == "cuda":
            gc.collect()
            torch.cuda.empty_cache()
        save()
    doc["tf32"] = runs[0]["tf32"]
    if DEVICE == "cuda":
        doc["tf32_api"] = "fp32_precision" if NEW_TF32_API else "allow_tf32"
    doc["seconds"] = round(time.perf_counter() - start, 1)
    save()
    print(f"torch: {len(names)} cases × {len(modes)} mode(s) in {doc['seconds']} s; wrote {a.json}", flush=True)


if __name__ == "__main__":
    main()
