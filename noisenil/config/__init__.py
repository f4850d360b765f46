"""Configuration: validated dataclasses loaded from YAML, overlays, and ``key=value`` overrides.

A configuration is data. ``configs/base.yaml`` documents every key (and equals the defaults
below, a test keeps them in step); other files extend it with ``extends: base.yaml`` and change
only what they need; any key can be overridden from the command line with ``--set key=value``
(the value is parsed as YAML, so ``--set data.snr_db=[0,10]`` works). Unknown keys and bad values
raise :class:`~noisenil.errors.ConfigError` naming the dotted key and the value.

The package sits at the bottom of noisenil: it imports only :mod:`noisenil.errors` (and PyYAML),
no numpy and no signal code. Its modules:

* :mod:`~noisenil.config.validate`: the checks every value goes through (one vocabulary of
  ``key=value: why`` messages);
* :mod:`~noisenil.config.sections`: audio, STFT, features, patches, data and augment sections;
* :mod:`~noisenil.config.runs`: model, train and tune sections;
* :mod:`~noisenil.config.augment_schema`: the augmentations' names, parameters, ranges, groups
  and defaults (their signal functions are in :mod:`noisenil.data.augment`);
* :mod:`~noisenil.config.loading`: the whole :class:`Config`, YAML, ``extends:``, overrides.
* :mod:`~noisenil.config.shipped`: the shipped configs, found by name (``--config debug.yaml``,
  ``extends: quickstart.yaml``) in a source checkout or an installation.

Example:
    >>> cfg = load_config("configs/debug.yaml", overrides=["data.batch_size=4"])
    >>> cfg.data.batch_size
    4
"""

from noisenil.config.loading import (
    Config,
    apply_overrides,
    as_config,
    config_from_dict,
    load_config,
    parse_override,
    read_yaml,
    save_config,
)
from noisenil.config.runs import ModelConfig, TrainConfig, TuneConfig, metric_direction
from noisenil.config.sections import (
    AudioConfig,
    AugmentConfig,
    DataConfig,
    DeclickConfig,
    FeatureConfig,
    PatchConfig,
    StftConfig,
)
from noisenil.config.shipped import find_config, shipped_configs

__all__ = [
    "AudioConfig", "AugmentConfig", "Config", "DataConfig", "DeclickConfig",
    "FeatureConfig", "ModelConfig",
    "PatchConfig", "StftConfig", "TrainConfig", "TuneConfig", "apply_overrides", "as_config",
    "config_from_dict", "find_config", "load_config", "metric_direction", "parse_override",
    "read_yaml", "save_config", "shipped_configs",
]
