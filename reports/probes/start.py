"""Probe: does TriPosT do better from a student trained longer on gold rationales? The cpu preset's ft rationale is 2
epochs over 400 questions (50 updates); the unit's gold control t=2 is that model trained 30 updates more on gold
rationales of the same questions, so in all about 3 epochs.

It makes a new run folder whose ft rationale is another model of a finished unit (by default its `gold_control-2`: the
model, its test records and metrics are copied), with the unit's questions, and runs one TriPosT iteration from it and
the same-budget gold control beside it, with the revision trigger chosen on validation. The unit's models must be there
(they are not committed: on a fresh clone, run the unit's gold control stages first).

    python reports/probes/start.py --unit /work/study/runs/cpu-word_sorting-s1   # about 35 min on a 2-core machine in fp32

It prints the start model, TriPosT t=1 and gold control t=1 from it: test accuracy, revisions, the trigger's validation
figures, and where the scripted expert puts the first mistake of each test attempt.
"""
import argparse, json, shutil, time
from pathlib import Path

from tripost.evaluation import load_records
from tripost.pipeline import config_from_yaml, config_to_yaml, run_tripost
from tripost.reproduce import _confidence, eval_first_errors, study_configs

def places(counts: dict) -> str:
    "The non-zero counts of `eval_first_errors`, in words."
    return ", ".join(f"{p} {n}" for p, n in counts.items() if n)


here = Path(__file__).resolve().parent
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--unit", default=str(here.parent / "runs" / "cpu-word_sorting-s1"), help="a finished unit's run folder, with its models")
p.add_argument("--start", default="gold_control-2", help="the unit's model to start from (a folder name under the task)")
p.add_argument("--root", default=str(here), help="where the probe's run folder goes (named from-<start>-<task>-s<seed>)")
a = p.parse_args()

src = Path(a.unit)
unit = config_from_yaml(src / "config.yaml")
task = unit.tasks[0]
tag = a.start.replace("_", "").replace("-", "")
cfg = study_configs("cpu", [task], [unit.seed], a.root, {"name": f"from-{tag}", "iterations": 1, "trigger": True,
                                                         "baselines": ["gold_control"]})[0]
dst = Path(cfg.root) / cfg.name
if not dst.exists():
    start = src / task / a.start
    if not (start / "model").exists(): raise SystemExit(f"{start / 'model'} is missing: run the unit's stage that trains it first")
    (dst / task / "ft_rationale").mkdir(parents=True)
    shutil.copytree(src / task / "data", dst / task / "data")
    for f in ("eval.jsonl", "metrics.json"): shutil.copy2(start / f, dst / task / "ft_rationale" / f)
    shutil.copytree(start / "model", dst / task / "ft_rationale" / "model")
    (dst / "config.yaml").write_text(config_to_yaml(cfg))

t0 = time.time()
res = run_tripost(cfg, progress=False)[task]
print(f"probe: {task}, seed {unit.seed}, one TriPosT iteration from the unit's {a.start} ({time.time() - t0:.0f} s this call)")
base = json.loads((src / "results.json").read_text())[task]
for label, r in ((f"unit's ft rationale", base["ft_rationale"]), (f"start ({a.start})", res["ft_rationale"])):
    print(f"{label}: test total {r['total']:.3f} (seen {r['seen']:.3f}, unseen {r['unseen']:.3f})")
print(f"  first mistakes of the start's test attempts: {places(eval_first_errors(dst / task, 'ft_rationale'))}")
it, trig, gc = res["iter-1"], res["trigger-1"], res["gold_control-1"]
ch = trig["choice"]
conf = _confidence(load_records(dst / task / "iter-1" / "trigger" / "val.jsonl"), ch["threshold"])
print(f"TriPosT t=1 from it: test total {it['total']:.3f} (seen {it['seen']:.3f}, unseen {it['unseen']:.3f}), revised {it['revised']} "
      f"(fixed {it['fixed']}, broken {it['broken']}); edits: {it['data']['correct']} correct, {it['data']['fixed']} fixed of "
      f"{it['data']['trajectories']}; validation: {conf['right']} of {conf['val']} right, called all-correct "
      f"{conf['called_correct_right']:.0%} of right and {conf['called_correct_wrong']:.0%} of wrong attempts, AUROC "
      f"{conf['auroc']:.2f}; trigger threshold {ch['threshold']:.3g} takes validation {ch['val_without']} -> {ch['val_correct']}, "
      f"test total {trig['total']:.3f}, revised {trig['revised']}")
print(f"  first mistakes of its test attempts: {places(eval_first_errors(dst / task, 'iter-1'))}")
print(f"gold control t=1 from it ({gc['examples']} gold rationales): test total {gc['total']:.3f} (seen {gc['seen']:.3f}, "
      f"unseen {gc['unseen']:.3f})")
print(f"  first mistakes of its test attempts: {places(eval_first_errors(dst / task, 'gold_control-1'))}")
