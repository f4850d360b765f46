"""``.keras`` files that carry their configuration, the one loader, and the shipped model names.

A network only means something with the STFT and feature settings it was trained on, so
noisenil writes the resolved configuration *into* every ``.keras`` it saves (an extra
``noisenil/config.yaml`` entry in the zip; plain ``keras.saving.load_model`` ignores it).
:func:`model_config` finds it there, else beside the file (``best_hparams.yaml`` of a tuning
experiment, ``config.yaml`` of a training run), else in the parent folder.

:func:`load_model` is the one way noisenil reads a ``.keras`` file (``safe_mode=True``, custom
layers registered, errors naming the file); :func:`resolve_model` turns a shipped name
(``"default"``) or a path into a file. Nothing here imports keras_tuner, training or inference.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from noisenil.config import Config, config_from_dict, load_config
from noisenil.errors import NoiseNilError

if TYPE_CHECKING:  # pragma: no cover
    import keras

logger = logging.getLogger(__name__)

#: Name of the configuration entry noisenil adds to the ``.keras`` zip.
CONFIG_ENTRY = "noisenil/config.yaml"
#: Files next to a model that hold its configuration, in the order they are tried.
SIDECAR_CONFIGS = ("best_hparams.yaml", "config.yaml")


def save_model(model: keras.Model, path: str | Path, cfg: Config) -> Path:
    """Save ``model`` as ``.keras`` with ``cfg`` inside, atomically (a kill leaves no half file).

    The file holds the architecture and weights only: a compiled model's optimizer state
    (twice the weights for Adam) is left out, as it is of no use for denoising or export
    (training resumes from ``run_dir/last.keras``, which keeps it).

    Args:
        model: The network.
        path: Destination ending in ``.keras``.
        cfg: The configuration it was trained with (its STFT/feature settings are what
            :class:`Denoiser` needs).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.keras")
    if getattr(model, "optimizer", None) is not None:
        bare = type(model).from_config(model.get_config())  # same layers, not compiled
        bare.set_weights(model.get_weights())
        model = bare
    model.save(tmp)
    embed_config(tmp, cfg)
    os.replace(tmp, path)
    return path


def embed_config(path: str | Path, cfg: Config) -> Path:
    """Write ``cfg`` into an existing ``.keras`` file (replacing a copy already there).

    Returns:
        ``path``.
    """
    path = Path(path)
    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    with zipfile.ZipFile(path) as zf:
        present = CONFIG_ENTRY in zf.namelist()
    if not present:
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr(CONFIG_ENTRY, text)
        return path
    tmp = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for item in src.infolist():
            if item.filename != CONFIG_ENTRY:
                dst.writestr(item, src.read(item.filename))
        dst.writestr(CONFIG_ENTRY, text)
    os.replace(tmp, path)
    return path


def embedded_config(path: str | Path) -> Config | None:
    """The configuration stored inside a ``.keras`` file by :func:`save_model`, or ``None``."""
    try:
        with zipfile.ZipFile(path) as zf:
            if CONFIG_ENTRY not in zf.namelist():
                return None
            return config_from_dict(yaml.safe_load(zf.read(CONFIG_ENTRY)))
    except zipfile.BadZipFile as err:
        raise NoiseNilError(f"model={str(path)!r}: not a .keras file ({err})") from err


def model_config(path: str | Path) -> tuple[Config, str]:
    """The configuration a saved model was trained with, and where it was found.

    Tried in order: the copy inside the ``.keras`` file, ``best_hparams.yaml`` or ``config.yaml``
    beside it, ``config.yaml`` in the parent folder. Without any, the built-in defaults are
    used and a warning says so (right for models trained with default features).

    Returns:
        ``(config, source)``, ``source`` being ``"embedded"``, a file path or ``"defaults"``.
    """
    path = Path(path)
    cfg = embedded_config(path)
    if cfg is not None:
        return cfg, "embedded"
    for candidate in [path.parent / n for n in SIDECAR_CONFIGS] + [path.parent.parent /
                                                                   "config.yaml"]:
        if candidate.is_file():
            return load_config(candidate), str(candidate)
    logger.warning("%s carries no noisenil configuration and none lies beside it: assuming the "
                   "default STFT/feature settings (pass config= to say otherwise)", path)
    return load_config(), "defaults"


def resolve_model(model: str | os.PathLike, *, key: str = "model") -> Path:
    """The ``.keras`` file a shipped name (see :func:`noisenil.pretrained.shipped_models`) or a
    path stands for.

    Args:
        model: ``"default"`` (or another shipped name), or a path to a ``.keras`` file.
        key: The option's name for error messages (``"model"``, ``"train.init_from"``).

    Raises:
        NoiseNilError: Neither a shipped name nor an existing file (the message lists the names).
    """
    from noisenil.pretrained import shipped_models

    shipped = shipped_models()
    if str(model) in shipped:
        return shipped[str(model)]
    path = Path(model)
    if not path.is_file():
        raise NoiseNilError(f"{key}={str(model)!r}: no such file (or shipped model name: "
                            f"{', '.join(sorted(shipped))})")
    return path


def load_model(path: str | os.PathLike, *, compile: bool = False,
               key: str = "model") -> keras.Model:
    """Load a noisenil ``.keras`` file with ``safe_mode=True`` (the only loader noisenil uses).

    Args:
        path: The file.
        compile: Restore the optimizer and loss too (resuming training); ``False`` for
            inference and weight copies.
        key: The option's name for error messages.

    Raises:
        NoiseNilError: Missing file, or not a loadable ``.keras`` model.
    """
    import keras

    import noisenil.models.layers  # noqa: F401  (registers the custom layers)
    import noisenil.models.losses  # noqa: F401
    import noisenil.models.metrics  # noqa: F401
    import noisenil.models.staged_model  # noqa: F401

    path = Path(path)
    if not path.is_file():
        raise NoiseNilError(f"{key}={str(path)!r}: no such file")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=compile)
    except (ValueError, OSError, TypeError, KeyError, zipfile.BadZipFile) as err:
        raise NoiseNilError(f"{key}={str(path)!r}: not a loadable .keras model ({err})") from err
