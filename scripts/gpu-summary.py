#!/usr/bin/env python3
"""Summarises a GPU run's work folder (scripts/gpu-run.sh device): one table on stdout and summary.json beside the
inputs. Reads whatever is there; a missing or broken file is reported, not fatal. With --markdown, prints instead the
CUDA section of BENCHMARKS.md (device, driver, checks, tests, ptxas, every case's median beside PyTorch's modes and
the measured ceilings).

    python3 scripts/gpu-summary.py WORKDIR [--markdown]
"""
import json
import math
import os
import re
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except Exception as e:  # a half-written or malformed file: say so
        return {"error": f"{type(e).__name__}: {e}"}


def first_losses(run_dir, n=3):
    path = os.path.join(run_dir, "metrics.jsonl")
    out = []
    try:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if "loss" in rec:
                    out.append((rec.get("step"), rec["loss"]))
    except FileNotFoundError:
        return None
    return out


def ptxas_table(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                name, _, text = line.partition("\t")
                regs = re.search(r"Used (\d+) registers", text)
                smem = re.search(r"(\d+) bytes smem", text)
                spill_st = re.search(r"(\d+) bytes spill stores", text)
                spill_ld = re.search(r"(\d+) bytes spill loads", text)
                stack = re.search(r"(\d+) bytes stack frame", text)
                rows.append({
                    "ptx": name.strip(), "registers": int(regs.group(1)) if regs else None,
                    "smem": int(smem.group(1)) if smem else 0, "stack": int(stack.group(1)) if stack else 0,
                    "spill_stores": int(spill_st.group(1)) if spill_st else 0,
                    "spill_loads": int(spill_ld.group(1)) if spill_ld else 0,
                    "error": "error" in text.lower(),
                })
    except FileNotFoundError:
        return None
    return rows


def main():
    work = sys.argv[1]
    s = {}
    lines = []
    env = load(os.path.join(work, "env.json"))
    if env:
        cuda = env.get("cuda") or {}
        s["device"] = env.get("device")
        s["cuda"] = cuda
        lines.append(f"device: {env.get('device')}  driver {cuda.get('driver_version', '-')}  {cuda.get('architecture', '')} "
                     f"{cuda.get('instruction_set', '')}  {cuda.get('multiprocessors', '-')} SMs  ({env.get('utc')})")
    audit = load(os.path.join(work, "ptx", "audit.json"))
    if audit and "kernels" in audit:
        s["ptx_audit"] = {"kernels": audit["kernels"], "failed": audit["failed"]}
        lines.append(f"PTX audit: {audit['kernels'] - audit['failed']}/{audit['kernels']} kernels ok ({audit['arch']}, {audit['isa']})")
    pt = ptxas_table(os.path.join(work, "ptxas.tsv"))
    if pt is not None:
        s["ptxas"] = pt
        spills = [r for r in pt if r["spill_stores"] or r["spill_loads"]]
        errs = [r for r in pt if r["error"]]
        regs = [r["registers"] for r in pt if r["registers"] is not None]
        lines.append(f"ptxas sm_90: {len(pt)} kernels, registers {min(regs) if regs else '-'}..{max(regs) if regs else '-'}, "
                     f"max smem {max((r['smem'] for r in pt), default=0)} B, {len(spills)} spilling, {len(errs)} errors")
        for r in spills[:8]:
            lines.append(f"  spills: {r['ptx']} regs {r['registers']} stores {r['spill_stores']} loads {r['spill_loads']}")
        # The tensor-core kernels' PTX holds ILGPU's inline-asm operand slots in .local; ptxas must promote them all.
        for r in pt:
            if "MmaPtx" in r["ptx"] and r["stack"]:
                lines.append(f"  NOT PROMOTED: {r['ptx']} keeps a {r['stack']} B stack frame (inline-PTX operand slots in local memory)")
    for shapes in ("small", "odd", "real", "tf32", "bf16"):
        c = load(os.path.join(work, f"check-{shapes}.json"))
        if c is None:
            continue
        if "rows" not in c:
            lines.append(f"check {shapes}: {c.get('error')}")
            continue
        fails = [r for r in c["rows"] if not r.get("Pass")]
        s[f"check_{shapes}"] = {"passed": len(c["rows"]) - len(fails), "failed": len(fails), "complete": c.get("complete"),
                                "cuda_fault": c.get("cuda_fault")}
        worst = max((r.get("ErrOverTol") or 0 for r in c["rows"] if r.get("Pass")), default=0)
        lines.append(f"check {shapes}: {len(c['rows']) - len(fails)}/{len(c['rows'])} PASS (worst passing err/tol {worst:.3f})"
                     f"{'' if c.get('complete') else '  INCOMPLETE'}{'  CUDA fault: ' + c['cuda_fault'] if c.get('cuda_fault') else ''}")
        for r in fails[:10]:
            lines.append(f"  FAIL {r['Op']} {r['Shape']}: max abs {r['MaxAbs']} err/tol {r['ErrOverTol']} at {r['WorstIndex']}")
    t = load(os.path.join(work, "tests.json"))
    if t and "passed" in t:
        s["tests"] = {k: t[k] for k in ("backend", "passed", "failed", "skipped", "complete", "seconds")}
        lines.append(f"tests ({t['backend']}): {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped"
                     f"{'' if t.get('complete') else '  INCOMPLETE'}")
        for f in t.get("failures", [])[:10]:
            lines.append(f"  FAILED {f['name']}: {f['message'].splitlines()[0] if f['message'] else ''}")
        for why, n in list(t.get("skip_reasons", {}).items())[:3]:
            lines.append(f"  skipped {n}: {why}")
    bench = load(os.path.join(work, "bench.json")) or {}
    torch = load(os.path.join(work, "torch.json")) or {}
    cases = dict(bench.get("cases", {}))
    cases.update((load(os.path.join(work, "bench-gpu-shapes.json")) or {}).get("cases", {}))
    # TF32 and BF16 runs of the same cases, under their own ids so the rows sit side by side.
    for p in ("tf32", "bf16"):
        cases.update({f"{k}@{p}": v for k, v in ((load(os.path.join(work, f"bench-{p}.json")) or {}).get("cases", {})).items()})
    if cases:
        modes = {r.get("label") or r.get("mode"): r for r in torch.get("runs") or []}
        ceiling = torch.get("ceiling") or {}
        s["bench"] = {"cases": cases, "torch": torch}
        mode_names = list(modes)
        lines.append(f"bench: {len(cases)} cases; PyTorch {torch.get('torch', '-')} modes: {', '.join(mode_names) or 'none'}; "
                     f"ceilings {json.dumps(ceiling) if ceiling else '-'}")
        header = f"  {'case':28} {'ours ms':>10} " + " ".join(f"{m[:12]:>12} {'×':>6}" for m in mode_names)
        lines.append(header)
        for cid, r in cases.items():
            ms = r.get("median_ms")
            cells = []
            for m in mode_names:
                tm = (modes[m].get("cases") or {}).get(cid)
                cells.append(f"{tm:12.3f} {tm / ms:6.2f}" if tm and ms and not math.isnan(ms) else f"{'-':>12} {'-':>6}")
            err = r.get("error")
            lines.append(f"  {cid:28} {ms if ms is not None else float('nan'):10.3f} " + " ".join(cells) + (f"  ERROR {err}" if err else ""))
    runs = {}
    for d in sorted(os.listdir(work)):
        if d.startswith("train-"):
            runs[d] = first_losses(os.path.join(work, d))
    if runs:
        s["train"] = {}
        gpu = next((v for k, v in runs.items() if k != "train-cpu" and v), None)
        cpu = runs.get("train-cpu")
        for k, v in runs.items():
            if v:
                s["train"][k] = {"steps": len(v), "first_loss": v[0][1], "last_loss": v[-1][1],
                                 "mean_first_10": sum(x for _, x in v[:10]) / min(10, len(v)),
                                 "mean_last_10": sum(x for _, x in v[-10:]) / min(10, len(v))}
                lines.append(f"{k}: {len(v)} steps, loss {v[0][1]:.5f} → {v[-1][1]:.5f} "
                             f"(mean of first 10 {s['train'][k]['mean_first_10']:.5f}, last 10 {s['train'][k]['mean_last_10']:.5f})")
            else:
                lines.append(f"{k}: no metrics.jsonl")
        if gpu and cpu:
            rel = abs(gpu[0][1] - cpu[0][1]) / abs(cpu[0][1])
            s["train"]["first_step_rel_diff"] = rel
            lines.append(f"first-step loss, GPU vs CPU: {gpu[0][1]:.6f} vs {cpu[0][1]:.6f} (relative difference {rel:.2e})")
    p = load(os.path.join(work, "psnr.json"))
    if p and "psnr_db" in p:
        db = float(p["psnr_db"])  # identical images give "Infinity" (JSON has no infinite number)
        s["boost_psnr_db"] = db
        lines.append(f"boost, GPU output vs CPU output: PSNR {db:.2f} dB ({'≥' if db >= 45 else '<'} 45)")
    if "--markdown" in sys.argv:
        print(markdown(s, cases, torch))
        return
    print("\n".join(lines))
    with open(os.path.join(work, "summary.json"), "w") as f:
        json.dump(s, f, indent=1)


def markdown(s, cases, torch):
    out = []
    cuda = s.get("cuda") or {}
    ceiling = torch.get("ceiling") or {}
    out.append(f"Device: {s.get('device')}; driver (CUDA) {cuda.get('driver_version', '-')}, {cuda.get('architecture', '-')}, "
               f"PTX {cuda.get('instruction_set', '-')}, {cuda.get('multiprocessors', '-')} SMs, L2 {cuda.get('l2_bytes', 0) >> 20} MiB. "
               f"PyTorch {torch.get('torch', '-')} (CUDA {torch.get('cuda', '-')}, cuDNN {torch.get('cudnn', '-')}).")
    if ceiling:
        out.append("")
        out.append(f"Ceilings measured in the same run ({ceiling.get('how', '')}): fp32 {ceiling.get('fp32_gflops', 0) / 1e3:.1f} TFLOP/s, "
                   f"TF32 {ceiling.get('tf32_gflops', 0) / 1e3:.1f}, bf16 {ceiling.get('bf16_gflops', 0) / 1e3:.1f}; copy {ceiling.get('copy_gbs', 0):.0f} GB/s.")
    out.append("")
    out.append("| check | result |")
    out.append("|---|---|")
    for k in ("check_small", "check_odd", "check_real"):
        if k in s:
            c = s[k]
            out.append(f"| device check, {k[6:]} shapes (outputs poisoned) | {c['passed']}/{c['passed'] + c['failed']} pass{'' if c.get('complete') else ', incomplete'} |")
    if "tests" in s:
        t = s["tests"]
        out.append(f"| Boost.Tests, {t['backend']} cases (NUnit runner) | {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped |")
    if "ptx_audit" in s:
        out.append(f"| PTX audit (SM_90) | {s['ptx_audit']['kernels'] - s['ptx_audit']['failed']}/{s['ptx_audit']['kernels']} kernels |")
    if s.get("ptxas"):
        pt = s["ptxas"]
        regs = [r["registers"] for r in pt if r["registers"] is not None]
        out.append(f"| ptxas -arch=sm_90 -v | {len(pt)} kernels, {min(regs, default=0)}–{max(regs, default=0)} registers, "
                   f"{sum(1 for r in pt if r['spill_stores'] or r['spill_loads'])} spilling, max {max((r['smem'] for r in pt), default=0)} B shared |")
    tr = s.get("train") or {}
    for k, v in tr.items():
        if isinstance(v, dict):
            out.append(f"| training, {k} | {v['steps']} steps, loss {v['mean_first_10']:.4f} (first 10) → {v['mean_last_10']:.4f} (last 10) |")
    if "first_step_rel_diff" in tr:
        out.append(f"| first-step loss, CUDA vs CPU | relative difference {tr['first_step_rel_diff']:.1e} |")
    if "boost_psnr_db" in s:
        out.append(f"| boost 32² → 128², CUDA output vs CPU output | PSNR {s['boost_psnr_db']:.1f} dB |")
    out.append("")
    runs = torch.get("runs") or []
    head = "| case | ours ms | GFLOP/s or GB/s | % of ceiling | " + " | ".join(f"{r.get('label')} ms | ×" for r in runs) + " |"
    out.append(head)
    out.append("|---" * (4 + 2 * len(runs)) + "|")
    for cid, r in cases.items():
        ms = r.get("median_ms")
        if r.get("error") or ms is None:
            out.append(f"| {cid} | error: {r.get('error')} |" + " |" * (2 + 2 * len(runs)))
            continue
        rate, pct = "", ""
        if r.get("gflops"):
            rate = f"{r['gflops']:.0f} GFLOP/s"
            if ceiling.get("fp32_gflops"):
                pct = f"{100 * r['gflops'] / ceiling['fp32_gflops']:.1f}"
        elif r.get("gbs"):
            rate = f"{r['gbs']:.0f} GB/s"
            if ceiling.get("copy_gbs"):
                pct = f"{100 * r['gbs'] / ceiling['copy_gbs']:.1f}"
        cells = []
        for run in runs:
            tm = (run.get("cases") or {}).get(cid)
            cells.append(f"{tm:.3f} | {tm / ms:.2f}" if tm else "– | –")
        out.append(f"| {cid} | {ms:.3f} | {rate} | {pct} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("× = PyTorch's time / ours (above 1: ours is faster). % of ceiling: GFLOP/s over PyTorch's fp32 (TF32 off) "
               "matmul, GB/s over its device copy; FLOPs are the direct method's.")
    return "\n".join(out)


if __name__ == "__main__":
    main()
