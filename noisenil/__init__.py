"""noisenil: learned spectrogram denoising of speech and music with Keras 3.

The package is organised one concept per module; see README.md for the map.
Importing ``noisenil`` is cheap: it does not import TensorFlow or Keras.
"""

__version__ = "0.1.0"

from noisenil.errors import (  # noqa: F401  (re-exported public API)
    AudioError,
    ConfigError,
    DatasetError,
    NoiseNilError,
)

__all__ = ["__version__", "NoiseNilError", "ConfigError", "AudioError", "DatasetError"]
