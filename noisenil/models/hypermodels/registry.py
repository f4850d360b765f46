"""The model registry: ``register_model(name)``, ``get_hypermodel(name, **overrides)``,
``list_models()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from noisenil.errors import ConfigError
from noisenil.models.heads import feature_scale

if TYPE_CHECKING:  # pragma: no cover
    from noisenil.config import Config
    from noisenil.models.hypermodels.base import DenoiserHyperModel

_REGISTRY: dict[str, type] = {}


def register_model(name: str):
    """Class decorator adding a :class:`~noisenil.models.hypermodels.base.DenoiserHyperModel` under ``name``."""

    def wrap(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {_REGISTRY[name]}")
        cls.family = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def get_hypermodel(name: str, **overrides) -> DenoiserHyperModel:
    """The HyperModel registered as ``name``.

    Args:
        name: A name from :func:`list_models`.
        **overrides: Constructor options (``channels``, ``loss``) and fixed hyperparameter values
            (e.g. ``depth=5``), which are pinned with ``hp.Fixed``.

    Raises:
        ConfigError: Unknown name (the message lists the choices) or unknown hyperparameter.
    """
    if name not in _REGISTRY:
        raise ConfigError(f"model.name={name!r}: unknown model; choose one of {list_models()}",
                          key="model.name")
    return _REGISTRY[name](**overrides)


def hypermodel_from_config(cfg: Config) -> DenoiserHyperModel:
    """The HyperModel a configuration names: ``model.name`` with ``model.hparams`` pinned and
    the options of :func:`head_options`.

    Raises:
        ConfigError: Unknown model name or hyperparameter (before anything is built).
    """
    return get_hypermodel(cfg.model.name, **head_options(cfg), **cfg.model.hparams)


def head_options(cfg: Config) -> dict:
    """The HyperModel constructor options a configuration fixes for every family: channels,
    loss, metrics and the output head (``model.head``, ``model.min_gain_db``, and the feature
    scale the mask acts on)."""
    return dict(channels=cfg.features.channels, loss=cfg.model.loss, metrics=cfg.model.metrics,
                head=cfg.model.head, min_gain_db=cfg.model.min_gain_db,
                feature_scale=feature_scale(cfg.features))
