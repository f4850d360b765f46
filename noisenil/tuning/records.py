"""The records of a tuning experiment on disk, written and read back.

What lies in the experiment folder besides Keras Tuner's own projects::

    trials.csv                  one row per trial of every model (:func:`collect_trials`,
                                :func:`write_trials_csv`)
    summary.md                  the best trial per model and how the experiment ran
                                (:func:`write_summary`)
    experiment.json             the objective, its direction, the role and the noisy-input
                                baseline (:data:`EXPERIMENT_RECORD`)
    <model>/best_hparams.yaml   the best trial as a whole config, its first line
                                :data:`BEST_HEADER` (:func:`export_best`)
    <model>/best.keras          the best trial's model at its best epoch
    tuner/<model>/trial_<id>/noisenil.json
                                noisenil's record of one trial (:data:`TRIAL_INFO`): wall time,
                                parameters, epochs run, failure reason

``trials.csv`` has one reader of its text, :func:`_typed_trials`: :func:`write_trials_csv`
types what it has just written through it and
:func:`~noisenil.tuning.experiment.load_experiment` what it finds, so the table that
:func:`~noisenil.tuning.experiment.tune` returns and the one read back agree column by column.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import yaml

from noisenil.config import Config, config_from_dict
from noisenil.config.atomic import atomic_write, read_json
from noisenil.errors import NoiseNilError
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.models.saving import save_model

logger = logging.getLogger(__name__)

#: Written by the tuners into each ``tuner/<model>/trial_<id>/``: noisenil's record of the trial.
TRIAL_INFO = "noisenil.json"
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


# ----------------------------------------------------------------------------- trials.csv


def _read_trials(project: Path) -> list[dict]:
    """Keras Tuner's ``trial_*/trial.json`` records of one project (those being written left
    out)."""
    trials = []
    for path in sorted(project.glob("trial_*/trial.json")):
        record = read_json(path)  # None where torn (written before writes were atomic)
        if isinstance(record, dict) and "trial_id" in record:
            trials.append(record)
    return trials


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
            info = read_json(info_path) or {}
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
    atomic_write(Path(experiment_dir) / "trials.csv", text)
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
    atomic_write(hparams_path, header + yaml.safe_dump(overlay, sort_keys=False))
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


def read_best_trials(root: Path, trials, objective: str, direction: str, *,
                     where: str) -> dict[str, BestTrial]:
    """The :class:`BestTrial` of every model with a ``<model>/best_hparams.yaml`` in ``root``.

    Each is the trial the file's first line (:data:`BEST_HEADER`) names, else (the line edited
    away) the one :func:`export_best` would pick; its score comes from ``trials``, its
    hyperparameters from the file's ``model.hparams``; ``model_path`` is ``<model>/best.keras``
    where that file exists, else ``None``.

    Args:
        root: The experiment folder.
        trials: Its ``trials.csv`` as :func:`_typed_trials` reads it.
        objective: The objective (the name of the fourth column of ``trials``).
        direction: ``max`` or ``min``.
        where: What the errors name first (``experiment_dir='...'``).

    Raises:
        NoiseNilError: A ``best_hparams.yaml`` without ``model.hparams``, or naming a trial that
            ``trials`` has not completed.
    """
    import pandas as pd

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
    return best


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
    return atomic_write(root / "summary.md", "\n".join(lines) + "\n")


__all__ = ["BEST_HEADER", "EXPERIMENT_RECORD", "TRIAL_COLUMNS", "TRIAL_INFO", "BestTrial",
           "collect_trials", "export_best", "read_best_trials", "write_summary",
           "write_trials_csv"]
