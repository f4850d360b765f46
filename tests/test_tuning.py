"""``noisenil tune``: experiment files, resume after kill -9, failed trials, strategies, chief +
workers, and bad configs refused before any training."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_ROOT, run_on_two_logical_cpus
from noisenil.cli import main
from noisenil.config import load_config, save_config
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.models import hypermodel_from_config
from noisenil.tuning.distributed import OracleWait, mark_search_done
from noisenil.tuning.experiment import load_experiment, tune
from noisenil.tuning.records import collect_trials
from noisenil.tuning.tuners import _reason

DEBUG = str(PROJECT_ROOT / "configs" / "debug.yaml")


def overrides(demo_dir, results, *extra):
    """The machinery tests pin the feature-domain objective (a Keras metric, cheap);
    test_the_default_objective_is_the_waveform_metric covers the default."""
    return [f"data.demo_dir={demo_dir}", f"tune.results_dir={results}",
            "train.tensorboard=false", "tune.objective=val_snr", *extra]


def debug_cfg(demo_dir, results, *extra):
    return load_config(DEBUG, overrides=overrides(demo_dir, results, *extra))


def trial_records(project: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text())
            for p in sorted(project.glob("trial_*/trial.json"))}


@pytest.fixture(scope="module")
def three_model_sweep(demo_dir, tmp_path_factory):
    """The debug sweep (three models, two trials each), run once for the tests that read it."""
    cfg = debug_cfg(demo_dir, tmp_path_factory.mktemp("sweep"), "train.tensorboard=true",
                    "train.validation_clips=0")  # val_snr objective: no waveform clips needed
    return cfg, tune(cfg, progress=False)


def test_a_three_model_sweep_writes_the_experiment(three_model_sweep):
    cfg, res = three_model_sweep
    assert cfg.tune.models == ["dncnn", "resnet_unet", "two_stage_unet"]
    root = Path(cfg.tune.results_dir) / "debug"
    assert res.experiment_dir == root
    assert load_config(root / "config.yaml") == cfg

    table = pd.read_csv(root / "trials.csv")
    assert len(table) == 6 and table.groupby("model").size().to_dict() == {
        "dncnn": 2, "resnet_unet": 2, "two_stage_unet": 2}
    assert (table["status"] == "COMPLETED").all()
    assert list(table.columns[:10]) == ["model", "trial_id", "status", "val_snr", "best_epoch",
                                        "epochs_run", "params", "wall_s", "tuner_id", "reason"]
    assert np.isfinite(table["val_snr"]).all() and (table["epochs_run"] == 1).all()
    assert (table["wall_s"] > 0).all() and (table["params"] > 0).all()
    # Every hyperparameter is a column; pinned ones carry their pinned value.
    assert {"hp.learning_rate", "hp.kernel_size", "hp.freeze_epochs", "hp.growth"} <= set(
        table.columns)
    assert (table.loc[table["model"] == "dncnn", "hp.filters"] == 8).all()

    for name in cfg.tune.models:
        best = res.best[name]
        rows = table[table["model"] == name]
        assert best.score == pytest.approx(rows["val_snr"].max(), abs=1e-5)
        # best_hparams.yaml is a whole config that names the winning network exactly.
        overlay = load_config(root / name / "best_hparams.yaml")
        assert overlay.model.name == name and overlay.data == cfg.data
        assert overlay.model.hparams == best.hparams
        assert hypermodel_from_config(overlay).free_hyperparameters() == []
        model = keras.saving.load_model(best.model_path)
        x = np.random.default_rng(0).random((1, 32, 64, 1), dtype=np.float32)
        assert model.predict(x, verbose=0).shape == x.shape
        # Disk stays bounded: only the best trial keeps its weights.
        assert len(list((root / "tuner" / name).glob("trial_*/checkpoint*"))) == 1
        assert (root / "tuner" / name / f"trial_{best.trial_id}" / "history.csv").exists()
    summary = (root / "summary.md").read_text()
    assert all(f"| {name} | 2 | 0 |" in summary for name in cfg.tune.models)
    assert "Best model: **" in summary
    # The noisy input's own score, on the same validation batches, is the bar to clear.
    assert set(res.baseline) == {"val_loss", "val_snr"} and np.isfinite(res.baseline["val_snr"])
    assert f"scores val_snr {res.baseline['val_snr']:.3f}" in summary
    assert list((root / "tuner" / "dncnn").glob("trial_*/logs/*/execution0/train"))


def test_the_default_objective_is_the_waveform_metric(demo_dir, tmp_path):
    """tune.objective defaults to val_delta_si_sdr: the SI-SDR gain of each trial's model on
    fixed validation clips through the inference path, in trials.csv and the best record."""
    cfg = load_config(DEBUG, overrides=[f"data.demo_dir={demo_dir}",
                                        f"tune.results_dir={tmp_path}", "tune.models=[unet]",
                                        "train.tensorboard=false", "tune.keep_trial_weights=true",
                                        "train.run_eagerly=false"])  # traced, as real sweeps
    assert cfg.tune.objective == "val_delta_si_sdr" and cfg.tune.mode == "max"
    res = tune(cfg, progress=False)
    assert list(res.trials.columns[:4]) == ["model", "trial_id", "status", "val_delta_si_sdr"]
    assert (res.trials["status"] == "COMPLETED").all()
    scores = res.trials["val_delta_si_sdr"]
    assert np.isfinite(scores).all() and res.best["unet"].score == pytest.approx(scores.max())
    # The noisy input's own scores on the same clips: 0 dB improvement by definition.
    assert res.baseline["val_delta_si_sdr"] == 0.0 and np.isfinite(res.baseline["val_si_sdr"])
    # tune.keep_trial_weights: every trial's weights stay (by default only the best's do).
    project = res.experiment_dir / "tuner" / "unet"
    kept = {p.parent.name for p in project.glob("trial_*/checkpoint*")}
    assert len(res.trials) >= 2 and kept == {f"trial_{t}" for t in res.trials["trial_id"]}


def test_load_experiment_gives_back_what_tune_returned(three_model_sweep):
    _, res = three_model_sweep
    loaded = load_experiment(res.experiment_dir)
    assert loaded.experiment_dir == res.experiment_dir
    pd.testing.assert_frame_equal(loaded.trials, res.trials)  # names, order, dtypes, values
    # The trials.csv table itself: the objective named after it, trial ids as in trial_<id>/.
    assert list(loaded.trials.columns[:4]) == ["model", "trial_id", "status", "val_snr"]
    assert loaded.trials["trial_id"].tolist() == ["0", "1"] * 3
    assert str(loaded.trials["params"].dtype) == "Int64"
    assert loaded.trials["hp.filters"].tolist() == [8, 8, pd.NA, pd.NA, 4, 4]  # pinned; none
    assert list(loaded.best) == list(res.best) == ["dncnn", "resnet_unet", "two_stage_unet"]
    for name, best in res.best.items():  # trial id, score, hyperparameters, both paths
        assert loaded.best[name] == best and best.model_path.is_file()
    assert (loaded.objective, loaded.direction, loaded.role) == ("val_snr", "max", "local")
    assert (res.objective, res.direction, res.role) == ("val_snr", "max", "local")
    assert loaded.baseline == res.baseline and set(res.baseline) == {"val_loss", "val_snr"}


def test_load_experiment_reads_a_copy_without_weights_or_record(three_model_sweep, tmp_path):
    """A copy without Keras Tuner's folders, the .keras files (git-ignored) and experiment.json
    (an experiment from before noisenil wrote it): trials and best as before, baseline unknown."""
    _, res = three_model_sweep
    copy = tmp_path / "attached"
    shutil.copytree(res.experiment_dir, copy,
                    ignore=shutil.ignore_patterns("tuner", "*.keras", "experiment.json"))
    loaded = load_experiment(copy)
    pd.testing.assert_frame_equal(loaded.trials, res.trials)
    assert (loaded.objective, loaded.direction, loaded.baseline) == ("val_snr", "max", {})
    assert loaded.best == {name: replace(b, hparams_path=copy / name / "best_hparams.yaml",
                                         model_path=None) for name, b in res.best.items()}


@pytest.mark.parametrize("files,message", [
    ({}, r"experiment_dir='.*[/\\]run': no trials\.csv \(not a tuning experiment folder\)"),
    ({"trials.csv": "model,trial\nunet,0\n"},
     (r"experiment_dir='.*[/\\]run': .*trials\.csv is not a trials\.csv written by noisenil "
      r"tune: its columns start \['model', 'trial'\]")),
    ({"trials.csv": "model,trial_id,status,val_snr,best_epoch,epochs_run,params,wall_s,tuner_id,"
                    "reason\n"},
     r"neither experiment\.json nor a config\.yaml .* direction of 'val_snr' is not recorded"),
])
def test_load_experiment_refuses_what_tune_did_not_write(tmp_path, files, message):
    run = tmp_path / "run"
    run.mkdir()
    for name, text in files.items():
        (run / name).write_text(text)
    with pytest.raises(NoiseNilError, match=message):
        load_experiment(run)
    with pytest.raises(NoiseNilError, match=r"experiment_dir='.*missing': no such folder"):
        load_experiment(tmp_path / "missing")


@pytest.mark.slow  # ~30 s: run by .ci/run (beside the 27-kill test of test_tuning_crashes)
def test_a_killed_sweep_resumes_without_losing_or_repeating_trials(demo_dir, tmp_path):
    args = ["tune", "--config", DEBUG, "--experiment", "killed"]
    for item in overrides(demo_dir, tmp_path, "tune.models=[unet]", "tune.max_trials=4",
                          "tune.epochs=2", "data.train_patches=32"):
        args += ["--set", item]
    project = tmp_path / "killed" / "tuner" / "unet"
    proc = subprocess.Popen([sys.executable, "-m", "noisenil.cli", "-q", *args], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            records = trial_records(project) if project.exists() else {}
            if any(r["status"] == "COMPLETED" for r in records.values()):
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {k: r for k, r in trial_records(project).items() if r["status"] == "COMPLETED"}
    assert 1 <= len(before) < 4

    assert main(["-q", *args]) == 0  # the same command again
    after = trial_records(project)
    assert sorted(after) == ["trial_0", "trial_1", "trial_2", "trial_3"]
    assert all(r["status"] == "COMPLETED" for r in after.values())
    for key, record in before.items():  # finished trials are kept as they were, not rerun
        assert after[key]["score"] == record["score"]
        assert after[key]["hyperparameters"]["values"] == record["hyperparameters"]["values"]
    table = pd.read_csv(tmp_path / "killed" / "trials.csv")
    assert sorted(table["trial_id"]) == [0, 1, 2, 3] and (table["epochs_run"] == 2).all()
    values = {json.dumps(r["hyperparameters"]["values"], sort_keys=True) for r in after.values()}
    assert len(values) == 4  # no hyperparameter set was tried twice


@pytest.mark.slow  # ~25 s: run by .ci/run
def test_failed_trials_are_recorded_and_the_sweep_goes_on(demo_dir, tmp_path):
    cfg = debug_cfg(
        demo_dir, tmp_path, "tune.models=[unet,dncnn]", "tune.max_trials=3",
        "tune.hparams.unet={base_filters: 4, depth: 2, dropout: 0.0}",
        "tune.space.unet.learning_rate=[0.001, 0.003, 1.0e+30]",  # the last one diverges
        "tune.hparams.dncnn={depth: 3, filters: 8, kernel_size: 3, l2: 0.0,"
        " learning_rate: 0.001}",
        "tune.space.dncnn.dropout=[0.0, 1.5]")  # 1.5 is not a dropout rate: the build fails
    res = tune(cfg, progress=False)
    table = pd.read_csv(tmp_path / "debug" / "trials.csv")
    unet = table[table["model"] == "unet"].set_index("hp.learning_rate")
    assert sorted(unet.index) == [0.001, 0.003, 1e30]
    assert unet.loc[1e30, "status"] == "FAILED"
    assert unet.loc[1e30, "reason"].startswith("non-finite loss in epoch 1")
    assert (unet.loc[[0.001, 0.003], "status"] == "COMPLETED").all()
    dncnn = table[table["model"] == "dncnn"].set_index("hp.dropout")
    assert sorted(dncnn.index) == [0.0, 1.5]
    assert dncnn.loc[1.5, "status"] == "FAILED" and "ValueError" in dncnn.loc[1.5, "reason"]
    assert dncnn.loc[0.0, "status"] == "COMPLETED"
    assert res.best["unet"].hparams["learning_rate"] in (0.001, 0.003)
    assert res.best["dncnn"].hparams["dropout"] == 0.0
    summary = (tmp_path / "debug" / "summary.md").read_text()
    assert "Failed trials:" in summary and "non-finite loss" in summary


@pytest.mark.slow  # ~45 s for both: run by .ci/run
@pytest.mark.parametrize("algorithm", ["hyperband", "bayesian"])
def test_other_algorithms_complete_their_trials(demo_dir, tmp_path, algorithm):
    cfg = debug_cfg(demo_dir, tmp_path, "tune.models=[unet]", f"tune.algorithm={algorithm}",
                    "tune.epochs=2", "tune.hyperband_factor=2", "tune.max_trials=3")
    res = tune(cfg, progress=False)
    table = res.trials
    assert len(table) >= 3 and (table["status"] == "COMPLETED").all()
    if algorithm == "hyperband":  # later rounds continue earlier trials from their weights
        assert table["hp.tuner/trial_id"].notna().any()
        assert set(table["hp.tuner/epochs"]) == {1, 2}
    project = tmp_path / "debug" / "tuner" / "unet"
    assert len(list(project.glob("trial_*/checkpoint*"))) == 1
    assert res.best["unet"].model_path.exists()
    assert not any(k.startswith("tuner/") for k in res.best["unet"].hparams)
    pd.testing.assert_frame_equal(load_experiment(res.experiment_dir).trials, table)


@pytest.mark.parametrize("extra,key,message", [
    (["tune.models=[dncnn,resnet]"], "tune.models", r"unknown model\(s\) \['resnet'\]"),
    (["tune.space.dncnn.kernel_size=[]"], "tune.space.dncnn.kernel_size", "empty search space"),
    (["tune.space.dncnn.dropout={min: 0.3, max: 0.1}"], "tune.space.dncnn.dropout",
     r"empty search space \(min > max\)"),
    (["tune.models=[unet]", "tune.hparams.unet={base_filters: 4, depth: 2, dropout: 0.0, "
      "learning_rate: 0.001}"], "tune.hparams.unet", "search space is empty"),
    (["tune.objective=val_accuracy"], "tune.objective", "no model reports it"),
    (["data.val_fraction=0.0"], "tune.objective", "needs validation data"),
    (["tune.hparams.dncnn={depht: 3}"], "tune.hparams.dncnn", r"unknown hyperparameter"),
    (["tune.strategy=mirrored"] if keras.backend.backend() != "tensorflow" else
     ["tune.space.dncnn.kernel_size=3"], "tune.strategy" if keras.backend.backend() != "tensorflow"
     else "tune.space.dncnn.kernel_size", "KERAS_BACKEND=tensorflow|give a list"),
])
def test_bad_config_fails_before_any_data_is_read(tmp_path, extra, key, message):
    missing = tmp_path / "missing"  # loading data would fail with a DatasetError instead
    cfg = load_config(DEBUG, overrides=["data.mode=mixing", f"data.clean_dir={missing}",
                                        f"data.noise_dir={missing}",
                                        f"tune.results_dir={tmp_path}", *extra])
    with pytest.raises(ConfigError, match=message) as err:
        tune(cfg, progress=False)
    assert err.value.key == key
    assert not (tmp_path / "debug").exists()


def test_a_different_experiment_in_the_same_folder_is_refused(demo_dir, tmp_path):
    save_config(debug_cfg(demo_dir, tmp_path), tmp_path / "debug" / "config.yaml")
    with pytest.raises(ConfigError, match=r"holds an experiment with data.snr_db=\[2.0, 20.0\]"):
        tune(debug_cfg(demo_dir, tmp_path, "data.snr_db=[0, 10]"), progress=False)
    assert collect_trials(tmp_path / "debug").empty


def test_out_of_memory_is_named_in_the_failure_reason():
    tf = pytest.importorskip("tensorflow")
    err = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape")
    assert _reason(err) == ("out of memory: ResourceExhaustedError: OOM when allocating tensor "
                            "with shape")
    assert _reason(ValueError("bad\nsecond line")) == "ValueError: bad"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MirroredStrategy is TF-only")
@pytest.mark.slow  # ~25 s (a fresh interpreter on two logical CPUs): run by .ci/run
def test_mirrored_tuning_on_two_logical_cpu_devices(demo_dir, tmp_path):
    out, stderr = run_on_two_logical_cpus(f"""
        from noisenil.config import load_config
        from noisenil.tuning.experiment import tune
        cfg = load_config({DEBUG!r}, overrides={overrides(demo_dir, tmp_path)!r} + [
            "tune.models=[unet]", "tune.strategy=mirrored", "train.run_eagerly=false"])
        res = tune(cfg, progress=False)
        print(json.dumps({{"status": res.trials["status"].tolist(),
                          "score": res.trials["val_snr"].tolist()}}))
    """, cwd=tmp_path)
    assert out["status"] == ["COMPLETED"] * 2 and np.all(np.isfinite(out["score"]))
    assert "MirroredStrategy over 2 replicas" in stderr
    # The global batch is the per-replica batch (4) times 2 replicas.
    assert "train: 2 batches of 8 patches" in stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_tuner(args: list[str], cwd, base_port: int, tuner_id: str) -> subprocess.Popen:
    """``noisenil tune`` as Keras Tuner process ``tuner_id`` of a sweep served from ``base_port``."""
    env = {**os.environ, "KERASTUNER_TUNER_ID": tuner_id,
           "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(base_port)}
    return subprocess.Popen(args, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


@contextlib.contextmanager
def tuner_processes(procs: dict[str, subprocess.Popen]):
    """Yield ``procs``; on the way out, kill any still running (a failed test leaves none)."""
    try:
        yield procs
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()


def outputs_of(procs: dict[str, subprocess.Popen], timeout: float) -> dict[str, str]:
    """Wait for every process; assert each exited 0 (showing its output's tail otherwise)."""
    outputs = {k: p.communicate(timeout=timeout)[0] for k, p in procs.items()}
    for k, p in procs.items():
        assert p.returncode == 0, f"{k}:\n{outputs[k][-3000:]}"
    return outputs


@pytest.mark.slow  # processes on 127.0.0.1, 30-95 s on 2 cores; .ci/run runs it
def test_a_chief_and_two_workers_share_the_sweep(demo_dir, tmp_path):
    base = free_port()
    while any(_busy(base + i) for i in range(2)):
        base = free_port()
    args = [sys.executable, "-m", "noisenil.cli", "-q", "tune", "--config", DEBUG]
    for item in overrides(demo_dir, tmp_path, "tune.models=[unet,dncnn]", "tune.max_trials=3"):
        args += ["--set", item]
    with tuner_processes({tuner_id: start_tuner(args, tmp_path, base, tuner_id)
                          for tuner_id in ("chief", "tuner0", "tuner1")}) as procs:
        outputs = outputs_of(procs, timeout=400)
    table = pd.read_csv(tmp_path / "debug" / "trials.csv")
    for model in ("unet", "dncnn"):
        rows = table[table["model"] == model]
        assert sorted(rows["trial_id"]) == [0, 1, 2]  # every trial once
        assert (rows["status"] == "COMPLETED").all()
        assert set(rows["tuner_id"]) <= {"tuner0", "tuner1"}
        assert (tmp_path / "debug" / model / "best.keras").exists()
    assert set(table["tuner_id"]) == {"tuner0", "tuner1"}  # both workers trained
    assert "worker done" in outputs["tuner0"] and "best unet" in outputs["chief"]


@pytest.mark.slow  # processes on 127.0.0.1, 30-95 s on 2 cores; .ci/run runs it
def test_workers_exit_once_the_chief_is_done_with_their_models(demo_dir, tmp_path):
    """One trial per model, and tuner1 starts only once the chief has finished unet (tuner0 ran
    its only trial): tuner1 finds unet no longer served, moves on, and every process exits."""
    base = _free_ports(2)
    args = [sys.executable, "-m", "noisenil.cli", "-q", "tune", "--config", DEBUG]
    for item in overrides(demo_dir, tmp_path, "tune.models=[unet,dncnn]", "tune.max_trials=1"):
        args += ["--set", item]

    def start(tuner_id):
        return start_tuner(args, tmp_path, base, tuner_id)

    root = tmp_path / "debug"
    with tuner_processes({"chief": start("chief"), "tuner0": start("tuner0")}) as procs:
        deadline = time.monotonic() + 300
        while not (root / "unet" / "best_hparams.yaml").exists():
            assert procs["chief"].poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert (root / "tuner" / "unet" / "search_done.json").exists()
        procs["tuner1"] = start("tuner1")
        # Without the mark, tuner1 would wait an hour for unet's oracle (Keras Tuner's timeout).
        outputs = outputs_of(procs, timeout=300)
    assert "unet: the chief has ended this model's search" in outputs["tuner1"]
    assert "worker done" in outputs["tuner1"] and "worker done" in outputs["tuner0"]
    table = pd.read_csv(root / "trials.csv")
    assert sorted(table["model"]) == ["dncnn", "unet"] and (table["trial_id"] == 0).all()
    assert (table["status"] == "COMPLETED").all()
    assert table.set_index("model").loc["unet", "tuner_id"] == "tuner0"
    for model in ("unet", "dncnn"):
        assert (root / model / "best.keras").exists()
        # Saved after the last trial ended: a resumed sweep does not run that trial again.
        oracle = json.loads((root / "tuner" / model / "oracle.json").read_text())
        assert oracle["ongoing_trials"] == {} and oracle["end_order"] == ["0"]


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_ports(n: int) -> int:
    """A base port whose ``n`` successors are all free."""
    base = free_port()
    while any(_busy(base + i) for i in range(n)):
        base = free_port()
    return base


@pytest.fixture()
def worker_client(monkeypatch):
    """A Keras Tuner worker's client for model 1 of two; the chief's ports are ``base`` and
    ``base + 1``, and nothing serves them."""
    from keras_tuner.src.distribute.oracle_client import OracleClient

    base = _free_ports(2)
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(base + 1))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_loss", max_trials=1)
    return OracleClient(oracle), base


