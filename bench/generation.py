"""Generation benchmark: our student path against the reference code's settings, in one run.

The reference TriPosT code generates 4 sequences at a time, in fp32, with nothing that stops a
sequence but EOS, up to max_new_tokens (512). Our path: `tripost.student.Student.generate`, with the
dtype picked for the hardware (bf16 on GPUs and, with `gqa_attention`, on a CPU with bf16 instructions; fp32 otherwise), large batches grouped by prompt
length, finished rows dropped from the batch, and stop strings.

Both greedy, on the same 64 multistep-arithmetic questions (a seen subtask of the paper's split),
prompted with `tripost.format.question_prompt`, with the offline default student (SmolLM2-135M-Instruct).
It prints both wall times, the tokens generated, the ratio, and whether the texts agree up to the
stop (the reference text cut at the same stop strings). The last line is `speedup: <ratio>`.

    flock /tmp/tripost-cpu.lock python bench/generation.py            # the full run (about 18 minutes here)
    python bench/generation.py --n 8 --max-new-tokens 64               # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from tripost.format import question_prompt
from tripost.student import ATTEMPT_STOPS, Student, find_stop, load_student, _norm_stops
from tripost.tasks.core import get_task


def questions(n: int, subtask: str | None, seed: int) -> tuple[str, list[str]]:
    "The subtask used and `n` arithmetic prompts of it."
    task = get_task("multistep_arithmetic")
    subtask = subtask or task.seen[0]
    return subtask, [question_prompt(e.question) for e in task.generate(subtask, n, seed=seed)]


@torch.inference_mode()
def reference_generate(student: Student, prompts: list[str], batch_size: int, max_new_tokens: int) -> list[dict]:
    "The reference settings: transformers' `generate`, fixed batches of `batch_size` in the given order, greedy, no stop strings."
    tok, model = student.tokenizer, student.model
    tok.padding_side = "left"
    out = []
    for b in range(0, len(prompts), batch_size):
        enc = tok(prompts[b:b + batch_size], return_tensors="pt", padding=True)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        new = gen[:, enc["input_ids"].shape[1]:]
        for row in new.tolist():
            n_tok = len(row)
            for i, t in enumerate(row): # count up to and including the first EOS; the rest is padding
                if t in student.eos_ids: n_tok = i + 1; break
            out.append({"text": tok.decode(row[:n_tok], skip_special_tokens=True), "new_tokens": n_tok})
        print(f"  reference: {min(b + batch_size, len(prompts))}/{len(prompts)} prompts", flush=True)
    return out


def common_prefix(a: str, b: str) -> int:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]: i += 1
    return i


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=64, help="questions")
    ap.add_argument("--subtask", default=None, help="arithmetic subtask (default: the first seen one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=64, help="our path: rows per batch")
    ap.add_argument("--dtype", default=None, help="our path's dtype (default: picked for the hardware)")
    ap.add_argument("--ref-batch-size", type=int, default=4)
    ap.add_argument("--ref-dtype", default="fp32")
    ap.add_argument("--check-n", type=int, default=16, help="also run our path in the reference dtype on this many questions, to check the texts agree")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    subtask, prompts = questions(args.n, args.subtask, args.seed)
    stops = list(ATTEMPT_STOPS)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{len(prompts)} multistep_arithmetic questions ({subtask}), greedy, max_new_tokens {args.max_new_tokens}")

    ours = load_student(dtype=args.dtype)
    ref = load_student(dtype=args.ref_dtype)
    print(f"ours: {ours.dtype}, batch {args.batch_size}, grouped by length, stops {stops}; "
          f"reference: {ref.dtype}, batch {args.ref_batch_size}, no stop strings")

    ours.generate(prompts[:2], max_new_tokens=4); reference_generate(ref, prompts[:2], 2, 4) # warm up both

    t0 = time.perf_counter()
    mine = ours.generate(prompts, max_new_tokens=args.max_new_tokens, stop=stops, batch_size=args.batch_size, progress="ours")
    ours_s = time.perf_counter() - t0
    ours_tok = sum(g.new_tokens for g in mine)
    print(f"ours:      {ours_s:8.1f} s, {ours_tok} tokens generated ({ours_tok / ours_s:.1f} tok/s); "
          f"finish: {dict((f, sum(g.finish == f for g in mine)) for f in ('stop', 'eos', 'length'))}", flush=True)

    t0 = time.perf_counter()
    theirs = reference_generate(ref, prompts, args.ref_batch_size, args.max_new_tokens)
    ref_s = time.perf_counter() - t0
    ref_tok = sum(r["new_tokens"] for r in theirs)
    print(f"reference: {ref_s:8.1f} s, {ref_tok} tokens generated ({ref_tok / ref_s:.1f} tok/s)")

    norm = _norm_stops(stops)
    def cut(text):
        hit = find_stop(text, norm)
        return text if hit is None else text[:hit[0]]
    same = [cut(r["text"]) == g.text for r, g in zip(theirs, mine)]
    prefix = [common_prefix(cut(r["text"]), g.text) / max(1, len(cut(r["text"]))) for r, g in zip(theirs, mine)]
    print(f"texts agree up to the stop: {sum(same)}/{len(same)} (mean common prefix {100 * sum(prefix) / len(prefix):.0f}% "
          f"of the reference text; differences come from {ours.dtype} vs {ref.dtype} rounding)")
    if args.check_n and ours.dtype != ref.dtype:
        k = min(args.check_n, len(prompts))
        same32 = ours.generate(prompts[:k], max_new_tokens=args.max_new_tokens, stop=stops, batch_size=args.batch_size) \
            if ours.dtype == ref.dtype else Student(ref.model, ref.tokenizer).generate(
                prompts[:k], max_new_tokens=args.max_new_tokens, stop=stops, batch_size=args.batch_size)
        agree32 = sum(cut(r["text"]) == g.text for r, g in zip(theirs[:k], same32))
        print(f"our path in {ref.dtype} (batch {args.batch_size}, stops) against the reference: texts agree up to the stop "
              f"for {agree32}/{k}")
    speedup = ref_s / ours_s
    print(f"tokens: ours {ours_tok}, reference {ref_tok} ({ref_tok / max(1, ours_tok):.1f}x more)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": len(prompts), "subtask": subtask, "max_new_tokens": args.max_new_tokens,
                       "ours": {"seconds": ours_s, "tokens": ours_tok, "dtype": str(ours.dtype), "batch_size": args.batch_size},
                       "reference": {"seconds": ref_s, "tokens": ref_tok, "dtype": str(ref.dtype), "batch_size": args.ref_batch_size},
                       "agree": sum(same), "speedup": speedup}, f, indent=1)
    print(f"speedup: {speedup:.2f}")


if __name__ == "__main__":
    main()
