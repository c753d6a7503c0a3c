"""Measurement: the peak resident memory of successive trainings in one process, glibc's heap as it is against a heap trim after every step.

A run of the study trains up to seven models in one process, with generation between them; its trainings' peaks
grew over the run (date understanding, seed 3: 7.4 GB for ft rationale, the first, to 10.4 GB for the gold control,
the sixth, on the same kind of texts). This trains SmolLM2-135M (bf16 weights with an fp32 master copy, the pipeline's CPU
setting) `--rounds` times in one process, each time from the same starting weights on the same texts (date
understanding's gold rationales of seed 3, committed in reports/runs), for `--steps` steps of 16 texts in slices of
2048 padded tokens, and prints each training's peak (`/proc/self/status` VmHWM, reset before it) and the process's
resident memory after it (after `release_memory`, which trims the heap). The two settings run in fresh processes:
`default` (glibc's allocator as it is) and `trim` (`tripost.student.HeapWatch` after every step, trimming when the
process has grown 0.25 GB).

    flock /tmp/tripost-cpu.lock python bench/heap_growth.py [--rounds 3] [--steps 8]

The last line is `peak growth per training: <default> vs <trim> GB`.
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "reports/runs/cpu-date_understanding-s3/date_understanding/data/train.jsonl"


def rounds(variant: str, n: int, steps: int) -> list[dict]:
    "Train `n` times in this process; each training's peak GB, seconds and resident GB after it."
    from transformers import TrainerCallback
    from tripost.baselines import rationale_records
    from tripost.pipeline import peak_resident_gb, release_memory, resident_gb
    from tripost.student import HeapWatch, load_student
    from tripost.tasks import get_task
    from tripost.tasks.core import read_examples
    from tripost.training import CPU_BATCH_TOKENS, TrainConfig, train

    class TrimEveryStep(TrainerCallback):
        def __init__(self): self.watch = HeapWatch(0.25)
        def on_step_end(self, args, state, control, **kwargs): self.watch()

    texts = [r["text"] for r in rationale_records(get_task("date_understanding"), read_examples(DATA))]
    out, work = [], Path(tempfile.mkdtemp())
    for r in range(n):
        student = load_student(None, dtype="fp32")  # as the pipeline loads the model it trains on a CPU
        release_memory(); peak_resident_gb(reset=True); t0 = time.time()
        train(student.model, student.tokenizer, texts, work / "model",
              TrainConfig(epochs=1, max_steps=steps, batch_size=16, max_length=512, seed=r, checkpoint_minutes=0,
                          max_batch_tokens=CPU_BATCH_TOKENS, progress=False),
              callbacks=[TrimEveryStep()] if variant == "trim" else None)
        peak, secs = peak_resident_gb(), time.time() - t0
        del student; release_memory()
        out.append({"round": r, "peak_gb": peak, "seconds": round(secs, 1), "resident_after_gb": resident_gb()})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="trainings in one process")
    ap.add_argument("--steps", type=int, default=8, help="optimizer steps per training (16 texts each)")
    ap.add_argument("--variant", choices=["default", "trim"], help=argparse.SUPPRESS)  # the child's part
    a = ap.parse_args()
    if a.variant:
        print(json.dumps(rounds(a.variant, a.rounds, a.steps))); return
    growth = {}
    for v in ("default", "trim"):
        res = subprocess.run([sys.executable, __file__, "--variant", v, "--rounds", str(a.rounds), "--steps", str(a.steps)],
                             capture_output=True, text=True, check=True)
        rows = json.loads(res.stdout.strip().splitlines()[-1])
        for row in rows: print(v, json.dumps(row), flush=True)
        growth[v] = (rows[-1]["peak_gb"] - rows[0]["peak_gb"]) / max(1, len(rows) - 1)
    print(f"peak growth per training: {growth['default']:.2f} vs {growth['trim']:.2f} GB")


if __name__ == "__main__":
    main()
