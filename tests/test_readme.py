"""The README's Python examples run as written, in order, as a user would paste them."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 3, "the README's Python examples were not found"
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__readme__"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md, Python example {i + 1}", "exec"), ns)
    out = capsys.readouterr().out
    assert "Step (1)" in out and "are correct." in out       # the expert's feedback, printed
    assert "'fixed':" in out and "'seen':" in out             # the edit counts, the accuracy table
    assert set(ns["results"]["word_sorting"]) >= {"ft_rationale", "iter-1"}
    assert ns["card"]["examples"] == len(ns["examples"]) > 0
