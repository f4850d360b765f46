"""The Keras Tuner tuners of an experiment: noisenil's hooks into each trial, and their weights.

:class:`TrialRecorder` is mixed into Keras Tuner's ``RandomSearch``, ``Hyperband`` and
``BayesianOptimization`` (:class:`RandomSearchTuner`, :class:`HyperbandTuner`,
:class:`BayesianTuner`); :func:`make_tuner` builds the one ``tune.algorithm`` names for one model
of the experiment with its oracle (:mod:`noisenil.tuning.experiment_oracle`), reloading its
project where it exists. Every file a tuner writes (its own ``<tuner id>.json``, each trial's
best-epoch checkpoint and ``build_config.json``) is written whole or not at all
(:mod:`noisenil.config.atomic`); the project is reloaded whenever it holds trial records, even
where a kill came before Keras Tuner first wrote the tuner's file. :func:`prune_checkpoints`
deletes the weights of the trials that neither resume nor the results need.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
from keras_tuner.src.engine import tuner_utils

from noisenil.config import Config
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.training.callbacks import training_callbacks
from noisenil.training.validation import waveform_callbacks
from noisenil.config.atomic import atomic_target, read_json, write_json
from noisenil.training.trainer import train_data_epoch
from noisenil.tuning.distributed import heartbeat
from noisenil.tuning.experiment_oracle import ORACLES
from noisenil.tuning.records import TRIAL_INFO, _read_trials

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- the tuners


def _reason(err: BaseException) -> str:
    text = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
    if "ResourceExhausted" in type(err).__name__ or "RESOURCE_EXHAUSTED" in str(err) \
            or "out of memory" in str(err).lower():
        text = "out of memory: " + text
    return text[:300]


def _count_epochs(csv_log: Path) -> int:
    """Epochs the trial's CSV log recorded (over all its executions)."""
    if not csv_log.exists():
        return 0
    lines = [x for x in csv_log.read_text().splitlines() if x.strip()]
    return sum(1 for x in lines if not x.startswith("epoch"))


def _non_finite_epoch(history: Any) -> int | None:
    """The first epoch (1-based) whose loss is NaN or infinite, if any."""
    logs = getattr(history, "history", None)
    if not isinstance(logs, dict):
        return None
    for epoch, value in enumerate(logs.get("loss", []), start=1):
        if not math.isfinite(float(value)):
            return epoch
    return None


class TrialRecorder:
    """Mixin over a Keras Tuner tuner: noisenil's callbacks, records and failure handling.

    Per trial it seeds the initialisation, restarts the data draws, adds the training callbacks
    of the ``train`` section (learning-rate schedule, early stopping, ``TerminateOnNaN``, CSV and
    TensorBoard logs) monitoring the objective, writes ``noisenil.json`` (wall time, parameters,
    epochs, failure reason), turns any error or a non-finite loss into a ``FailedTrialError``,
    and prunes checkpoints that nothing will read again.
    """

    cfg: Config
    after_trial: Callable[[], None] | None = None
    _info: dict | None = None

    def __init__(self, oracle, *, cfg: Config, **kwargs):
        # The oracle is noisenil's (atomic records, recovery, leases); the algorithm classes'
        # own constructors would only build Keras Tuner's.
        self.cfg = cfg
        kt.Tuner.__init__(self, oracle, **kwargs)

    def _declare_space(self):
        # Keras Tuner builds a whole network here by default; declaring is enough.
        hp = self.oracle.get_space()
        self.hypermodel.declare(hp)
        self.oracle.update_space(hp)

    def _populate_initial_space(self):
        self._declare_space()
        project = Path(self.project_dir)
        if not self._is_worker() and ((project / "oracle.json").exists()
                                      or any(project.glob("trial_*/trial.json"))):
            # No tuner file (killed before Keras Tuner first wrote it), but trial records:
            # continue from them rather than start over and overwrite them.
            self.oracle.reload()

    def reload(self):
        if not self._is_worker():
            self._declare_space()
            self.oracle.reload()
        state = read_json(self._get_tuner_fname())
        self.set_state(state if isinstance(state, dict) else {})

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_json(self._get_tuner_fname(), self.get_state())

    def _build_and_fit_model(self, trial, *args, **kwargs):
        # Keras Tuner's, with its best-epoch checkpoint and build_config.json written whole.
        for callback in kwargs.get("callbacks", []):
            if type(callback) is tuner_utils.SaveBestEpoch:
                callback.__class__ = AtomicSaveBestEpoch
        hp = trial.hyperparameters
        model = self._try_build(hp)
        model.run_eagerly = self.cfg.train.run_eagerly
        results = self.hypermodel.fit(hp, model, *args, **kwargs)
        write_json(self._get_build_config_fname(trial.trial_id), model.get_build_config())
        tuner_utils.validate_trial_results(results, self.oracle.objective, "HyperModel.fit()")
        return results

    def _try_build(self, hp):
        model = super()._try_build(hp)
        if self._info is not None:
            self._info["params"] = int(model.count_params())
        return model

    def run_trial(self, trial, *args, **kwargs):
        cfg = self.cfg
        hp = trial.hyperparameters
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        (trial_dir / "history.csv").unlink(missing_ok=True)  # a rerun starts the log afresh
        keras.utils.set_random_seed(cfg.tune.seed + int(trial.trial_id))
        train_data_epoch(args[0] if args else kwargs.get("x"),
                         hp.values.get("tuner/initial_epoch", 0))
        info = self._info = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id,
                             "started": time.time()}
        # The waveform metric first: every later callback and Keras Tuner read its logs.
        waveform, _ = waveform_callbacks(cfg, cfg.tune.objective)
        callbacks = waveform + list(kwargs.pop("callbacks", []) or [])
        callbacks += training_callbacks(cfg, trial_dir, monitor=cfg.tune.objective,
                                        mode=cfg.tune.mode, checkpoint=False,
                                        learning_rate=hp.get("learning_rate"))
        start = time.perf_counter()
        beat = (heartbeat(self.oracle, trial.trial_id, cfg.tune.worker_lease_s / 5)
                if self._is_worker() else contextlib.nullcontext())
        try:
            with beat:  # renews the trial's lease with the chief while it trains
                results = super().run_trial(trial, *args, callbacks=callbacks, **kwargs)
            for history in results if isinstance(results, list) else [results]:
                epoch = _non_finite_epoch(history)
                if epoch is not None:
                    raise kt.errors.FailedTrialError(
                        f"non-finite loss in epoch {epoch} (learning_rate="
                        f"{hp.values.get('learning_rate')!r})")
            return results
        except kt.errors.FatalError:
            raise
        except kt.errors.FailedTrialError as err:
            info["reason"] = str(err)
            raise
        except Exception as err:  # a failed trial must not end the sweep
            info["reason"] = _reason(err)
            logger.warning("trial %s failed: %s", trial.trial_id, info["reason"])
            raise kt.errors.FailedTrialError(info["reason"]) from err
        finally:
            info["wall_s"] = round(time.perf_counter() - start, 3)
            info["epochs_run"] = _count_epochs(trial_dir / "history.csv")
            write_json(trial_dir / TRIAL_INFO, info)
            self._info = None

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        prune_checkpoints(Path(self.project_dir), self.cfg.tune.mode,
                          keep_all=self.cfg.tune.keep_trial_weights)
        if self.after_trial is not None:
            self.after_trial()


