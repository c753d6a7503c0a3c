"""KV cache benchmark: the cache written in place (our default) against transformers' `DynamicCache`.

A decoding step adds one position to every layer's keys and values. `DynamicCache` concatenates: each
step copies every layer's whole cache into a new tensor. `tripost.student.InPlaceCache` writes the new
position into room kept at the end of its buffers and hands attention a view, which `gqa_attention`
(torch's scaled_dot_product_attention with enable_gqa) reads where it lies. The naive path is what
the student did before: `DynamicCache` with the attention of two batched matmuls (defined here, as it
was), which copies a view it is given.

Two workloads of the study, greedy, with the offline default student (SmolLM2-135M-Instruct), each
through both paths one after the other in one process:

- si_prompt: the longest update prompts of the prompted self-improvement baseline (two expert
  demonstrations, the question, the attempt and its feedback; rebuilt from a committed run folder as
  `bench/prefill.py` does), 64 of them, up to 128 new tokens;
- attempts: 64 logical deduction questions of the CPU ladder's test subtasks (5 and 7 objects), the
  question prompt of the evaluation, up to 320 new tokens (the cpu preset's limit).

Each pass runs in a fresh process (so that its peak resident memory is its own), with the student's
dtype for the hardware (bf16 on a CPU with bf16 instructions; `--dtype` to choose). It prints each
path's wall time, peak memory and tokens per second, whether the texts agree, and then runs both paths
in fp32 on a few prompts of each workload, where the texts must agree (in bf16 the two attentions
round differently, and a near-tie flips). The last line is `speedup: <ratio>`: the naive path's time
over ours for as many tokens (the untrained student's texts differ in length between the paths), both
workloads together.

    flock /tmp/tripost-cpu.lock python bench/kv_cache.py                 # about 8 minutes on 2 cores
    python bench/kv_cache.py --n 8 --max-new-tokens 16 --check-n 2      # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AttentionInterface, AttentionMaskInterface, DynamicCache
from transformers.masking_utils import eager_mask

from prefill import RUN, si_prompts
from tripost.format import question_prompt
from tripost.pipeline import peak_resident_gb
from tripost.student import ATTEMPT_STOPS, GQA_ATTENTION, InPlaceCache, Student, load_student
from tripost.tasks.core import get_task

MATMUL_GQA = "bench_matmul_gqa"


def matmul_gqa_attention(module, query, key, value, attention_mask, scaling: float, dropout: float = 0.0, **kwargs):
    "The student's attention before the in-place cache: each group of query heads against its key/value head, two batched matmuls."
    b, h, q, d = query.shape
    kv_heads, length = key.shape[1], key.shape[2]
    g = h // kv_heads
    scores = torch.matmul(query.reshape(b, kv_heads, g * q, d), key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = (scores.view(b, kv_heads, g, q, length) + attention_mask[:, :, None, :, :length]).view(b, kv_heads, g * q, length)
    probs = torch.softmax(scores, -1, dtype=torch.float32).to(query.dtype)
    out = torch.matmul(probs, value).view(b, h, q, d)
    return out.transpose(1, 2).contiguous(), None


AttentionInterface.register(MATMUL_GQA, matmul_gqa_attention)
AttentionMaskInterface.register(MATMUL_GQA, eager_mask)


def attempt_prompts(n: int, seed: int) -> list[str]:
    "`n` logical deduction question prompts of the CPU ladder's test subtasks, in turn."
    task = get_task("logical_deduction")
    subs = task.unseen + task.seen[1:] # 7 objects, then 5
    per = -(-n // len(subs))
    exs = [e for s in subs for e in task.generate(s, per, seed=seed)]
    return [question_prompt(e.question) for e in exs[:n]]


def one_pass(workload: str, path: str, args) -> dict:
    "One greedy pass of a workload through one path, in this process: seconds, peak GB, tokens and texts."
    base = load_student(dtype=args.dtype)
    base.model.set_attn_implementation(GQA_ATTENTION if path == "ours" else MATMUL_GQA)
    student = Student(base.model, base.tokenizer, name=base.name, cache_class=InPlaceCache if path == "ours" else DynamicCache)
    prompts, new = workloads(args)[workload]
    student.generate(prompts[:2], max_new_tokens=2) # warm up
    peak_resident_gb(reset=True)
    t0 = time.perf_counter()
    gens = student.generate(prompts, max_new_tokens=new, stop=list(ATTEMPT_STOPS), batch_size=args.batch_size)
    return {"seconds": time.perf_counter() - t0, "peak_gb": peak_resident_gb(), "tokens": sum(g.new_tokens for g in gens),
            "texts": [g.text for g in gens], "dtype": str(base.dtype)}


def workloads(args) -> dict:
    "Each workload's prompts and new-token limit."
    return {"si_prompt": (si_prompts(args.run, args.n), args.max_new_tokens or 128),
            "attempts": (attempt_prompts(args.n, args.seed), args.max_new_tokens or 320)}


def in_fresh_process(workload: str, path: str, args, dtype: str | None = None) -> dict:
    "`one_pass` in a new Python process, so that each path's peak memory is its own."
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "pass.json"
        cmd = [sys.executable, __file__, "--one", workload, path, "--out", str(out), "--run", str(args.run), "--n", str(args.n),
               "--batch-size", str(args.batch_size), "--seed", str(args.seed)]
        if args.max_new_tokens: cmd += ["--max-new-tokens", str(args.max_new_tokens)]
        if dtype: cmd += ["--dtype", dtype]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, default=RUN, help="a run's si_prompt folder (shots.txt, eval.jsonl)")
    ap.add_argument("--n", type=int, default=64, help="prompts per workload")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="both workloads (default: 128 for si_prompt, 320 for attempts)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default=None, help="default: picked for the hardware")
    ap.add_argument("--check-n", type=int, default=8, help="then both paths in fp32 on this many prompts of each workload: the texts must agree")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--one", nargs=2, metavar=("WORKLOAD", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        Path(args.out).write_text(json.dumps(one_pass(*args.one, args)))
        return

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; batch {args.batch_size}; each pass in a fresh process", flush=True)
    figures, totals = {}, [0.0, 0.0]
    for name, (prompts, new) in workloads(args).items():
        ours, naive = in_fresh_process(name, "ours", args, args.dtype), in_fresh_process(name, "naive", args, args.dtype)
        print(f"{name}: {len(prompts)} prompts, up to {new} new tokens ({ours['dtype']})", flush=True)
        for label, r in (("ours (InPlaceCache, sdpa)    ", ours), ("naive (DynamicCache, matmuls)", naive)):
            print(f"  {label}: {r['seconds']:7.1f} s, peak {r['peak_gb']:.2f} GB, {r['tokens']} tokens ({r['tokens'] / r['seconds']:.0f} tok/s)")
        agree = sum(a == b for a, b in zip(ours["texts"], naive["texts"]))
        ratio = (ours["tokens"] / ours["seconds"]) / (naive["tokens"] / naive["seconds"])
        print(f"  texts agree: {agree}/{len(prompts)} (in {ours['dtype']} the two attentions round differently); "
              f"tokens per second, ours / naive: {ratio:.2f}", flush=True)
        figures[name] = {"prompts": len(prompts), "max_new_tokens": new, "agree": agree, "ratio": ratio,
                         **{k: {x: r[x] for x in ("seconds", "peak_gb", "tokens")} for k, r in (("ours", ours), ("naive", naive))}}
        totals[0] += ours["seconds"] * naive["tokens"] / ours["tokens"] # ours' time for the naive path's tokens
        totals[1] += naive["seconds"]
    if args.check_n:
        check = argparse.Namespace(**{**vars(args), "n": args.check_n, "max_new_tokens": 64})
        for name in workloads(check):
            same = [a == b for a, b in zip(in_fresh_process(name, "ours", check, "fp32")["texts"],
                                           in_fresh_process(name, "naive", check, "fp32")["texts"])]
            print(f"fp32, {name}, {args.check_n} prompts, 64 new tokens: texts agree {sum(same)}/{len(same)}", flush=True)
            figures[f"fp32_{name}_agree"] = sum(same)
    speedup = totals[1] / totals[0]
    if args.json: Path(args.json).write_text(json.dumps({**figures, "speedup": speedup}, indent=1))
    print(f"speedup: {speedup:.2f}")


if __name__ == "__main__":
    main()
