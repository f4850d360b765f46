"""noisenil: learned spectrogram denoising of speech and music with Keras 3.

The package is laid out by stage of the flow (see README.md, "Package layout"): ``config`` and
``errors`` at the bottom, then ``dsp``, ``data``, ``models``, ``inference``, ``training``,
``tuning``, ``evaluation``, and the CLI with the quickstart on top.

Importing ``noisenil`` is cheap: it imports neither TensorFlow nor Keras. The public API below
is offered lazily; each name imports its stage on first use::

    import noisenil
    cfg = noisenil.load_config("configs/debug.yaml")
    run = noisenil.train(cfg)                       # or noisenil.train("configs/debug.yaml")
    den = noisenil.Denoiser.from_file("default")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from noisenil.errors import (  # noqa: E402  (the errors are cheap: imported at once)
    AudioError,
    ConfigError,
    DatasetError,
    MissingDependencyError,
    NoiseNilError,
)

#: Public name -> the module that holds it.
_LAZY = {
    "load_config": "noisenil.config",
    "save_config": "noisenil.config",
    "Config": "noisenil.config",
    "make_demo_corpus": "noisenil.data.demo",
    "build_datasets": "noisenil.data.datasets",
    "get_hypermodel": "noisenil.models.hypermodels",
    "list_models": "noisenil.models.hypermodels",
    "Denoiser": "noisenil.inference.denoiser",
    "StreamingDenoiser": "noisenil.inference.streaming",
    "denoise_files": "noisenil.inference.files",
    "export_model": "noisenil.inference.export",
    "train": "noisenil.training.trainer",
    "tune": "noisenil.tuning.experiment",
    "load_experiment": "noisenil.tuning.experiment",
    "evaluate": "noisenil.evaluation.evaluator",
    "compare": "noisenil.evaluation.comparison",
    "find_models": "noisenil.models.locate",
    "best_per_metric": "noisenil.evaluation.report.tables",
    "spectrogram_db": "noisenil.evaluation.report.spectrograms",
    "spectrogram_panels": "noisenil.evaluation.report.spectrograms",
    "default_config_path": "noisenil.quickstart",
}

__all__ = ["__version__", "NoiseNilError", "ConfigError", "AudioError", "DatasetError",
           "MissingDependencyError", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'noisenil' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
