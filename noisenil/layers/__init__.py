"""Registered, serializable Keras layers shared by the models (keras.ops only: any backend)."""

from noisenil.layers.padding import CropToReference, PadToMultiple

__all__ = ["PadToMultiple", "CropToReference"]
