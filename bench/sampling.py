"""Sampling benchmark: why `choose_tokens` keeps per-row `torch.multinomial`, measured in one run.

Every sampled token of a rollout (temperature 1.0) or an LMSI sample goes through
`tripost.student.choose_tokens`. Each row has its own generator, so that a sample does not depend on
the batch. Ours, `torch.multinomial(probs[i], 1, generator=g)` per row, samples by an exponential
race: one random number per vocabulary entry (49,152 for SmolLM2). The cheaper alternative, the
inverse of the distribution function, draws one uniform per row and searches the row's cumulative
distribution.

It prints, for both on the same logits (rows x vocab): the time of one sampling step, the token
frequencies of 20,000 draws of a fixed distribution, and how many tokens change when the logits get
relative float noise of 1e-5 (what a different batch composition does to a row's logits). With
`--generate N` it also times sampled generation with the offline default student on N arithmetic
questions, 4 samples each, once with each sampler (the samples differ, so it compares tokens per
second). The last lines are `flips: ours <k>, inverse-CDF <k> of <n>` and `inverse-CDF speedup: <ratio>`
(end to end if run, else of the step at the largest batch).

    python bench/sampling.py                      # seconds
    python bench/sampling.py --generate 8         # and the end-to-end part (minutes on a CPU)
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

import tripost.student as st


def inverse_cdf_tokens(logits, temperature, top_p, generators):
    "The alternative: one uniform per row from its generator, the first token whose cumulative probability exceeds it."
    if temperature <= 0: return logits.argmax(-1)
    cdf = st._top_p_filter(logits.float() / temperature, top_p).softmax(-1).cumsum(-1)
    u = torch.cat([torch.rand(1, generator=g, device=cdf.device) for g in generators])
    picks = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1), right=True).squeeze(-1)
    return picks.clamp_(max=logits.shape[-1] - 1)


def time_step(fn, logits, gens, repeat: int) -> float:
    "Mean seconds of one sampling step."
    fn(logits, 1.0, 1.0, gens)
    t0 = time.perf_counter()
    for _ in range(repeat): fn(logits, 1.0, 1.0, gens)
    return (time.perf_counter() - t0) / repeat


def frequencies(fn, draws: int, vocab: int = 64) -> torch.Tensor:
    "Token frequencies of `draws` samples from one fixed 8-token distribution (the rest of a small vocabulary at -inf)."
    logits = torch.full((draws, vocab), float("-inf"))
    logits[:, :8] = torch.linspace(0, 3, 8)
    g = torch.Generator().manual_seed(0)
    return torch.bincount(fn(logits, 1.0, 1.0, [g] * draws), minlength=vocab)[:8] / draws


def flips(fn, logits, noise: float, repeats: int = 8) -> int:
    "Tokens that change when the logits get relative noise `noise`, the rows' generators seeded alike."
    torch.manual_seed(1)
    noisy = logits + torch.randn_like(logits) * noise * logits.abs().clamp(min=1e-3)
    changed = 0
    for r in range(repeats):
        seeds = [1000 * r + i for i in range(len(logits))]
        a = fn(logits, 1.0, 1.0, [torch.Generator().manual_seed(s) for s in seeds])
        b = fn(noisy, 1.0, 1.0, [torch.Generator().manual_seed(s) for s in seeds])
        changed += (a != b).sum().item()
    return changed


def generation(student, prompts, n: int, max_new_tokens: int, batch_size: int) -> tuple[float, int]:
    "Seconds and tokens of sampled generation (temperature 1.0, `n` samples per prompt)."
    t0 = time.perf_counter()
    out = student.generate(prompts, max_new_tokens=max_new_tokens, stop=list(st.ATTEMPT_STOPS), temperature=1.0,
                           n=n, seed=0, batch_size=batch_size)
    return time.perf_counter() - t0, sum(g.new_tokens for g in out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", type=int, default=49152, help="vocabulary size (SmolLM2's by default)")
    ap.add_argument("--rows", type=int, nargs="+", default=[16, 64], help="batch sizes of the step timing")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--noise", type=float, default=1e-5, help="relative noise on the logits for the flip count")
    ap.add_argument("--generate", type=int, default=0, help="end to end: this many arithmetic questions (0: skip)")
    ap.add_argument("--n", type=int, default=4, help="end to end: samples per question")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    ours_fn = st.choose_tokens

    ours_f, alt_f = frequencies(ours_fn, 20000), frequencies(inverse_cdf_tokens, 20000)
    print(f"frequencies of 20000 draws, ours (multinomial): {[round(x, 3) for x in ours_f.tolist()]}")
    print(f"frequencies of 20000 draws, inverse CDF:        {[round(x, 3) for x in alt_f.tolist()]}")
    print(f"expected:                                       {[round(x, 3) for x in torch.linspace(0, 3, 8).softmax(-1).tolist()]}")

    torch.manual_seed(0)
    speedup = None
    for rows in args.rows:
        logits = torch.randn(rows, args.vocab) * 3
        gens = [torch.Generator().manual_seed(i) for i in range(rows)]
        ours = time_step(ours_fn, logits, gens, args.repeat)
        alt = time_step(inverse_cdf_tokens, logits, gens, args.repeat)
        speedup = ours / alt
        print(f"sampling step, {rows} rows x {args.vocab}: ours {1e3 * ours:.1f} ms, inverse CDF {1e3 * alt:.1f} ms, "
              f"ratio {speedup:.2f}")

    if args.generate:
        from generation import questions # bench/generation.py: the same arithmetic prompts
        _, prompts = questions(args.generate, None, 0)
        student = st.load_student()
        student.generate(prompts[:2], max_new_tokens=4, temperature=1.0) # warm up
        ours_s, ours_tok = generation(student, prompts, args.n, args.max_new_tokens, args.batch_size)
        st.choose_tokens = inverse_cdf_tokens # `_generate_batch` looks the name up in the module at every step
        try: alt_s, alt_tok = generation(student, prompts, args.n, args.max_new_tokens, args.batch_size)
        finally: st.choose_tokens = ours_fn
        print(f"sampled generation, {len(prompts)} questions x {args.n} samples, {student.dtype}: "
              f"ours {ours_s:.1f} s for {ours_tok} tokens ({ours_tok / ours_s:.1f} tok/s), "
              f"inverse CDF {alt_s:.1f} s for {alt_tok} tokens ({alt_tok / alt_s:.1f} tok/s)")
        speedup = (alt_tok / alt_s) / (ours_tok / ours_s)

    logits = torch.randn(256, args.vocab) * 3
    print(f"flips: ours {flips(ours_fn, logits, args.noise)}, inverse-CDF {flips(inverse_cdf_tokens, logits, args.noise)} "
          f"of {8 * len(logits)} (relative logit noise {args.noise:g})")
    print(f"inverse-CDF speedup: {speedup:.2f}")


if __name__ == "__main__":
    main()