class AtomicSaveBestEpoch(tuner_utils.SaveBestEpoch):
    """Keras Tuner's best-epoch checkpoint, written whole or not at all."""

    def _save_model(self):
        with atomic_target(self.filepath) as tmp:
            self.model.save_weights(tmp)


class RandomSearchTuner(TrialRecorder, kt.RandomSearch):
    """``tune.algorithm=random``."""


class HyperbandTuner(TrialRecorder, kt.Hyperband):
    """``tune.algorithm=hyperband``."""


class BayesianTuner(TrialRecorder, kt.BayesianOptimization):
    """``tune.algorithm=bayesian``."""


def make_tuner(cfg: Config, name: str, hypermodel: DenoiserHyperModel, directory: Path, *,
               strategy=None) -> kt.Tuner:
    """The Keras Tuner tuner of one model of the experiment (reloads an existing project).

    Args:
        cfg: The configuration (``tune`` and ``train`` sections).
        name: The model family (the project's name).
        hypermodel: Its HyperModel.
        directory: The parent of the Keras Tuner projects (``<experiment>/tuner``).
        strategy: A ``tf.distribute`` strategy, or ``None``.
    """
    t = cfg.tune
    common = dict(objective=kt.Objective(t.objective, t.mode),
                  seed=t.seed + 1,  # keras-tuner takes seed 0 for "no seed"
                  max_consecutive_failed_trials=t.max_consecutive_failures)
    if t.algorithm == "hyperband":
        common.update(max_epochs=t.epochs, factor=t.hyperband_factor, hyperband_iterations=1)
    else:
        common.update(max_trials=t.max_trials)
    tuner_class = {"hyperband": HyperbandTuner, "bayesian": BayesianTuner}.get(
        t.algorithm, RandomSearchTuner)
    return tuner_class(ORACLES[t.algorithm](**common), cfg=cfg, hypermodel=hypermodel,
                       directory=str(directory), project_name=name, overwrite=False,
                       executions_per_trial=t.executions_per_trial,
                       distribution_strategy=strategy)


# ----------------------------------------------------------------------------- their weights


def _best_id(trials: list[dict], mode: str) -> str | None:
    done = [t for t in trials if t.get("status") == "COMPLETED" and t.get("score") is not None
            and math.isfinite(t["score"])]
    if not done:
        return None
    pick = max if mode == "max" else min
    return pick(done, key=lambda t: t["score"])["trial_id"]


def prune_checkpoints(project: Path, mode: str, *, final: bool = False,
                      keep_all: bool = False) -> list[Path]:
    """Delete the weights of ended trials that neither resume nor the results need.

    Kept: the best completed trial's, trials still running, and, unless ``final`` (the search
    has ended), Hyperband trials of brackets still open, whose weights a later round may
    continue from. With ``keep_all`` (``tune.keep_trial_weights``) nothing is deleted.

    Returns:
        The files deleted.
    """
    if keep_all:
        return []
    trials = _read_trials(project)
    keep = {_best_id(trials, mode)}
    keep |= {t["trial_id"] for t in trials if t.get("status") in ("RUNNING", "IDLE")}
    oracle = project / "oracle.json"
    if oracle.exists() and not final:
        with contextlib.suppress(OSError, json.JSONDecodeError):
            for bracket in json.loads(oracle.read_text()).get("brackets", []):
                keep |= {entry["id"] for rnd in bracket.get("rounds", []) for entry in rnd}
    deleted = []
    for t in trials:
        if t["trial_id"] in keep:
            continue
        for path in (project / f"trial_{t['trial_id']}").glob("checkpoint*"):
            path.unlink(missing_ok=True)
            deleted.append(path)
    return deleted


__all__ = ["BayesianTuner", "HyperbandTuner", "RandomSearchTuner", "TrialRecorder", "make_tuner",
           "prune_checkpoints"]
