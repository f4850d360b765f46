"""Crash safety of ``noisenil tune``: atomic records, resume from torn or stale records, a lost
worker's lease, and kill -9 at many moments of a sweep (slow; ``.ci/run`` runs it)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras_tuner as kt
import pandas as pd
import pytest

from conftest import PROJECT_ROOT
from noisenil.config import load_config
from noisenil.config.atomic import PAUSE_ENV, PAUSE_MARKER_ENV, write_json
from noisenil.tuning.experiment import tune
from noisenil.tuning.experiment_oracle import RandomSearchOracle

DEBUG = str(PROJECT_ROOT / "configs" / "debug.yaml")


# ----------------------------------------------------------------------------- the records


def _oracle(project: Path, max_trials: int = 4) -> RandomSearchOracle:
    oracle = RandomSearchOracle(objective=kt.Objective("val_snr", "max"), max_trials=max_trials,
                                seed=1)
    oracle._set_project_dir(str(project.parent), project.name)
    hp = oracle.get_space()
    hp.Choice("filters", [4, 8, 16, 32])
    oracle.update_space(hp)
    return oracle


def _run(oracle, tuner_id: str, score: float | None = 1.0):
    """One trial through the oracle as a tuner would run it (``None``: left running)."""
    trial = oracle.create_trial(tuner_id)
    if score is not None:
        oracle.update_trial(trial.trial_id, {"val_snr": score})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return trial


def test_oracle_and_trial_records_are_written_whole(tmp_path, monkeypatch):
    project = tmp_path / "tuner" / "dncnn"
    oracle = _oracle(project)
    _run(oracle, "tuner0", 2.0)
    before = (project / "oracle.json").read_text()

    def torn_replace(src, dst):  # a kill between the temporary file and the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", torn_replace)
    with pytest.raises(KeyboardInterrupt):
        oracle.save()
    monkeypatch.undo()
    assert (project / "oracle.json").read_text() == before  # the old file, whole
    assert not list(project.rglob("*.partial*"))            # and no temporary left
    assert json.loads((project / "trial_0" / "trial.json").read_text())["status"] == "COMPLETED"


def test_an_ended_trial_left_on_the_running_list_is_not_run_again(tmp_path):
    """Keras Tuner saves oracle.json before it takes an ended trial off its running list: the
    issue's rerun of a completed trial after a restart."""
    project = tmp_path / "tuner" / "dncnn"
    oracle = _oracle(project)
    done = _run(oracle, "tuner0", 3.0)
    state = json.loads((project / "oracle.json").read_text())
    state["ongoing_trials"] = {"tuner0": done.trial_id}  # as saved inside end_trial
    state["end_order"] = []
    write_json(project / "oracle.json", state)
    running = json.loads((project / "trial_0" / "trial.json").read_text())
    assert running["status"] == "COMPLETED"

    again = _oracle(project)
    again.reload()
    assert again._retry_queue == [] and again.end_order == ["0"]
    nxt = again.create_trial("tuner0")
    assert nxt.trial_id == "1" and nxt.hyperparameters.values != done.hyperparameters.values


def test_torn_and_missing_records_are_rebuilt_from_what_is_intact(tmp_path):
    project = tmp_path / "exp" / "tuner" / "dncnn"
    oracle = _oracle(project)
    first, second = _run(oracle, "tuner0", 1.5), _run(oracle, "tuner0", 2.5)
    running = _run(oracle, "tuner0", None)  # in flight when the process died
    # trials.csv has the ended trials (written after each one).
    pd.DataFrame([{"model": "dncnn", "trial_id": t.trial_id, "status": "COMPLETED",
                   "val_snr": s, "best_epoch": 1, "epochs_run": 1, "params": 10, "wall_s": 1.0,
                   "tuner_id": "tuner0", "reason": "",
                   "hp.filters": t.hyperparameters.values["filters"]}
                  for t, s in ((first, 1.5), (second, 2.5))]).to_csv(
        tmp_path / "exp" / "trials.csv", index=False)
    (project / "oracle.json").write_text("")                      # torn (0 bytes)
    (project / "trial_1" / "trial.json").write_text('{"trial_id": ')  # torn mid-write

    again = _oracle(project)
    again.reload()
    assert again.trials["1"].status == "COMPLETED" and again.trials["1"].score == 2.5
    assert again.trials["1"].hyperparameters.values == second.hyperparameters.values
    assert again.trials["0"].score == 1.5 and again.end_order == ["0", "1"]
    assert again._retry_queue == [running.trial_id]  # run again under its id
    rerun = again.create_trial("tuner0")
    assert rerun.trial_id == "2" and rerun.hyperparameters.values == running.hyperparameters.values
    rerun.status = "COMPLETED"
    again.update_trial("2", {"val_snr": 0.5})
    again.end_trial(rerun)
    fourth = again.create_trial("tuner0")
    values = {json.dumps(t.hyperparameters.values) for t in again.trials.values()}
    assert fourth.trial_id == "3" and len(values) == 4  # none tried twice
    assert json.loads((project / "trial_1" / "trial.json").read_text())["score"] == 2.5


