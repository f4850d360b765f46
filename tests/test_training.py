"""``noisenil train``: a run folder, a loadable model, resume, schedules, strategies, the CLI."""

from __future__ import annotations

import json
import logging
import warnings

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_ROOT, run_on_two_logical_cpus
from noisenil.cli import main
from noisenil.config import load_config
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.training.callbacks import step_decay
from noisenil.training.strategy import precision_policy
from noisenil.training.trainer import train

DEBUG = str(PROJECT_ROOT / "configs" / "debug.yaml")
#: The debug config runs its steps eagerly (at its sizes tracing costs more than training);
#: the tests of the traced steps, what every real run uses, ask for them.
TRACED = "train.run_eagerly=false"


def debug_cfg(demo_dir, run_dir, *overrides):
    return load_config(DEBUG, overrides=[f"data.demo_dir={demo_dir}", f"train.run_dir={run_dir}",
                                         "train.tensorboard=false", *overrides])


def test_a_run_writes_its_folder_and_a_loadable_model(demo_dir, tmp_path):
    cfg = debug_cfg(demo_dir, tmp_path / "run", "train.tensorboard=true", TRACED)
    res = train(cfg, progress=False)
    run = tmp_path / "run"
    assert res.epochs_done == 2 and res.resumed_from == 0
    assert {"config.yaml", "last.keras", "best.keras", "model.keras", "history.csv",
            "state.json", "logs"} <= {p.name for p in run.iterdir()}
    assert load_config(run / "config.yaml") == cfg
    assert len(res.history["loss"]) == 2 and np.all(np.isfinite(res.history["val_snr"]))
    # The default monitor: the SI-SDR gain on validation clips through the inference path.
    assert res.monitor == "val_delta_si_sdr" and np.all(np.isfinite(res.history["val_si_sdr"]))
    assert res.best == pytest.approx(max(res.history["val_delta_si_sdr"]), abs=1e-4)
    model = keras.saving.load_model(res.model_path)
    x = np.random.default_rng(0).random((1, 128, 77, 1), dtype=np.float32)
    assert model.predict(x, verbose=0).shape == x.shape  # full-height chunk of any length


def test_rerun_resumes_after_the_last_epoch_with_optimizer_state(demo_dir, tmp_path):
    run = tmp_path / "run"
    # A time budget (train.max_minutes) smaller than one epoch stops the run after its first.
    first = train(debug_cfg(demo_dir, run, "train.epochs=3", "train.max_minutes=0.0001",
                            "train.budget_clock=cpu"), progress=False)
    assert first.epochs_done == 1
    spent = json.loads((run / "state.json").read_text())["train_seconds"]
    assert 0.006 < spent < 120
    steps = len(pd.read_csv(run / "history.csv"))  # 1 epoch
    resumed = train(debug_cfg(demo_dir, run, "train.epochs=3"), progress=False)
    assert (resumed.resumed_from, resumed.epochs_done) == (1, 3)
    assert len(resumed.history["loss"]) == 3 * steps
    last = keras.saving.load_model(run / "last.keras")
    assert int(keras.ops.convert_to_numpy(last.optimizer.iterations)) == 3 * 4  # 4 batches/epoch
    again = train(debug_cfg(demo_dir, run, "train.epochs=3"), progress=False)  # nothing left
    assert (again.resumed_from, again.epochs_done) == (3, 3)
    total = json.loads((run / "state.json").read_text())["train_seconds"]
    assert total > spent  # summed over the resumption
    spent_out = train(debug_cfg(demo_dir, run, "train.epochs=9", "train.max_minutes=0.0001"),
                      progress=False)  # the budget is spent: no further epoch
    assert spent_out.epochs_done == 3
    with pytest.raises(ConfigError, match="train.run_dir=.*different 'model' section"):
        train(debug_cfg(demo_dir, run, "model.name=dncnn", "model.hparams={depth: 3}"),
              progress=False)


