"""Benchmark: training tokens/s and peak memory on a CPU with slices of 2048 padded tokens (`CPU_BATCH_TOKENS`) against 4096.

Both train SmolLM2-135M (bf16 weights with an fp32 master copy, the pipeline's CPU setting) on the same texts, the study's
heaviest training set by default: logical deduction's ft SI demo of seed 0 (committed in reports/runs; texts up to 550
tokens), in batches of 16, each setting in a fresh process (so that its peak resident memory is its own). A batch goes
through the forward and backward pass in slices of whole rows of at most that many padded tokens; the update is the
same (`tripost.training.split_batch`).

    flock /tmp/tripost-cpu.lock python bench/batch_tokens.py [--examples 64] [--threads 1]

The last line is `speedup: <2048 / 4096>` (tokens/s).
"""
import argparse, json, subprocess, sys, tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "reports/runs/cpu-logical_deduction-s0/logical_deduction/ft_si_demo/train"


def one(data: str, n: int, tokens: int, threads: int) -> dict:
    "Train on the first `n` texts with slices of `tokens`; return tokens/s, seconds and peak GB (run in a child process)."
    import torch
    torch.set_num_threads(threads)
    from datasets import load_from_disk
    from tripost.pipeline import peak_resident_gb
    from tripost.student import load_student
    from tripost.training import TrainConfig, train
    texts = load_from_disk(data)["text"][:n]
    student = load_student(None, dtype="fp32")  # as the pipeline loads the model it trains on a CPU
    peak_resident_gb(reset=True)
    _, stats = train(student.model, student.tokenizer, texts, Path(tempfile.mkdtemp()) / "model",
                     TrainConfig(batch_size=16, epochs=1, max_batch_tokens=tokens, checkpoint_minutes=0, progress=False, seed=0))
    return {"tokens_per_second": stats["tokens_per_second"], "seconds": stats["seconds"], "peak_gb": peak_resident_gb(),
            "losses": stats["losses"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA), help="a saved training set (datasets folder with a 'text' column)")
    ap.add_argument("--examples", type=int, default=64, help="texts to train on (batches of 16)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(one(a.data, a.examples, a.child, a.threads))); return
    res = {}
    for tokens in (4096, 2048):
        out = subprocess.run([sys.executable, __file__, "--data", a.data, "--examples", str(a.examples), "--threads",
                              str(a.threads), "--child", str(tokens)], capture_output=True, text=True, check=True)
        res[tokens] = json.loads(out.stdout.strip().splitlines()[-1])
        r = res[tokens]
        print(f"slices of {tokens} tokens: {r['tokens_per_second']} tok/s ({r['seconds']} s), peak {r['peak_gb']} GB, "
              f"losses {[round(l, 3) for l in r['losses']]}", flush=True)
    print(f"speedup: {res[2048]['tokens_per_second'] / res[4096]['tokens_per_second']:.2f}")


if __name__ == "__main__":
    main()
