"""Fixtures: a real local OpenAI-compatible LLM server and the fault server (the teacher's tests), and
the package as `pip install` builds it (the package's and the study's tests).

The llama.cpp server needs `pip install 'llama-cpp-python[server]'`. Without it the test that uses
`llama_server` FAILS (it does not skip): CI must install it.

The wheel is built offline (`--no-index --no-build-isolation`, setuptools from the dev extras) from
the files an sdist carries (MANIFEST.in), copied apart, so no stale `build/` of the clone leaks in.
"""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDIST_FILES = ["setup.py", "pyproject.toml", "settings.ini", "README.md", "MANIFEST.in"]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    "llama-cpp-python's server with SmolLM2-135M-Instruct on a free loopback port, for the whole session."
    from tripost.teacher import LocalLlamaServer
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with LocalLlamaServer(log_file=log, model_alias="smollm2") as server:
        yield server


@pytest.fixture
def fault_server():
    "A factory: `fault_server(responder, **options)` starts a FaultServer that is stopped after the test."
    from fault_server import FaultServer
    started = []
    def start(responder, **kw):
        s = FaultServer(responder, **kw).start(); started.append(s); return s
    yield start
    for s in started: s.stop()


@pytest.fixture(scope="session")
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
