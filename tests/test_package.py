"""The package as `pip install` builds it, outside a clone: the wheel carries the study notebooks.

The wheel is conftest.py's `installed` fixture; tests/test_study.py runs the smoke study from it, in a
folder of its own, as a user who installed the package would.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_the_study_notebooks(installed):
    shipped = sorted(p.name for p in (installed / "tripost" / "study").glob("*.ipynb"))
    assert shipped == sorted(p.name for p in (ROOT / "nbs" / "study").glob("[0-9]*.ipynb")) and len(shipped) == 5
    for name in shipped: assert (installed / "tripost" / "study" / name).read_bytes() == (ROOT / "nbs" / "study" / name).read_bytes()
    assert (installed / "tripost" / "data" / "word_sorting_bbh_words.txt").stat().st_size > 0 # package data still ships
