"""Keras Tuner HyperModels of the model families, and their registry (imports keras_tuner).

Importing this package registers every family. A saved model never needs it: the architectures
(:mod:`noisenil.models.dncnn`, ...) and :mod:`noisenil.models.saving` load without keras_tuner.
"""

from noisenil.models.hypermodels import dncnn, resnet_unet, two_stage_unet, unet  # noqa: F401
from noisenil.models.hypermodels.base import DenoiserHyperModel
from noisenil.models.hypermodels.registry import (
    get_hypermodel,
    hypermodel_from_config,
    list_models,
    register_model,
)

__all__ = ["DenoiserHyperModel", "get_hypermodel", "hypermodel_from_config", "list_models",
           "register_model"]
