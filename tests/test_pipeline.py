"""The TriPosT loop as a user runs it: the `tripost` command, stopped hard and started again."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUN = [sys.executable, "-c", "import sys; from tripost.cli import main; sys.exit(main())", "run", "--preset", "tiny",
       "--quiet", "--tasks", "multistep_arithmetic"]


def tripost_run(root, name, **kw):
    return subprocess.run(RUN + ["--root", str(root), "--name", name], capture_output=True, text=True, timeout=600, **kw)


def stages(run_dir):
    return [json.loads(l)["stage"] for l in (run_dir / "timings.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def all_tasks(tmp_path_factory):
    "`tripost run --preset tiny --tasks all`, uninterrupted: its folder, the finished process and its seconds."
    root = tmp_path_factory.mktemp("all")
    t0 = time.time()
    r = subprocess.run(RUN[:-2] + ["--tasks", "all", "--root", str(root)], capture_output=True, text=True, timeout=900)
    return root / "tiny", r, time.time() - t0


def test_resume_after_kill_9_in_iteration_2(tmp_path, all_tasks):
    full, r, _ = all_tasks
    assert r.returncode == 0, r.stderr[-3000:]
    # the uninterrupted run of all four tasks is the reference: each task's stages seed themselves, so a task's
    # results do not depend on the tasks run beside it
    expected = {"multistep_arithmetic": json.loads((full / "results.json").read_text())["multistep_arithmetic"]}

    run_dir = tmp_path / "stopped"
    proc = subprocess.Popen(RUN + ["--root", str(tmp_path), "--name", "stopped"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    def in_iteration_2(): # iteration 2's rollouts are written and timed (the stage is over)
        t = run_dir / "timings.jsonl"
        return t.exists() and "multistep_arithmetic/iter-2/rollouts" in t.read_text()
    deadline = time.time() + 500
    while not in_iteration_2() and proc.poll() is None and time.time() < deadline: time.sleep(0.02)
    assert in_iteration_2() and proc.poll() is None, "the run should be in iteration 2 when it is killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "results.json").exists()
    done_before = stages(run_dir)
    assert "multistep_arithmetic/iter-2/rollouts" in done_before

    again = tripost_run(tmp_path, "stopped")
    assert again.returncode == 0, again.stderr[-3000:]
    after = stages(run_dir)
    assert after[:len(done_before)] == done_before
    assert len(after) == len(set(after)), "a finished stage ran again"
    assert not set(after[len(done_before):]) & set(done_before)
    assert {"multistep_arithmetic/iter-1/edit", "multistep_arithmetic/iter-2/eval", "multistep_arithmetic/trigger-2/eval"} <= set(after)
    assert json.loads((run_dir / "results.json").read_text()) == expected


def test_a_second_process_in_a_run_folder_stops_at_once(tmp_path):
    "`tripost run` in a folder another process holds (`hold_run_folder`) stops before any work: exit 1, naming the holder."
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path; from tripost.pipeline import hold_run_folder\n"
                               f"with hold_run_folder(Path({str(tmp_path / 'tiny')!r})): print('held', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        second = tripost_run(tmp_path, "tiny")
        assert second.returncode == 1, second.stderr[-2000:]
        assert f"tripost: {tmp_path / 'tiny'} is in use by another tripost process (pid {holder.pid} on" in second.stderr
        assert not (tmp_path / "tiny" / "multistep_arithmetic").exists(), "no stage may run"
    finally:
        holder.communicate("", timeout=60)


def test_ctrl_c_says_the_run_resumes(tmp_path):
    "Ctrl-C (SIGINT) ends `tripost run` with exit 130 and a line saying the same command resumes, not a traceback."
    run_dir = tmp_path / "tiny"
    # a shell without job control starts background commands with SIGINT ignored, and children inherit that (so would
    # tripost, as Python then installs no KeyboardInterrupt handler): give the run the default, as a terminal would
    proc = subprocess.Popen(RUN + ["--root", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while not (run_dir / "timings.jsonl").exists() and proc.poll() is None and time.time() < deadline: time.sleep(0.02)
    assert proc.poll() is None, "the run should still be going when it is interrupted"
    proc.send_signal(signal.SIGINT) # at the end of its first stage, with some twenty more to go
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == "tripost: interrupted; the same command resumes where it stopped"
    assert "Traceback" not in err


def test_bad_config_stops_before_any_work(tmp_path):
    r = subprocess.run(RUN[:-2] + ["--tasks", "arithmetic", "--root", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and "config field 'tasks': unknown task 'arithmetic'" in r.stderr
    r = subprocess.run(RUN + ["--root", str(tmp_path), "--set", "student=/no/such/model"], capture_output=True, text=True)
    assert r.returncode == 2 and "config field 'student': no model folder at /no/such/model" in r.stderr
    assert not any(tmp_path.iterdir()), "nothing may be written for a bad config"


def test_tiny_preset_runs_end_to_end_on_all_tasks(all_tasks):
    full, r, secs = all_tasks
    print(f"tripost run --preset tiny --tasks all: {secs:.0f} s")
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads((full / "results.json").read_text())
    assert sorted(results) == sorted(["multistep_arithmetic", "word_sorting", "date_understanding", "logical_deduction"])
    for task, models in results.items():
        assert {"ft_rationale", "iter-1", "iter-2", "trigger-1", "trigger-2", "ft_si_demo", "lmsi", "gold_control-1", "gold_control-2"} <= set(models), task
        for m in models.values(): assert 0 <= m["total"] <= 1 and m["n"] > 0
    for line in r.stdout.splitlines()[-4:]: assert "seen" in line and "total" in line


def test_quiet_run_draws_no_progress_bars(all_tasks):
    "`--quiet`: no bar of ours, of transformers' (loading, writing weights) or of datasets'; stdout holds only the results."
    _, r, _ = all_tasks
    assert r.returncode == 0, r.stderr[-3000:]
    for bar in ("it/s]", "Loading weights", "Writing model shards", "Saving the dataset"): assert bar not in r.stderr, bar
    assert all("seen" in line and "total" in line for line in r.stdout.splitlines()), r.stdout[:2000]


def test_one_whole_iteration_on_16_questions(tmp_path):
    from tripost.pipeline import make_config, run_tripost
    from tripost.rebalancing import load_training_set
    cfg = make_config("tiny", root=str(tmp_path), tasks=["multistep_arithmetic"], n_train=16, window=16,
                      iterations=1, baselines=[])
    t0 = time.time()
    res = run_tripost(cfg, progress=False)["multistep_arithmetic"]
    print(f"ft rationale + one TriPosT iteration on 16 questions (tiny model): {time.time() - t0:.0f} s")
    it = tmp_path / "tiny" / "multistep_arithmetic" / "iter-1"
    rollouts = [json.loads(l) for l in (it / "rollouts.jsonl").read_text().splitlines()]
    edits = [json.loads(l) for l in (it / "edits.jsonl").read_text().splitlines()]
    assert len(rollouts) == len(edits) == 16
    examples, card = load_training_set(it / "train")
    assert card["trajectories"] == 16 == card["correct"] + card["fixed"] + card["dropped"]
    assert len(examples) == card["examples"] > 0
    assert (it / "model" / "training.json").exists() and res["iter-1"]["n"] > 0
