"""The study chain as `tripost reproduce` runs it: the five study notebooks executed by papermill with
injected smoke parameters (the tiny preset, one task, two seeds side by side), into a temporary folder,
from the package as `pip install` builds it (conftest.py's `installed`)."""
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tripost.reproduce import REPORT_FILES, ReproduceError, reproduce, study_dir, study_notebooks

TASK = "multistep_arithmetic"
NOTEBOOKS = ["01_data.ipynb", "02_ft_rationale.ipynb", "03_baselines.ipynb", "04_tripost.ipynb", "05_results.ipynb"]
METHODS = ["ft rationale", "ft SI demo", "LMSI", "ft rationale + SI prompt", "TriPosT (t=1)", "TriPosT (t=2)", "TriPosT (t=1) + trigger", "TriPosT (t=2) + trigger",
           "gold control (t=1)", "gold control (t=2)"]


def test_study_notebooks_are_found_in_order():
    assert [p.name for p in study_notebooks(study_dir())] == NOTEBOOKS


def test_missing_study_folder_says_where_it_looked(tmp_path, monkeypatch):
    with pytest.raises(ReproduceError, match=f"looked in: {tmp_path.resolve()}"): study_dir(tmp_path)
    monkeypatch.setenv("TRIPOST_STUDY", str(tmp_path))
    assert study_dir() == study_dir(Path(__file__).resolve().parents[1] / "nbs" / "study") # falls back to nbs/study


