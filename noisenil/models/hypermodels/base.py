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

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import keras
import keras_tuner
import numpy as np

from noisenil.errors import ConfigError
from noisenil.models.compile import check_metrics, compile_denoiser
from noisenil.models.heads import check_head
from noisenil.models.losses import check_loss


class DenoiserHyperModel(keras_tuner.HyperModel):
    """Base of every registered model family.

    Args:
        channels: Input/output channels: 1 (magnitude) or 2 (complex).
        loss: Loss name (see :mod:`noisenil.models.losses`).
        metrics: Metric names.
        space: Replacement ranges for searched hyperparameters (see :meth:`narrow`).
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

    def __init__(self, *, channels: int = 1, loss: str = "spectral_sdr",
                 metrics: Sequence[str] = ("snr",), space: Mapping[str, Any] | None = None,
                 head: str = "mask", min_gain_db: float = -30.0,
                 feature_scale: Mapping[str, Any] | None = None, **fixed):
        super().__init__(name=self.family)
        if channels not in (1, 2):
            raise ConfigError(f"channels={channels!r}: must be 1 (magnitude) or 2 (complex)",
                              key="features.representation")
        check_loss(loss)  # validate early
        check_metrics(metrics)
        check_head(head, min_gain_db)
        #: The shared output head's arguments (chosen, never searched).
        self.head = {"head": head, "min_gain_db": float(min_gain_db),
                     "feature_scale": dict(feature_scale or {})}
        self.channels, self.loss, self.metrics = channels, loss, tuple(metrics)
        self.chosen = {**self.options, **{k: fixed.pop(k) for k in list(fixed)
                                          if k in self.options}}
        valid = self.hyperparameter_names()
        retired = sorted(set(fixed) & {"mask", "residual"})
        if retired:
            raise ConfigError(f"{self.family}: hyperparameter(s) {retired} retired: the output "
                              f"head is model.head (mask, residual or mapping) for every family",
                              key="model.hparams")
        unknown = sorted(set(fixed) - set(valid))
        if unknown:
            raise ConfigError(f"{self.family}: unknown hyperparameter(s) {unknown}; "
                              f"valid: {valid + sorted(self.options)}", key="model.hparams")
        self.fixed = dict(fixed)
        self.space = keras_tuner.HyperParameters()
        if space:
            self.narrow(space)

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
        """Pin the fixed overrides on ``hp``, declare the search space, return its values.

        Pins come first, then the ranges of :meth:`narrow`, then the family's own declarations
        (a name declared earlier keeps its first declaration).
        """
        for name, value in self.fixed.items():
            hp.Fixed(name, value)
        hp.merge(self.space, overwrite=False)
        return self.search_space(hp)

    def declare_hyperparameters(self, hp: keras_tuner.HyperParameters) -> None:
        """Keras Tuner's hook: declare the space without building a network."""
        self.declare(hp)

    def free_hyperparameters(self) -> list[str]:
        """Names that are still searched once the pins and ranges are applied."""
        hp = keras_tuner.HyperParameters()
        self.declare(hp)
        return [p.name for p in hp.space if _cardinality(p) != 1]

    def narrow(self, spec: Mapping[str, Any], *, key: str = "space") -> None:
        """Replace the ranges of searched hyperparameters.

        Args:
            spec: ``{name: [values]}`` (a choice; values of the family's type) or
                ``{name: {min, max, step, sampling}}`` (numeric hyperparameters).
            key: The config key the spec came from, for error messages.

        Raises:
            ConfigError: Unknown or pinned name, empty list or range, wrong value type.
        """
        reference = keras_tuner.HyperParameters()
        self.search_space(reference)
        known = {p.name: p for p in reference.space}
        for name, values in spec.items():
            where = f"{key}.{name}"
            if name not in known:
                raise ConfigError(f"{where}={values!r}: {self.family} has no hyperparameter "
                                  f"{name!r}; searched ones: {sorted(known)}", key=where)
            if name in self.fixed:
                raise ConfigError(f"{where}={values!r}: {name!r} is also pinned to "
                                  f"{self.fixed[name]!r}; keep one of the two", key=where)
            _declare_range(self.space, known[name], values, where)

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """Build and compile the network for ``hp`` (fixed overrides pinned first)."""
        kwargs = self.declare(hp)
        learning_rate = kwargs.pop("learning_rate")
        kwargs.pop("freeze_epochs", None)  # a training schedule, not an architecture argument
        model = type(self).builder(channels=self.channels, **self.head, **self.chosen, **kwargs)
        return self.compile(model, learning_rate)

    def compile(self, model: keras.Model, learning_rate: float) -> keras.Model:
        """Compile ``model`` with this family's optimizer settings, loss and metrics."""
        beta_1, beta_2 = self.adam_betas
        return compile_denoiser(model, learning_rate=learning_rate, loss=self.loss,
                                beta_1=beta_1, beta_2=beta_2, metrics=self.metrics,
                                channels=self.channels,
                                feature_scale=self.head["feature_scale"] or None)

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


