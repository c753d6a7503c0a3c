"""LM head benchmark: the loss and gradients of the head, ours (`chunked_lm_loss`) against the slice-by-slice version it replaced.

Training ends every forward pass with the LM head: logits over SmolLM2's 49,152-token vocabulary for each
trained position, the weighted cross entropy, and the gradients for the hidden states and the head's weight.
Both paths here compute them slice by slice (256 positions) with the closed-form gradient, so no logits
survive a slice. The naive path is tripost's before this benchmark (defined here, as it was): each slice
casts its logits to a fresh fp32 tensor, takes `logsumexp`, and adds its share of the head's gradient
(a vocab x d matmul of only 256 positions) into an fp32 accumulator, cast and added anew per slice. Ours
writes each slice's logits into one reused fp32 buffer, exponentiates once, keeps the slices' bf16
gradients of the logits and sums the head's gradient in one matmul per 2,048 positions.

The work is real: the offline default student (SmolLM2-135M-Instruct) in bf16 as the pipeline trains it on
a CPU, batches of 16 of logical deduction's gold rationales (seed 3's, committed in reports/runs) cut into
slices of 2,048 padded tokens as the trainer cuts them; the decoder's last hidden states of each slice are
computed once, then each path computes loss and backward on them, alternating, `--rounds` times. One
thread by default, as each of the study's two side-by-side runs trains. It prints each path's median time,
each path's loss and gradients against the same sums in fp64, and last `speedup: <naive / ours>`.

    flock /tmp/tripost-cpu.lock python bench/lm_head.py            # about 2 minutes
    python bench/lm_head.py --batches 1 --rounds 1                 # a quick look
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

RUN = Path(__file__).resolve().parents[1] / "reports/runs/cpu-logical_deduction-s3/logical_deduction/data/train.jsonl"


class SliceAccumulatedCE(torch.autograd.Function):
    "The naive path: tripost's `_ChunkedLinearCE` before the reused buffer and the grouped head gradient."
    @staticmethod
    def forward(ctx, h, W, targets, weights, chunk):
        loss = torch.zeros((), dtype=torch.float32, device=h.device)
        grad_h = torch.empty_like(h)
        grad_W = torch.zeros(W.shape, dtype=torch.float32, device=W.device)
        for i in range(0, h.shape[0], chunk):
            hc, y, w = h[i:i + chunk], targets[i:i + chunk], weights[i:i + chunk]
            z = (hc @ W.t()).float()
            lse = torch.logsumexp(z, -1)
            loss += ((lse - z.gather(1, y[:, None])[:, 0]) * w).sum()
            g = z.sub_(lse[:, None]).exp_()
            g[torch.arange(len(y), device=g.device), y] -= 1
            g = g.mul_(w[:, None]).to(h.dtype)
            grad_h[i:i + chunk] = g @ W
            grad_W += (g.t() @ hc).float()
        ctx.save_for_backward(grad_h, grad_W.to(W.dtype))
        return loss

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_W = ctx.saved_tensors
        return grad_h * grad_out.to(grad_h.dtype), grad_W * grad_out.to(grad_W.dtype), None, None, None


def naive_lm_loss(hidden, head_weight, labels, weights, num_items, chunk=256):
    "`chunked_lm_loss`'s sum through the naive path."
    tgt, w = labels[:, 1:], weights[:, 1:]
    keep = tgt != -100
    return SliceAccumulatedCE.apply(hidden[:, :-1][keep], head_weight, tgt[keep], w[keep].float(), chunk) / num_items


def slices(n_batches: int):
    "(hidden states, labels, weights, trained positions) of each slice of the first `n_batches` batches of 16."
    from tripost.baselines import rationale_records
    from tripost.student import load_student
    from tripost.tasks import get_task
    from tripost.tasks.core import read_examples
    from tripost.training import (CPU_BATCH_TOKENS, TrainConfig, WeightedCollator, cast_parameters, split_batch,
                                  tokenize_examples)
    student = load_student(None, dtype="fp32")
    model = cast_parameters(student.model, torch.bfloat16).eval()  # the pipeline's bf16-master weights
    texts = [r["text"] for r in rationale_records(get_task("logical_deduction"), read_examples(RUN))]
    ds, _ = tokenize_examples(student.tokenizer, texts[:16 * n_batches], TrainConfig(max_length=1024))
    collate, out = WeightedCollator(student.tokenizer.pad_token_id), []
    for b in range(n_batches):
        batch = collate([ds[i] for i in range(16 * b, 16 * b + 16)])
        n = int((batch["labels"][:, 1:] != -100).sum())
        for part in split_batch(batch, CPU_BATCH_TOKENS):
            with torch.no_grad():
                hidden = model.get_decoder()(input_ids=part["input_ids"], attention_mask=part["attention_mask"]).last_hidden_state
            out.append((hidden, part["labels"], part["loss_weights"], n))
    return model.get_output_embeddings().weight.detach(), out


def one_pass(loss_fn, W, work) -> tuple[float, float, torch.Tensor, list[torch.Tensor]]:
    "Seconds for loss and backward of every slice; the summed loss, the head's gradient, the hidden states' gradients."
    W = W.clone().requires_grad_(True)
    total, grads, t0 = 0.0, [], time.perf_counter()
    for hidden, labels, weights, n in work:
        h = hidden.clone().requires_grad_(True)
        loss = loss_fn(h, W, labels, weights, n)
        loss.backward()
        total += loss.item()
        grads.append(h.grad)
    return time.perf_counter() - t0, total, W.grad, grads


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b).norm() / b.norm())


def exact(W, work) -> tuple[float, torch.Tensor, list[torch.Tensor]]:
    "The summed loss, the head's gradient and the hidden states' gradients in fp64, from the same bf16 inputs."
    W64, total, grad_W, grads = W.double(), 0.0, torch.zeros(W.shape, dtype=torch.float64), []
    for hidden, labels, weights, n in work:
        keep = labels[:, 1:] != -100
        h, y, w = hidden[:, :-1][keep].double(), labels[:, 1:][keep], weights[:, 1:][keep].double()
        z = h @ W64.t()
        lse = z.logsumexp(-1)
        total += float(((lse - z.gather(1, y[:, None])[:, 0]) * w).sum() / n)
        g = z.sub_(lse[:, None]).exp_()
        g[torch.arange(len(y)), y] -= 1
        g.mul_((w / n)[:, None])
        gh = torch.zeros(hidden.shape, dtype=torch.float64)
        gh[:, :-1][keep] = g @ W64
        grads.append(gh)
        grad_W += g.t() @ h
    return total, grad_W, grads


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=3, help="batches of 16 texts")
    ap.add_argument("--rounds", type=int, default=3, help="timed passes of each path")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the study trains with one per run)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from tripost.training import chunked_lm_loss
    W, work = slices(a.batches)
    positions = sum(int((lab[:, 1:] != -100).sum()) for _, lab, _, _ in work)
    print(f"{len(work)} slices, {positions} trained positions, vocab {W.shape[0]}, {a.threads} thread(s)")
    paths = {"naive": naive_lm_loss, "ours": chunked_lm_loss}
    times = {k: [] for k in paths}
    for r in range(a.rounds + 1):  # round 0 warms up
        res = {}
        for name, fn in paths.items():
            secs, *res[name] = one_pass(fn, W, work)
            if r: times[name].append(secs)
        if r == 0:
            loss64, gW64, gh64 = exact(W, work)
            for name, (loss, gW, gh) in res.items():
                print(f"{name}: loss {loss:.6f} (fp64 {loss64:.6f}); relative error against fp64: head gradient "
                      f"{rel(gW, gW64):.2e}, hidden gradients {max(rel(a, b) for a, b in zip(gh, gh64)):.2e}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in paths: print(f"{k}: {med[k]:.2f} s ({', '.join(f'{t:.2f}' for t in times[k])}), {positions / med[k]:.0f} positions/s")
    print(f"speedup: {med['naive'] / med['ours']:.2f}")


if __name__ == "__main__":
    main()
