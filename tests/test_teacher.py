"""The teacher against real loopback servers: the fault server (seeded failures) and a real llama.cpp server.

openai 3.x talks through httpx2, so these tests use real HTTP servers on 127.0.0.1, not transport mocks.
"""
import json
import logging
import os
import random
import secrets
import time
from collections import Counter
from pathlib import Path

import pytest

from fault_server import BAD_LAYOUT, expert_responder
from tripost.format import Feedback
from tripost.tasks import get_task
from tripost.teacher import (LLMTeacher, MixedTeacher, ScriptedTeacher, Shot, TeacherError, check_feedback,
                             check_improvement)

FAST = dict(timeout=0.5, backoff=0.02, max_backoff=0.3, max_retries=5, seed=0, progress=False)
# at most 3 planned faults per item; the spare retries absorb the extra timeouts of a loaded machine
FAULTS = dict(FAST, max_retries=10)


@pytest.fixture(scope="module")
def arith():
    return get_task("multistep_arithmetic")


def make_items(task, n, seed=0):
    "n (example, attempt) pairs: corrupted gold rationales, and every fourth the gold rationale itself."
    rng = random.Random(seed)
    exs = task.generate(task.seen[0], n, seed=seed + 100)
    return [(ex, task.gold_rationale(ex) if i % 4 == 3 else task.corrupt(ex, rng)[0]) for i, ex in enumerate(exs)]


def files_text(folder):
    return "\n".join(p.read_text(errors="replace") for p in Path(folder).rglob("*") if p.is_file())


# ---------------------------------------------------------------- the fault server

@pytest.mark.parametrize("mode", ["chat", "completions"])
def test_200_requests_through_faults(arith, fault_server, tmp_path, mode):
    items = make_items(arith, 200)
    server = fault_server(expert_responder(arith, [ex for ex, _ in items]), seed=1)
    teacher = LLMTeacher(arith, "fault-model", server.base_url, mode=mode, cache_dir=tmp_path, concurrency=16, **FAULTS)
    res = teacher.feedback_batch(items)
    stats, served, plan = teacher.stats.as_dict(), server.served_summary(), server.plan_summary()
    status = Counter(r.status for r in res)
    print(mode, status, stats, served, plan)
    assert len(res) == 200 and sum(status.values()) == 200                      # none lost
    planned = plan["transient_planned"] + plan["bad_layout"]
    assert planned / (plan["prompts"] + plan["transient_planned"]) >= 0.30       # >= 30% faults (of a client that never times out early)
    assert served["faulty"] >= planned                                           # every planned fault served (load only adds good answers)
    assert set(served["by_kind"]) >= {"server_error", "rate_limited", "slow", "cut", "drop", "bad_layout"}
    assert status["failed"] == 0                                                 # every transient fault recovered
    assert stats["retries"] >= plan["transient_planned"]                        # ... each one met and retried
    assert status["invalid"] == plan["bad_layout"] > 0                           # wrong layout: rejected, with reason
    assert all(r.reason and r.reason.startswith("unparsable") and r.raw in BAD_LAYOUT for r in res if not r.ok)
    assert all(r.value == arith.feedback(ex, att) for r, (ex, att) in zip(res, items) if r.ok)
    assert served["retry_after_honoured"]
    assert stats["prompt_tokens"] > 0 and stats["completion_tokens"] > 0

    # the same batch again, by a new teacher on the same cache: no request, the same results
    before = served["total"]
    again = LLMTeacher(arith, "fault-model", server.base_url, mode=mode, cache_dir=tmp_path, concurrency=16, **FAULTS)
    res2 = again.feedback_batch(items)
    assert server.served_summary()["total"] == before and again.stats.as_dict()["requests"] == 0
    assert [(r.status, r.value, r.reason, r.raw) for r in res2] == [(r.status, r.value, r.reason, r.raw) for r in res]


