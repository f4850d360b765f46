"""Training one model: ``noisenil train`` and :func:`train`.

A run lives in one folder (``train.run_dir``)::

    config.yaml     the resolved configuration
    last.keras      the model after the last completed epoch, with its optimizer state
    state.json      completed epochs and the best monitored value so far
    best.keras      the best model by ``train.monitor`` (``val_snr`` by default)
    history.csv     one row per epoch (appended across resumptions)
    logs/           TensorBoard logs
    model.keras     the final model (the best checkpoint), written when the run ends

Rerunning on the same folder resumes after the last completed epoch, with the optimizer state,
the learning rate and the best value so far (a killed run loses at most the epoch in flight).
``train.init_from`` starts a fresh run from a saved model's weights instead (fine-tuning).
Callbacks: best-model checkpoint, early stopping, the learning-rate schedule (reduce on plateau,
or seed 001's step decay), ``TerminateOnNaN``, CSV and TensorBoard logs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from noisenil.config import Config, load_config, save_config
from noisenil.models.saving import embed_config, load_model
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.models import hypermodel_from_config

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        run_dir: The run folder.
        model_path: The final ``.keras`` model (the best checkpoint).
        history: Every epoch's logs, resumed epochs included (``{"loss": [...], ...}``).
        best: The best value of ``monitor``.
        monitor: The metric that selected the model.
        epochs_done: Epochs completed in total.
        resumed_from: Epochs already done when this call started (0 for a fresh run).
    """

    run_dir: Path
    model_path: Path
    history: dict[str, list[float]] = field(default_factory=dict)
    best: float = math.nan
    monitor: str = "val_snr"
    epochs_done: int = 0
    resumed_from: int = 0


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)  # atomic: a kill never leaves a half-written state


def _save_model(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".partial.keras")
    model.save(tmp)
    os.replace(tmp, path)


class RunState(keras.callbacks.Callback):
    """Saves ``last.keras`` and ``state.json`` after every epoch (in that order), and logs it.

    The best value recorded is the best-model checkpoint's own (``checkpoint.best``), so the
    two can never disagree; place this callback after the checkpoint.

    Args:
        run_dir: The run folder.
        checkpoint: The best-model checkpoint of the run.
    """

    def __init__(self, run_dir: Path, checkpoint: keras.callbacks.ModelCheckpoint):
        super().__init__()
        self.run_dir, self.checkpoint = Path(run_dir), checkpoint

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        best = self.checkpoint.best
        _save_model(self.model, self.run_dir / "last.keras")
        _write_json(self.run_dir / STATE_FILE, {
            "epochs_done": epoch + 1, "best": None if best is None else float(best),
            "monitor": self.checkpoint.monitor})
        shown = ", ".join(f"{k} {float(v):.4g}" for k, v in logs.items()
                          if isinstance(v, (int, float)) or hasattr(v, "__float__"))
        logger.info("epoch %d: %s", epoch + 1, shown)


class LogLearningRate(keras.callbacks.Callback):
    """Adds the learning rate the epoch ran with to its logs (``learning_rate``)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))


def step_decay(base_rate: float, factor: float, every: int):
    """Seed 001's schedule: ``base_rate * factor ** (epoch // every)``."""
    def schedule(epoch: int, _rate: float) -> float:
        return float(base_rate * factor ** (epoch // every))

    return schedule


def training_callbacks(cfg: Config, run_dir: Path, *, monitor: str, learning_rate: float,
                       best: float | None = None, mode: str | None = None,
                       checkpoint: bool = True) -> list[keras.callbacks.Callback]:
    """The callbacks of a run (also used for every tuner trial).

    Args:
        cfg: The configuration (``train`` section).
        run_dir: Where checkpoints and logs go.
        monitor: The metric to monitor (``val_snr``, or ``snr`` without validation data).
        learning_rate: The initial learning rate (for the step schedule).
        best: The best value of an earlier part of this run (resume), if any.
        mode: ``max`` or ``min`` for ``monitor`` (default: ``train.mode``).
        checkpoint: Save the best model to ``run_dir/best.keras`` (tuner trials checkpoint
            their own way).
    """
    t = cfg.train
    mode = mode or t.mode
    threshold = None if best is None else float(best)
    callbacks: list[keras.callbacks.Callback] = [LogLearningRate(),
                                                 keras.callbacks.TerminateOnNaN()]
    if checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(run_dir / "best.keras"), monitor=monitor, mode=mode, save_best_only=True,
            initial_value_threshold=threshold))
    if t.lr_schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode=mode, factor=t.plateau_factor, patience=t.plateau_patience,
            min_lr=t.min_learning_rate))
    elif t.lr_schedule == "step":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            step_decay(learning_rate, t.lr_step_factor, t.lr_step_epochs)))
    if t.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=t.early_stopping_patience))
    if t.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "logs")))
    callbacks.append(keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True))
    return callbacks


