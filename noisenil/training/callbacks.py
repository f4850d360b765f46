"""The callbacks of a training run and of every tuning trial: :func:`training_callbacks`.

Best-model checkpoint, early stopping, the learning-rate schedule (reduce on plateau, or seed
001's :func:`step_decay`), ``TerminateOnNaN``, the learning rate in the epoch logs, CSV and
TensorBoard logs. The run folder's own per-epoch state is :class:`~noisenil.training.runs.RunState`.
"""

from __future__ import annotations

from pathlib import Path

import keras

from noisenil.config import Config


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


__all__ = ["LogLearningRate", "step_decay", "training_callbacks"]