def test_retries_exhausted_are_recorded_and_retried_next_run(arith, fault_server, tmp_path):
    items = make_items(arith, 30, seed=3)
    server = fault_server(expert_responder(arith, [ex for ex, _ in items]), seed=2, fault_rate=1.0, max_faults=3)
    kw = dict(FAST, max_retries=1)
    res = LLMTeacher(arith, "fault-model", server.base_url, cache_dir=tmp_path, concurrency=8, **kw).feedback_batch(items)
    bad = [r for r in res if r.status == "failed"]
    assert len(res) == 30 and bad and all(r.reason.startswith("retries exhausted: 2 requests") for r in bad)
    assert all(r.requests == 0 for r in bad) and all(r.value is None for r in bad)
    # failures are not cached: the next run asks again for those and only those
    n = server.served_summary()["total"]
    t2 = LLMTeacher(arith, "fault-model", server.base_url, cache_dir=tmp_path, concurrency=8, **dict(FAST, max_retries=5))
    res2 = t2.feedback_batch(items)
    assert all(r.status != "failed" for r in res2)
    assert t2.stats.as_dict()["cache_hits"] == 30 - len(bad)


def test_non_transient_errors_are_not_retried(arith, fault_server, tmp_path):
    server = fault_server(lambda q, b: "x")
    t = LLMTeacher(arith, "m", server.base_url.replace("/v1", "/nowhere"), cache_dir=tmp_path, **FAST)
    r = t.feedback_batch(make_items(arith, 2))
    assert [x.status for x in r] == ["failed", "failed"] and "http_404" in r[0].reason
    assert t.stats.as_dict()["requests"] == 2
    with pytest.raises(TeacherError, match="http_404"): t.feedback(*make_items(arith, 1)[0])


def test_concurrency_limit_and_same_prompt_asked_once(arith, fault_server, tmp_path):
    items = make_items(arith, 12, seed=4)
    server = fault_server(expert_responder(arith, [ex for ex, _ in items]), fault_rate=0, bad_layout_rate=0, delay_s=0.2)
    t = LLMTeacher(arith, "fault-model", server.base_url, cache_dir=tmp_path, concurrency=4, **FAST)
    res = t.feedback_batch(items + items + items)
    assert all(r.ok for r in res) and len(res) == 36
    assert server.served_summary()["total"] == 12 and t.stats.as_dict()["cache_hits"] == 24
    assert 2 <= server.max_in_flight <= 4


def test_validation_rejects_wrong_feedback(arith, fault_server, tmp_path):
    "An LLM that answers in the right layout but wrongly: each kind of mistake is rejected with its reason."
    items = [it for it in make_items(arith, 60, seed=6) if arith.feedback(*it).step not in (None, "1")][:12]
    by_q = {ex.question.strip(): (ex, att) for ex, att in items}
    kinds = ["no such step", "quote not in step", "inconsistent", "expert disagrees"]
    def wrong(query, body):
        ex, att = by_q[query.split("\n")[0][3:].strip()]
        fb, i = arith.feedback(ex, att), list(by_q).index(ex.question.strip()) % 4
        if i == 0: fb = Feedback.error("99", fb.part, fb.reason, "98")
        if i == 1: fb = Feedback.error(fb.step, fb.part + " and more", fb.reason, fb.before)
        if i == 2: fb = Feedback(False, fb.step, fb.part, fb.reason, None)
        if i == 3: fb = Feedback.all_correct(att.strip().split("\n")[-2].split(")")[0][1:])
        return fb.line
    server = fault_server(wrong, fault_rate=0, bad_layout_rate=0)
    t = LLMTeacher(arith, "fault-model", server.base_url, cache_dir=tmp_path, agree=True, log_dir=tmp_path / "run", **FAST)
    res = t.feedback_batch(items)
    assert not any(r.ok for r in res)
    got = [r.reason.split(":")[0] for r in res]
    assert got == [kinds[i % 4] for i in range(len(items))], got
    log = [json.loads(l) for l in (tmp_path / "run" / "teacher.jsonl").read_text().splitlines()]
    assert len(log) == len(items) and all(r["status"] == "invalid" and r["reason"] for r in log)


