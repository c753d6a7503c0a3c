"The committed reports follow from the committed run folders: rebuilding their tables from the records gives the same files, and nothing needs training."
import json, shutil
from pathlib import Path

import pytest

from tripost import pipeline
from tripost.reproduce import main_table, paired_table, run_study, si_table, study_configs, write_csv

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "reports" / "runs"
REPORTS = sorted(p.parent for p in (REPO / "reports").glob("**/reproduce.json") if "runs" not in p.parts)

def stage_done_only(self, name, artifact, fn):
    "In place of `Run.stage`: a committed run folder must hold every stage's artifact; nothing may run."
    if not Path(artifact).exists(): raise AssertionError(f"stage {name} is not done in the committed run folder ({artifact} is missing)")
    self.stats["skipped"].append(name)
    return artifact

def test_reports_found():
    assert REPORTS, "no executed report (a reproduce.json) under reports/"

@pytest.mark.parametrize("report", REPORTS, ids=lambda p: str(p.relative_to(REPO)))
def test_report_follows_from_run_folders(report, tmp_path, monkeypatch):
    params = json.loads((report / "reproduce.json").read_text())["parameters"]
    cfgs = study_configs(params["preset"], params["tasks"], params["seeds"], tmp_path, params.get("overrides"))
    missing = [c.name for c in cfgs if not (RUNS / c.name / "config.yaml").exists()]
    if missing: pytest.skip(f"{report.relative_to(REPO)}: run folders not committed: {', '.join(missing)}")
    for c in cfgs: shutil.copytree(RUNS / c.name, tmp_path / c.name) # the copy may be written to (results.json); the repository is not
    monkeypatch.setattr(pipeline.Run, "stage", stage_done_only)
    results = run_study(cfgs)
    assert sorted(results) == sorted(params["seeds"]) and all(sorted(r) == sorted(params["tasks"]) for r in results.values())
    for name, rows in {"main_table.csv": main_table(results), "si_table.csv": si_table(results),
                       "paired.csv": paired_table(results, cfgs)}.items():
        assert write_csv(rows, tmp_path / name).read_text() == (report / name).read_text(), \
            f"{report.relative_to(REPO) / name} is not what its run folders give; rebuild it with tripost reproduce"
