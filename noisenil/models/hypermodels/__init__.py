"""Keras Tuner HyperModels for the model families, and their registry (imports keras_tuner)."""
