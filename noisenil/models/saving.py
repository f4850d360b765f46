"""``.keras`` files that carry their configuration, the one loader, and the shipped model names.

A network only means something with the STFT and feature settings it was trained on, so
noisenil writes the resolved configuration *into* every ``.keras`` it saves (an extra
``noisenil/config.yaml`` entry in the zip; plain ``keras.saving.load_model`` ignores it).
:func:`model_config` finds it there, else beside the file (``best_hparams.yaml`` of a tuning
experiment, ``config.yaml`` of a training run), else in the parent folder.

:func:`load_model` is the one way noisenil reads a ``.keras`` file (``safe_mode=True``, custom
layers registered, errors naming the file); :func:`resolve_model` turns what every ``--model``
accepts (a shipped name such as ``"default"``, a ``.keras`` file, a training run folder or a
tuning experiment folder) into one file (:mod:`noisenil.models.locate` reads the folders:
file names and ``trials.csv`` only, so the command line checks ``--model`` before it imports
TensorFlow). Nothing here imports keras_tuner, training or inference.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from noisenil.config import Config, config_from_dict, load_config
from noisenil.config.atomic import atomic_target
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
    if getattr(model, "optimizer", None) is not None:
        bare = type(model).from_config(model.get_config())  # same layers, not compiled
        bare.set_weights(model.get_weights())
        model = bare
    with atomic_target(path) as tmp:
        model.save(tmp)
        _add_config(tmp, cfg)
    return path


def _add_config(path: Path, cfg: Config) -> None:
    """Append ``cfg`` to a ``.keras`` zip that has none yet (a file still being written)."""
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(CONFIG_ENTRY, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def embed_config(path: str | Path, cfg: Config) -> Path:
    """Write ``cfg`` into an existing ``.keras`` file (replacing a copy already there).

    Returns:
        ``path``.
    """
    path = Path(path)
    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    with atomic_target(path) as tmp:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
            for item in src.infolist():
                if item.filename != CONFIG_ENTRY:
                    dst.writestr(item, src.read(item.filename))
            dst.writestr(CONFIG_ENTRY, text)
    return path


def keras_archive(path: str | Path, *, key: str = "model") -> dict:
    """Check that ``path`` is a ``.keras`` file whose network noisenil can use, without loading
    it (no TensorFlow import): a zip with Keras' ``config.json``, the network's single input of
    shape ``(batch, freq, time, channels)``.

    Returns:
        The parsed ``config.json``.

    Raises:
        NoiseNilError: One line naming the file and what is wrong: a folder, not a zip, no
            ``config.json`` (not a Keras model), an unreadable one, or an input that is not
            ``(batch, freq, time, channels)``.
    """
    path = Path(path)
    where = f"{key}={str(path)!r}"
    if path.is_dir():
        raise NoiseNilError(f"{where}: is a folder, not a .keras model file")
    if not path.is_file():
        raise NoiseNilError(f"{where}: no such file")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "config.json" not in names:
                raise NoiseNilError(f"{where}: not a Keras model file (a zip without Keras' "
                                    f"config.json; it holds {', '.join(names[:4]) or 'nothing'})")
            config = json.loads(zf.read("config.json"))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise NoiseNilError(f"{where}: not a .keras model file (not a readable zip archive: "
                            f"{err})") from err
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise NoiseNilError(f"{where}: not a Keras model file (its config.json is not JSON: "
                            f"{err})") from err
    if not isinstance(config, dict) or "class_name" not in config:
        raise NoiseNilError(f"{where}: not a Keras model file (its config.json describes no "
                            f"model)")
    shape = _input_shape(config)
    if shape is not None and len(shape) != 4:
        raise NoiseNilError(f"{where}: not a noisenil model: its input shape is "
                            f"{_shape_text(shape)}; a noisenil model maps (batch, freq, time, "
                            f"channels) to the same shape")
    return config


def _input_shape(config: Any) -> tuple | None:
    """The ``batch_shape`` of the first ``InputLayer`` in a Keras ``config.json`` (or ``None``
    where the file does not record one, e.g. a subclassed model)."""
    if isinstance(config, dict):
        if config.get("class_name") == "InputLayer":
            inner = config.get("config") or {}
            shape = inner.get("batch_shape", inner.get("batch_input_shape"))
            if isinstance(shape, (list, tuple)):
                return tuple(shape)
        children = config.values()
    elif isinstance(config, list):
        children = config
    else:
        return None
    for child in children:
        found = _input_shape(child)
        if found is not None:
            return found
    return None


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _check_channels(path: Path, config: dict, cfg: Config, source: str, key: str) -> None:
    shape = _input_shape(config)
    channels = shape[-1] if shape is not None and len(shape) == 4 else None
    if channels is None or channels == cfg.features.channels:
        return
    where = f"{key}={str(path)!r}"
    if source == "defaults":
        raise NoiseNilError(
            f"{where}: no embedded noisenil configuration (and none beside it), and its input "
            f"has {channels} channels, which the default features (magnitude, 1 channel) do not "
            f"fit; pass the config it was trained with (--config / config=)")
    raise NoiseNilError(
        f"{where}: its input has {channels} channels, but its configuration ({source}) has "
        f"features.representation={cfg.features.representation!r}, which gives "
        f"{cfg.features.channels}")


def embedded_config(path: str | Path) -> Config | None:
    """The configuration stored inside a ``.keras`` file by :func:`save_model`, or ``None``."""
    try:
        with zipfile.ZipFile(path) as zf:
            if CONFIG_ENTRY not in zf.namelist():
                return None
            return config_from_dict(yaml.safe_load(zf.read(CONFIG_ENTRY)))
    except (zipfile.BadZipFile, OSError) as err:
        raise NoiseNilError(f"model={str(path)!r}: not a .keras file ({err})") from err
    except yaml.YAMLError as err:
        raise NoiseNilError(f"model={str(path)!r}: its embedded {CONFIG_ENTRY} is not YAML "
                            f"({' '.join(str(err).split())})") from err


def model_config(path: str | Path, *, key: str = "model") -> tuple[Config, str]:
    """The configuration a saved model was trained with, and where it was found.

    Tried in order: the copy inside the ``.keras`` file, ``best_hparams.yaml`` or ``config.yaml``
    beside it, ``config.yaml`` in the parent folder. Without any, the built-in defaults are
    used and a warning says so (right for models trained with default features).

    Returns:
        ``(config, source)``, ``source`` being ``"embedded"``, a file path or ``"defaults"``.

    Raises:
        NoiseNilError: Not a noisenil model file (see :func:`keras_archive`), or one whose
            input channels do not fit the configuration found (e.g. a 2-channel model with no
            embedded configuration: the defaults are for 1).
    """
    path = Path(path)
    archive = keras_archive(path, key=key)
    cfg, source = embedded_config(path), "embedded"
    if cfg is None:
        candidates = [path.parent / n for n in SIDECAR_CONFIGS] + [path.parent.parent /
                                                                   "config.yaml"]
        found = next((c for c in candidates if c.is_file()), None)
        cfg, source = (load_config(found), str(found)) if found else (load_config(), "defaults")
    _check_channels(path, archive, cfg, source, key)
    if source == "defaults":
        logger.warning("%s carries no noisenil configuration and none lies beside it: assuming "
                       "the default STFT/feature settings (pass config= to say otherwise)", path)
    return cfg, source


def resolve_model(model: str | os.PathLike, *, key: str = "model") -> Path:
    """The one ``.keras`` file a ``--model`` value stands for (see
    :data:`noisenil.models.locate.MODEL_FORMS`).

    Args:
        model: ``"default"`` (or another shipped name), a ``.keras`` file, a training run folder
            (``model.keras``), an experiment family's folder (``best.keras``), or a tuning
            experiment folder: its best model over all families
            (:func:`~noisenil.models.locate.experiment_best`).
        key: The option's name for error messages (``"model"``, ``"train.init_from"``).

    Raises:
        NoiseNilError: None of these (the message names the value and lists the shipped names).
    """
    from noisenil.models.locate import experiment_best, model_files

    files = model_files(model, key=key)
    return files[0] if len(files) == 1 else experiment_best(Path(model), files, key=key)


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
    keras_archive(path, key=key)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=compile)
    except (ValueError, OSError, TypeError, KeyError, AttributeError, zipfile.BadZipFile) as err:
        first = " ".join(str(err).split())[:300]
        raise NoiseNilError(f"{key}={str(path)!r}: not a loadable .keras model "
                            f"({type(err).__name__}: {first})") from err
    _check_network(model, path, key)
    return model


def _check_network(model: keras.Model, path: Path, key: str) -> None:
    """A noisenil network: one ``(batch, freq, time, channels)`` input, an output (the first,
    for a staged model) of the same rank and channels."""
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if not inputs or not outputs:
        return  # a subclassed model without a recorded graph: its calls will tell
    shape_in, shape_out = tuple(inputs[0].shape), tuple(outputs[0].shape)
    where = f"{key}={str(path)!r}: not a noisenil model"
    if len(inputs) != 1 or len(shape_in) != 4:
        raise NoiseNilError(f"{where}: its input shape is "
                            f"{', '.join(_shape_text(tuple(i.shape)) for i in inputs)}; a "
                            f"noisenil model maps (batch, freq, time, channels) to the same shape")
    if len(shape_out) != 4 or shape_out[-1] != shape_in[-1]:
        raise NoiseNilError(f"{where}: it maps {_shape_text(shape_in)} to "
                            f"{_shape_text(shape_out)}; a noisenil model's output has the "
                            f"shape of its input")
