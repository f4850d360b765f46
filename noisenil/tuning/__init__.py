"""Stage 6, tuning: resumable multi-model Keras Tuner experiments (``noisenil tune``)."""

from noisenil.tuning.experiment import load_experiment, tune

__all__ = ["load_experiment", "tune"]
