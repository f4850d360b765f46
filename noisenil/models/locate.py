"""Which ``.keras`` files a ``--model`` value or a ``compare`` source names, read from file and
folder names (and a tuning experiment's ``trials.csv``) alone: nothing is loaded and nothing
heavy imported, so the command line checks these before it imports TensorFlow.

Accepted everywhere (:data:`MODEL_FORMS`): a shipped model's name (``default``), a ``.keras``
file, a ``noisenil train`` run folder (its ``model.keras``), one family's folder of a tuning
experiment (its ``best.keras``), or the experiment folder: every ``<model>/best.keras`` for
``compare`` (:func:`find_models`), the best of them for a single model
(:func:`experiment_best`, used by :func:`noisenil.models.saving.resolve_model`).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from noisenil.config import load_config
from noisenil.errors import NoiseNilError
from noisenil.pretrained import SHIPPED_MODELS

#: The model file of a ``noisenil train`` run folder, and of each family of a tuning experiment.
RUN_MODEL, BEST_MODEL = "model.keras", "best.keras"
#: What ``--model`` accepts, for help texts and error messages.
MODEL_FORMS = (f"a shipped model's name ({', '.join(SHIPPED_MODELS)}), a .keras file, a noisenil "
               "train run folder (its model.keras) or a tuning experiment folder (its best "
               "model)")


def _folder_model(folder: Path) -> Path | None:
    """A run folder's ``model.keras``, else a family folder's (or an unfinished run's)
    ``best.keras``, else ``None``."""
    return next((folder / n for n in (RUN_MODEL, BEST_MODEL) if (folder / n).is_file()), None)


def model_files(source: str | os.PathLike, *, key: str = "model") -> list[Path]:
    """Every ``.keras`` file one source names, without loading anything.

    Args:
        source: A shipped model's name (:func:`noisenil.pretrained.shipped_models`), a
            ``.keras`` file, a folder holding ``model.keras`` (a training run) or ``best.keras``
            (one family of an experiment), or a folder of such folders: a tuning experiment
            (every ``<model>/best.keras``) or several runs, in folder order.
        key: The option's name for error messages.

    Raises:
        NoiseNilError: Nothing of the kind (one line naming the source and what was looked for).
    """
    from noisenil.pretrained import shipped_models

    shipped = shipped_models()
    if str(source) in shipped:
        if not shipped[str(source)].is_file():
            raise NoiseNilError(f"{key}={str(source)!r}: the shipped model "
                                f"{shipped[str(source)]} is missing from this installation; "
                                f"reinstall noisenil")
        return [shipped[str(source)]]
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise NoiseNilError(f"{key}={str(source)!r}: no such file or folder (nor a shipped "
                            f"model's name: {', '.join(sorted(shipped))})")
    own = _folder_model(path)
    if own is not None:
        return [own]
    # An experiment (each family's best.keras), or a folder of run folders (each model.keras).
    bests = sorted(m for p in path.iterdir() if p.is_dir() and (m := _folder_model(p)))
    if not bests:
        hint = (" (its best_hparams.yaml are there but not the models: rerun `noisenil tune` "
                "with this experiment to export them)"
                if any(path.glob("*/best_hparams.yaml")) else "")
        raise NoiseNilError(f"{key}={str(source)!r}: a folder with neither {RUN_MODEL} (a "
                            f"noisenil train run) nor <model>/{BEST_MODEL} (a tuning "
                            f"experiment){hint}")
    return bests


def find_models(sources: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """``.keras`` files named by ``sources`` (see :func:`model_files`), in order.

    Raises:
        NoiseNilError: A source is missing or holds no model (the message says what to run).
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    return [p for src in sources for p in model_files(src, key="models")]


def _experiment_direction(root: Path) -> tuple[str | None, str]:
    """``(objective, "max" | "min")`` of an experiment: its ``experiment.json``, else its
    ``config.yaml``, else ``(None, "max")``."""
    record = root / "experiment.json"
    if record.is_file():
        info = json.loads(record.read_text())
        return info.get("objective"), info.get("direction", "max")
    if (root / "config.yaml").is_file():
        t = load_config(root / "config.yaml").tune
        return t.objective, t.mode
    return None, "max"


def experiment_best(root: Path, files: Sequence[Path], *, key: str = "model") -> Path:
    """The best of an experiment's ``<model>/best.keras`` files: the family whose completed
    trials in ``trials.csv`` reach the best objective (direction from ``experiment.json``).

    Raises:
        NoiseNilError: No ``trials.csv``, or no completed trial of any of ``files``' families.
    """
    root = Path(root)
    names = ", ".join(f.parent.name for f in files)
    trials = root / "trials.csv"
    if not trials.is_file():
        raise NoiseNilError(f"{key}={str(root)!r}: holds several models ({names}) and no "
                            f"trials.csv to pick the best by; name one, e.g. {files[0].parent}")
    objective, direction = _experiment_direction(root)
    with open(trials, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = reader.fieldnames or []
    column = objective if objective in header else (header[3] if len(header) > 3 else "")
    sign = 1.0 if direction == "max" else -1.0
    score: dict[str, float] = {}
    for row in rows:
        try:
            value = sign * float(row.get(column) or "nan")
        except ValueError:
            continue
        if row.get("status") == "COMPLETED" and math.isfinite(value):
            score[row["model"]] = max(value, score.get(row["model"], -math.inf))
    ranked = [f for f in files if f.parent.name in score]
    if not ranked:
        raise NoiseNilError(f"{key}={str(root)!r}: trials.csv has no completed trial of "
                            f"{names}; name a model file instead")
    return max(ranked, key=lambda f: score[f.parent.name])


__all__ = ["BEST_MODEL", "MODEL_FORMS", "RUN_MODEL", "experiment_best", "find_models",
           "model_files"]
