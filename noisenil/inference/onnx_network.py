"""A network exported to ONNX, run by onnxruntime: the shipped models' fast path.

Importing TensorFlow costs more than denoising a short file, so the shipped models carry their
ONNX export (``default.onnx`` beside ``default.keras``, parity-tested against the Keras model)
and :meth:`Denoiser.from_file <noisenil.inference.denoiser.Denoiser.from_file>` runs them with
onnxruntime; the configuration still comes from the ``.keras`` file (read as a zip, no Keras).
Any other model runs through Keras.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import numpy as np

from noisenil.errors import MissingDependencyError, NoiseNilError

logger = logging.getLogger(__name__)


def onnxruntime_available() -> bool:
    """Whether onnxruntime can be imported (without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


class OnnxNetwork:
    """An ``.onnx`` file as a plain callable, features in and features out.

    Args:
        path: The ``.onnx`` file (one float32 input ``(batch, freq, frames, channels)`` and one
            output of the same shape, as :func:`~noisenil.inference.export.export_model` writes).
        threads: Intra-op threads; ``None`` lets onnxruntime use every core.

    Shape:
        ``(batch, freq, frames, channels)`` float32 in and out.

    Raises:
        MissingDependencyError: onnxruntime is not installed.
        NoiseNilError: The file cannot be loaded.
    """

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None):
        if not onnxruntime_available():
            raise MissingDependencyError("runtime='onnx' needs onnxruntime: pip install "
                                         "onnxruntime")
        import onnxruntime as ort

        self.path = Path(path)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3  # errors only
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001  (onnxruntime raises its own exception types)
            raise NoiseNilError(f"model={str(self.path)!r}: not a loadable .onnx file "
                                f"({err})") from err
        self._input = self._session.get_inputs()[0].name
        self.name = self.path.stem

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: np.asarray(batch, np.float32)})[0]
