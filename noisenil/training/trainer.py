"""Training one model: ``noisenil train`` and :func:`train`.

A run lives in one folder (``train.run_dir``)::

    config.yaml     the resolved configuration
    last.keras      the model after the last completed epoch, with its optimizer state
    state.json      completed epochs, the best monitored value so far, the training time spent
    best.keras      the best model by ``train.monitor`` (``val_snr`` by default)
    history.csv     one row per epoch (appended across resumptions)
    logs/           TensorBoard logs
    model.keras     the final model (the best checkpoint), written when the run ends
    noisy_input.json  the noisy input's own validation loss and metrics (what to beat)

Rerunning on the same folder resumes after the last completed epoch, with the optimizer state,
the learning rate and the best value so far (a killed run loses at most the epoch in flight).
``train.init_from`` starts a fresh run from a saved model's weights instead (fine-tuning).

This module holds :func:`train`, the initial weights and the configured data. The run folder's
state and the resume check are in :mod:`.runs`, the callbacks (best-model checkpoint, early
stopping, the learning-rate schedule, ``TerminateOnNaN``, CSV and TensorBoard logs) in
:mod:`.callbacks`, the distribution strategy and precision policy in :mod:`.strategy`.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from noisenil.config import Config, as_config, metric_direction, save_config
from noisenil.config.atomic import check_writable, read_json, write_json
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.models import hypermodel_from_config
from noisenil.models.saving import embed_config, load_model
from noisenil.training.callbacks import training_callbacks
from noisenil.training.validation import validation_clips, waveform_callbacks
from noisenil.training.identity import identity_scores
from noisenil.training.progress import keras_verbose
from noisenil.training.runs import (
    RunState,
    budget_spent,
    check_same_run,
    differing_setting,
    read_history,
    read_state,
    trim_history,
)
from noisenil.training.strategy import distribution_scope, precision_policy

logger = logging.getLogger(__name__)

#: The noisy input's validation scores, beside the run (what :attr:`TrainResult.noisy` reads).
NOISY_INPUT = "noisy_input.json"


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
        noisy: The noisy input's own value of ``monitor`` on the same validation batches
            (:func:`~noisenil.training.identity.identity_scores`; NaN without them).
        mode: ``max`` or ``min``: the direction of ``monitor``.
    """

    run_dir: Path
    model_path: Path
    history: dict[str, list[float]] = field(default_factory=dict)
    best: float = math.nan
    monitor: str = "val_snr"
    epochs_done: int = 0
    resumed_from: int = 0
    noisy: float = math.nan
    mode: str = "max"

    @property
    def improvement(self) -> float:
        """How much the best model beats the noisy input on ``monitor`` (positive = better,
        whatever its direction; NaN where either is unknown)."""
        return (self.best - self.noisy) * (1.0 if self.mode == "max" else -1.0)


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
    before, where = model_config(path, key="train.init_from")
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