def test_a_trial_recorded_but_not_yet_in_the_oracle_is_created_anew(tmp_path):
    project = tmp_path / "tuner" / "dncnn"
    oracle = _oracle(project)
    _run(oracle, "tuner0", 1.0)
    saved = (project / "oracle.json").read_text()
    _run(oracle, "tuner0", None)
    (project / "oracle.json").write_text(saved)  # killed between trial.json and oracle.json
    again = _oracle(project)
    again.reload()
    assert sorted(again.trials) == ["0"] and again._retry_queue == []
    assert again.create_trial("tuner0").trial_id == "1"


def test_a_silent_worker_loses_its_trial_to_the_others(tmp_path, caplog):
    project = tmp_path / "tuner" / "dncnn"
    oracle = _oracle(project, max_trials=2)
    oracle.lease_s = 0.5
    lost = oracle.create_trial("tuner1")
    done = _run(oracle, "tuner0", 1.0)
    # No trial left to create, but tuner1's may come back: tuner0 waits instead of stopping,
    # while tuner1's heartbeats (asking for its trial) keep its lease.
    for _ in range(6):
        assert oracle.create_trial("tuner0").status == "IDLE"
        oracle.get_trial(lost.trial_id)
        time.sleep(0.15)
    assert oracle.requeue_lost() == [] and "tuner1" in oracle.ongoing_trials
    with caplog.at_level(logging.WARNING, logger="noisenil.tuning.experiment_oracle"):
        for _ in range(10):  # tuner1 is gone: no more heartbeats; tuner0 keeps asking
            again = oracle.create_trial("tuner0")
            if again.status != "IDLE":
                break
            time.sleep(0.15)
    assert f"worker tuner1 lost, trial {lost.trial_id} requeued" in caplog.text
    assert again.trial_id == lost.trial_id and "tuner1" not in oracle.tuner_ids
    oracle.update_trial(again.trial_id, {"val_snr": 2.0})
    again.status = "COMPLETED"
    oracle.end_trial(again)
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert oracle.ongoing_trials == {} and oracle.tuner_ids == set()  # the chief may exit
    # The lost worker comes back with its result: the trial is kept as first recorded.
    late = kt.engine.trial.Trial(lost.hyperparameters, trial_id=lost.trial_id,
                                 status="COMPLETED")
    oracle.end_trial(late)
    assert oracle.end_order == [done.trial_id, lost.trial_id]
    assert oracle.trials[lost.trial_id].score == 2.0
    saved = json.loads((project / "oracle.json").read_text())
    assert saved["ongoing_trials"] == {} and saved["retry_queue"] == []


# ----------------------------------------------------------------------------- a real sweep


def _args(demo_dir, results, *extra):
    args = ["-q", "tune", "--config", DEBUG, "--experiment", "crash"]
    for item in [f"data.demo_dir={demo_dir}", f"tune.results_dir={results}",
                 "train.tensorboard=false", "tune.models=[dncnn]", *extra]:
        args += ["--set", item]
    return args


@pytest.mark.slow  # ~17 s: run by .ci/run
def test_a_sweep_with_torn_keras_tuner_files_resumes(demo_dir, tmp_path):
    """The issue's state after kill -9 with Keras Tuner's own writes: oracle.json and a finished
    trial's trial.json at 0 bytes, the tuner's file gone. The rerun continues."""
    overrides = [f"data.demo_dir={demo_dir}", f"tune.results_dir={tmp_path}",
                 "train.tensorboard=false", "tune.models=[dncnn]", "tune.epochs=1"]
    first = tune(load_config(DEBUG, overrides=[*overrides, "tune.max_trials=2"]),
                 experiment="crash", progress=False)
    project = tmp_path / "crash" / "tuner" / "dncnn"
    before = {r["trial_id"]: r for r in first.trials.to_dict("records")}
    (project / "oracle.json").write_text("")
    (project / "trial_1" / "trial.json").write_text("")
    (project / "tuner0.json").unlink()
    res = tune(load_config(DEBUG, overrides=[*overrides, "tune.max_trials=3"]),
               experiment="crash", progress=False)
    rows = {r["trial_id"]: r for r in res.trials.to_dict("records")}
    assert sorted(rows) == ["0", "1", "2"] and {r["status"] for r in rows.values()} == {
        "COMPLETED"}
    objective = res.objective
    for trial_id, row in before.items():  # kept, not rerun
        assert rows[trial_id][objective] == pytest.approx(row[objective])
        assert rows[trial_id]["wall_s"] == row["wall_s"]
    assert json.loads((project / "trial_1" / "trial.json").read_text())["status"] == "COMPLETED"