def test_a_config_path_with_overrides_trains_as_the_loaded_config_does(demo_dir, tmp_path):
    tiny = [f"data.demo_dir={demo_dir}", "train.tensorboard=false", "train.epochs=1",
            "data.train_patches=8", "data.val_patches=4"]  # 2 training steps, 1 validation
    from_path = train(DEBUG, overrides=tiny, run_dir=tmp_path / "path", progress=False)
    loaded = train(load_config(DEBUG, overrides=tiny), run_dir=tmp_path / "cfg", progress=False)
    assert (from_path.epochs_done, from_path.resumed_from) == (1, 0)
    assert load_config(tmp_path / "path" / "config.yaml") == load_config(
        DEBUG, overrides=[*tiny, f"train.run_dir={tmp_path / 'path'}"])
    assert sorted(from_path.history) == sorted(loaded.history)
    for key, values in loaded.history.items():  # same seed, same data: the same run
        assert from_path.history[key] == pytest.approx(values, rel=1e-3), key
    with pytest.raises(ConfigError, match=r"train.epochs=1: overrides apply to a config file.*"
                                          r"load_config") as err:
        train(load_config(DEBUG), overrides=["train.epochs=1"], run_dir=tmp_path / "no",
              progress=False)
    assert err.value.key == "train.epochs" and not (tmp_path / "no").exists()


def test_eager_steps_train_as_the_traced_ones(demo_dir, tmp_path, caplog):
    """train.run_eagerly skips tracing (the tests' tiny runs), not any arithmetic."""
    tiny = ["train.epochs=1", "data.train_patches=8", "data.val_patches=4"]
    traced = train(debug_cfg(demo_dir, tmp_path / "traced", *tiny, TRACED), progress=False)
    with caplog.at_level(logging.INFO, logger="noisenil.training.trainer"):
        eager = train(debug_cfg(demo_dir, tmp_path / "eager", *tiny, "train.run_eagerly=true"),
                      progress=False)
    assert "train.run_eagerly=true" in caplog.text
    assert sorted(eager.history) == sorted(traced.history)
    for key, values in traced.history.items():
        assert eager.history[key] == pytest.approx(values, rel=1e-3, abs=1e-4), key


def test_step_schedule_divides_the_learning_rate(demo_dir, tmp_path):
    assert [step_decay(1e-3, 0.1, 2)(e, 0) for e in range(5)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-4, 1e-5])
    res = train(debug_cfg(demo_dir, tmp_path / "run", "train.lr_schedule=step",
                          "train.lr_step_epochs=1", "train.early_stopping_patience=0"),
                progress=False)
    assert res.history["learning_rate"] == pytest.approx([1e-3, 1e-4], rel=1e-5)


def test_bad_model_section_fails_before_any_data_is_read(tmp_path):
    cfg = load_config(DEBUG, overrides=["model.name=resnet", "data.mode=mixing",
                                        f"data.clean_dir={tmp_path}/none",
                                        f"data.noise_dir={tmp_path}/none"])
    with pytest.raises(ConfigError, match="model.name='resnet': unknown model"):
        train(cfg, run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="non-TF backends only")
def test_mirrored_strategy_is_refused_off_tensorflow(demo_dir, tmp_path):
    with pytest.raises(ConfigError, match="train.strategy='mirrored'.*KERAS_BACKEND=tensorflow"):
        train(debug_cfg(demo_dir, tmp_path / "run", "train.strategy=mirrored"), progress=False)


@pytest.mark.slow  # ~15 s (a fresh interpreter on two logical CPUs): run by .ci/run
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MirroredStrategy is TF-only")
def test_mirrored_strategy_trains_on_two_logical_cpu_devices(demo_dir, tmp_path):
    out, stderr = run_on_two_logical_cpus(f"""
        from noisenil.config import load_config
        from noisenil.training.trainer import train
        cfg = load_config({DEBUG!r}, overrides=["data.demo_dir={demo_dir}",
            "train.run_dir={tmp_path / 'run'}", "train.strategy=mirrored",
            "train.tensorboard=false", "train.epochs=1", "{TRACED}"])
        res = train(cfg, progress=False)
        print(json.dumps({{"replicas": tf.distribute.MirroredStrategy().num_replicas_in_sync,
                          "epochs": res.epochs_done, "loss": res.history["loss"]}}))
    """, cwd=tmp_path)
    assert out["replicas"] == 2 and out["epochs"] == 1 and np.isfinite(out["loss"][0])
    assert "MirroredStrategy over 2 replicas" in stderr


def test_cli_train(demo_dir, tmp_path, capsys):
    code = main(["-q", "train", "--config", DEBUG, "--set", f"data.demo_dir={demo_dir}",
                 "--set", "train.epochs=1", "--set", "train.tensorboard=false",
                 "--run-dir", str(tmp_path / "cli_run")])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 epochs; best val_delta_si_sdr" in out and str(tmp_path / "cli_run" / "model.keras") in out
    assert main(["train", "--config", DEBUG, "--set", "model.name=nope"]) == 2
    assert "model.name='nope'" in capsys.readouterr().err


