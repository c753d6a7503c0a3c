"""Optimizer benchmark: `MasterWeightAdamW`'s step with torch's fused AdamW kernel (our default) against its loop over tensors.

On a CPU with bf16 the pipeline trains SmolLM2-135M in bf16 with an fp32 master copy of every weight
(`tripost.training.MasterWeightAdamW`): each step copies the gradients into the masters, updates them
with AdamW and rounds them back into the bf16 weights (stochastically). The naive path is the same
optimizer with torch's default AdamW implementation on a CPU (a loop over the tensors, several passes
over each); ours runs the update in torch's fused kernel. Both step the offline default student's
135M masters with the same random gradients, alternating, `--rounds` times; after `--steps` steps from
the same start with the same gradients, the masters must agree to fp32 rounding (round-to-nearest
here, so that both write back the same way). One thread by default, as each of the study's two
side-by-side runs trains. The last line is `speedup: <naive / ours>`.

    flock /tmp/tripost-cpu.lock python bench/optimizer.py        # about a minute
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def step_seconds(params, fused: bool | None, steps: int, seed: int = 0) -> tuple[float, list[torch.Tensor]]:
    "Seconds per step of a fresh optimizer over `params` (restored first), and its masters after `steps` steps."
    from tripost.training import MasterWeightAdamW
    start = [p.detach().clone() for p in params]
    opt = MasterWeightAdamW(params, stochastic_rounding=False, fused=fused, lr=1e-4, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(p.shape, generator=gen).to(p.dtype) * 1e-3 for p in params]
    times = []
    for _ in range(steps):
        for p, g in zip(params, grads): p.grad = g
        t = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t)
    masters = [m.detach().clone() for m in opt.masters]
    with torch.no_grad():
        for p, s in zip(params, start): p.copy_(s); p.grad = None
    return statistics.median(times), masters


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps per pass")
    ap.add_argument("--rounds", type=int, default=2, help="passes of each path")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the study trains with one per run)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from tripost.student import load_student
    from tripost.training import cast_parameters
    model = cast_parameters(load_student(None, dtype="fp32").model, torch.bfloat16)  # the pipeline's bf16-master weights
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"{sum(p.numel() for p in params) / 1e6:.0f}M trained parameters, {a.threads} thread(s)")
    times = {"naive": [], "ours": []}
    for _ in range(a.rounds):
        t_naive, m_naive = step_seconds(params, False, a.steps)
        t_ours, m_ours = step_seconds(params, None, a.steps)
        times["naive"].append(t_naive); times["ours"].append(t_ours)
    worst = max(float((x - y).abs().max() / y.abs().max().clamp_min(1e-12)) for x, y in zip(m_ours, m_naive))
    print(f"masters after {a.steps} steps: largest difference {worst:.1e} of the tensor's largest value")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items(): print(f"{k}: {med[k]:.3f} s a step ({', '.join(f'{t:.3f}' for t in v)})")
    print(f"speedup: {med['naive'] / med['ours']:.2f}")


if __name__ == "__main__":
    main()