def distribution_strategy(strategy: str, *, key: str = "train.strategy"):
    """The ``tf.distribute`` strategy for ``strategy`` (``none``: ``None``).

    Args:
        strategy: ``none`` or ``mirrored``.
        key: The config key it came from, for the error message.

    Raises:
        ConfigError: ``mirrored`` on a backend other than TensorFlow.
    """
    if strategy == "none":
        return None
    if keras.backend.backend() != "tensorflow":
        raise ConfigError(f"{key}='mirrored': tf.distribute.MirroredStrategy needs "
                          f"KERAS_BACKEND=tensorflow (running on {keras.backend.backend()!r}); "
                          f"use {key}=none", key=key)
    import tensorflow as tf

    mirrored = tf.distribute.MirroredStrategy()
    logger.info("MirroredStrategy over %d replicas: %s", mirrored.num_replicas_in_sync,
                list(mirrored.extended.worker_devices))
    return mirrored


def distribution_scope(strategy: str):
    """``(context manager, replicas)`` for ``train.strategy``.

    Raises:
        ConfigError: ``mirrored`` on a backend other than TensorFlow.
    """
    mirrored = distribution_strategy(strategy)
    if mirrored is None:
        return contextlib.nullcontext(), 1
    return mirrored.scope(), mirrored.num_replicas_in_sync


