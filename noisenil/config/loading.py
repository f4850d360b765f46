"""The whole :class:`Config`, and how it is loaded: YAML files with ``extends:`` chains,
``key=value`` overrides, type checks against the dataclass fields, and saving."""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from noisenil.config.atomic import atomic_write
from noisenil.config.runs import ModelConfig, TrainConfig, TuneConfig
from noisenil.config.sections import (
    AudioConfig,
    AugmentConfig,
    DataConfig,
    DeclickConfig,
    FeatureConfig,
    PatchConfig,
    StftConfig,
)
from noisenil.config.shipped import find_config, find_parent
from noisenil.config.validate import choice, fail, is_number, mapping, unknown
from noisenil.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass
class Config:
    """The whole configuration. Sections are documented on their own classes."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    stft: StftConfig = field(default_factory=StftConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    patches: PatchConfig = field(default_factory=PatchConfig)
    declick: DeclickConfig = field(default_factory=DeclickConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):
        if self.patches.height > self.stft.n_bins:
            fail("patches.height", self.patches.height,
                 f"exceeds the {self.stft.n_bins} frequency bins of stft.n_fft={self.stft.n_fft}")

    def to_dict(self) -> dict:
        """A plain nested dict (YAML-safe) of every key."""
        return dataclasses.asdict(self)



def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the type ``hint``; return it (ints widened to float)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(inner[0], value, key)
        for alternative in inner:  # e.g. ``str | list[str]``: a folder or a list of folders
            try:
                return _coerce(alternative, value, key)
            except ConfigError:
                continue
        fail(key, value, "must be " + " or ".join(_describe(a) for a in inner))
    if origin is Literal:
        return choice(key, value, args)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            fail(key, value, "must be a list")
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is dict or origin is dict:
        _check_finite(key, mapping(key, value))
        return copy.deepcopy(dict(value))
    if hint is bool:
        if not isinstance(value, bool):
            fail(key, value, "must be true or false")
        return value
    if hint is int:
        if not (is_number(value) and isinstance(value, int)):
            fail(key, value, "must be an integer")
        return value
    if hint is float:
        if not (is_number(value) and isinstance(value, (int, float))):
            fail(key, value, "must be a number")
        if not math.isfinite(value):
            fail(key, value, "must be finite")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            fail(key, value, "must be a string")
        return value
    raise TypeError(f"unsupported config type {hint!r} for {key}")  # a bug in this module


def _describe(hint: Any) -> str:
    """``str`` -> ``a string``, ``list[str]`` -> ``a list of strings`` (for messages)."""
    names = {str: "string", int: "integer", float: "number", bool: "true/false", dict: "mapping"}
    if typing.get_origin(hint) is list:
        return f"a list of {names.get(typing.get_args(hint)[0], 'values')}s"
    return f"a {names.get(hint, getattr(hint, '__name__', str(hint)))}"


def _check_finite(key: str, value: Any) -> None:
    """Refuse NaN and infinite numbers anywhere inside a free-form mapping (``model.hparams``,
    ``tune.space``, ...), naming the dotted key of the value."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_finite(f"{key}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(f"{key}[{i}]", v)
    elif is_number(value) and not math.isfinite(value):
        fail(key, value, "must be finite")


def yaml_error_text(err: yaml.YAMLError) -> str:
    """A YAML parser error in one line: ``line L, column C: problem (context at line ...)``."""
    mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None)
    if mark is None or problem is None:
        return " ".join(str(err).split())
    text = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    context, where = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context and where is not None:
        text += f" ({context} at line {where.line + 1}, column {where.column + 1})"
    return text


#: Keys that older files (configs, the configuration inside saved models) may still hold and
#: that mean nothing now: dropped on reading, with a debug log, never an error.
RETIRED_KEYS = {"patches.hop": "training patches are drawn at random offsets; no hop is used"}


def _build(cls: type, data: Any, prefix: str) -> Any:
    mapping(prefix or "config", data, "keys to values")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if key in RETIRED_KEYS:
            logger.debug("%s=%r ignored: %s", key, value, RETIRED_KEYS[key])
            continue
        if name not in names:
            unknown(key, name, names, value=value)
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, key)
        else:
            kwargs[name] = _coerce(hint, value, key)
    return cls(**kwargs)


