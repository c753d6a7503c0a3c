"""Kept-KV benchmark: an evaluation whose rounds continue the last round's sequences (our default) against one that prefills every prompt again.

An evaluation (`tripost.evaluation.self_improve`) calls the student once per round: the attempts,
then the feedback on each attempt, then the updates and their feedback. Each round's prompt is the
last round's prompt and output plus a few tokens. Inside `Student.reuse_kv()` (which `self_improve`
turns on) a call keeps its sequences' KV cache and the next call continues them; without it every
prompt is prefilled again from its first token. This script runs `self_improve` on the test questions
of a committed run folder with the offline default student (SmolLM2-135M; `--model` takes a trained
one, e.g. a run folder's `ft_rationale/model`), both ways in one process,
and prints each way's wall time and peak resident memory (VmHWM, reset before each), how many
records agree, and last `speedup: <ratio>`.

    python bench/reuse_kv.py                                  # 90 questions, 192 new tokens (about 3 minutes here)
    python bench/reuse_kv.py --n 8 --max-new-tokens 16        # a quick look
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from pathlib import Path

import torch

from tripost.evaluation import self_improve
from tripost.pipeline import peak_resident_gb
from tripost.student import load_student
from tripost.tasks import get_task
from tripost.tasks.core import read_examples

DATA = Path(__file__).resolve().parents[1] / "reports/runs/cpu-date_understanding-s2/date_understanding/data"


def timed(student, task, questions, args, reuse: bool) -> tuple[float, float | None, list]:
    "Wall seconds, peak GB and the records of one evaluation, with the kept KV cache or without it."
    if not reuse: student.reuse_kv = contextlib.nullcontext # this object only: every call prefills its prompts whole
    peak_resident_gb(reset=True)
    t0 = time.perf_counter()
    try: recs = self_improve(student, task, questions, max_updates=1, max_new_tokens=args.max_new_tokens,
                             batch_size=args.batch_size, progress=False)
    finally: student.__dict__.pop("reuse_kv", None)
    return time.perf_counter() - t0, peak_resident_gb(), recs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="a run's data folder (test.jsonl); its folder's parent names the task")
    ap.add_argument("--n", type=int, default=90, help="test questions (the first ones)")
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--model", default=None, help="a model folder or hub id; default: the offline default student")
    ap.add_argument("--dtype", default=None, help="default: picked for the hardware")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    task = get_task(args.data.resolve().parent.name)
    questions = read_examples(args.data / "test.jsonl")[:args.n]
    student = load_student(args.model, dtype=args.dtype)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {student.dtype}")
    print(f"{len(questions)} {task.name} test questions from {args.data}: greedy, max_new_tokens {args.max_new_tokens}, "
          f"batch {args.batch_size}, at most 1 update")
    student.generate(["Q: 1 + 1 =\nAnswer:"], max_new_tokens=2) # warm up

    ours_s, ours_gb, ours_r = timed(student, task, questions, args, reuse=True)
    print(f"ours (kept KV):   {ours_s:7.1f} s, peak {ours_gb:.2f} GB", flush=True)
    naive_s, naive_gb, naive_r = timed(student, task, questions, args, reuse=False)
    print(f"naive (prefill):  {naive_s:7.1f} s, peak {naive_gb:.2f} GB", flush=True)
    agree = sum((a.attempts, a.feedbacks) == (b.attempts, b.feedbacks) for a, b in zip(ours_r, naive_r))
    rounds = sum(len(r.attempts) + len(r.feedbacks) for r in ours_r)
    print(f"records agree: {agree}/{len(questions)} ({rounds} generations in all; a difference is {student.dtype} rounding: "
          "a continued sequence's KV cache was computed one token at a time, a prefilled one in chunks)")
    speedup = naive_s / ours_s
    if args.json:
        Path(args.json).write_text(json.dumps({"n": len(questions), "task": task.name, "max_new_tokens": args.max_new_tokens,
                                               "ours": {"seconds": ours_s, "peak_gb": ours_gb}, "naive": {"seconds": naive_s, "peak_gb": naive_gb},
                                               "agree": agree, "speedup": speedup}, indent=1))
    print(f"speedup: {speedup:.2f}")


if __name__ == "__main__":
    main()