def test_mixed_precision_trains_and_restores_the_global_policy(demo_dir, tmp_path):
    before = keras.config.dtype_policy().name
    res = train(debug_cfg(demo_dir, tmp_path / "run", "train.precision=mixed_float16",
                          "train.epochs=1", TRACED), progress=False)
    assert np.isfinite(res.history["loss"][0]) and np.isfinite(res.best)
    assert keras.config.dtype_policy().name == before

    def applied_steps():
        with precision_policy("mixed_float16"), warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # e.g. "Skipping variable loading"
            model = keras.saving.load_model(tmp_path / "run" / "last.keras")
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"
        return model, int(keras.ops.convert_to_numpy(model.optimizer.iterations))

    _, first = applied_steps()  # steps whose float16 gradients overflowed are skipped
    assert 1 <= first <= 4
    # Resuming reloads inside the policy: the loss-scaling optimizer comes back whole.
    resumed = train(debug_cfg(demo_dir, tmp_path / "run", "train.precision=mixed_float16",
                              "train.epochs=2", TRACED), progress=False)
    assert (resumed.resumed_from, resumed.epochs_done) == (1, 2)
    model, second = applied_steps()
    assert first + 1 <= second <= first + 4  # counted on from the first run's, 4 batches
    assert model.layers[1].compute_dtype == "float16"


def test_init_from_starts_a_fresh_run_from_the_saved_weights(demo_dir, tmp_path):
    first = train(debug_cfg(demo_dir, tmp_path / "first", "train.epochs=3",
                            "train.monitor=val_snr"), progress=False)
    # A near-zero learning rate keeps the weights where they start: the fine-tuned run's first
    # epoch then scores what the source model scored on the same validation batches.
    frozen = ["model.hparams={base_filters: 4, depth: 2, learning_rate: 1.0e-12}",
              "train.epochs=1", "train.monitor=val_snr"]
    tuned = train(debug_cfg(demo_dir, tmp_path / "tuned", *frozen,
                            f"train.init_from={first.model_path}"), progress=False)
    scratch = train(debug_cfg(demo_dir, tmp_path / "scratch", *frozen), progress=False)
    assert tuned.resumed_from == 0 and tuned.epochs_done == 1
    assert tuned.history["val_snr"][0] == pytest.approx(first.best, abs=0.02)
    # A random start scores elsewhere (with a mask head it starts near the identity, so
    # not far: the weights themselves are compared below).
    assert abs(scratch.history["val_snr"][0] - first.best) > 0.05
    source = keras.saving.load_model(first.model_path).get_weights()
    for a, b in zip(keras.saving.load_model(tuned.model_path).get_weights(), source):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("override, message", [
    ("model.hparams={base_filters: 8, depth: 2}", r"weight arrays.*first difference at array 0"),
    ("features.magnitude_scale=power", r"different 'features' section"),
    ("audio.sample_rate=8000", r"trained at audio.sample_rate=16000, config: 8000"),
])
def test_init_from_refuses_another_architecture_or_feature_setup(demo_dir, tmp_path, override,
                                                                 message):
    first = train(debug_cfg(demo_dir, tmp_path / "first", "train.epochs=1"), progress=False)
    cfg = debug_cfg(demo_dir, tmp_path / "tuned", override, f"train.init_from={first.model_path}")
    with pytest.raises(ConfigError, match=f"train.init_from=.*{message}"):
        train(cfg, progress=False)
    assert not (tmp_path / "tuned" / "last.keras").exists()


def test_init_from_a_missing_file_fails_before_training(demo_dir, tmp_path):
    cfg = debug_cfg(demo_dir, tmp_path / "run", f"train.init_from={tmp_path}/none.keras")
    with pytest.raises(ConfigError, match=r"train.init_from='.*none.keras': no such file"):
        train(cfg, progress=False)


def test_init_from_default_is_the_shipped_model(demo_dir, tmp_path):
    # The debug config's dB-scale features are not the default model's power-law ones: refused,
    # which shows that "default" resolved to the shipped file and its embedded configuration
    # was read.
    cfg = debug_cfg(demo_dir, tmp_path / "run", "train.init_from=default")
    with pytest.raises(ConfigError, match=r"train.init_from='default'.*different 'features' section"):
        train(cfg, progress=False)