def test_improvement_checks_and_mixed_teacher(arith, fault_server, tmp_path):
    items = [it for it in make_items(arith, 40, seed=7) if not arith.feedback(*it).correct][:10]
    triples = [(ex, att, arith.feedback(ex, att)) for ex, att in items]
    server = fault_server(expert_responder(arith, [ex for ex, _ in items]), seed=3)
    llm = LLMTeacher(arith, "fault-model", server.base_url, cache_dir=tmp_path, agree=True, concurrency=4, **FAST)
    mixed = MixedTeacher(arith, llm)
    fbs = mixed.feedback_batch(items)                         # scripted: no request
    assert [r.value for r in fbs] == [fb for _, _, fb in triples] and llm.stats.as_dict()["requests"] == 0
    imps = mixed.improve_batch(triples)
    assert all(r.status in ("used", "invalid") and (r.ok or r.reason) for r in imps)
    assert sum(r.ok for r in imps) >= 7
    for r, (ex, att, fb) in zip(imps, triples):
        if r.ok:
            assert r.value == arith.improve(ex, att, fb) and arith.feedback(ex, r.value).correct
    # an improvement that rewrites the correct prefix, or leaves the wrong step alone, is refused
    ex, att, fb = next(t for t in triples if t[2].step not in ("1", "Final response"))
    fixed = arith.improve(ex, att, fb)
    assert check_improvement(ex, att, fb, fixed, expert=arith) is None
    assert check_improvement(ex, att, fb, fixed.replace("(1) ", "(1) Well, ", 1)).startswith("prefix changed")
    assert check_improvement(ex, att, fb, att).startswith("wrong step unchanged")
    # all-correct feedback: nothing to ask, the attempt is the answer
    ex, gold = items[0][0], arith.gold_rationale(items[0][0])
    assert mixed.improve(ex, gold, arith.feedback(ex, gold)) == gold


def test_no_key_for_a_remote_api_is_a_clear_error(arith, monkeypatch, tmp_path):
    for v in ("TRIPOST_TEACHER_API_KEY", "OPENAI_API_KEY"): monkeypatch.delenv(v, raising=False)
    t = LLMTeacher(arith, "gpt-x", cache_dir=tmp_path, progress=False)
    r = t.feedback_batch(make_items(arith, 1))
    assert r[0].status == "failed" and "no API key" in r[0].reason and "TRIPOST_TEACHER_API_KEY" in r[0].reason


def test_the_key_never_appears(arith, fault_server, tmp_path, monkeypatch, caplog, capfd):
    key = "sk-tripost-test-" + secrets.token_hex(16)
    monkeypatch.setenv("TRIPOST_TEACHER_API_KEY", key)
    caplog.set_level(logging.DEBUG)                       # every logger, openai's and httpx2's included
    items = make_items(arith, 40, seed=8)
    # a server that echoes the Authorization header back in its error messages
    server = fault_server(expert_responder(arith, [ex for ex, _ in items]), seed=4, echo_auth=True, fault_rate=0.8)
    run, cache = tmp_path / "run", tmp_path / "cache"
    t = LLMTeacher(arith, "fault-model", server.base_url, cache_dir=cache, log_dir=run, concurrency=8,
                   **dict(FAST, max_retries=1))  # some items fail: their reasons quote the server's error
    res = t.feedback_batch(items)
    t.feedback_batch(items)
    print(t, t.endpoint, t.stats, res[0])
    assert json.loads((run / "teacher_stats.json").read_text())["items"] == 80
    assert f"Bearer {key}" in server.auth_seen                       # the key was really sent
    assert server.served_summary()["by_kind"].get("server_error")    # and echoed back in errors
    assert any(r.status == "failed" and "server_error" in r.reason for r in res)
    out, err = capfd.readouterr()
    assert files_text(run) and files_text(cache)
    hits = {name: text.count(key) for name, text in
            [("run folder", files_text(run)), ("cache", files_text(cache)), ("logs", caplog.text),
             ("stdout", out), ("stderr", err), ("results", repr(res))]}
    assert hits == dict.fromkeys(hits, 0), hits
    assert key not in repr(t) and key not in repr(t.endpoint) and key not in json.dumps(t.endpoint.request(
        t.feedback_prompt(*items[0]), {}))


