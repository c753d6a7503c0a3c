"""Probe: TriPosT's first iteration trained differently. Does it learn to revise with more epochs (the cpu preset trains
1 epoch per iteration)? Does it do better when the wrong attempt of an improvement example is context only?

It copies a finished unit's data, ft rationale and iteration-1 training set (rollouts, the expert's edits, the rebalanced
examples) into a new run folder whose config differs only in `epochs` and `train_corrected` (and in running one
iteration), then trains and evaluates iteration 1 there, with the revision trigger chosen on the validation split. Only
the training differs from the unit's own iteration 1. Where the unit has no ft rationale model (a fresh clone), it is
trained again first.

    python reports/probes/iteration1.py --epochs 3     # about 30 min of training on a 2-core machine in fp32
    python reports/probes/iteration1.py --epochs 1 --context-attempts --unit reports/runs/cpu-word_sorting-s1

It prints the unit's iteration 1 beside the probe's: test accuracy, revisions, and the trigger's validation figures.
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
p.add_argument("--unit", default=str(here.parent / "runs" / "cpu-multistep_arithmetic-s1"), help="a finished unit's run folder")
p.add_argument("--epochs", type=int, default=3, help="epochs of the iteration's training")
p.add_argument("--context-attempts", action="store_true",
               help="train_corrected=False: the corrected attempt of an improvement example is context, not a target")
p.add_argument("--root", default=str(here), help="where the probe's run folder goes (named e<epochs>[-ctx]-<task>-s<seed>)")
a = p.parse_args()

src = Path(a.unit)
unit = config_from_yaml(src / "config.yaml")
task = unit.tasks[0]
name = f"e{a.epochs}" + ("-ctx" if a.context_attempts else "")
cfg = study_configs("cpu", [task], [unit.seed], a.root, {"name": name, "epochs": a.epochs, "iterations": 1, "trigger": True,
                                                         "train_corrected": not a.context_attempts})[0]
dst = Path(cfg.root) / cfg.name
if not dst.exists():
    (dst / task / "iter-1").mkdir(parents=True)
    shutil.copytree(src / task / "data", dst / task / "data")
    shutil.copytree(src / task / "ft_rationale", dst / task / "ft_rationale")
    for f in ("rollouts.jsonl", "edits.jsonl"): shutil.copy2(src / task / "iter-1" / f, dst / task / "iter-1" / f)
    shutil.copytree(src / task / "iter-1" / "train", dst / task / "iter-1" / "train")
    (dst / "config.yaml").write_text(config_to_yaml(cfg))

t0 = time.time()
res = run_tripost(cfg, progress=False, parts={"tripost"})[task]
what = f"{a.epochs} epoch(s)" + (", corrected attempts as context" if a.context_attempts else "")
print(f"probe: {task}, seed {unit.seed}, iteration 1 with {what} ({time.time() - t0:.0f} s this call)")
base = json.loads((src / "results.json").read_text())[task]
for label, r, folder in ((f"unit, {unit.epochs} epoch(s)", base, src), (f"probe, {what}", res, dst)):
    it, trig = r["iter-1"], r["trigger-1"]
    ch = trig["choice"]
    conf = _confidence(load_records(folder / task / "iter-1" / "trigger" / "val.jsonl"), ch["threshold"])
    print(f"{label}: test total {it['total']:.3f} (seen {it['seen']:.3f}, unseen {it['unseen']:.3f}), revised {it['revised']}; "
          f"validation: {conf['right']} of {conf['val']} right, called all-correct {conf['called_correct_right']:.0%} of right and "
          f"{conf['called_correct_wrong']:.0%} of wrong attempts, AUROC of that confidence {conf['auroc']:.2f}; trigger threshold "
          f"{ch['threshold']:.3g} takes validation {ch['val_without']} -> {ch['val_correct']}, test total {trig['total']:.3f}, revised {trig['revised']}")
    print(f"  first mistakes of its test attempts, by the scripted expert: {places(eval_first_errors(folder / task, 'iter-1'))}")
