"""A training run's folder, its per-epoch state, and the one "is this the same job?" comparison.

The folder (``train.run_dir``, laid out in :mod:`noisenil.training.trainer`) holds the resolved
``config.yaml``; after every epoch :class:`RunState` saves ``last.keras`` and then ``state.json``
(completed epochs and the best monitored value), each written whole or not at all, so a killed
run loses at most the epoch in flight. :func:`differing_setting` compares a saved job's
configuration with the current one: resuming a run (:func:`check_same_run`), continuing a tuning
experiment and fine-tuning from a saved model each apply it with their own rule.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import keras

from noisenil.config import Config, load_config
from noisenil.config.atomic import atomic_target, atomic_write, read_json, write_json
from noisenil.errors import ConfigError

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"

#: Mappings that :func:`differing_setting` compares as one value: their keys are names (models,
#: hyperparameters), not settings.
WHOLE_SETTINGS = ("tune.hparams", "tune.space", "model.hparams")


def _save_model(model: keras.Model, path: Path) -> None:
    with atomic_target(path) as tmp:
        model.save(tmp)


def budget_spent(spent_s: float, max_minutes: float) -> bool:
    """Whether ``spent_s`` seconds use up a ``train.max_minutes`` budget (0: no budget)."""
    return bool(max_minutes) and spent_s >= 60.0 * max_minutes


class RunState(keras.callbacks.Callback):
    """Saves ``last.keras`` and ``state.json`` after every epoch (in that order), logs it, and
    stops the run once its time budget is spent.

    The best value recorded is the best-model checkpoint's own (``checkpoint.best``), so the
    two can never disagree; place this callback after the checkpoint. ``state.json`` also keeps
    ``train_seconds``, the time of the completed epochs (validation included) on the clock of
    ``train.budget_clock``, summed over every resumption: the budget of ``train.max_minutes``
    counts it.

    Args:
        run_dir: The run folder.
        checkpoint: The best-model checkpoint of the run.
        spent_s: Seconds the run's earlier invocations spent (``state.json``'s ``train_seconds``).
        max_minutes: Stop after the epoch that reaches this many minutes in total (0: no
            budget; :func:`budget_spent`).
        clock: ``"wall"`` (elapsed time) or ``"cpu"`` (this process's CPU time, every thread:
            a budget that other jobs on a shared machine do not eat into).
    """

    def __init__(self, run_dir: Path, checkpoint: keras.callbacks.ModelCheckpoint, *,
                 spent_s: float = 0.0, max_minutes: float = 0.0, clock: str = "wall"):
        super().__init__()
        self.run_dir, self.checkpoint = Path(run_dir), checkpoint
        self.spent_s, self.max_minutes = float(spent_s), float(max_minutes)
        self._clock = time.process_time if clock == "cpu" else time.monotonic
        self._started = self._clock()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = self._clock()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        best = self.checkpoint.best
        self.spent_s += self._clock() - self._started
        _save_model(self.model, self.run_dir / "last.keras")
        write_json(self.run_dir / STATE_FILE, {
            "epochs_done": epoch + 1, "best": None if best is None else float(best),
            "monitor": self.checkpoint.monitor, "train_seconds": round(self.spent_s, 3)})
        shown = ", ".join(f"{k} {float(v):.4g}" for k, v in logs.items()
                          if isinstance(v, (int, float)) or hasattr(v, "__float__"))
        logger.info("epoch %d: %s", epoch + 1, shown)
        if budget_spent(self.spent_s, self.max_minutes):
            logger.info("train.max_minutes reached: %.1f of %.1f minutes after epoch %d; stopping",
                        self.spent_s / 60, self.max_minutes, epoch + 1)
            self.model.stop_training = True


def read_state(run_dir: Path) -> dict:
    """``run_dir/state.json`` as written by :class:`RunState` (``{}`` before the first epoch)."""
    path = Path(run_dir) / STATE_FILE
    state = read_json(path)
    if state is None and path.exists():
        logger.warning("%s is unreadable (torn by a kill?): starting the run afresh", path)
    return state if isinstance(state, dict) else {}


def trim_history(path: Path, epochs_done: int) -> int:
    """Keep the first ``epochs_done`` epochs of ``history.csv`` (and its header), dropping the
    rows of epochs that ``state.json`` does not record as done.

    The CSV log writes an epoch's row before :class:`RunState` saves that epoch, so a run killed
    in between (for instance inside the ``last.keras`` write) has one row too many; resumed
    without this, that epoch would be logged twice.

    Returns:
        The number of rows dropped.
    """
    path = Path(path)
    if not path.exists():
        return 0
    header, *rows = path.read_text().splitlines(keepends=True) or [""]
    rows = [x for x in rows if x.strip()]
    kept = [x for x in rows[:epochs_done] if x.endswith("\n")]  # not a row torn by a kill
    if kept == rows:
        return 0
    atomic_write(path, "".join([header, *kept]))
    logger.info("%s: dropped %d row(s) after epoch %d (epochs not saved before the run "
                "stopped)", path, len(rows) - len(kept), epochs_done)
    return len(rows) - len(kept)


def read_history(path: Path) -> dict[str, list[float]]:
    """``history.csv`` as ``{"loss": [...], ...}`` (``{}`` where there is none)."""
    if not path.exists():
        return {}
    import pandas as pd

    frame = pd.read_csv(path)
    return {str(c): frame[c].astype(float).tolist() for c in frame.columns if c != "epoch"}


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


def check_same_run(cfg: Config, run_dir: Path) -> None:
    """Refuse to resume a run folder that holds a run of another model or feature setup.

    Raises:
        ConfigError: ``run_dir/config.yaml`` differs from ``cfg`` in its ``model``,
            ``features``, ``stft`` or ``patches`` section (naming ``train.run_dir``).
    """
    found = saved_difference(run_dir, cfg, ("model", "features", "stft", "patches"))
    if found is not None:
        raise ConfigError(
            f"train.run_dir={str(run_dir)!r}: holds a run with a different "
            f"'{found[0].split('.')[0]}' section; resume it with the same config or choose "
            f"another train.run_dir", key="train.run_dir")


__all__ = ["STATE_FILE", "WHOLE_SETTINGS", "RunState", "budget_spent", "check_same_run",
           "differing_setting", "read_history", "read_state", "saved_difference", "trim_history", "write_json"]
