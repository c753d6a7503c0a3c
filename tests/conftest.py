"""Fixtures for the teacher's tests: a real local OpenAI-compatible LLM server, and the fault server.

The llama.cpp server needs `pip install 'llama-cpp-python[server]'`. Without it the test that uses
`llama_server` FAILS (it does not skip): CI must install it.
"""
import pytest


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