# ----------------------------------------------------------------------------- kill -9


#: Where each run of the kill test is killed, in order: ``("write", "<glob>@<n>")`` pauses
#: inside the n-th write of a matching file in that process (the atomic-write test hook) and
#: kills it there; ``("after", k, s)`` kills ``s`` seconds after k more trials have completed.
#: Start-up and the first trial of a process first (no progress), then moments at and after
#: the end of a trial (Keras Tuner's oracle and trial records, the tuner's file, trials.csv),
#: then the results written once the search has ended.
KILLS = [
    ("after", 0, 0.5), ("write", "config.yaml@1"), ("write", "experiment.json@1"),
    ("write", "oracle.json@1"), ("write", "trial.json@1"), ("write", "checkpoint*@1"),
    ("write", "build_config.json@1"), ("write", "noisenil.json@1"), ("write", "trial.json@2"),
    ("write", "oracle.json@2"), ("after", 0, 2.0), ("write", "checkpoint*@2"),
    ("write", "oracle.json@3"), ("after", 0, 4.0), ("write", "trial.json@3"),
    ("write", "oracle.json@4"), ("write", "tuner0.json@1"), ("write", "noisenil.json@2"),
    ("write", "trials.csv@1"), ("after", 0, 3.0), ("write", "build_config.json@1"),
    ("write", "trial.json@2"), ("after", 1, 0.2), ("write", "trials.csv@1"),
    ("write", "best_hparams.yaml@1"), ("write", "best.keras@1"), ("write", "summary.md@1"),
]
MAX_TRIALS = 7


def _completed(project: Path) -> dict[str, dict]:
    """``{trial id: (score, values, started)}`` of every trial recorded as COMPLETED."""
    out = {}
    for path in project.glob("trial_*/trial.json"):
        record = json.loads(path.read_text())  # atomic: never torn
        if record["status"] == "COMPLETED":
            info = json.loads((path.parent / "noisenil.json").read_text())
            out[record["trial_id"]] = (record["score"], record["hyperparameters"]["values"],
                                       info["started"])
    return out


@pytest.mark.slow  # 27 processes killed and resumed, ~4 min on 2 cores; .ci/run runs it
def test_kill_9_anywhere_in_a_sweep_loses_and_repeats_nothing(demo_dir, tmp_path):
    args = [sys.executable, "-m", "noisenil.cli", *_args(
        demo_dir, tmp_path, f"tune.max_trials={MAX_TRIALS}", "tune.epochs=2")]
    project = tmp_path / "crash" / "tuner" / "dncnn"
    marker = tmp_path / "paused"
    seen: dict[str, tuple] = {}  # every trial ever recorded COMPLETED, as first recorded
    kills, repeated, lost, log = 0, set(), set(), []
    for kill in KILLS:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        if kill[0] == "write":
            env.update({PAUSE_ENV: kill[1], PAUSE_MARKER_ENV: str(marker)})
        marker.unlink(missing_ok=True)
        done_before = len(_completed(project)) if project.exists() else 0
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        deadline, fire_at = time.monotonic() + 240, None
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if kill[0] == "write" and marker.exists() and marker.read_text():
                    break
                if kill[0] == "after" and fire_at is None and project.exists() and len(
                        _completed(project)) >= done_before + kill[1]:
                    fire_at = time.monotonic() + kill[2]
                if fire_at is not None and time.monotonic() >= fire_at:
                    break
                time.sleep(0.05)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
                log.append(f"{kill} in {marker.read_text() if marker.exists() else '-'}")
            stderr = proc.communicate(timeout=60)[1]
        finally:
            if proc.poll() is None:
                proc.kill()
        if proc.returncode != -signal.SIGKILL:  # it ran to the end before the moment came
            assert proc.returncode == 0, f"{kill}: the resumed sweep failed:\n{stderr[-3000:]}"
            log.append(f"{kill}: finished first")
        now = _completed(project) if project.exists() else {}
        for trial_id, record in seen.items():
            if trial_id not in now:
                lost.add(trial_id)
            elif now[trial_id] != record:  # rerun: other start time (or score)
                repeated.add(trial_id)
        seen.update({k: v for k, v in now.items() if k not in seen})

    final = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert final.returncode == 0, final.stderr[-3000:]
    now = _completed(project)
    repeated |= {k for k, v in seen.items() if k in now and now[k] != v}
    lost |= {k for k in seen if k not in now}
    table = pd.read_csv(tmp_path / "crash" / "trials.csv", dtype={"trial_id": str})
    print(f"\nkills tried: {kills} of {len(KILLS)} moments; trials asked {MAX_TRIALS}, "
          f"completed {len(now)}, repeated {len(repeated)}, lost {len(lost)}\n" + "\n".join(log))
    assert kills >= 20
    assert (lost, repeated) == (set(), set())
    assert sorted(now) == [str(i) for i in range(MAX_TRIALS)]
    assert sorted(table["trial_id"]) == sorted(now) and (table["status"] == "COMPLETED").all()
    assert len({json.dumps(v[1], sort_keys=True) for v in now.values()}) == MAX_TRIALS
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == sorted(now) and oracle["ongoing_trials"] == {}
    assert (tmp_path / "crash" / "dncnn" / "best.keras").is_file()
    assert (tmp_path / "crash" / "summary.md").is_file()