def run_installed(site: Path, cwd: Path, code: str) -> str:
    "Run `code` in a fresh Python that imports tripost from `site` (ahead of the clone's editable install)."
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("TRIPOST_STUDY", None)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def test_smoke_study_end_to_end_and_resume(installed, tmp_path):
    reports = tmp_path / "reports"
    runs = reports / "runs" # the run folders go into the report unless told otherwise
    t0 = time.time() # from the installed package, in a folder of the user's: the study notebooks ship in the wheel
    out = run_installed(installed, tmp_path, "import tripost; from tripost.reproduce import study_dir, reproduce\n"
                        f"md = reproduce('tiny', [{TASK!r}], seeds=[0, 1], reports='reports', progress=False, jobs=2)\n"
                        "for x in (tripost.__file__, study_dir(), md): print('->', x)")
    secs = time.time() - t0 # the two seeds side by side
    print(f"smoke study chain (tiny, 1 task, 2 seeds): {secs:.0f} s")
    assert secs < 600 # about 1-2 minutes on 2 idle cores; 5.5 minutes measured with the cores shared by other jobs
    module, folder, md = [l[3:] for l in out.splitlines() if l.startswith("-> ")] # the runs' processes print too
    assert Path(module) == installed / "tripost" / "__init__.py" and Path(folder) == installed / "tripost" / "study"
    md = Path(md)
    assert md == reports / "results.md" # resolved against the folder it ran in
    for f in REPORT_FILES + tuple(NOTEBOOKS): assert (reports / f).stat().st_size > 0, f
    for png in ("accuracy.png", "edits.png"): assert (reports / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the main table: a row per method and iteration; per task seen, unseen, total; two seeds each
    rows = list(csv.DictReader(open(reports / "main_table.csv")))
    assert [r["method"] for r in rows] == METHODS
    for r in rows:
        assert r["seeds"] == "2"
        for s in ("seen", "unseen", "total"): assert 0 <= float(r[f"{TASK}/{s}"]) <= 1 and f"{TASK}/{s} sd" in r
    text = md.read_text()
    table = [l for l in text.splitlines() if l.startswith("| method |")][0]
    assert table == "| method | multistep arithmetic seen | multistep arithmetic unseen | multistep arithmetic total |"
    for m in METHODS: assert f"| {m} |" in text
    assert "**multistep arithmetic.** The last iteration: TriPosT (t=2)" in text and "ft rationale" in text
    assert "The paper's negative findings, checked:" in text and "Prompted with two expert demonstrations, ft rationale revised" in text
    assert "## Does the student know when it is wrong?" in text and "| multistep_arithmetic | 1 |" in text
    edits = list(csv.DictReader(open(reports / "edit_stats.csv")))
    assert [(r["task"], r["t"]) for r in edits] == [(TASK, "1"), (TASK, "2")]
    for r in edits:
        assert float(r["correct"]) + float(r["fixed"]) + float(r["dropped"]) == float(r["rollouts"]) > 0
        assert 0 <= float(r["answers_right"]) <= float(r["rollouts"]) # read back from the run folders' rollouts
    firsts = list(csv.DictReader(open(reports / "first_errors.csv")))
    assert [(r["task"], r["t"]) for r in firsts] == [(TASK, "1"), (TASK, "2")]
    for r, e in zip(firsts, edits):
        places = ("correct", "first", "middle", "last", "final", "form", "unread")
        assert sum(float(r[p]) for p in places) == float(r["attempts"]) == float(e["rollouts"])
        assert float(r["correct"]) == float(e["correct"]) # the expert's all-correct feedback is what makes an attempt correct
    assert "## Where the student goes wrong" in text
    on_test = list(csv.DictReader(open(reports / "first_errors_test.csv")))
    assert [r["method"] for r in on_test][:1] == ["ft rationale"] and "TriPosT (t=2)" in [r["method"] for r in on_test]
    for r in on_test: assert sum(float(r[p]) for p in places) == float(r["attempts"]) > 0
    paired = list(csv.DictReader(open(reports / "paired.csv")))
    assert [(r["task"], r["against"], r["seeds"]) for r in paired] == [(TASK, "ft rationale", "2"), (TASK, "gold control (same t)", "2")]
    for r in paired:
        assert sum(int(r[k]) for k in ("both", "only_tripost", "only_other", "neither")) == int(r["questions"]) > 0 and 0 < float(r["p"]) <= 1
    assert "McNemar's exact p" in text and "| TriPosT's best iteration against |" in text
    times = list(csv.DictReader(open(reports / "seed_times.csv")))
    assert [(r["seed"], r["task"]) for r in times] == [("0", TASK), ("1", TASK), ("0", "all"), ("1", "all")]
    assert "The stages of one seed, all tasks, summed: seed 0: " in text and "; seed 1: " in text
    for r in times: # the two seeds ran side by side: wall time, read from when each stage ran, is at most the stages' sum
        assert 0 < float(r["wall_seconds"]) <= float(r["seconds"]) + 1, r
    assert text.count(" of wall time") == 2
    assert {r["method"] for r in csv.DictReader(open(reports / "si_table.csv"))} == set(METHODS)
    # the executed notebooks carry the injected parameters
    nb = json.loads((reports / "05_results.ipynb").read_text())
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected
    injected_source = "".join(injected[0]["source"])
    assert "seeds = [0, 1]" in injected_source and "jobs = 2" in injected_source
    assert 'run_root = "runs"' in injected_source and str(tmp_path) not in injected_source # no machine's folders
    state = json.loads((reports / "reproduce.json").read_text())
    assert state["parameters"]["run_root"] == "runs" and "jobs" not in state["parameters"] and state["jobs"] == 2
    assert sorted(state["seconds"]) == NOTEBOOKS and all(s > 0 for s in state["seconds"].values()) # wall time per notebook
    # the report moved elsewhere (a clone) is still the finished study: nothing runs again (`jobs` is how, not what, it ran)
    moved = tmp_path / "clone" / "reports"
    shutil.copytree(reports, moved)
    moved_nbs = {f: (moved / f).read_text() for f in NOTEBOOKS}
    t0 = time.time(); reproduce("tiny", [TASK], seeds=[0, 1], reports=moved, progress=False)
    assert time.time() - t0 < 10 and {f: (moved / f).read_text() for f in NOTEBOOKS} == moved_nbs
    shutil.rmtree(tmp_path / "clone")
    # resume: finished notebooks are skipped; a removed one runs again, its stages all skipped, even without the models
    mtimes = {f: (reports / f).stat().st_mtime for f in NOTEBOOKS}
    assert sorted(p.name for p in runs.iterdir()) == [f"tiny-{TASK}-s0", f"tiny-{TASK}-s1"]
    t0 = time.time(); reproduce("tiny", [TASK], seeds=[0, 1], reports=reports, progress=False)
    assert time.time() - t0 < 10 and {f: (reports / f).stat().st_mtime for f in NOTEBOOKS} == mtimes
    timings = {p: p.read_text() for p in runs.rglob("timings.jsonl")}
    for m in [*runs.rglob("model"), *runs.rglob("base")]: shutil.rmtree(m) # as a clone has the committed run folders
    (reports / "04_tripost.ipynb").unlink()
    reproduce("tiny", [TASK], seeds=[0, 1], reports=reports, run_root=runs, progress=False)
    assert (reports / "04_tripost.ipynb").exists()
    assert json.loads((reports / "reproduce.json").read_text())["finished"] == NOTEBOOKS # run again, not listed twice
    assert {f: (reports / f).stat().st_mtime for f in NOTEBOOKS if f != "04_tripost.ipynb"} == \
           {f: t for f, t in mtimes.items() if f != "04_tripost.ipynb"}
    assert {p: p.read_text() for p in runs.rglob("timings.jsonl")} == timings # no stage ran again, no model was needed


def test_a_failing_notebook_stops_the_chain_and_is_kept(tmp_path):
    reports, runs = tmp_path / "reports", tmp_path / "runs"
    runs.write_text("a file where the run folders should go") # 02_ft_rationale cannot create its run folder
    with pytest.raises(ReproduceError, match="study notebook 02_ft_rationale.ipynb failed") as e:
        reproduce("tiny", [TASK], seeds=[0], reports=reports, run_root=runs, progress=False)
    assert str(reports / "02_ft_rationale.ipynb") in str(e.value)
    failed = json.loads((reports / "02_ft_rationale.ipynb").read_text())
    assert any(o.get("output_type") == "error" for c in failed["cells"] for o in c.get("outputs", []))
    assert (reports / "01_data.ipynb").exists() and not (reports / "03_baselines.ipynb").exists()
    assert json.loads((reports / "reproduce.json").read_text())["finished"] == ["01_data.ipynb"]
