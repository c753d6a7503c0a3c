"""Shared-prefix benchmark: a few-shot prefix prefilled once per batch (our default) against once per row.

The prompted self-improvement baseline (si_prompt) puts the same two expert demonstrations before
every prompt. This script rebuilds the update prompts that evaluation fed from a committed run folder
(as `bench/prefill.py` does: `si_prompt/shots.txt` and `si_prompt/eval.jsonl`) and has the offline
default student (SmolLM2-135M) continue them greedily in one process: with `Student()` (the tokens
all prompts of a batch begin with prefilled once, as one row, their KV cache copied to every row) and
with `Student(min_shared_prefix=None)` (every row prefills its whole prompt). Both prefill in chunks
of positions on a CPU. It prints each path's wall time and peak resident memory, whether the texts
agree, and last `speedup: <ratio>`.

    python bench/shared_prefix.py                           # 32 prompts, 64 new tokens (about 3 minutes here)
    python bench/shared_prefix.py --n 8 --max-new-tokens 8  # a quick look
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from prefill import arguments, compare, si_prompts
from tripost.student import MIN_SHARED_PREFIX, Student, load_student, shared_prefix_length


def main(argv=None):
    args = arguments(__doc__, argv)

    prompts = si_prompts(args.run, args.n)
    base = load_student(dtype=args.dtype)
    ours = Student(base.model, base.tokenizer, name=base.name)
    naive = Student(base.model, base.tokenizer, name=base.name, min_shared_prefix=None)
    ids = base.encode(prompts)
    lens = [len(x) for x in ids]
    shared = shared_prefix_length(ids)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {base.dtype}")
    print(f"{len(prompts)} si_prompt update prompts from {args.run}: {min(lens)}-{max(lens)} tokens, the first {shared} "
          f"the same in all (MIN_SHARED_PREFIX {MIN_SHARED_PREFIX}); greedy, max_new_tokens {args.max_new_tokens}, batch {args.batch_size}")
    ours.generate(prompts[:2], max_new_tokens=2); naive.generate(prompts[:2], max_new_tokens=2) # warm up both

    ours_s, ours_gb, naive_s, naive_gb, agree = compare(ours, naive, prompts, args, base.dtype)
    speedup = naive_s / ours_s
    if args.json:
        Path(args.json).write_text(json.dumps({"n": len(prompts), "tokens": [min(lens), max(lens)], "shared": shared,
                                               "max_new_tokens": args.max_new_tokens,
                                               "ours": {"seconds": ours_s, "peak_gb": ours_gb},
                                               "naive": {"seconds": naive_s, "peak_gb": naive_gb},
                                               "agree": agree, "speedup": speedup}, indent=1))
    print(f"speedup: {speedup:.2f}")


if __name__ == "__main__":
    main()
