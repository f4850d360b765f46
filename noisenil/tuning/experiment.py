"""Keras Tuner sweeps over several model families: ``noisenil tune`` and :func:`tune`.

An experiment lives in ``tune.results_dir/tune.experiment/``::

    config.yaml                 the resolved configuration
    experiment.json             the objective, its direction and the noisy-input baseline
    trials.csv                  one row per trial of every model (see :func:`collect_trials`)
    summary.md                  the best trial per model and how the experiment ran
    <model>/best_hparams.yaml   the best trial as a whole config: ``noisenil train --config`` it
    <model>/best.keras          the best trial's model at its best epoch (git-ignored)
    tuner/<model>/              Keras Tuner's project (git-ignored): oracle.json and one
                                trial_<id>/ per trial (trial.json, history.csv, noisenil.json,
                                TensorBoard logs, and the weights of the trials still needed)

Every family is searched in turn with the same data, algorithm, budget, objective and seed, so
the rows of ``trials.csv`` are comparable. Rerunning the same command continues an interrupted
experiment: finished trials are kept, the trial in flight when the process died is run again
under its id. A trial that fails (non-finite loss, out of memory, a hyperparameter combination
that does not build) is recorded as ``FAILED`` with its reason and the sweep goes on. Only the
weights that resume and the final models need are kept: the best trial's and, for Hyperband,
those of trials that a later round may continue. :func:`load_experiment` reads a finished or
interrupted experiment folder back into the :class:`TuneResult` that :func:`tune` returned.

Distributed tuning uses Keras Tuner's chief/worker mode unchanged: start the same command on
every process with ``KERASTUNER_TUNER_ID`` (``chief`` or ``tuner<N>``),
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` set. The chief serves model ``i`` of
``tune.models`` on port ``PORT + i``, marks each model whose search has ended
(``tuner/<model>/search_done.json``) and writes the results; workers train, and move on from a
model (or exit) once the chief has marked it, instead of waiting for an oracle that is no longer
served (see :class:`OracleWait`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import math
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import yaml

from noisenil.config import (
    Config,
    config_from_dict,
    load_config,
    metric_direction,
    save_config,
)
from noisenil.inference.denoiser import save_model
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.models import get_hypermodel, list_models
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.training.trainer import (
    _write_json,
    distribution_strategy,
    precision_policy,
    train_data_epoch,
    training_callbacks,
)

logger = logging.getLogger(__name__)

TRIAL_INFO = "noisenil.json"
#: Config keys that may change between the runs of one experiment (tune does not use them, they
#: do not change results, or, for ``tune.max_trials``, they extend the sweep).
RESUMABLE_KEYS = frozenset({
    "tune.max_trials", "tune.strategy", "tune.results_dir", "tune.max_consecutive_failures",
    "train.strategy", "train.run_dir", "train.tensorboard", "train.epochs", "train.monitor",
    "train.monitor_mode", "model.name", "model.hparams", "data.workers",
    "data.use_multiprocessing", "data.pipeline", "data.demo_dir",
})
#: Distributed mode: written by the chief into ``tuner/<model>/`` once that model's search has
#: ended (the settings that bound it, the number of trials, the time). Workers read it to move on.
SEARCH_DONE = "search_done.json"
#: Distributed mode: how long (seconds) a worker waits for a model's oracle while no port of the
#: experiment answers and the model is not marked done: the chief may still be starting, or
#: writing one model's results before it serves the next. After that the chief is taken to be
#: gone (crashed, never started, another KERASTUNER_ORACLE_IP) and the worker fails.
CHIEF_WAIT_S = 600.0
#: Distributed mode: how long (seconds) one request for a trial waits for the model's oracle
#: before the worker looks again whether the chief is done with the model (Keras Tuner's own
#: client waits an hour, then fails).
ORACLE_POLL_S = 5.0
#: The leading columns of ``trials.csv``; hyperparameter columns follow (``hp.<name>``). In the
#: file and in :attr:`TuneResult.trials`, ``objective`` is named after the objective (``val_snr``).
TRIAL_COLUMNS = ["model", "trial_id", "status", "objective", "best_epoch", "epochs_run",
                 "params", "wall_s", "tuner_id", "reason"]
#: The types of the columns of :attr:`TuneResult.trials` (see :func:`_typed_trials`); a
#: hyperparameter column is ``Int64``, ``float64``, ``boolean`` or ``str`` by its values.
_INT_COLUMNS = ("best_epoch", "epochs_run", "params")
_FLOAT_COLUMNS = ("objective", "wall_s")
_TEXT_COLUMNS = ("model", "trial_id", "status", "tuner_id", "reason",
                 "hp.tuner/trial_id")  # Hyperband's id of the trial continued, like "0003"
#: Written by :func:`tune` into the experiment folder: what :class:`TuneResult` holds that no
#: other file records exactly (``objective``, ``direction``, ``role``, ``baseline``).
EXPERIMENT_RECORD = "experiment.json"
#: The first line of ``<model>/best_hparams.yaml``; :func:`load_experiment` reads the trial id
#: back from it.
BEST_HEADER = "# Best {model} trial {trial_id} of experiment {experiment!r}: "
_BEST_HEADER_RE = re.compile(r"# Best (?P<model>\S+) trial (?P<trial_id>\S+) of experiment ")


@dataclass
class BestTrial:
    """The best completed trial of one model.

    Attributes:
        model: The model family.
        trial_id: Keras Tuner's trial id (unique within the model).
        score: Its best objective value.
        hparams: Its hyperparameters (Hyperband's bookkeeping ``tuner/*`` values left out).
        hparams_path: ``<model>/best_hparams.yaml``.
        model_path: ``<model>/best.keras``, or ``None`` where the weights were not available
            (e.g. a worker process, which does not write results).
    """

    model: str
    trial_id: str
    score: float
    hparams: dict[str, Any]
    hparams_path: Path
    model_path: Path | None = None


@dataclass
class TuneResult:
    """What :func:`tune` produced.

    Attributes:
        experiment_dir: ``tune.results_dir/tune.experiment``.
        trials: ``trials.csv`` as a ``pandas.DataFrame``, one row per trial: the columns of
            :func:`collect_trials`, the objective's named after it (``val_snr``); ``model``,
            ``trial_id`` (``"0"``, ``"0003"``), ``status``, ``tuner_id``, ``reason`` text;
            ``best_epoch``, ``epochs_run``, ``params`` ``Int64``; the objective and ``wall_s``
            ``float64``; each ``hp.<name>`` ``Int64``, ``float64``, ``boolean`` or text by its
            values, missing where a model lacks it.
        best: The best trial per model that completed at least one trial.
        objective: The objective's name, e.g. ``val_snr``.
        direction: ``max`` or ``min``.
        role: ``local``, ``chief`` or ``worker`` (distributed mode).
        baseline: The validation metrics of the noisy input passed through unchanged
            (``{"val_loss": ..., "val_snr": ...}``): what a model must beat to be of any use.
    """

    experiment_dir: Path
    trials: Any
    best: dict[str, BestTrial] = field(default_factory=dict)
    objective: str = "val_snr"
    direction: str = "max"
    role: str = "local"
    baseline: dict[str, float] = field(default_factory=dict)

    @property
    def summary_path(self) -> Path:
        """``summary.md``."""
        return self.experiment_dir / "summary.md"

    @property
    def trials_path(self) -> Path:
        """``trials.csv``."""
        return self.experiment_dir / "trials.csv"


# ----------------------------------------------------------------------------- planning


def plan_experiment(cfg: Config) -> dict[str, DenoiserHyperModel]:
    """Check the ``tune`` section and build one HyperModel per model (nothing is trained).

    Returns:
        ``{model name: HyperModel}`` in the order of ``tune.models``.

    Raises:
        ConfigError: Unknown model, hyperparameter or option; empty search space; an objective
            that no model reports, or one that needs validation data when there is none.
    """
    t = cfg.tune
    known = list_models()
    for key in ("models", "hparams", "space"):
        names = t.models if key == "models" else list(getattr(t, key))
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(f"tune.{key}: unknown model(s) {unknown}; registered models: "
                              f"{known}", key=f"tune.{key}")
    reported = ["loss", *cfg.model.metrics]
    base = t.objective[len("val_"):] if t.objective.startswith("val_") else t.objective
    if base not in reported:
        choices = [f"{p}{m}" for p in ("val_", "") for m in reported]
        raise ConfigError(f"tune.objective={t.objective!r}: no model reports it; they report "
                          f"{choices} (model.metrics={cfg.model.metrics})", key="tune.objective")
    if t.objective.startswith("val_") and cfg.data.val_fraction == 0:
        raise ConfigError(f"tune.objective={t.objective!r} needs validation data, but "
                          f"data.val_fraction=0; set a fraction or use {base!r}",
                          key="tune.objective")
    plan: dict[str, DenoiserHyperModel] = {}
    for name in t.models:
        pins = dict(t.hparams.get(name) or {})
        try:
            hypermodel = get_hypermodel(name, channels=cfg.features.channels, loss=cfg.model.loss,
                                        metrics=cfg.model.metrics, **pins)
        except ConfigError as err:
            raise ConfigError(f"tune.hparams.{name}: {err}", key=f"tune.hparams.{name}") from err
        hypermodel.narrow(t.space.get(name) or {}, key=f"tune.space.{name}")
        if not hypermodel.free_hyperparameters():
            raise ConfigError(f"tune.hparams.{name}={pins!r}: every hyperparameter is pinned, "
                              f"so the search space is empty; unpin one (or use noisenil train)",
                              key=f"tune.hparams.{name}")
        plan[name] = hypermodel
    return plan


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and name not in ("tune.hparams", "tune.space",
                                                              "model.hparams"):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _check_same_experiment(cfg: Config, root: Path) -> None:
    saved = root / "config.yaml"
    if not saved.exists():
        return
    before, now = _flatten(load_config(saved).to_dict()), _flatten(cfg.to_dict())
    for key in now:
        if key not in RESUMABLE_KEYS and before.get(key) != now[key]:
            raise ConfigError(
                f"tune.experiment={cfg.tune.experiment!r}: {root} holds an experiment with "
                f"{key}={before.get(key)!r} (now {now[key]!r}); rerun it with the same config "
                f"to resume, or choose another tune.experiment", key="tune.experiment")


# ----------------------------------------------------------------------------- the tuner


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

    def _populate_initial_space(self):
        # Keras Tuner builds a whole network here by default; declaring is enough.
        hp = self.oracle.get_space()
        self.hypermodel.declare(hp)
        self.oracle.update_space(hp)

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
        callbacks = list(kwargs.pop("callbacks", []) or [])
        callbacks += training_callbacks(cfg, trial_dir, monitor=cfg.tune.objective,
                                        mode=cfg.tune.mode, checkpoint=False,
                                        learning_rate=hp.get("learning_rate"))
        start = time.perf_counter()
        try:
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
            _write_json(trial_dir / TRIAL_INFO, info)
            self._info = None

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        prune_checkpoints(Path(self.project_dir), self.cfg.tune.mode)
        if self.after_trial is not None:
            self.after_trial()


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
    common = dict(hypermodel=hypermodel, objective=kt.Objective(t.objective, t.mode),
                  seed=t.seed + 1,  # keras-tuner takes seed 0 for "no seed"
                  directory=str(directory), project_name=name, overwrite=False,
                  executions_per_trial=t.executions_per_trial, distribution_strategy=strategy,
                  max_consecutive_failed_trials=t.max_consecutive_failures)
    if t.algorithm == "hyperband":
        tuner = HyperbandTuner(max_epochs=t.epochs, factor=t.hyperband_factor,
                               hyperband_iterations=1, **common)
    elif t.algorithm == "bayesian":
        tuner = BayesianTuner(max_trials=t.max_trials, **common)
    else:
        tuner = RandomSearchTuner(max_trials=t.max_trials, **common)
    tuner.cfg = cfg
    return tuner


# ----------------------------------------------------------------------------- records on disk


def _read_trials(project: Path) -> list[dict]:
    trials = []
    for path in sorted(project.glob("trial_*/trial.json")):
        try:
            trials.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):  # being written by another process
            continue
    return trials


def _best_id(trials: list[dict], mode: str) -> str | None:
    done = [t for t in trials if t.get("status") == "COMPLETED" and t.get("score") is not None
            and math.isfinite(t["score"])]
    if not done:
        return None
    pick = max if mode == "max" else min
    return pick(done, key=lambda t: t["score"])["trial_id"]


def prune_checkpoints(project: Path, mode: str, *, final: bool = False) -> list[Path]:
    """Delete the weights of ended trials that neither resume nor the results need.

    Kept: the best completed trial's, trials still running, and, unless ``final`` (the search
    has ended), Hyperband trials of brackets still open, whose weights a later round may
    continue from.

    Returns:
        The files deleted.
    """
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


def collect_trials(experiment_dir: str | os.PathLike, models: list[str] | None = None):
    """Every trial of an experiment as a ``pandas.DataFrame`` (the rows of ``trials.csv``).

    Columns: ``model``, ``trial_id``, ``status`` (``COMPLETED``, ``FAILED``, ``RUNNING``),
    ``objective`` (the trial's best objective value), ``best_epoch`` (1-based), ``epochs_run``,
    ``params``, ``wall_s`` (seconds), ``tuner_id``, ``reason`` (why a trial failed), then one
    ``hp.<name>`` column per hyperparameter (empty where a model does not have it).

    Args:
        experiment_dir: The experiment folder.
        models: The models to read (default: every project under ``tuner/``).
    """
    import pandas as pd

    root = Path(experiment_dir)
    if models is None:
        models = sorted(p.name for p in (root / "tuner").glob("*") if p.is_dir())
    rows = []
    for model in models:
        project = root / "tuner" / model
        for t in _read_trials(project):
            info_path = project / f"trial_{t['trial_id']}" / TRIAL_INFO
            info = {}
            if info_path.exists():
                with contextlib.suppress(OSError, json.JSONDecodeError):
                    info = json.loads(info_path.read_text())
            reason = info.get("reason", "")
            if t.get("status") == "FAILED" and not reason and t.get("message"):
                lines = [x for x in str(t["message"]).strip().splitlines() if x.strip()]
                reason = lines[-1] if lines else ""
            step = t.get("best_step")
            row = {"model": model, "trial_id": str(t["trial_id"]), "status": t.get("status"),
                   "objective": t.get("score") if t.get("status") == "COMPLETED" else None,
                   "best_epoch": None if step is None or t.get("status") != "COMPLETED"
                   else int(step) + 1,
                   "epochs_run": info.get("epochs_run"), "params": info.get("params"),
                   "wall_s": info.get("wall_s"), "tuner_id": info.get("tuner_id"),
                   "reason": reason}
            values = (t.get("hyperparameters") or {}).get("values") or {}
            row.update({f"hp.{k}": v for k, v in values.items()})
            rows.append(row)
    if not rows:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    frame = pd.DataFrame(rows, dtype=object)  # keeps each hyperparameter's own type
    for column in ("objective", "wall_s"):
        frame[column] = pd.to_numeric(frame[column])
    for column in ("best_epoch", "epochs_run", "params"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    frame["reason"] = frame["reason"].fillna("")
    hp_cols = [c for c in frame.columns if c.startswith("hp.")]
    return frame[TRIAL_COLUMNS + hp_cols].reset_index(drop=True)


_INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")  # not "0003": a trial id, kept as text
_FLOAT_TEXT = re.compile(r"-?([0-9]+(\.[0-9]*)?(e[-+]?[0-9]+)?|inf|nan)")  # as Python writes


def _typed_column(kind: str, text):
    """One column of ``trials.csv`` read as text (``""`` where empty), typed by ``kind`` (its
    name, ``objective`` for the objective's)."""
    import pandas as pd

    values = [v for v in text if v != ""]
    guess = kind.startswith("hp.") and kind not in _TEXT_COLUMNS and bool(values)
    if kind in _INT_COLUMNS or (guess and all(_INT_TEXT.fullmatch(v) for v in values)):
        return pd.Series([int(v) if v else pd.NA for v in text], dtype="Int64")
    if kind in _FLOAT_COLUMNS or (guess and all(_FLOAT_TEXT.fullmatch(v) for v in values)):
        return pd.Series([float(v) if v else np.nan for v in text], dtype="float64")
    if guess and all(v in ("True", "False") for v in values):
        return pd.Series([v == "True" if v else pd.NA for v in text], dtype="boolean")
    return text if kind == "reason" else text.where(text != "")


def _typed_trials(source: Any):
    """``trials.csv`` (a path or a text buffer) as :attr:`TuneResult.trials`.

    The one reader of the table's text: :func:`write_trials_csv` types what it has just written
    through it and :func:`load_experiment` what it finds, so :func:`tune`'s table and the loaded
    one agree column by column (types: :attr:`TuneResult.trials`). Text stays text: a trial id
    ``"0003"``, Hyperband's ``hp.tuner/trial_id`` too; no failure reason is ``""``, an unknown
    tuner id missing. The fourth column is the objective, whatever its name.
    """
    import pandas as pd

    text = pd.read_csv(source, dtype=str, keep_default_na=False)
    return pd.DataFrame({name: _typed_column("objective" if i == 3 else name, text[name])
                         for i, name in enumerate(text.columns)})


def write_trials_csv(experiment_dir: Path, models: list[str], objective: str):
    """Rewrite ``trials.csv`` from the trial records (atomically).

    Returns:
        The table as :func:`load_experiment` reads it back (:func:`_typed_trials`).
    """
    text = _trials_text(collect_trials(experiment_dir, models), objective)
    path = Path(experiment_dir) / "trials.csv"
    tmp = path.with_suffix(".partial")
    tmp.write_text(text)
    os.replace(tmp, path)
    return _typed_trials(io.StringIO(text))


def _trials_text(frame, objective: str) -> str:
    """The text of ``trials.csv`` for :func:`collect_trials`' frame."""
    return frame.rename(columns={"objective": objective}).to_csv(index=False)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def _best_hparams(hypermodel: DenoiserHyperModel, values: dict) -> dict:
    hparams = {k: _plain(v) for k, v in values.items() if not k.startswith("tuner/")}
    return {**{k: _plain(v) for k, v in hypermodel.chosen.items()}, **hparams}


def _best_row(trials, name: str, objective: str, mode: str):
    """The row of model ``name``'s best completed trial in :attr:`TuneResult.trials`, or
    ``None``."""
    done = trials[(trials["model"] == name) & (trials["status"] == "COMPLETED")]
    done = done[done[objective].notna()]
    if done.empty:
        return None
    return done.loc[done[objective].idxmax() if mode == "max" else done[objective].idxmin()]


def export_best(cfg: Config, tuner: kt.Tuner, name: str, hypermodel: DenoiserHyperModel,
                trials, root: Path) -> BestTrial | None:
    """Write ``<model>/best_hparams.yaml`` and ``<model>/best.keras`` for the best trial.

    Args:
        trials: :attr:`TuneResult.trials` (the objective's column named after it).
    """
    t = cfg.tune
    row = _best_row(trials, name, t.objective, t.mode)
    if row is None:
        logger.warning("%s: no completed trial, so no best model", name)
        return None
    trial = tuner.oracle.get_trial(row["trial_id"])
    hparams = _best_hparams(hypermodel, trial.hyperparameters.values)
    out = root / name
    out.mkdir(parents=True, exist_ok=True)
    # A whole configuration (model section first), not an overlay: YAML overlays merge
    # mappings, so the experiment's own model.hparams would leak into this model's.
    chosen = replace(cfg, model=replace(cfg.model, name=name, hparams=hparams)).to_dict()
    overlay = {"model": chosen.pop("model"), **chosen}
    header = (BEST_HEADER.format(model=name, trial_id=row["trial_id"], experiment=t.experiment)
              + f"{t.objective} {row[t.objective]:.4f} at epoch {row['best_epoch']} "
              f"({t.algorithm} search, {t.epochs} epochs per trial).\n"
              f"# Train it further: noisenil train --config {out / 'best_hparams.yaml'}\n")
    hparams_path = out / "best_hparams.yaml"
    hparams_path.write_text(header + yaml.safe_dump(overlay, sort_keys=False))
    model_path = out / "best.keras"
    try:
        # Not tuner.load_model(): Hyperband's would first load the weights of the trial this
        # one continued from, which pruning has deleted.
        keras.backend.clear_session()
        model = hypermodel.build(trial.hyperparameters.copy())
        model.load_weights(tuner._get_checkpoint_fname(trial.trial_id))
        save_model(model, model_path, config_from_dict(overlay))
    except (OSError, ValueError) as err:  # weights gone (e.g. deleted by hand)
        logger.warning("%s: could not load the weights of trial %s (%s)", name,
                       row["trial_id"], err)
        model_path = None
    return BestTrial(model=name, trial_id=str(row["trial_id"]), score=float(row[t.objective]),
                     hparams=hparams, hparams_path=hparams_path, model_path=model_path)


def identity_scores(cfg: Config, val_data: Any, *, steps: int | None = None) -> dict[str, float]:
    """Validation loss and metrics of the noisy input itself (an identity "model").

    Args:
        cfg: The configuration (``model.loss``, ``model.metrics``, ``features``).
        val_data: Validation ``(noisy, clean)`` batches.
        steps: Batches to evaluate (needed for endless ``tf.data`` streams).

    Returns:
        ``{"val_loss": ..., "val_<metric>": ...}``.
    """
    from noisenil.models.losses import get_loss
    from noisenil.models.hypermodels.base import METRICS

    inputs = keras.Input((None, None, cfg.features.channels))
    model = keras.Model(inputs, keras.layers.Identity()(inputs), name="noisy_input")
    model.compile(loss=get_loss(cfg.model.loss), metrics=[METRICS[m]() for m in cfg.model.metrics])
    scores = model.evaluate(val_data, steps=steps, verbose=0, return_dict=True)
    return {f"val_{k}": float(v) for k, v in scores.items()}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_summary(cfg: Config, root: Path, trials, best: dict[str, BestTrial],
                  baseline: dict[str, float] | None = None) -> Path:
    """Write ``summary.md``: one line per model, the winner, the noisy-input baseline, and the
    failed trials."""
    t = cfg.tune
    budget = (f"Hyperband up to {t.epochs} epochs per trial (factor {t.hyperband_factor})"
              if t.algorithm == "hyperband" else
              f"{t.algorithm} search, {t.max_trials} trials per model, {t.epochs} epochs each")
    lines = [f"# Tuning experiment `{t.experiment}`", "",
             f"Objective: `{t.objective}` ({t.mode}). {budget}; seed {t.seed}; "
             f"{cfg.data.train_patches} training patches per epoch of "
             f"{cfg.patches.height}x{cfg.patches.width}, batch {cfg.data.batch_size}, "
             f"data mode `{cfg.data.mode}`. The resolved configuration is `config.yaml`; "
             f"every trial is a row of `trials.csv`.", "",
             f"| model | trials done | failed | best {t.objective} | trial | parameters | "
             f"median s/trial | best hyperparameters |",
             "|---|---|---|---|---|---|---|---|"]
    for name in t.models:
        rows = trials[trials["model"] == name]
        n_done = int((rows["status"] == "COMPLETED").sum())
        n_failed = int((rows["status"] == "FAILED").sum())
        b = best.get(name)
        walls = rows["wall_s"].dropna()
        wall = f"{walls.median():.0f}" if len(walls) else ""
        if b is None:
            lines.append(f"| {name} | {n_done} | {n_failed} | – | – | – | {wall} | – |")
            continue
        params = rows.loc[rows["trial_id"] == b.trial_id, "params"]
        params_s = f"{int(params.iloc[0]):,}" if len(params) and params.notna().iloc[0] else ""
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in b.hparams.items() if v is not None)
        lines.append(f"| {name} | {n_done} | {n_failed} | {b.score:.3f} | {b.trial_id} | "
                     f"{params_s} | {wall} | {shown} |")
    if best:
        pick = max if t.mode == "max" else min
        winner = pick(best.values(), key=lambda b: b.score)
        lines += ["", f"Best model: **{winner.model}** ({t.objective} {winner.score:.3f}, "
                      f"trial {winner.trial_id}): `{winner.model}/best.keras`, "
                      f"hyperparameters in `{winner.model}/best_hparams.yaml`."]
    if baseline and t.objective in baseline:
        lines += ["", f"The noisy input itself (no denoising) scores {t.objective} "
                      f"{baseline[t.objective]:.3f} on the same validation batches."]
    failed = trials[trials["status"] == "FAILED"]
    if len(failed):
        lines += ["", "Failed trials:", ""]
        lines += [f"- {r.model} trial {r.trial_id}: {r.reason}" for r in failed.itertuples()]
    path = root / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path


# ----------------------------------------------------------------------------- distributed mode


def distributed_role() -> str:
    """``local``, or ``chief`` / ``worker`` in Keras Tuner's distributed mode (environment).

    Raises:
        ConfigError: ``KERASTUNER_ORACLE_IP`` set without the port or the tuner id.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "local"
    for var in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if var not in os.environ:
            raise ConfigError(f"{var} is not set, but KERASTUNER_ORACLE_IP is: distributed "
                              f"tuning needs KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and "
                              f"KERASTUNER_ORACLE_PORT on every process", key=var)
    if not os.environ["KERASTUNER_ORACLE_PORT"].isdigit():
        raise ConfigError(f"KERASTUNER_ORACLE_PORT={os.environ['KERASTUNER_ORACLE_PORT']!r}: "
                          f"must be a port number", key="KERASTUNER_ORACLE_PORT")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


@contextlib.contextmanager
def _oracle_port(index: int, role: str) -> Iterator[None]:
    """Model ``index`` of the experiment is served on ``KERASTUNER_ORACLE_PORT + index``."""
    if role == "local":
        yield
        return
    base = os.environ["KERASTUNER_ORACLE_PORT"]
    os.environ["KERASTUNER_ORACLE_PORT"] = str(int(base) + index)
    try:
        yield
    finally:
        os.environ["KERASTUNER_ORACLE_PORT"] = base


def _search_budget(cfg: Config, name: str) -> dict[str, Any]:
    """The settings that decide where a model's search ends (``tune.max_trials`` may grow)."""
    t = cfg.tune
    return {"model": name, "algorithm": t.algorithm, "max_trials": t.max_trials,
            "epochs": t.epochs, "hyperband_factor": t.hyperband_factor}


def mark_search_done(cfg: Config, name: str, project: Path) -> Path:
    """Record that model ``name``'s search has ended: ``<project>/search_done.json``.

    Written by the chief once it has stopped serving the model's oracle, so that workers (and a
    chief started again with the same settings) know there is nothing left to do for it.
    """
    path = Path(project) / SEARCH_DONE
    _write_json(path, {**_search_budget(cfg, name), "trials": len(_read_trials(Path(project))),
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return path


def search_done(cfg: Config, name: str, project: Path) -> bool:
    """Whether model ``name``'s search has ended with the settings of ``cfg``.

    A mark written under another budget (a sweep extended with a larger ``tune.max_trials``)
    does not count: the search goes on.
    """
    path = Path(project) / SEARCH_DONE
    try:
        mark = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):  # none yet, or being replaced
        return False
    return all(mark.get(key) == value for key, value in _search_budget(cfg, name).items())


class OracleWait:
    """How a worker asks the chief for the trials of one model, and when it stops asking.

    Keras Tuner's worker asks for every trial with ``wait_for_ready`` and a one-hour timeout, so
    a worker that reaches a model after the chief has stopped serving it (the other workers ran
    its last trials meanwhile, or the chief has exited) waits an hour for nothing, then fails.
    This asks in rounds of ``poll_s`` seconds instead; between rounds it ends the model's search
    (a ``STOPPED`` trial, as the chief's own answer would be) once the chief has marked the model
    done (:func:`mark_search_done`), keeps waiting while the chief serves any model of the
    experiment or comes back within ``chief_wait_s`` (starting up, or writing one model's results
    before serving the next), and fails after that.

    Args:
        cfg: The configuration.
        name: The model.
        project: Its Keras Tuner project (``<experiment>/tuner/<model>``).
        host: The chief's address (``KERASTUNER_ORACLE_IP``).
        port: The port of this model's oracle.
        ports: The ports of every model of the experiment.
        chief_wait_s: How long to wait without any sign of the chief.
        poll_s: How long one request waits for the oracle.
    """

    def __init__(self, cfg: Config, name: str, project: Path, *, host: str, port: int,
                 ports: list[int], chief_wait_s: float = CHIEF_WAIT_S,
                 poll_s: float = ORACLE_POLL_S):
        self.cfg = cfg
        self.name = name
        self.project = Path(project)
        self.host = host
        self.port = port
        self.ports = ports
        self.chief_wait_s = chief_wait_s
        self.poll_s = poll_s

    def chief_listening(self) -> bool:
        """Whether the chief serves any model of the experiment now (a TCP connection opens)."""
        for port in self.ports:
            with contextlib.suppress(OSError):
                with socket.create_connection((self.host, port), timeout=min(2.0, self.poll_s)):
                    return True
        return False

    def create_trial(self, client: Any, tuner_id: str) -> Any:
        """``OracleClient.create_trial`` that gives up on a model the chief is done with.

        Args:
            client: The worker's Keras Tuner ``OracleClient`` for this model.
            tuner_id: The worker's ``KERASTUNER_TUNER_ID``.

        Raises:
            NoiseNilError: No sign of the chief for ``chief_wait_s`` seconds.
        """
        import grpc
        from keras_tuner.engine.trial import Trial, TrialStatus
        from keras_tuner.src import protos

        not_served = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE,
                      grpc.StatusCode.CANCELLED)
        last_seen: float | None = None  # when the chief was last seen, once waiting
        while True:
            if search_done(self.cfg, self.name, self.project):
                logger.info("%s: the chief has ended this model's search (%s); nothing left "
                            "for %s here", self.name, self.project / SEARCH_DONE, tuner_id)
                return Trial(kt.HyperParameters(), status=TrialStatus.STOPPED)
            try:
                response = client.stub.CreateTrial(
                    protos.get_service().CreateTrialRequest(tuner_id=tuner_id),
                    wait_for_ready=True, timeout=self.poll_s)
                return Trial.from_proto(response.trial)
            except grpc.RpcError as err:
                if err.code() not in not_served:
                    raise
            now = time.monotonic()
            if last_seen is None:
                last_seen = now
                logger.info("%s: waiting for the chief to serve this model at %s:%d", self.name,
                            self.host, self.port)
            if self.chief_listening():
                last_seen = now
            elif now - last_seen > self.chief_wait_s:
                raise NoiseNilError(
                    f"{self.name}: no oracle at {self.host}:{self.port} and no sign of the chief "
                    f"on ports {self.ports[0]}-{self.ports[-1]} for {now - last_seen:.0f} s, "
                    f"and {self.project / SEARCH_DONE} does not mark the model done: is the "
                    f"chief running at KERASTUNER_ORACLE_IP={self.host}, with the same config "
                    f"and a tune.results_dir shared with this worker?")


# ----------------------------------------------------------------------------- the experiment


def tune(cfg: Config, *, progress: bool = True) -> TuneResult:
    """Run (or continue) a tuning experiment over ``tune.models``.

    Args:
        cfg: The configuration: ``tune``, plus ``model.loss``/``model.metrics``, the ``train``
            schedule, and the data sections.
        progress: Keras progress bars and Keras Tuner's trial reports.

    Returns:
        A :class:`TuneResult` (a worker process returns the trials it can see and no best
        models; the chief writes them).

    Raises:
        ConfigError: A bad ``tune`` section (see :func:`plan_experiment`), a strategy the backend
            lacks, or an experiment folder holding a different experiment; all before any data
            is loaded.
    """
    t = cfg.tune
    plan = plan_experiment(cfg)
    role = distributed_role()
    strategy = distribution_strategy(t.strategy, key="tune.strategy")
    root = Path(t.results_dir) / t.experiment
    if role != "worker":
        _check_same_experiment(cfg, root)
        root.mkdir(parents=True, exist_ok=True)
        save_config(cfg, root / "config.yaml")
    models = list(plan)

    fit_kwargs: dict[str, Any] = dict(epochs=t.epochs, verbose=1 if progress else 0)
    train_data = val_data = None
    if role != "chief":  # the chief only serves the oracle
        from noisenil.training.trainer import configured_data

        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        train_data, val_data = configured_data(cfg, replicas, progress, fit_kwargs)
    baseline: dict[str, float] = {}
    if role == "local" and val_data is not None:
        baseline = identity_scores(cfg, val_data, steps=fit_kwargs.get("validation_steps"))
        logger.info("noisy input (identity): %s", baseline)
    if role != "worker":
        _write_json(root / EXPERIMENT_RECORD, {"objective": t.objective, "direction": t.mode,
                                               "role": role, "baseline": baseline})

    def record() -> None:
        write_trials_csv(root, models, t.objective)

    ports = []
    if role != "local":
        base_port = int(os.environ["KERASTUNER_ORACLE_PORT"])
        ports = [base_port + i for i in range(len(plan))]
    best: dict[str, BestTrial] = {}
    with precision_policy(cfg.train.precision):
        for index, (name, hypermodel) in enumerate(plan.items()):
            logger.info("tuning %s (%d of %d): %s", name, index + 1, len(plan),
                        ", ".join(hypermodel.free_hyperparameters()))
            project = root / "tuner" / name
            with _oracle_port(index, role):
                tuner = make_tuner(cfg, name, hypermodel, root / "tuner", strategy=strategy)
                tuner.after_trial = record if role == "local" else None
                if role == "worker":
                    wait = OracleWait(cfg, name, project, port=ports[index], ports=ports,
                                      host=os.environ["KERASTUNER_ORACLE_IP"])
                    tuner.oracle.create_trial = functools.partial(wait.create_trial, tuner.oracle)
                try:
                    if role == "chief" and search_done(cfg, name, project):
                        # Serving it again would wait for workers that have moved on.
                        logger.info("%s: search already ended (%s)", name, project / SEARCH_DONE)
                    elif role == "chief":
                        tuner.search(verbose=1 if progress else 0)
                        # Keras Tuner last saved the oracle before the last trial left its
                        # ongoing trials: resumed, it would run that trial again.
                        tuner.oracle.save()
                        mark_search_done(cfg, name, project)
                    else:
                        tuner.search(train_data, validation_data=val_data, **fit_kwargs)
                except RuntimeError as err:  # keras-tuner: too many consecutive failures
                    if "consecutive failures" not in str(err):
                        raise
                    logger.error("%s: search stopped after %d failed trials in a row: %s", name,
                                 t.max_consecutive_failures, str(err).splitlines()[-1])
            if role != "worker":
                prune_checkpoints(Path(tuner.project_dir), t.mode, final=True)
                trials = write_trials_csv(root, models, t.objective)
                found = export_best(cfg, tuner, name, hypermodel, trials, root)
                if found is not None:
                    best[name] = found
    if role == "worker":  # typed as the chief's trials.csv, which it does not write
        trials = _typed_trials(io.StringIO(_trials_text(collect_trials(root, models),
                                                        t.objective)))
    else:
        trials = write_trials_csv(root, models, t.objective)
        write_summary(cfg, root, trials, best, baseline)
    return TuneResult(experiment_dir=root, trials=trials, best=best, objective=t.objective,
                      direction=t.mode, role=role, baseline=baseline)


def tune_from_files(config: str | None = None, overrides: list[str] | tuple = (), *,
                    experiment: str | None = None, progress: bool = True) -> TuneResult:
    """:func:`tune` on ``load_config(config, overrides=overrides)`` (what the CLI calls)."""
    if experiment is not None:
        overrides = [*overrides, f"tune.experiment={experiment}"]
    return tune(load_config(config, overrides=overrides), progress=progress)


# ----------------------------------------------------------------------------- reading it back


def load_experiment(experiment_dir: str | os.PathLike) -> TuneResult:
    """Read a tuning experiment folder back into the :class:`TuneResult` that :func:`tune`
    returned, without building, training or loading any model.

    Works on a finished experiment, on an interrupted one (the trials and best models written so
    far) and on a read-only copy, such as the outputs of an earlier Kaggle notebook attached
    under ``/kaggle/input/``. Where it comes from:

    - ``trials``: ``trials.csv``, with the column names and types :func:`tune` returns (see
      :attr:`TuneResult.trials`).
    - ``best``: every model with a ``<model>/best_hparams.yaml``: the trial its first line names,
      that trial's score in ``trials.csv``, the file's ``model.hparams``; ``model_path`` is
      ``<model>/best.keras`` where that file exists, else ``None`` (it is git-ignored).
    - ``objective``, ``direction``, ``role``, ``baseline``: ``experiment.json``. An experiment
      written before noisenil recorded it has its objective in ``trials.csv``'s fourth column
      name, its direction in ``config.yaml``, ``role="local"`` and ``baseline={}`` (not
      recorded: ``summary.md`` shows it rounded).

    Args:
        experiment_dir: The experiment folder (``tune.results_dir/tune.experiment``).

    Returns:
        The experiment's :class:`TuneResult`, ``experiment_dir`` as given.

    Raises:
        NoiseNilError: No such folder; no ``trials.csv`` in it; a ``trials.csv``,
            ``experiment.json`` or ``best_hparams.yaml`` that :func:`tune` did not write; or,
            without ``experiment.json``, no ``config.yaml`` to tell the objective's direction.
    """
    import pandas as pd

    root = Path(experiment_dir)
    where = f"experiment_dir={str(experiment_dir)!r}"
    if not root.is_dir():
        raise NoiseNilError(f"{where}: no such folder")
    path = root / "trials.csv"
    if not path.is_file():
        raise NoiseNilError(f"{where}: no trials.csv (not a tuning experiment folder)")
    try:
        columns = list(pd.read_csv(path, nrows=0).columns)
        expected = [*TRIAL_COLUMNS[:3], columns[3] if len(columns) > 3 else "<objective>",
                    *TRIAL_COLUMNS[4:]]
        if columns[:len(expected)] != expected:
            raise ValueError(f"its columns start {columns[:len(expected)]}, not {expected}")
        trials = _typed_trials(path)
    except (ValueError, UnicodeDecodeError) as err:  # pandas' parser errors are ValueErrors
        raise NoiseNilError(f"{where}: {path} is not a trials.csv written by noisenil tune: "
                            f"{err}") from err
    objective = columns[3]

    record_path = root / EXPERIMENT_RECORD
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text())
            direction, role = str(record["direction"]), str(record.get("role", "local"))
            baseline = {str(k): float(v) for k, v in record.get("baseline", {}).items()}
            if record["objective"] != objective:
                raise ValueError(f"objective {record['objective']!r}, but trials.csv has "
                                 f"{objective!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise NoiseNilError(f"{where}: {record_path} is not what noisenil tune writes "
                                f"({type(err).__name__}: {err})") from err
    else:  # an experiment from before noisenil wrote experiment.json
        try:
            tune_section = yaml.safe_load((root / "config.yaml").read_text())["tune"]
            direction = metric_direction(objective, tune_section.get("direction", "auto"))
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as err:
            raise NoiseNilError(
                f"{where}: neither {EXPERIMENT_RECORD} nor a config.yaml with a tune section "
                f"({type(err).__name__}: {err}), so the direction of {objective!r} is not "
                f"recorded") from err
        role, baseline = "local", {}

    best: dict[str, BestTrial] = {}
    for name in dict.fromkeys(trials["model"]):
        hparams_path = root / name / "best_hparams.yaml"
        if not hparams_path.is_file():
            continue  # no completed trial, or its search had not ended
        text = hparams_path.read_text()
        header = _BEST_HEADER_RE.match(text)
        try:
            hparams = dict(yaml.safe_load(text)["model"]["hparams"])
        except (yaml.YAMLError, KeyError, TypeError, ValueError) as err:
            raise NoiseNilError(f"{where}: {hparams_path} has no model.hparams "
                                f"({type(err).__name__}: {err})") from err
        if header is None:  # first line edited away: the trial tune() picks
            row = _best_row(trials, name, objective, direction)
        else:
            rows = trials[(trials["model"] == name) & (trials["trial_id"] == header["trial_id"])]
            row = rows.iloc[0] if len(rows) else None
        if row is None or pd.isna(row[objective]):
            trial = f"trial {header['trial_id']!r}" if header else "a best trial"
            raise NoiseNilError(f"{where}: {hparams_path} is there, but trials.csv has no "
                                f"completed {name} {trial}")
        model_path = root / name / "best.keras"
        best[name] = BestTrial(model=name, trial_id=str(row["trial_id"]),
                               score=float(row[objective]), hparams=hparams,
                               hparams_path=hparams_path,
                               model_path=model_path if model_path.is_file() else None)
    return TuneResult(experiment_dir=root, trials=trials, best=best, objective=objective,
                      direction=direction, role=role, baseline=baseline)


__all__ = ["BestTrial", "OracleWait", "TuneResult", "collect_trials", "distributed_role",
           "identity_scores", "load_experiment", "make_tuner", "mark_search_done",
           "plan_experiment", "prune_checkpoints", "search_done", "tune", "tune_from_files"]
