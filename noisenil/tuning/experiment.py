"""Keras Tuner sweeps over several model families: ``noisenil tune`` and :func:`tune`.

An experiment lives in ``tune.results_dir/tune.experiment/``::

    config.yaml                 the resolved configuration
    experiment.json             the objective, its direction and the noisy-input baseline
    trials.csv                  one row per trial of every model (:mod:`.records`)
    summary.md                  the best trial per model and how the experiment ran
    <model>/best_hparams.yaml   the best trial as a whole config: ``noisenil train --config`` it
    <model>/best.keras          the best trial's model at its best epoch (git-ignored)
    tuner/<model>/              Keras Tuner's project (git-ignored): oracle.json and one
                                trial_<id>/ per trial (trial.json, history.csv, noisenil.json,
                                TensorBoard logs, and the weights of the trials still needed)

Every family is searched in turn with the same data, algorithm, budget, objective and seed, so
the rows of ``trials.csv`` are comparable. Rerunning the same command continues an interrupted
experiment: finished trials are kept, the trial in flight when the process died is run again
under its id; every file is written whole or not at all, and torn or stale Keras Tuner records
are rebuilt from what is intact (:mod:`noisenil.tuning.experiment_oracle`), so a ``kill -9`` at
any moment loses and repeats nothing. A trial that fails (non-finite loss, out of memory, a
hyperparameter combination that does not build) is recorded as ``FAILED`` with its reason and
the sweep goes on. Only the
weights that resume and the final models need are kept: the best trial's and, for Hyperband,
those of trials that a later round may continue. :func:`load_experiment` reads a finished or
interrupted experiment folder back into the :class:`TuneResult` that :func:`tune` returned.

This module holds the experiment itself: checking it (:func:`plan_experiment`), running or
continuing it (:func:`tune`) and reading it back (:func:`load_experiment`). The tuners and their
per-trial hooks are in :mod:`noisenil.tuning.tuners`, the files written and read in
:mod:`noisenil.tuning.records`, and Keras Tuner's chief/worker mode (start the same command on
every process with ``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT`` set) in :mod:`noisenil.tuning.distributed`.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from noisenil.config import Config, as_config, metric_direction, save_config
from noisenil.config.atomic import check_writable
from noisenil.errors import ConfigError, DatasetError, NoiseNilError
from noisenil.models import get_hypermodel, list_models
from noisenil.models.hypermodels.registry import head_options
from noisenil.training.validation import WAVEFORM_METRICS, validation_clips
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.training.identity import identity_scores
from noisenil.training.progress import keras_verbose
from noisenil.training.runs import saved_difference, write_json
from noisenil.training.strategy import distribution_strategy, precision_policy
from noisenil.tuning.distributed import (
    SEARCH_DONE,
    OracleWait,
    _oracle_port,
    distributed_role,
    lease_watch,
    mark_search_done,
    search_done,
)
from noisenil.tuning.records import (
    EXPERIMENT_RECORD,
    TRIAL_COLUMNS,
    BestTrial,
    _trials_text,
    _typed_trials,
    collect_trials,
    export_best,
    read_best_trials,
    write_summary,
    write_trials_csv,
)
from noisenil.tuning.tuners import make_tuner, prune_checkpoints

logger = logging.getLogger(__name__)

#: Config keys that may change between the runs of one experiment (tune does not use them, they
#: do not change results, or, for ``tune.max_trials``, they extend the sweep).
RESUMABLE_KEYS = frozenset({
    "tune.max_trials", "tune.strategy", "tune.results_dir", "tune.max_consecutive_failures",
    "tune.worker_lease_s",
    "train.strategy", "train.run_dir", "train.tensorboard", "train.run_eagerly", "train.epochs",
    "train.monitor", "train.monitor_mode", "model.name", "model.hparams", "data.workers",
    "data.use_multiprocessing", "data.pipeline", "data.demo_dir",
})


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
    if t.objective in WAVEFORM_METRICS and cfg.train.validation_clips == 0:
        raise ConfigError(f"tune.objective={t.objective!r} is measured on validation clips, but "
                          f"train.validation_clips=0; set a count or use 'val_snr'",
                          key="tune.objective")
    if base not in reported and t.objective not in WAVEFORM_METRICS:
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
            hypermodel = get_hypermodel(name, **head_options(cfg), **pins)
        except ConfigError as err:
            raise ConfigError(f"tune.hparams.{name}: {err}", key=f"tune.hparams.{name}") from err
        hypermodel.narrow(t.space.get(name) or {}, key=f"tune.space.{name}")
        if not hypermodel.free_hyperparameters():
            raise ConfigError(f"tune.hparams.{name}={pins!r}: every hyperparameter is pinned, "
                              f"so the search space is empty; unpin one (or use noisenil train)",
                              key=f"tune.hparams.{name}")
        plan[name] = hypermodel
    return plan


def _check_same_experiment(cfg: Config, root: Path) -> None:
    found = saved_difference(root, cfg, ignore=RESUMABLE_KEYS)
    if found is not None:
        key, before, now = found
        raise ConfigError(
            f"tune.experiment={cfg.tune.experiment!r}: {root} holds an experiment with "
            f"{key}={before!r} (now {now!r}); rerun it with the same config to resume, or "
            f"choose another tune.experiment", key="tune.experiment")


# ----------------------------------------------------------------------------- the experiment


def tune(cfg: Config | str | os.PathLike | None, *, overrides: Iterable[str] = (),
         experiment: str | None = None, progress: bool = True) -> TuneResult:
    """Run (or continue) a tuning experiment over ``tune.models``.

    Args:
        cfg: The configuration, a YAML file (``configs/debug.yaml``), or ``None`` for the
            defaults: ``tune``, plus ``model.loss``/``model.metrics``, the ``train`` schedule,
            and the data sections.
        overrides: ``"key.subkey=value"`` strings applied to the file (or the defaults) as it
            is loaded; not with a ``Config`` (use ``load_config(path, overrides=...)``).
        experiment: Overrides ``tune.experiment``.
        progress: Keras progress bars and Keras Tuner's trial reports.

    Returns:
        A :class:`TuneResult` (a worker process returns the trials it can see and no best
        models; the chief writes them).

    Raises:
        ConfigError: A bad config or ``tune`` section (see :func:`plan_experiment`), overrides
            with a ``Config``, a strategy the backend lacks, or an experiment folder holding a
            different experiment; all before any data is loaded.
        DatasetError: A ``val_`` objective and a split that could hold no validation file out
            (a single-speaker data set), right after the data is scanned.
    """
    cfg = as_config(cfg, overrides)
    if experiment is not None:
        cfg = replace(cfg, tune=replace(cfg.tune, experiment=experiment))
    t = cfg.tune
    plan = plan_experiment(cfg)
    role = distributed_role()
    strategy = distribution_strategy(t.strategy, key="tune.strategy")
    root = Path(t.results_dir) / t.experiment
    check_writable(root, what="tune.results_dir/tune.experiment")  # before any data loads
    if role != "worker":
        _check_same_experiment(cfg, root)
        root.mkdir(parents=True, exist_ok=True)
        save_config(cfg, root / "config.yaml")
    models = list(plan)

    fit_kwargs: dict[str, Any] = dict(epochs=t.epochs, verbose=keras_verbose(progress))
    train_data = val_data = None
    if role != "chief":  # the chief only serves the oracle
        from noisenil.training.trainer import configured_data

        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        train_data, val_data = configured_data(cfg, replicas, progress, fit_kwargs)
        if val_data is None and t.objective.startswith("val_"):
            raise DatasetError(
                f"tune.objective={t.objective!r} needs validation data, but the split held no "
                f"file out (too few speakers: a speaker's files never span two splits); "
                f"--set data.speaker_patterns=[] splits by file")
    baseline: dict[str, float] = {}
    if role == "local" and val_data is not None:
        clips = validation_clips(cfg) if t.objective in WAVEFORM_METRICS else ()
        baseline = identity_scores(cfg, val_data, steps=fit_kwargs.get("validation_steps"),
                                   clips=clips)
        logger.info("noisy input (identity): %s", baseline)
    if role != "worker":
        write_json(root / EXPERIMENT_RECORD, {"objective": t.objective, "direction": t.mode,
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
                        with lease_watch(tuner.oracle, t.worker_lease_s):
                            tuner.search(verbose=keras_verbose(progress))
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
                prune_checkpoints(Path(tuner.project_dir), t.mode, final=True,
                                  keep_all=t.keep_trial_weights)
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

    best = read_best_trials(root, trials, objective, direction, where=where)
    return TuneResult(experiment_dir=root, trials=trials, best=best, objective=objective,
                      direction=direction, role=role, baseline=baseline)


__all__ = ["RESUMABLE_KEYS", "TuneResult", "identity_scores", "load_experiment",
           "plan_experiment", "tune"]
