"""Stage 3, models: layers, losses, metrics, the family architectures, saving and loading.

- architectures (bodies): plain builders returning uncompiled ``keras.Model`` s
  (:mod:`.dncnn`, :mod:`.unet`, :mod:`.resnet_unet`, :mod:`.two_stage_unet`);
- :mod:`.compile`: the shared compile step; :mod:`.saving`: ``.keras`` files that carry their
  configuration, the one loader (``safe_mode=True``) and the shipped-model names;
- :mod:`.hypermodels`: the Keras Tuner HyperModels and the registry, ``get_hypermodel(name)``
  and ``list_models()``, offered here lazily so that loading a saved model never imports
  keras_tuner.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DenoiserHyperModel": "noisenil.models.hypermodels",
    "get_hypermodel": "noisenil.models.hypermodels",
    "hypermodel_from_config": "noisenil.models.hypermodels",
    "list_models": "noisenil.models.hypermodels",
    "register_model": "noisenil.models.hypermodels",
    "compile_denoiser": "noisenil.models.compile",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'noisenil.models' has no attribute {name!r}")