def _wait(cfg, project, base, **kw):
    return OracleWait(cfg, "dncnn", project, host="127.0.0.1", port=base + 1,
                      ports=[base, base + 1], **kw)


def test_a_worker_ends_a_model_the_chief_has_marked_done(worker_client, tmp_path):
    client, base = worker_client
    cfg = load_config(DEBUG, overrides=["tune.max_trials=2"])
    mark_search_done(cfg, "dncnn", tmp_path)
    start = time.monotonic()
    trial = _wait(cfg, tmp_path, base).create_trial(client, "tuner0")
    assert trial.status == "STOPPED" and time.monotonic() - start < 1  # no request needed
    # A mark from a smaller budget does not count: the sweep was extended, trials remain. With
    # no chief to be seen either, the worker gives up after chief_wait_s.
    bigger = load_config(DEBUG, overrides=["tune.max_trials=3"])
    with pytest.raises(NoiseNilError, match=r"dncnn: no oracle at 127\.0\.0\.1:\d+ and no sign "
                                            r"of the chief .* for \d+ s"):
        _wait(bigger, tmp_path, base, chief_wait_s=0.5, poll_s=0.2).create_trial(client, "tuner0")


def test_a_worker_waits_while_the_chief_serves_another_model(worker_client, tmp_path):
    client, base = worker_client
    cfg = load_config(DEBUG)
    with socket.socket() as chief:  # the chief, busy with model 0 (port base) for 1.5 s
        chief.bind(("127.0.0.1", base))
        chief.listen()
        timer = threading.Timer(1.5, mark_search_done, (cfg, "dncnn", tmp_path))
        timer.start()
        start = time.monotonic()
        try:
            trial = _wait(cfg, tmp_path, base, chief_wait_s=0.3, poll_s=0.2).create_trial(
                client, "tuner0")
        finally:
            timer.cancel()
    # Well past chief_wait_s, but the chief was there: it waited for the mark, then stopped.
    assert trial.status == "STOPPED" and time.monotonic() - start >= 1.4