def test_the_waveform_metric_is_the_inference_path_on_fixed_validation_clips(demo_dir, tmp_path):
    """val_si_sdr of an epoch is what Denoiser gives on the clips; the clips come from the
    validation split only, the same every time."""
    from noisenil.dsp.measures import si_sdr
    from noisenil.inference.denoiser import Denoiser
    from noisenil.training.validation import WaveformValidation, validation_clips

    cfg = debug_cfg(demo_dir, tmp_path / "run", "train.epochs=1")
    clips = validation_clips(cfg)
    assert len(clips) == cfg.train.validation_clips
    assert all(len(noisy) == len(clean) <= 16000 for noisy, clean in clips)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(clips, validation_clips(cfg)))
    res = train(cfg, progress=False)
    model = keras.saving.load_model(tmp_path / "run" / "last.keras")
    den = Denoiser(model, cfg)
    expected = np.mean([si_sdr(clean, den.denoise(noisy)) for noisy, clean in clips])
    assert res.history["val_si_sdr"][-1] == pytest.approx(expected, abs=1e-3)
    noisy = np.mean([si_sdr(clean, noisy) for noisy, clean in clips])
    assert res.history["val_delta_si_sdr"][-1] == pytest.approx(expected - noisy, abs=1e-3)
    with pytest.raises(NoiseNilError, match="at least one validation clip"):
        WaveformValidation(cfg, [])


def test_validation_clips_degrade_their_noise_with_the_runs_own_augment_group(demo_dir, tmp_path):
    """With data.augment_test_noise the clips' noises go through the run's augment.noise (a
    music run's clicks and hiss), not the defaults': the clips follow that section."""
    from noisenil.training.validation import validation_clips

    on = ["data.augment_test_noise=true", "train.validation_snrs=[10.0]"]
    defaults = debug_cfg(demo_dir, tmp_path / "a", *on)
    clicks = debug_cfg(demo_dir, tmp_path / "b", *on,
                       "augment.noise={clicks: {p: 1.0, rate_hz: [20.0, 40.0]}}")
    plain, clicked = validation_clips(defaults), validation_clips(clicks)
    assert len(plain) == len(clicked) > 0
    for (n_p, c_p), (n_c, c_c) in zip(plain, clicked):
        # The same clean clip (up to the peak limit's gain) under a different noise.
        np.testing.assert_allclose(c_p / np.max(np.abs(c_p)), c_c / np.max(np.abs(c_c)),
                                   atol=1e-5)
        assert abs(np.corrcoef(n_p - c_p, n_c - c_c)[0, 1]) < 0.99


def test_history_keeps_one_row_per_saved_epoch(tmp_path):
    from noisenil.training.runs import trim_history

    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,0.5\n1,0.4\n2,0.3")  # the last row torn by a kill
    assert trim_history(path, 3) == 1 and path.read_text() == "epoch,loss\n0,0.5\n1,0.4\n"
    assert trim_history(path, 1) == 1 and path.read_text() == "epoch,loss\n0,0.5\n"
    assert trim_history(path, 1) == 0 and trim_history(tmp_path / "none.csv", 0) == 0


def test_a_run_killed_inside_its_checkpoint_write_logs_every_epoch_once(demo_dir, tmp_path):
    """kill -9 inside the second epoch's last.keras write (the atomic-write test hook pauses
    there): history.csv has that epoch's row, state.json does not count it. The resumed run
    drops the row and logs the epoch once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from noisenil.config.atomic import PAUSE_ENV, PAUSE_MARKER_ENV
    from noisenil.training.runs import read_state

    run, marker = tmp_path / "run", tmp_path / "paused"
    args = [sys.executable, "-m", "noisenil.cli", "-q", "train", "--config", DEBUG,
            "--run-dir", str(run), "--set", f"data.demo_dir={demo_dir}",
            "--set", "train.tensorboard=false", "--set", "train.epochs=3"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **{PAUSE_ENV: "last.keras@2",
                                                         PAUSE_MARKER_ENV: str(marker)})
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(pd.read_csv(run / "history.csv")) == 2 and read_state(run)["epochs_done"] == 1
    res = train(debug_cfg(demo_dir, run, "train.epochs=3"), progress=False)
    assert (res.resumed_from, res.epochs_done) == (1, 3)
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [0, 1, 2]
    assert len(res.history["loss"]) == 3
