"""Run every notebook's default cells (not those marked `#| slow`), one test per notebook.

This is what `nbdev_test` does; here each notebook is a pytest test, so failures are reported with
the notebook's name and CI prints "N passed". `.ci/test` runs `nbdev_test` first and then sets
`TRIPOST_NOTEBOOKS_PASSED=1`, so that CI does not run every notebook a second time.
"""
import os
from pathlib import Path

import pytest
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[str(p.relative_to(ROOT / "nbs")) for p in NOTEBOOKS])
@pytest.mark.skipif(os.environ.get("TRIPOST_NOTEBOOKS_PASSED") == "1",
                    reason="nbdev_test already ran every notebook in this CI run")
def test_notebook_runs(nb):
    ok, secs = run_notebook(nb, skip_flags=["slow"], basepath=ROOT)
    assert ok, f"{nb.name} failed (see the traceback above)"


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3