def _cardinality(param) -> float:
    """How many values a hyperparameter can take (``inf`` for a continuous range)."""
    kind = type(param).__name__
    if kind == "Fixed":
        return 1
    if kind in ("Choice", "Boolean"):
        return len(getattr(param, "values", (True, False)))
    if kind == "Int":
        return (param.max_value - param.min_value) // (param.step or 1) + 1
    return 1 if param.min_value == param.max_value else np.inf


def _declare_range(space: keras_tuner.HyperParameters, ref, values: Any, where: str) -> None:
    """Declare on ``space`` the replacement of ``ref`` described by ``values``."""
    kind = type(ref).__name__
    numeric = kind in ("Int", "Float") or (
        kind == "Choice" and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                 for v in ref.values))
    if isinstance(values, (list, tuple)):
        if not values:
            raise ConfigError(f"{where}=[]: empty search space; list at least one value",
                              key=where)
        if kind == "Boolean" or (kind == "Choice" and isinstance(ref.values[0], bool)):
            ok = all(isinstance(v, bool) for v in values)
        elif numeric:
            ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            if ok and (kind == "Float" or any(isinstance(v, float) for v in ref.values)):
                values = [float(v) for v in values]
            elif ok and kind == "Int":
                ok = all(float(v).is_integer() for v in values)
                values = [int(v) for v in values]
        else:
            ok = all(isinstance(v, type(ref.values[0])) for v in values)
        if not ok:
            raise ConfigError(f"{where}={values!r}: values must have the type of "
                              f"{ref.name!r}'s ({ref.default!r})", key=where)
        default = ref.default if ref.default in values else values[0]
        if kind == "Boolean":  # keras-tuner's Choice would turn booleans into integers
            if len(set(values)) == 1:
                space.Fixed(ref.name, values[0])
            else:
                space.Boolean(ref.name, default=default)
        else:
            space.Choice(ref.name, list(values), default=default)
        return
    if isinstance(values, Mapping) and kind in ("Int", "Float"):
        unknown = sorted(set(values) - {"min", "max", "step", "sampling"})
        lo, hi = values.get("min", ref.min_value), values.get("max", ref.max_value)
        if unknown or not all(isinstance(v, (int, float)) for v in (lo, hi)):
            raise ConfigError(f"{where}={dict(values)!r}: expected {{min, max, step, sampling}} "
                              f"with numbers", key=where)
        if lo > hi:
            raise ConfigError(f"{where}={dict(values)!r}: empty search space (min > max)",
                              key=where)
        sampling = values.get("sampling", ref.sampling)
        if sampling not in ("linear", "log", "reverse_log"):
            raise ConfigError(f"{where}.sampling={sampling!r}: use linear, log or reverse_log",
                              key=f"{where}.sampling")
        if sampling != "linear" and lo <= 0:
            raise ConfigError(f"{where}={dict(values)!r}: {sampling} sampling needs min > 0",
                              key=where)
        default = min(max(ref.default, lo), hi)
        if kind == "Int":
            space.Int(ref.name, int(lo), int(hi), step=values.get("step", ref.step),
                      sampling=sampling, default=int(default))
        else:
            space.Float(ref.name, float(lo), float(hi), step=values.get("step"),
                        sampling=sampling, default=float(default))
        return
    form = "{min, max, step, sampling} or a list" if kind in ("Int", "Float") else "a list"
    raise ConfigError(f"{where}={values!r}: give {form} of values (pin a single value in "
                      f"hparams instead)", key=where)


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
