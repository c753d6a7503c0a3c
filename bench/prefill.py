"""Prefill benchmark: the prompt in chunks of positions (our CPU default) against the whole prompt in one forward.

The longest prompts of the study are those of the prompted self-improvement baseline (si_prompt): two
expert demonstrations, then the question, the model's attempt and its feedback, then `Updated Answer:`.
This script rebuilds exactly those prompts from a committed run folder (the demonstrations in
`si_prompt/shots.txt`, the attempts and feedback in `si_prompt/eval.jsonl`) and has the offline default
student (SmolLM2-135M) continue them greedily twice in one process: with `Student(prefill_tokens=None)`
(on a CPU: `CPU_PREFILL_TOKENS` prompt tokens per prefill forward) and with the whole prompt in one
forward (`prefill_tokens` larger than any batch). It prints each path's wall time and peak resident
memory (VmHWM, reset before each path through /proc/self/clear_refs), whether the texts agree, and
last `speedup: <ratio>`.

    flock /tmp/tripost-cpu.lock python bench/prefill.py            # 32 prompts, 64 new tokens (about 5 minutes here)
    python bench/prefill.py --n 8 --max-new-tokens 8                # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from tripost.evaluation import _update_prompt, load_records
from tripost.pipeline import peak_resident_gb
from tripost.student import ATTEMPT_STOPS, CPU_PREFILL_TOKENS, Student, load_student

RUN = Path(__file__).resolve().parents[1] / "reports/runs/cpu-date_understanding-s2/date_understanding/si_prompt"


def si_prompts(folder: Path, n: int) -> list[str]:
    "The update prompts the si_prompt evaluation fed, rebuilt from its records: the `n` longest."
    shots = (folder / "shots.txt").read_text()
    recs = load_records(folder / "eval.jsonl")
    prompts = [shots + _update_prompt(SimpleNamespace(question=r.question), r.attempts[:1], r.feedbacks[:1]) for r in recs]
    return sorted(prompts, key=len, reverse=True)[:n]


def timed(student: Student, prompts: list[str], max_new_tokens: int, batch_size: int) -> tuple[float, float | None, list]:
    "Wall seconds, peak GB and the generations of one greedy pass."
    peak_resident_gb(reset=True)
    t0 = time.perf_counter()
    gens = student.generate(prompts, max_new_tokens=max_new_tokens, stop=list(ATTEMPT_STOPS), batch_size=batch_size)
    return time.perf_counter() - t0, peak_resident_gb(), gens


def compare(ours: Student, naive: Student, prompts: list[str], args, dtype) -> tuple[float, float, float, float, int]:
    "Both paths on the same prompts, one after the other, printed: (ours s, ours GB, naive s, naive GB, texts that agree)."
    ours_s, ours_gb, ours_g = timed(ours, prompts, args.max_new_tokens, args.batch_size)
    print(f"ours:  {ours_s:7.1f} s, peak {ours_gb:.2f} GB", flush=True)
    naive_s, naive_gb, naive_g = timed(naive, prompts, args.max_new_tokens, args.batch_size)
    print(f"naive: {naive_s:7.1f} s, peak {naive_gb:.2f} GB", flush=True)
    agree = sum(a.text == b.text for a, b in zip(ours_g, naive_g))
    print(f"texts agree: {agree}/{len(prompts)} (a difference is {dtype} rounding: products of other shapes may round differently)")
    return ours_s, ours_gb, naive_s, naive_gb, agree


def arguments(doc: str, argv=None) -> argparse.Namespace:
    "The options of the benchmarks on si_prompt prompts (this one and bench/shared_prefix.py)."
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--run", type=Path, default=RUN, help="a run's si_prompt folder (shots.txt, eval.jsonl)")
    ap.add_argument("--n", type=int, default=32, help="prompts (the longest ones)")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--dtype", default=None, help="default: picked for the hardware")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    return ap.parse_args(argv)


def main(argv=None):
    args = arguments(__doc__, argv)

    prompts = si_prompts(args.run, args.n)
    base = load_student(dtype=args.dtype)
    chunked = Student(base.model, base.tokenizer, name=base.name)
    whole = Student(base.model, base.tokenizer, name=base.name, prefill_tokens=10**9)
    lens = [len(x) for x in base.encode(prompts)]
    width = max(lens[:args.batch_size])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {base.dtype}")
    print(f"{len(prompts)} si_prompt update prompts from {args.run}: {min(lens)}-{max(lens)} tokens; greedy, "
          f"max_new_tokens {args.max_new_tokens}, batch {args.batch_size}")
    print(f"ours: {chunked.prefill_chunk(min(args.batch_size, len(prompts)), width)} positions per prefill forward "
          f"(CPU_PREFILL_TOKENS {CPU_PREFILL_TOKENS}); naive: {width} (the whole prompt)")
    chunked.generate(prompts[:1], max_new_tokens=2); whole.generate(prompts[:1], max_new_tokens=2) # warm up both

    ours_s, ours_gb, naive_s, naive_gb, agree = compare(chunked, whole, prompts, args, base.dtype)
    print(f"peak memory: naive / ours = {naive_gb / ours_gb:.2f}")
    speedup = naive_s / ours_s
    if args.json:
        Path(args.json).write_text(json.dumps({"n": len(prompts), "tokens": [min(lens), max(lens)], "max_new_tokens": args.max_new_tokens,
                                               "ours": {"seconds": ours_s, "peak_gb": ours_gb}, "naive": {"seconds": naive_s, "peak_gb": naive_gb},
                                               "agree": agree, "speedup": speedup}, indent=1))
    print(f"speedup: {speedup:.2f}")


if __name__ == "__main__":
    main()
