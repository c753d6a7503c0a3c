"""Runs side by side: a small study run one run at a time on all the cores, then the same study with the
runs side by side (`run_study(jobs=...)`, each run in its own process with its share of the cores), in one run.

The work is a cut-down cpu preset (the offline default student, SmolLM2-135M), so that it has the study's
mix of training and generation: for each task, ft rationale on `--n-train` generated questions (2 epochs),
its evaluation, one TriPosT iteration (rollouts on `--window` questions, the scripted expert's edits,
1 epoch of training), its evaluation, and the revision trigger (chosen on validation, then evaluated).
Both paths start from empty run folders. It prints each path's wall time, the ratio, and how many
evaluation answers are word for word the same (another thread count sums the bf16 products of training
in another order, so the models differ a little and their answers drift apart). The last line is
`speedup: <ratio>`. Measured on the 2-core avx512_bf16 AMD EPYC, alone (2026-12-06): one at a time
703 s, side by side 611 s, speedup 1.15; 69 of 168 answers the same.

    flock /tmp/tripost-cpu.lock python bench/jobs.py                      # two tasks (about 22 minutes here)
    python bench/jobs.py --n-train 16 --window 8 --tasks word_sorting date_understanding   # a quick look
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from tripost.reproduce import cpu_cores, default_jobs, run_study, study_configs


def study(root: Path, tasks: list[str], n_train: int, window: int):
    "The cut-down cpu study's configs under `root`."
    return study_configs("cpu", tasks, [0], root, {"n_train": n_train, "window": window, "n_val": 4, "n_test": 8,
                                                   "iterations": 1, "baselines": [], "device": "cpu"})


def answers(root: Path, cfgs) -> dict:
    "Every evaluation's answers, by file."
    return {str(p.relative_to(root)): [json.loads(l)["attempts"] for l in p.read_text().splitlines()]
            for c in cfgs for p in sorted((root / c.name).rglob("eval.jsonl"))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="+", default=["multistep_arithmetic", "word_sorting"])
    ap.add_argument("--n-train", type=int, default=64, help="training questions per task")
    ap.add_argument("--window", type=int, default=32, help="questions the student answers in the TriPosT iteration")
    ap.add_argument("--jobs", type=int, default=None, help="runs side by side (default: `default_jobs`)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tripost-bench-jobs-") as d:
        one, both = Path(d) / "one", Path(d) / "both"
        one_cfgs, both_cfgs = study(one, a.tasks, a.n_train, a.window), study(both, a.tasks, a.n_train, a.window)
        jobs = a.jobs or default_jobs(both_cfgs)
        print(f"{platform.processor() or platform.machine()}, {cpu_cores()} cores; {len(a.tasks)} runs: {', '.join(a.tasks)}; "
              f"{a.n_train} training questions, window {a.window}; side by side: {jobs} at a time, "
              f"{max(1, cpu_cores() // jobs)} thread(s) each", flush=True)
        t0 = time.time(); run_study(one_cfgs, jobs=1); t_one = time.time() - t0
        print(f"one at a time, {cpu_cores()} threads: {t_one:.0f} s", flush=True)
        t0 = time.time(); run_study(both_cfgs, jobs=jobs); t_both = time.time() - t0
        print(f"side by side, {jobs} at a time: {t_both:.0f} s", flush=True)
        x, y = answers(one, one_cfgs), answers(both, both_cfgs)
        same = sum(p == q for f in x for p, q in zip(x[f], y.get(f, [])))
        total = sum(len(v) for v in x.values())
        print(f"evaluation answers word for word the same: {same} of {total}")
        figures = dict(tasks=a.tasks, n_train=a.n_train, window=a.window, cores=cpu_cores(), jobs=jobs, one_s=round(t_one, 1),
                       side_by_side_s=round(t_both, 1), speedup=round(t_one / t_both, 2), same_answers=same, answers=total)
        if a.json: Path(a.json).write_text(json.dumps(figures, indent=1))
        print(f"speedup: {t_one / t_both:.2f}")


if __name__ == "__main__":
    main()
