"""The package as `pip install` builds it, outside a clone: the wheel carries the study notebooks, and
`tripost reproduce` runs from the installed copy in any folder.

The wheel is built offline (`--no-index --no-build-isolation`, setuptools from the dev extras) from
the files an sdist carries (MANIFEST.in), copied apart, so no stale `build/` of the clone leaks in.
"""
import csv
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDIST_FILES = ["setup.py", "pyproject.toml", "settings.ini", "README.md", "MANIFEST.in"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    "The wheel built from a copy of the sdist's files, unpacked as site-packages would hold it."
    tmp = tmp_path_factory.mktemp("package")
    src = tmp / "src"
    src.mkdir()
    for f in SDIST_FILES: shutil.copy(ROOT / f, src / f)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tripost", src / "tripost", ignore=skip)
    shutil.copytree(ROOT / "nbs" / "study", src / "nbs" / "study", ignore=skip)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                    "-w", str(tmp / "dist"), str(src)], check=True)
    wheel, = (tmp / "dist").glob("tripost-*.whl")
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as z: z.extractall(site)
    return site


def run_installed(site: Path, cwd: Path, code: str) -> str:
    "Run `code` in a fresh Python that imports tripost from `site` (ahead of the clone's editable install)."
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("TRIPOST_STUDY", None)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def test_wheel_carries_the_study_notebooks(installed):
    shipped = sorted(p.name for p in (installed / "tripost" / "study").glob("*.ipynb"))
    assert shipped == sorted(p.name for p in (ROOT / "nbs" / "study").glob("[0-9]*.ipynb")) and len(shipped) == 5
    for name in shipped: assert (installed / "tripost" / "study" / name).read_bytes() == (ROOT / "nbs" / "study" / name).read_bytes()
    assert (installed / "tripost" / "data" / "word_sorting_bbh_words.txt").stat().st_size > 0 # package data still ships


def test_reproduce_runs_from_the_installed_package(installed, tmp_path):
    out = run_installed(installed, tmp_path, "import tripost; from tripost.reproduce import study_dir, reproduce\n"
                        "print(tripost.__file__); print(study_dir())\n"
                        "print(reproduce('tiny', ['multistep_arithmetic'], reports='study', progress=False))")
    module, folder, results = out.strip().splitlines()[-3:]
    assert Path(module) == installed / "tripost" / "__init__.py"
    assert Path(folder) == installed / "tripost" / "study"
    assert Path(results) == tmp_path / "study" / "results.md" and Path(results).exists()
    rows = list(csv.DictReader(open(tmp_path / "study" / "main_table.csv")))
    assert rows[0]["method"] == "ft rationale" and rows[0]["seeds"] == "1"
    assert sorted(p.name for p in (tmp_path / "study").glob("*.ipynb"))[0] == "01_data.ipynb"
