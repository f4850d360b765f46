"""Registered, serializable Keras layers shared by the models (keras.ops only: any backend)."""

from noisenil.layers.attention import SupervisedAttention
from noisenil.layers.embedding import FrequencyEmbedding
from noisenil.layers.padding import CropToReference, PadToMultiple

__all__ = ["CropToReference", "FrequencyEmbedding", "PadToMultiple", "SupervisedAttention"]