@contextlib.contextmanager
def precision_policy(name: str):
    """Sets the global Keras dtype policy for the block, restoring the previous one after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _read_history(path: Path) -> dict[str, list[float]]:
    if not path.exists():
        return {}
    import pandas as pd

    frame = pd.read_csv(path)
    return {str(c): frame[c].astype(float).tolist() for c in frame.columns if c != "epoch"}


#: Mappings that :func:`differing_setting` compares as one value: their keys are names (models,
#: hyperparameters), not settings.
WHOLE_SETTINGS = ("tune.hparams", "tune.space", "model.hparams")


def _settings(data: dict, prefix: str = "") -> dict[str, Any]:
    """A ``Config.to_dict()`` flattened to dotted keys (``train.epochs``)."""
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and name not in WHOLE_SETTINGS:
            out.update(_settings(value, name + "."))
        else:
            out[name] = value
    return out


def differing_setting(before: Config, cfg: Config, sections: tuple[str, ...] | None = None, *,
                      ignore: frozenset[str] = frozenset()) -> tuple[str, Any, Any] | None:
    """The first setting in which ``before`` (a saved job's configuration) and ``cfg`` differ.

    The one "is this the same job?" comparison: resuming a training run, continuing a tuning
    experiment and fine-tuning from a saved model each call it with their own rule.

    Args:
        before: The configuration the job was started with.
        cfg: The configuration now.
        sections: The sections compared, in this order (default: every section, in the order
            of ``Config``).
        ignore: Dotted keys that may differ (``train.epochs``).

    Returns:
        ``(dotted key, its value in before, its value in cfg)``, or ``None`` where they agree.
    """
    old, new = _settings(before.to_dict()), _settings(cfg.to_dict())
    keys = list(new) if sections is None else [
        k for s in sections for k in new if k == s or k.startswith(s + ".")]
    for key in keys:
        if key not in ignore and old.get(key) != new[key]:
            return key, old.get(key), new[key]
    return None


def saved_difference(folder: Path, cfg: Config, sections: tuple[str, ...] | None = None, *,
                     ignore: frozenset[str] = frozenset()) -> tuple[str, Any, Any] | None:
    """:func:`differing_setting` against ``folder/config.yaml``; ``None`` where there is none."""
    saved = Path(folder) / "config.yaml"
    if not saved.exists():
        return None
    return differing_setting(load_config(saved), cfg, sections, ignore=ignore)


def _check_same_run(cfg: Config, run_dir: Path) -> None:
    found = saved_difference(run_dir, cfg, ("model", "features", "stft", "patches"))
    if found is not None:
        raise ConfigError(
            f"train.run_dir={str(run_dir)!r}: holds a run with a different "
            f"'{found[0].split('.')[0]}' section; resume it with the same config or choose "
            f"another train.run_dir", key="train.run_dir")


def initial_weights(cfg: Config) -> list | None:
    """The weights of ``train.init_from`` (``None`` if unset), checked against ``cfg``.

    Raises:
        ConfigError: The file is missing or not a model, or it was trained with other STFT,
            feature or sample-rate settings than ``cfg`` (its weights would see other inputs).
    """
    source = cfg.train.init_from
    if not source:
        return None
    from noisenil.models.saving import model_config, resolve_model

    try:
        path = resolve_model(source, key="train.init_from")
    except NoiseNilError as err:
        raise ConfigError(str(err), key="train.init_from") from err
    before, where = model_config(path)
    if where != "defaults":
        found = differing_setting(before, cfg, ("stft", "features"))
        if found is not None:
            section = found[0].split(".")[0]
            raise ConfigError(
                f"train.init_from={source!r}: was trained with a different '{section}' "
                f"section ({getattr(before, section)}, config: {getattr(cfg, section)}); "
                f"fine-tune with the settings it was trained with", key="train.init_from")
        if before.audio.sample_rate != cfg.audio.sample_rate:
            raise ConfigError(
                f"train.init_from={source!r}: was trained at audio.sample_rate="
                f"{before.audio.sample_rate}, config: {cfg.audio.sample_rate}",
                key="train.init_from")
    try:
        model = load_model(path, key="train.init_from")
    except NoiseNilError as err:
        raise ConfigError(str(err), key="train.init_from") from err
    return model.get_weights()


def set_initial_weights(model: keras.Model, weights: list, source: str) -> None:
    """Copy ``weights`` (from :func:`initial_weights`) into ``model``, shapes checked first.

    Raises:
        ConfigError: ``model`` has another architecture than the model they came from.
    """
    shapes = [tuple(w.shape) for w in model.get_weights()]
    given = [tuple(w.shape) for w in weights]
    if shapes != given:
        first = next((i for i, (a, b) in enumerate(zip(shapes, given)) if a != b),
                     min(len(shapes), len(given)))
        raise ConfigError(
            f"train.init_from={source!r}: holds {len(given)} weight arrays, the model section "
            f"builds {len(shapes)}; first difference at array {first} "
            f"({given[first] if first < len(given) else None} vs "
            f"{shapes[first] if first < len(shapes) else None}): pin the model section to the "
            f"architecture it was trained with", key="train.init_from")
    model.set_weights(weights)
    logger.info("initialised from %s (%d weight arrays)", source, len(weights))


def train(cfg: Config, *, run_dir: str | os.PathLike | None = None, progress: bool = True,
          data: tuple[Any, Any] | None = None) -> TrainResult:
    """Train the configured model with fixed hyperparameters, resuming an interrupted run.

    Args:
        cfg: The configuration: ``model`` (family, loss, pinned hyperparameters; the others
            take the family defaults), ``train``, and the data sections.
        run_dir: Overrides ``train.run_dir``.
        progress: Keras progress bars (and the audio-loading bar).
        data: ``(train, validation)`` batches to use instead of building them from the data
            sections: anything ``Model.fit`` takes as ``x`` and ``validation_data`` (e.g. a
            ``keras.utils.PyDataset`` of ``(noisy, clean)`` batches); validation may be
            ``None``. With ``train.strategy=mirrored`` their batches are the global batches.

    Returns:
        A :class:`TrainResult`.

    Raises:
        ConfigError: Bad model name/hyperparameter or strategy, before any data is loaded; or a
            ``run_dir`` holding a different run.
    """
    if run_dir is not None:
        cfg = replace(cfg, train=replace(cfg.train, run_dir=str(run_dir)))
    t = cfg.train
    run_dir = Path(t.run_dir)
    hypermodel = hypermodel_from_config(cfg)  # fails fast on a bad model section
    scope, replicas = distribution_scope(t.strategy)
    _check_same_run(cfg, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")

    state_path = run_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    done = int(state.get("epochs_done", 0)) if (run_dir / "last.keras").exists() else 0
    if done >= t.epochs:
        logger.info("%s: %d of %d epochs already done", run_dir, done, t.epochs)
        return _finish(cfg, run_dir, t.monitor, state.get("best"), done, done)
    start_weights = None if done else initial_weights(cfg)  # before any data is loaded

    fit_kwargs: dict[str, Any] = dict(epochs=t.epochs, initial_epoch=done,
                                      verbose=1 if progress else 0)
    if data is None:
        train_data, val_data = configured_data(cfg, replicas, progress, fit_kwargs)
        train_data_epoch(train_data, done)
    else:
        train_data, val_data = data
    monitor = t.monitor
    if val_data is None and monitor.startswith("val_"):
        monitor = monitor[len("val_"):]
        logger.warning("no validation data (data.val_fraction=0): monitoring %r", monitor)

    keras.utils.set_random_seed(t.seed + done)
    hp = kt.HyperParameters()
    with precision_policy(t.precision), scope:
        if done:
            logger.info("resuming %s after epoch %d of %d", run_dir, done, t.epochs)
            model = load_model(run_dir / "last.keras", compile=True, key="run_dir")
            hypermodel.declare(hp)  # the same hyperparameters, for fit()
        else:
            model = hypermodel.build(hp)
            if start_weights is not None:
                set_initial_weights(model, start_weights, t.init_from)
        callbacks = training_callbacks(cfg, run_dir, monitor=monitor,
                                       learning_rate=hp.get("learning_rate"),
                                       best=state.get("best") if done else None)
        checkpoint = next(c for c in callbacks if isinstance(c, keras.callbacks.ModelCheckpoint))
        callbacks.append(RunState(run_dir, checkpoint))
        hypermodel.fit(hp, model, train_data, validation_data=val_data, callbacks=callbacks,
                       **fit_kwargs)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    return _finish(cfg, run_dir, monitor, state.get("best"),
                   int(state.get("epochs_done", done)), done)


def configured_data(cfg: Config, replicas: int, progress: bool, fit_kwargs: dict):
    """``(train, val)`` from the data sections; adds the step counts ``tf.data`` needs."""
    from noisenil.data.datasets import build_datasets

    if replicas > 1:  # the global batch is split over the replicas
        cfg = replace(cfg, data=replace(cfg.data, batch_size=cfg.data.batch_size * replicas))
    bundle = build_datasets(cfg, progress=progress)
    if bundle.pipeline == "tf.data":
        fit_kwargs.update(steps_per_epoch=len(bundle.train),
                          validation_steps=len(bundle.val) if bundle.val else None)
    logger.info("%s", bundle.summary())
    return bundle.inputs()


def train_data_epoch(train_data: Any, epoch: int) -> None:
    """Start a :class:`~noisenil.data.datasets.PatchDataset`'s draws at ``epoch`` (resume, trials).

    Its batches depend on (seed, epoch, index) only, so a resumed run and every tuner trial see
    the same examples as an uninterrupted first run would.
    """
    if hasattr(train_data, "epoch"):
        train_data.epoch = int(epoch)


def _finish(cfg: Config, run_dir: Path, monitor: str, best, epochs_done: int,
            resumed_from: int) -> TrainResult:
    source = run_dir / "best.keras"
    if not source.exists():  # no epoch improved on a finite value (e.g. NaN from the start)
        source = run_dir / "last.keras"
    final = run_dir / "model.keras"
    if source.exists():
        shutil.copyfile(source, final)
        embed_config(final, cfg)  # the file alone is enough to denoise with
    return TrainResult(run_dir=run_dir, model_path=final,
                       history=_read_history(run_dir / "history.csv"),
                       best=math.nan if best is None else float(best), monitor=monitor,
                       epochs_done=epochs_done, resumed_from=resumed_from)


def train_from_files(config: str | None = None, overrides: list[str] | tuple = (), *,
                     run_dir: str | None = None, progress: bool = True) -> TrainResult:
    """:func:`train` on ``load_config(config, overrides=overrides)`` (what the CLI calls)."""
    return train(load_config(config, overrides=overrides), run_dir=run_dir, progress=progress)


__all__ = ["RunState", "TrainResult", "step_decay", "train", "train_from_files",
           "training_callbacks"]
