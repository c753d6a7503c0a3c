"""Benchmark: tokens/s of tripost's weighted SFT of SmolLM2-135M on this machine, against the reference style.

Ours: `tripost.training.train` defaults (bf16 weights with an fp32 master copy, stochastically rounded, on a bf16 CPU, bf16 autocast on a GPU;
batches grouped by length, padded to the batch's longest example).
The LM head and its loss run on the trained positions only, a slice at a time (`chunked_lm_loss`).
Reference style (jasonyux/TriPosT `SelfImproveDataset` + `LossMaskedTrainer`): fp32, every example padded to a fixed
bucket length (256, 448, 640, 832, 1024), padding attended and computed, logits of every position.

Both train on the same examples (real gold rationales of generated multistep-arithmetic questions, the seen subtasks)
with the same batch size and the same loss code; throughput counts real (non-padding) tokens per second over the
timed steps (the first step, warm-up, is not timed). MFU = model FLOPs (6 x parameters + attention, per real token)
per second / a bf16 matmul peak measured here at the model's shapes.

    flock /tmp/tripost-cpu.lock python bench/training.py [--steps 4] [--batch 8]

The last line is `speedup: <ours / reference>`.
"""
import argparse, copy, math, random, shutil, tempfile, time
from pathlib import Path

import torch
from transformers import TrainerCallback

from tripost.format import Trajectory
from tripost.student import load_student
from tripost.tasks import get_task
from tripost.training import (TrainConfig, WeightedCollator, WeightedTrainer, _training_args, cast_parameters,
                              resolve_precision, tokenize_examples, train)

BUCKETS = [256, 448, 640, 832, 1024]  # np.linspace(256, 1024, 5), the reference's _get_sequence_length


class BucketCollator(WeightedCollator):
    "The reference's padding: every example padded to the smallest fixed bucket that holds it."
    def __call__(self, features):
        longest = max(len(f["input_ids"]) for f in features)
        self.pad_to_multiple_of = next(b for b in BUCKETS if b >= longest)
        return super().__call__(features)


class StepTimer(TrainerCallback):
    "Wall time and real tokens at the end of every optimizer step."
    def __init__(self): self.marks = []
    def on_step_end(self, args, state, control, **kw): self.marks.append((time.perf_counter(), self.trainer.tokens_seen))


def timed_rate(timer):
    "Real tokens per second over the steps after the first."
    (t0, n0), (t1, n1) = timer.marks[0], timer.marks[-1]
    return (n1 - n0) / (t1 - t0)


def examples(n, seed=0):
    task = get_task("multistep_arithmetic")
    qs = [q for i, s in enumerate(task.seen) for q in task.generate(s, n // len(task.seen) + 1, seed=seed + i)][:n]
    return [Trajectory(q.question, [task.gold_rationale(q)]).render() for q in qs]


def run(model, tokenizer, texts, config, collator_cls, steps):
    "Train `steps` + 1 steps with the given padding; return (real tokens/s over the timed steps, losses)."
    data, _ = tokenize_examples(tokenizer, texts, config)
    work = Path(tempfile.mkdtemp())
    precision = resolve_precision(model, config.precision)
    if precision == "bf16-master": cast_parameters(model, torch.bfloat16)
    from tripost.training import MasterWeightAdamW
    opt = (MasterWeightAdamW(model.parameters(), lr=config.learning_rate), None) if precision == "bf16-master" else (None, None)
    timer = StepTimer()
    trainer = WeightedTrainer(model=model, args=_training_args(config, work, precision), train_dataset=data,
                              data_collator=collator_cls(tokenizer.pad_token_id, 8), optimizers=opt, callbacks=[timer],
                              loss_chunk=config.loss_chunk)
    timer.trainer = trainer
    trainer.train()
    shutil.rmtree(work, ignore_errors=True)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return timed_rate(timer), losses, precision


def matmul_peak(shapes, dtype=torch.bfloat16, reps=5):
    "Best GFLOP/s of (m x k) @ (k x n) matmuls at the given shapes, in `dtype`."
    best = 0.0
    for m, k, n in shapes:
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        a @ b
        t = time.perf_counter()
        for _ in range(reps): a @ b
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - t) / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=4, help="timed steps per run (one more untimed warm-up step)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--examples", type=int, default=64)
    a = ap.parse_args()
    torch.manual_seed(0)
    student = load_student()
    tok, base = student.tokenizer, student.model
    texts = examples(a.examples)
    lengths = sorted(len(tok(t)["input_ids"]) + 1 for t in texts)
    cfg = dict(batch_size=a.batch, max_steps=a.steps + 1, logging_steps=1, progress=False, learning_rate=1e-4,
               warmup_ratio=0.0, max_length=1024)
    print(f"model {student.name or 'SmolLM2-135M'}: {sum(p.numel() for p in base.parameters()) / 1e6:.1f}M parameters, "
          f"{torch.get_num_threads()} threads; {len(texts)} gold rationales, median {lengths[len(lengths) // 2]} tokens")

    ours_model = copy.deepcopy(base)
    ours, ours_losses, prec = run(ours_model, tok, texts, TrainConfig(**cfg), WeightedCollator, a.steps)
    del ours_model
    print(f"ours ({prec}, length-grouped, padded to the batch, sliced LM-head loss): {ours:.0f} tok/s; losses {[round(l, 3) for l in ours_losses]}")

    ref_model = cast_parameters(copy.deepcopy(base), torch.float32)
    ref_model.to(torch.float32)
    ref, ref_losses, _ = run(ref_model, tok, texts, TrainConfig(**cfg, precision="fp32", group_by_length=False, loss_chunk=0),
                             BucketCollator, a.steps)
    del ref_model
    print(f"reference style (fp32, fixed buckets {BUCKETS}): {ref:.0f} tok/s; losses {[round(l, 3) for l in ref_losses]}")

    c = base.config
    d, ff, v, layers = c.hidden_size, c.intermediate_size, c.vocab_size, c.num_hidden_layers
    n_tok = a.batch * lengths[len(lengths) // 2]
    peak = matmul_peak([(n_tok, d, ff), (n_tok, ff, d), (n_tok, d, d), (n_tok, d, v)])
    n_params = sum(p.numel() for p in base.parameters())  # the tied embedding is one matmul (the LM head)
    seq = sum(lengths) / len(lengths)
    flops_per_token = 6 * n_params + 12 * layers * d * seq
    print(f"bf16 matmul peak here at the model's shapes: {peak:.0f} GFLOP/s; "
          f"{flops_per_token / 1e9:.2f} GFLOP per trained token")
    print(f"MFU: ours {ours * flops_per_token / 1e9 / peak:.1%}, reference style {ref * flops_per_token / 1e9 / peak:.1%}")
    print(f"speedup: {ours / ref:.2f}")


if __name__ == "__main__":
    main()
