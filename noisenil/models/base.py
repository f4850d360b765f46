"""The shared HyperModel base and compile step.

A model family provides two things, kept apart (STYLE.md):

- an architecture builder, a plain function returning an uncompiled ``keras.Model`` that maps
  ``(batch, freq, time, channels)`` to the same shape (no keras_tuner import needed);
- a :class:`DenoiserHyperModel` subclass whose :meth:`~DenoiserHyperModel.search_space` maps
  ``hp`` to the builder's keyword arguments in one place (plus ``learning_rate``).

This base pins fixed overrides with ``hp.Fixed``, builds, and compiles with
:func:`compile_denoiser` (optimizer, loss and metrics from the options). Its :meth:`fit` trains
with the encoder frozen for the first ``freeze_epochs`` epochs when a family declares that
hyperparameter and its model has a sub-model named ``"encoder"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import keras
import keras_tuner
import numpy as np

from noisenil.errors import ConfigError
from noisenil.losses import get_loss
from noisenil.metrics import SNR, SSIM


def compile_denoiser(model: keras.Model, *, learning_rate: float = 1e-3, loss: str = "log_cosh",
                     beta_1: float = 0.9, beta_2: float = 0.999,
                     metrics: Sequence[str] = ("snr",)) -> keras.Model:
    """Compile ``model`` with Adam, a named loss and the SNR metric.

    Args:
        model: An uncompiled model from a builder.
        learning_rate: Adam's learning rate.
        loss: ``"log_cosh"``, ``"l1"`` or ``"mse"``.
        beta_1: Adam's first-moment decay.
        beta_2: Adam's second-moment decay.
        metrics: Metric names: ``"snr"`` (:class:`~noisenil.metrics.SNR`), ``"ssim"``
            (:class:`~noisenil.metrics.SSIM`, data range 1).

    Returns:
        The same model, compiled.
    """
    known = {"snr": SNR, "ssim": SSIM}
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ConfigError(f"model.metrics={list(metrics)!r}: unknown {unknown}; "
                          f"choose from {sorted(known)}", key="model.metrics")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2),
                  loss=get_loss(loss), metrics=[known[m]() for m in metrics])
    # Create the optimizer's slots now, outside any traced function: on TensorFlow, creating
    # them during the first traced step makes it trace twice (ResNet50 U-Net: 35 -> 19 s
    # before the first epoch's first step on 2 CPU cores).
    model.optimizer.build(model.trainable_variables)
    return model


class DenoiserHyperModel(keras_tuner.HyperModel):
    """Base of every registered model family.

    Args:
        channels: Input/output channels: 1 (magnitude) or 2 (complex).
        loss: Loss name (see :mod:`noisenil.losses`).
        metrics: Metric names.
        **fixed: Hyperparameters pinned to a value with ``hp.Fixed`` (e.g. ``depth=5``).

    Subclasses set :attr:`builder` and :attr:`tiny`, and implement :meth:`search_space`;
    :attr:`options` lists builder arguments that are chosen, not searched (e.g. the backbone).
    """

    family: ClassVar[str] = ""
    #: The architecture builder (a plain function returning an uncompiled model).
    builder: ClassVar[Callable[..., keras.Model]]
    #: Fixed hyperparameters giving a tiny network, for tests and smoke runs.
    tiny: ClassVar[dict[str, Any]] = {}
    #: Adam moments (seed 001 uses 0.5 / 0.9 for its model).
    adam_betas: ClassVar[tuple[float, float]] = (0.9, 0.999)
    #: Builder arguments set at construction and never searched, with their defaults.
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, *, channels: int = 1, loss: str = "log_cosh",
                 metrics: Sequence[str] = ("snr",), **fixed):
        super().__init__(name=self.family)
        if channels not in (1, 2):
            raise ConfigError(f"channels={channels!r}: must be 1 (magnitude) or 2 (complex)",
                              key="features.representation")
        get_loss(loss)  # validate early
        self.channels, self.loss, self.metrics = channels, loss, tuple(metrics)
        self.chosen = {**self.options, **{k: fixed.pop(k) for k in list(fixed)
                                          if k in self.options}}
        valid = self.hyperparameter_names()
        unknown = sorted(set(fixed) - set(valid))
        if unknown:
            raise ConfigError(f"{self.family}: unknown hyperparameter(s) {unknown}; "
                              f"valid: {valid + sorted(self.options)}", key="model.hparams")
        self.fixed = dict(fixed)

    def search_space(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """Declare the search space on ``hp``; return the builder kwargs plus ``learning_rate``."""
        raise NotImplementedError

    def hyperparameter_names(self) -> list[str]:
        """Names declared by :meth:`search_space`."""
        hp = keras_tuner.HyperParameters()
        self.search_space(hp)
        return [p.name for p in hp.space]

    def defaults(self) -> dict[str, Any]:
        """Builder kwargs (plus ``learning_rate``) at the default hyperparameters."""
        return self.search_space(keras_tuner.HyperParameters())

    def declare(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """Pin the fixed overrides on ``hp``, declare the search space, return its values."""
        for name, value in self.fixed.items():
            hp.Fixed(name, value)
        return self.search_space(hp)

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """Build and compile the network for ``hp`` (fixed overrides pinned first)."""
        kwargs = self.declare(hp)
        learning_rate = kwargs.pop("learning_rate")
        kwargs.pop("freeze_epochs", None)  # a training schedule, not an architecture argument
        model = type(self).builder(channels=self.channels, **self.chosen, **kwargs)
        return self.compile(model, learning_rate)

    def compile(self, model: keras.Model, learning_rate: float) -> keras.Model:
        """Compile ``model`` with this family's optimizer settings, loss and metrics."""
        beta_1, beta_2 = self.adam_betas
        return compile_denoiser(model, learning_rate=learning_rate, loss=self.loss,
                                beta_1=beta_1, beta_2=beta_2, metrics=self.metrics)

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):
        """``model.fit``, with the encoder frozen for the first ``freeze_epochs`` epochs.

        Without a ``freeze_epochs`` hyperparameter (or at 0) this is plain ``model.fit``. Else
        the sub-model ``"encoder"`` is frozen and the model recompiled for epochs
        ``[initial_epoch, freeze_epochs)``, then unfrozen and recompiled (fresh optimizer state,
        the usual fine-tuning recipe) for the rest. Callbacks see one continuous run of epochs.

        Returns:
            A ``keras.callbacks.History`` covering every epoch run.
        """
        freeze = hp.values.get("freeze_epochs", 0)
        epochs = kwargs.get("epochs", 1)
        start = kwargs.get("initial_epoch", 0)
        encoder = _find_encoder(model)
        if not freeze or encoder is None or start >= freeze:
            return model.fit(*args, **kwargs)
        learning_rate = hp.get("learning_rate")
        encoder.trainable = False
        self.compile(model, learning_rate)
        first = model.fit(*args, **{**kwargs, "epochs": min(freeze, epochs)})
        encoder.trainable = True
        if epochs <= freeze or model.stop_training:
            return first
        self.compile(model, learning_rate)
        second = model.fit(*args, **{**kwargs, "initial_epoch": freeze})
        return _join_histories(first, second, model)


def _find_encoder(model: keras.Model) -> keras.Model | None:
    try:
        return model.get_layer("encoder")
    except ValueError:
        return None


def _join_histories(first, second, model: keras.Model):
    history = keras.callbacks.History()
    history.set_model(model)
    history.epoch = list(first.epoch) + list(second.epoch)
    keys = list(dict.fromkeys([*first.history, *second.history]))
    history.history = {k: list(first.history.get(k, [np.nan] * len(first.epoch)))
                       + list(second.history.get(k, [np.nan] * len(second.epoch)))
                       for k in keys}
    return history
