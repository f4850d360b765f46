"""Model families as Keras Tuner HyperModels, and their registry.

``get_hypermodel(name, **overrides)`` and ``list_models()``; each family module registers itself
on import. Inference needs none of this: a saved ``.keras`` model reloads with
``keras.saving.load_model`` once :mod:`noisenil.models.layers` and :mod:`noisenil.models.metrics` are imported.
"""

from noisenil.models import dncnn, resnet_unet, two_stage_unet, unet  # noqa: F401  (registers the families)
from noisenil.models.hypermodels.base import DenoiserHyperModel, compile_denoiser
from noisenil.models.hypermodels.registry import (
                                      get_hypermodel,
                                      hypermodel_from_config,
                                      list_models,
                                      register_model,
)

__all__ = ["DenoiserHyperModel", "compile_denoiser", "get_hypermodel", "hypermodel_from_config",
           "list_models", "register_model"]