# ----------------------------------------------------------------------------- a lost worker


@pytest.mark.slow  # a chief and two workers on 127.0.0.1, ~2.5 min on 2 cores; .ci/run runs it
def test_a_lost_worker_s_trial_is_requeued_and_nothing_reruns_after_a_restart(demo_dir,
                                                                              tmp_path):
    """The issue's hang: kill -9 one of two workers mid-trial. The chief gives up on it after
    tune.worker_lease_s, the survivor runs its trial, the sweep ends with trials.csv and
    summary.md; rerun (extended by one trial per model), no finished trial runs again."""
    from test_tuning import _free_ports, outputs_of, start_tuner, tuner_processes

    from noisenil.config.atomic import read_json

    def command(max_trials):
        args = [sys.executable, "-m", "noisenil.cli", "-q", "tune", "--config", DEBUG]
        for item in [f"data.demo_dir={demo_dir}", f"tune.results_dir={tmp_path}",
                     "train.tensorboard=false", "tune.models=[unet,dncnn]",
                     f"tune.max_trials={max_trials}", "tune.worker_lease_s=6"]:
            args += ["--set", item]
        return args

    root, base = tmp_path / "debug", _free_ports(2)
    start = time.monotonic()
    with tuner_processes({tuner_id: start_tuner(command(4), tmp_path, base, tuner_id)
                          for tuner_id in ("chief", "tuner0", "tuner1")}) as procs:
        deadline = time.monotonic() + 300
        while True:  # tuner1 has a trial of the first model: kill it while it trains
            ongoing = (read_json(root / "tuner" / "unet" / "oracle.json") or {}).get(
                "ongoing_trials", {})
            if "tuner1" in ongoing:
                break
            assert time.monotonic() < deadline and procs["tuner1"].poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(procs["tuner1"].pid, signal.SIGKILL)
        procs["tuner1"].wait(timeout=30)
        lost = ongoing["tuner1"]
        outputs = outputs_of({k: procs[k] for k in ("chief", "tuner0")}, timeout=400)
    first_s = time.monotonic() - start
    assert f"worker tuner1 lost, trial {lost} requeued" in outputs["chief"]
    table = pd.read_csv(root / "trials.csv", dtype={"trial_id": str})
    for model in ("unet", "dncnn"):
        rows = table[table["model"] == model]
        assert sorted(rows["trial_id"]) == ["0", "1", "2", "3"]  # every trial once
        assert (rows["status"] == "COMPLETED").all()
        assert (root / model / "best.keras").is_file()
    assert table.set_index(["model", "trial_id"]).loc[("unet", lost), "tuner_id"] == "tuner0"
    assert "| unet | 4 | 0 |" in (root / "summary.md").read_text()

    def started():
        return {p.parent.name + "/" + p.parent.parent.name: json.loads(p.read_text())["started"]
                for p in root.glob("tuner/*/trial_*/noisenil.json")}

    before = started()
    with tuner_processes({tuner_id: start_tuner(command(5), tmp_path, base, tuner_id)
                          for tuner_id in ("chief", "tuner0")}) as procs:
        outputs_of(procs, timeout=400)
    after = started()
    assert {k: after[k] for k in before} == before  # nothing ran again
    assert sorted(set(after) - set(before)) == ["trial_4/dncnn", "trial_4/unet"]
    table = pd.read_csv(root / "trials.csv", dtype={"trial_id": str})
    assert len(table) == 10 and (table["status"] == "COMPLETED").all()
    print(f"\nlost worker: sweep of 2 x 4 trials finished in {first_s:.0f} s with one worker "
          f"killed (trial {lost} requeued); restart ran 2 new trials and repeated none")
