"""Export a trained denoiser for deployment: TensorFlow SavedModel, TFLite or ONNX.

Every format holds the network only, in inference mode (dropout off, batch norm on its moving
statistics, the two-stage U-Net's final estimate only); the STFT, the feature scaling, chunking
and overlap-add stay with the caller. So each export writes the model's resolved configuration
beside it, where a deployment reads the STFT and feature settings it must reproduce:

- ``savedmodel``: a SavedModel folder with the serving signature ``serving_default`` (also
  callable as ``.serve``); configuration in ``<folder>/config.yaml``.
- ``tflite``: one ``.tflite`` flatbuffer of TFLite built-in ops only (float32, no Flex delegate
  needed); configuration in ``<stem>.config.yaml`` beside it.
- ``onnx``: one ``.onnx`` file converted by tf2onnx (the ``export`` extra:
  ``pip install 'noisenil[export]'``); configuration in ``<stem>.config.yaml`` beside it.

Tensor contract (all formats): one float32 input named ``features`` and one output, both
``(batch, freq, time, channels)``. Channels: 1 (magnitude) or 2 (complex: real, imaginary). The
values are the features of :mod:`noisenil.dsp.features` as set by ``features.*`` of the
configuration, and the output is the denoised features on the same scale. ``freq`` is fixed at
the full spectrogram height :class:`~noisenil.inference.denoiser.Denoiser` feeds the network,
``ceil(n_bins / patches.height) * patches.height`` (128 with the defaults; spectrogram rows
beyond ``n_bins`` are zero padding, cut from the output).

Input shape: the export first tries batch and time dynamic, ``(None, freq, None, channels)``. A
network that cannot be traced or converted that way gets the time axis fixed at the patch width,
``(None, freq, patches.width, channels)``, and for TFLite then also batch 1. Measured with TF
2.21 and Keras 3.15: time is dynamic for every family and format except ``unet`` as TFLite
(``UpSampling2D``'s ``repeat`` loses the channel count, which TFLite convolutions need;
``resnet_unet``'s :class:`~noisenil.models.layers.BilinearUpsample2x` is one ``ResizeBilinear``
on TensorFlow and stays dynamic everywhere). The shape used is logged, and the file records it
(the SavedModel signature, TFLite's ``shape_signature``, the ONNX input's dims). With a fixed width, feed chunks of exactly that many
frames (pad the last one).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from noisenil.config import Config, save_config
from noisenil.config.atomic import check_writable
from noisenil.errors import ConfigError, MissingDependencyError, NoiseNilError

logger = logging.getLogger(__name__)

#: Export formats and the suffix of what they write ("" for a folder).
FORMATS = {"savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}
#: Name of the exported graph's input.
INPUT_NAME = "features"


def export_model(model: str | Path, out: str | Path | None = None, *,
                 format: str = "savedmodel", config: Config | str | Path | None = None,
                 overwrite: bool = False) -> Path:
    """Export a ``.keras`` denoiser as a SavedModel folder, a ``.tflite`` or an ``.onnx`` file.

    Args:
        model: The ``.keras`` file, or anything else ``--model`` accepts (a shipped name, a
            training run or tuning experiment folder: see
            :func:`~noisenil.models.saving.resolve_model`); loaded with
            :meth:`~noisenil.inference.denoiser.Denoiser.from_file`, which finds its configuration.
        out: Destination: the SavedModel folder, or the ``.tflite``/``.onnx`` file (an existing
            folder gets ``<model stem>.<format>`` inside). Default: beside the model,
            ``<stem>_savedmodel/``, ``<stem>.tflite`` or ``<stem>.onnx`` (for a shipped model,
            in the working directory).
        format: ``"savedmodel"``, ``"tflite"`` or ``"onnx"``.
        config: A :class:`~noisenil.config.Config` or YAML path overriding the configuration
            found with the model (it sets the input height and channels, and is written beside
            the export).
        overwrite: Replace an existing export at ``out``; without it an existing destination is
            an error.

    Returns:
        The path written (folder or file); the configuration lies beside it as described in the
        module docstring.

    Shape:
        The exported graph maps ``(batch, freq, time, channels)`` float32 features to the same
        shape; see the module docstring for which dimensions are fixed.

    Raises:
        ConfigError: Unknown ``format``.
        MissingDependencyError: ``format="onnx"`` without tf2onnx installed.
        NoiseNilError: Missing or unreadable model, destination exists (without ``overwrite``)
            or is the model itself, a backend other than TensorFlow, or a conversion failure.

    Example:
        >>> export_model("runs/dncnn/best.keras", format="tflite")
        PosixPath('runs/dncnn/best.tflite')
    """
    if format not in FORMATS:
        raise ConfigError(f"format={format!r}: must be one of {', '.join(FORMATS)}",
                          key="format")
    if format == "onnx":
        _require_onnx()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise NoiseNilError(f"export needs the TensorFlow backend; this process runs "
                            f"KERAS_BACKEND={keras.backend.backend()!r}")
    from noisenil.inference.denoiser import Denoiser
    from noisenil.models.saving import resolve_model
    from noisenil.pretrained import shipped_models

    shipped = str(model) in shipped_models()
    model = resolve_model(model)
    if out is None and shipped:  # never into the installed package: the working directory
        out = Path(model.stem + (FORMATS[format] or "_savedmodel"))
    # The Keras network itself: a shipped model's ONNX twin (runtime "auto") cannot be exported.
    den = Denoiser.from_file(model, config=config, runtime="keras")
    out = _destination(model, out, format, overwrite)
    check_writable(out.parent, what="out")  # before the conversion
    tmp = out.with_name(f".{out.name}.partial")
    _remove(tmp)
    try:
        shape = _EXPORTERS[format](den.model, tmp, _shapes(den.cfg, format))
        _remove(out)
        os.replace(tmp, out)
    finally:
        _remove(tmp)
    cfg_path = out / "config.yaml" if format == "savedmodel" else out.with_suffix(".config.yaml")
    save_config(den.cfg, cfg_path)
    logger.info("exported %s as %s to %s: input %r %s float32 (config: %s)", model, format, out,
                INPUT_NAME, _shape_text(shape), cfg_path)
    return out


def _require_onnx() -> None:
    missing = [m for m in ("tf2onnx", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"format='onnx' needs {' and '.join(missing)} (not installed): "
            "pip install 'noisenil[export]' (or pip install tf2onnx onnxruntime)")


def _destination(model: Path, out: str | Path | None, format: str, overwrite: bool) -> Path:
    suffix = FORMATS[format]
    if out is None:
        out = model.with_name(model.stem + (suffix or "_savedmodel"))
    out = Path(out)
    if suffix and out.is_dir():
        out = out / (model.stem + suffix)
    if out.resolve() == model.resolve():
        raise NoiseNilError(f"out={str(out)!r}: is the model itself; choose another path")
    if out.exists():
        if not overwrite:
            raise NoiseNilError(f"out={str(out)!r}: already exists (pass overwrite=True, "
                                "--overwrite on the command line, to replace it)")
        if out.is_dir() and not (out / "saved_model.pb").is_file():
            raise NoiseNilError(f"out={str(out)!r}: is a folder but not a SavedModel; not "
                                "replacing it")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _shapes(cfg: Config, format: str) -> list[tuple]:
    """The input shapes to try, most dynamic first."""
    p = cfg.patches
    freq = -(-cfg.stft.n_bins // p.height) * p.height  # what Denoiser feeds the network
    channels = cfg.features.channels
    shapes = [(None, freq, None, channels), (None, freq, p.width, channels)]
    if format == "tflite":
        shapes.append((1, freq, p.width, channels))
    return shapes


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _try_shapes(convert, shapes: list[tuple], what: str) -> tuple:
    """Run ``convert(shape)`` for each shape until one works; return that shape."""
    errors = []
    for shape in shapes:
        try:
            convert(shape)
            return shape
        except Exception as err:  # noqa: BLE001  (tracing and converter errors vary)
            logger.info("%s with input %s failed (%s: %s); trying a more fixed shape", what,
                        _shape_text(shape), type(err).__name__, _first_line(err))
            errors.append(f"{_shape_text(shape)}: {type(err).__name__}: {_first_line(err)}")
    raise NoiseNilError(f"{what} failed for every input shape tried: " + "; ".join(errors))


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def _spec(shape: tuple):
    import tensorflow as tf

    return tf.TensorSpec(shape, tf.float32, name=INPUT_NAME)


def _export_savedmodel(model, path: Path, shapes: list[tuple]) -> tuple:
    def convert(shape):
        _remove(path)
        model.export(str(path), format="tf_saved_model", input_signature=[_spec(shape)],
                     verbose=False)

    return _try_shapes(convert, shapes, "SavedModel export")


def _export_tflite(model, path: Path, shapes: list[tuple]) -> tuple:
    import tensorflow as tf

    def convert(shape):
        with tempfile.TemporaryDirectory() as saved:
            model.export(saved, format="tf_saved_model", input_signature=[_spec(shape)],
                         verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(saved)
            # Built-in ops only: the file runs on any TFLite/LiteRT runtime, no Flex delegate.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            path.write_bytes(converter.convert())

    return _try_shapes(convert, shapes, "TFLite conversion")


def _export_onnx(model, path: Path, shapes: list[tuple]) -> tuple:
    def convert(shape):
        _remove(path)
        model.export(str(path), format="onnx", input_signature=[_spec(shape)], verbose=False)

    return _try_shapes(convert, shapes, "ONNX export")


_EXPORTERS = {"savedmodel": _export_savedmodel, "tflite": _export_tflite, "onnx": _export_onnx}
