"""Registered, serializable Keras layers shared by the models (keras.ops only: any backend)."""

from noisenil.models.layers.attention import SupervisedAttention
from noisenil.models.layers.embedding import FrequencyEmbedding
from noisenil.models.layers.masks import ComplexMask, MagnitudeMask
from noisenil.models.layers.padding import CropToReference, PadToMultiple
from noisenil.models.layers.resampling import BilinearUpsample2x

__all__ = ["BilinearUpsample2x", "ComplexMask", "CropToReference", "FrequencyEmbedding", "MagnitudeMask", "PadToMultiple",
           "SupervisedAttention"]