def train(cfg: Config | str | os.PathLike | None, *, overrides: Iterable[str] = (),
          run_dir: str | os.PathLike | None = None, progress: bool = True,
          data: tuple[Any, Any] | None = None) -> TrainResult:
    """Train the configured model with fixed hyperparameters, resuming an interrupted run.

    Args:
        cfg: The configuration, a YAML file (``configs/debug.yaml``), or ``None`` for the
            defaults: ``model`` (family, loss, pinned hyperparameters; the others take the
            family defaults), ``train``, and the data sections.
        overrides: ``"key.subkey=value"`` strings applied to the file (or the defaults) as it
            is loaded; not with a ``Config`` (use ``load_config(path, overrides=...)``).
        run_dir: Overrides ``train.run_dir``.
        progress: Keras progress bars (and the audio-loading bar).
        data: ``(train, validation)`` batches to use instead of building them from the data
            sections: anything ``Model.fit`` takes as ``x`` and ``validation_data`` (e.g. a
            ``keras.utils.PyDataset`` of ``(noisy, clean)`` batches); validation may be
            ``None``. With ``train.strategy=mirrored`` their batches are the global batches.

    Returns:
        A :class:`TrainResult`.

    Raises:
        ConfigError: Bad config, model name/hyperparameter or strategy, before any data is
            loaded; overrides with a ``Config``; or a ``run_dir`` holding a different run.
    """
    cfg = as_config(cfg, overrides)
    if run_dir is not None:
        cfg = replace(cfg, train=replace(cfg.train, run_dir=str(run_dir)))
    t = cfg.train
    run_dir = Path(t.run_dir)
    hypermodel = hypermodel_from_config(cfg)  # fails fast on a bad model section
    scope, replicas = distribution_scope(t.strategy)
    check_same_run(cfg, run_dir)
    check_writable(run_dir, what="train.run_dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")

    state = read_state(run_dir)
    done = int(state.get("epochs_done", 0)) if (run_dir / "last.keras").exists() else 0
    trim_history(run_dir / "history.csv", done)  # rows of epochs a kill left unsaved
    spent = float(state.get("train_seconds", 0.0)) if done else 0.0
    if done >= t.epochs or budget_spent(spent, t.max_minutes):
        logger.info("%s: %d of %d epochs already done (%.1f minutes)", run_dir, done, t.epochs,
                    spent / 60)
        return _finish(cfg, run_dir, t.monitor, state.get("best"), done, done)
    start_weights = None if done else initial_weights(cfg)  # before any data is loaded

    fit_kwargs: dict[str, Any] = dict(epochs=t.epochs, initial_epoch=done,
                                      verbose=keras_verbose(progress))
    if data is None:
        train_data, val_data = configured_data(cfg, replicas, progress, fit_kwargs)
        train_data_epoch(train_data, done)
    else:
        train_data, val_data = data
    # The waveform metric's clips come from the configured data's validation split; with
    # batches given as ``data`` there is no such split, and a waveform monitor falls back.
    waveform, monitor = waveform_callbacks(cfg, t.monitor,
                                           has_validation=data is None and val_data is not None)
    if val_data is None and monitor.startswith("val_"):
        monitor = monitor[len("val_"):]
        logger.warning("no validation data: monitoring %r on the training batches", monitor)
    if val_data is not None:
        _score_noisy_input(cfg, run_dir, val_data, fit_kwargs.get("validation_steps"),
                           waveform=bool(waveform))

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
        callbacks = waveform + training_callbacks(cfg, run_dir, monitor=monitor,
                                                  learning_rate=hp.get("learning_rate"),
                                                  best=state.get("best") if done else None)
        checkpoint = next(c for c in callbacks if isinstance(c, keras.callbacks.ModelCheckpoint))
        callbacks.append(RunState(run_dir, checkpoint, spent_s=spent, max_minutes=t.max_minutes,
                                  clock=t.budget_clock))
        model.run_eagerly = t.run_eagerly
        if t.run_eagerly:
            logger.info("train.run_eagerly=true: the training and validation steps run untraced")
        hypermodel.fit(hp, model, train_data, validation_data=val_data, callbacks=callbacks,
                       **fit_kwargs)
    state = read_state(run_dir)
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
    logger.info("%s", bundle.summary(notes=False))  # the notes were warnings already
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
    noisy = read_json(run_dir / NOISY_INPUT) or {}
    return TrainResult(run_dir=run_dir, model_path=final,
                       history=read_history(run_dir / "history.csv"),
                       best=math.nan if best is None else float(best), monitor=monitor,
                       epochs_done=epochs_done, resumed_from=resumed_from,
                       noisy=float(noisy.get(monitor, math.nan)),
                       mode=metric_direction(monitor, cfg.train.monitor_mode))


def _score_noisy_input(cfg: Config, run_dir: Path, val_data: Any, steps: int | None, *,
                       waveform: bool) -> None:
    """Write the noisy input's validation scores (with the waveform clips' when the run scores
    them) to ``run_dir/noisy_input.json``."""
    clips = validation_clips(cfg) if waveform else ()
    scores = identity_scores(cfg, val_data, steps=steps, clips=clips)
    write_json(run_dir / NOISY_INPUT, scores)
    logger.info("noisy input (identity) on the validation batches: %s",
                ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))


__all__ = ["TrainResult", "configured_data", "initial_weights", "set_initial_weights", "train",
           "train_data_epoch"]