def _merge(base: dict, update: Mapping) -> dict:
    """Deep-merge ``update`` into a copy of ``base`` (mappings merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def read_yaml(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a config file, resolving its ``extends:`` chain (a file beside it, else a shipped
    config's name: :func:`~noisenil.config.shipped.find_parent`).

    Raises:
        ConfigError: The file is missing, not YAML, not a mapping, or extends itself.
    """
    path = Path(path).resolve()
    if path in _seen:
        fail("extends", str(path), "forms a cycle")
    if not path.is_file():
        fail("config", str(path), "file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        fail("config", str(path), f"is not valid YAML: {yaml_error_text(err)}")
    except (OSError, UnicodeDecodeError) as err:
        fail("config", str(path), f"cannot be read ({err})")
    if not isinstance(data, Mapping):
        fail("config", str(path), "must hold a mapping of keys to values")
    parents = data.pop("extends", None) or []
    merged: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _merge(merged, read_yaml(find_parent(path, parent), _seen + (path,)))
    return _merge(merged, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into its key path and YAML-parsed value."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        fail("--set", text, "must look like key.subkey=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        fail(key, raw, f"is not a YAML value: {yaml_error_text(err)}")
    return key.split("."), value


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Return a copy of ``data`` with every ``key=value`` override set (nested keys created)."""
    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                fail(".".join(path[: i + 1]), child, f"is not a section, cannot set {text!r}")
            node = child
        node[path[-1]] = value
    return out


def config_from_dict(data: Mapping) -> Config:
    """Validate a nested dict (missing keys take their defaults) into a :class:`Config`."""
    return _build(Config, _merge(Config().to_dict(), data), "")


def load_config(path: str | Path | None = None, *, overrides: Iterable[str] = ()) -> Config:
    """Load and validate a configuration.

    Args:
        path: A shipped config's name (``"debug.yaml"``, see
            :func:`~noisenil.config.shipped.find_config`) or a YAML file (may ``extends:``
            others), or ``None`` for the built-in defaults (identical to ``configs/base.yaml``).
        overrides: ``"key.subkey=value"`` strings applied last; values are parsed as YAML.

    Returns:
        The validated :class:`Config`.

    Raises:
        ConfigError: Unknown key or bad value, naming the dotted key and the value.
    """
    data = read_yaml(find_config(path)) if path is not None else {}
    return config_from_dict(apply_overrides(data, overrides))


def as_config(cfg: Config | str | os.PathLike | None, overrides: Iterable[str] = ()) -> Config:
    """A :class:`Config` from what the entry points accept: a Config, a YAML path, or ``None``.

    :func:`~noisenil.training.trainer.train` and :func:`~noisenil.tuning.experiment.tune` take
    their configuration through this.

    Args:
        cfg: A :class:`Config` (returned as it is), a YAML file, or ``None`` for the built-in
            defaults.
        overrides: ``"key.subkey=value"`` strings for :func:`load_config`; only with a path or
            ``None``.

    Returns:
        The validated :class:`Config`.

    Raises:
        ConfigError: Overrides given with a :class:`Config` (naming the first override's key),
            something that is neither a config nor a path, or what :func:`load_config` raises.
    """
    overrides = list(overrides)
    if isinstance(cfg, Config):
        if overrides:
            key = ".".join(parse_override(overrides[0])[0])
            raise ConfigError(
                f"{overrides[0]}: overrides apply to a config file (or None, the defaults), not "
                f"to a loaded Config; pass the path with them, or apply them with "
                f"load_config(path, overrides=[...])", key=key)
        return cfg
    if cfg is None or isinstance(cfg, (str, os.PathLike)):
        return load_config(cfg, overrides=overrides)
    raise ConfigError(f"config: got a {type(cfg).__name__}; expected a Config, the path of a "
                      f"YAML file, or None for the defaults", key="config")


def save_config(cfg: Config, path: str | Path) -> Path:
    """Write the resolved configuration as YAML (so a result can be reproduced), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