def test_scripted_teacher_batches(arith):
    items = make_items(arith, 8)
    res = ScriptedTeacher(arith).feedback_batch(items)
    assert [r.value for r in res] == [arith.feedback(*it) for it in items]
    assert all(check_feedback(ex, att, r.value, expert=arith) is None for r, (ex, att) in zip(res, items))


# ---------------------------------------------------------------- a real LLM server

def test_real_llama_server_end_to_end(arith, llama_server, tmp_path):
    "SmolLM2-135M behind llama-cpp-python's OpenAI-compatible server: the checks keep out what is wrong."
    items = make_items(arith, 8, seed=5)
    kw = dict(mode="completions", cache_dir=tmp_path / "cache", concurrency=2, progress=False,
              max_tokens_feedback=100, max_tokens_improve=250, timeout=120)
    t = LLMTeacher(arith, "smollm2", llama_server.base_url, log_dir=tmp_path / "run", **kw)
    t0 = time.time()
    res = t.feedback_batch(items)
    status = Counter(r.status for r in res)
    print(f"\nSmolLM2 feedback ({time.time() - t0:.0f} s): {dict(status)}; reasons: {dict(t.stats.reasons)}")
    for r in res: print("  ", repr((r.raw or "")[:120]), "->", r.status, (r.reason or "")[:80])
    assert llama_server.exit_reason() is None, f"the llama.cpp server {llama_server.exit_reason()}"
    assert len(res) == 8 and status["failed"] == 0 and status["used"] + status["invalid"] == 8
    assert t.stats.as_dict()["requests"] == 8 and t.stats.as_dict()["completion_tokens"] > 0
    assert all(r.reason for r in res if not r.ok)
    assert all(check_feedback(ex, att, r.value) is None for r, (ex, att) in zip(res, items) if r.ok)

    # the same answers judged with agreement required (from the cache: no new request)
    strict = LLMTeacher(arith, "smollm2", llama_server.base_url, agree=True, **kw)
    sres = strict.feedback_batch(items)
    assert strict.stats.as_dict()["requests"] == 0 and all(r.cached for r in sres)
    agreed = 0
    for r, (ex, att) in zip(sres, items):
        ref = arith.feedback(ex, att)
        if r.ok:
            assert (r.value.correct, r.value.step) == (ref.correct, ref.step); agreed += 1
    print(f"kept with the scripted expert's agreement: {agreed}/8; rejected: {8 - agreed}/8")
    assert agreed < 8 or all(r.ok for r in res)   # a 135M model is not an oracle: strict can only keep fewer

    # when the model does write well-formed, right feedback, it is kept: here the right answers are in the
    # prompt (each query is also a worked example), and a 135M model can copy
    copy = LLMTeacher(arith, "smollm2", llama_server.base_url, agree=True, **kw)
    mine = [it for it in items if not arith.feedback(*it).correct][:2] + [it for it in items if arith.feedback(*it).correct][:1]
    copy.shots = [Shot(ex, att, arith.feedback(ex, att), None) for ex, att in mine]
    cres = copy.feedback_batch(mine)
    print("copying from the prompt:", Counter(r.status for r in cres), [r.reason for r in cres])
    assert sum(r.ok for r in cres) >= 1 and all(r.ok or r.reason for r in cres)
    assert all((r.value.correct, r.value.step) == (arith.feedback(ex, att).correct, arith.feedback(ex, att).step)
               for r, (ex, att) in zip(cres, mine) if r.ok)

    # improvements, the mixed teacher's way: scripted feedback, the LLM rewrites
    triples = [(ex, att, arith.feedback(ex, att)) for ex, att in items if not arith.feedback(ex, att).correct][:3]
    imps = MixedTeacher(arith, strict).improve_batch(triples)
    print("SmolLM2 improvements:", Counter(r.status for r in imps), [r.reason for r in imps])
    assert len(imps) == 3 and all(r.ok or r.reason for r in imps)
    for r, (ex, att, fb) in zip(imps, triples):
        if r.ok: assert arith.feedback(ex, r.value).correct or check_improvement(ex, att, fb, r.value, expert=arith) is None
