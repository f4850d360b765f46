"""Apply a trained network to audio: :class:`Denoiser`.

The network is a plain callable, features in and features out: a Keras model (loaded by
:func:`noisenil.models.saving.load_model`), or any function on ``(batch, freq, frames,
channels)`` float32 arrays. Audio goes through the one inference path
(:class:`~noisenil.inference.streaming.StreamingDenoiser`); a whole array is one block::

    wave ──> STFT ──> features (F, T, C) ──> full-height chunks (chunk plan) ──> network
         ──> cross-fade ──> inverse features (noisy phase for magnitude) ──> ISTFT
         ──> wave of exactly the input's length, rate and channels
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from noisenil.config import Config, load_config
from noisenil.dsp.features import FeatureTransform
from noisenil.dsp.levels import active_rms
from noisenil.errors import AudioError, ConfigError, NoiseNilError
from noisenil.inference.onnx_network import OnnxNetwork, onnxruntime_available
from noisenil.inference.streaming import StreamingDenoiser

logger = logging.getLogger(__name__)

#: What can run the network (see :meth:`Denoiser.from_file`).
RUNTIMES = ("auto", "keras", "onnx")


@dataclass
class Throughput:
    """What a :class:`Denoiser` has processed since it was made (or :meth:`reset`).

    Attributes:
        seconds: Wall time spent in :meth:`Denoiser.denoise`, in s.
        audio_seconds: Duration of the audio denoised, in s (per channel, summed).
        patches: Network input processed, counted in ``patches.height x patches.width`` patch
            equivalents (chunk padding included: it is work done).
    """

    seconds: float = 0.0
    audio_seconds: float = 0.0
    patches: float = 0.0

    @property
    def rtf(self) -> float:
        """Real-time factor: processing seconds per second of audio (lower is faster)."""
        return self.seconds / self.audio_seconds if self.audio_seconds else float("nan")

    @property
    def patches_per_second(self) -> float:
        """Patch equivalents per second of processing."""
        return self.patches / self.seconds if self.seconds else float("nan")

    def reset(self) -> None:
        """Zero the counters."""
        self.seconds = self.audio_seconds = self.patches = 0.0


class Denoiser:
    """A trained network with the feature settings it was trained on.

    Args:
        model: The network: a Keras model, or any callable mapping a ``(batch, freq, frames,
            channels)`` float32 array to the same shape.
        cfg: Its configuration (``audio``, ``stft``, ``features`` and ``patches`` are used).
        name: A label for reports; defaults to the model's name.
        batch_size: Chunks per network call.
        max_gain_db: Largest gain, in dB, any time-frequency bin may get over the noisy input
            (see :meth:`bound_features`); ``None`` leaves the network's output as it is.

    Example:
        >>> den = Denoiser.from_file("tuning_results/sweep/dncnn/best.keras")
        >>> clean = den.denoise(noisy, sample_rate=44100)   # same shape and rate as noisy
    """

    def __init__(self, model: Callable[[np.ndarray], Any], cfg: Config, *,
                 name: str | None = None, batch_size: int = 4, max_gain_db: float | None = 6.0):
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size}: must be >= 1", key="batch_size")
        self.model = model
        self.cfg = cfg
        self.name = name or getattr(model, "name", None) or type(model).__name__
        self.batch_size = batch_size
        self.max_gain_db = max_gain_db
        self.features = FeatureTransform.from_config(cfg)
        self.throughput = Throughput()
        self.config_source = "given"
        # Keras's compiled predict (tf.function / jax.jit) runs a small network ~1.7x faster
        # on CPU than an eager call; it is traced once per chunk shape.
        self._call = getattr(model, "predict_on_batch", model)

    @classmethod
    def from_file(cls, path: str | Path, *, config: Config | str | Path | None = None,
                  name: str | None = None, batch_size: int = 4,
                  max_gain_db: float | None = 6.0, runtime: str = "auto") -> Denoiser:
        """Load a ``.keras`` model and its configuration.

        Args:
            path: The ``.keras`` file, or a shipped model's name (``"default"``).
            config: A :class:`Config` or YAML path overriding the one found by
                :func:`~noisenil.models.saving.model_config`.
            name: Report label; defaults to the folder name for ``best.keras``/``model.keras``
                (the family in a tuning experiment), else the file's stem.
            batch_size: Chunks per network call.
            max_gain_db: See :class:`Denoiser`.
            runtime: What runs the network: ``"keras"``; ``"onnx"``, the ``.onnx`` export
                beside the file run by onnxruntime (:mod:`~noisenil.inference.onnx_network`),
                with no TensorFlow import; ``"auto"``, ONNX for the shipped models when
                onnxruntime is installed, else Keras.

        Raises:
            NoiseNilError: The file is missing or not a ``.keras`` model, or ``runtime="onnx"``
                without an ``.onnx`` file beside it.
        """
        from noisenil.models.saving import load_model, model_config, resolve_model
        from noisenil.pretrained import shipped_models

        if runtime not in RUNTIMES:
            raise ConfigError(f"runtime={runtime!r}: choose one of {list(RUNTIMES)}",
                              key="runtime")
        path = resolve_model(path)
        shipped = path.resolve() in {p.resolve() for p in shipped_models().values()}
        if config is None:
            cfg, source = model_config(path)
        else:
            cfg = config if isinstance(config, Config) else load_config(config)
            source = "given" if isinstance(config, Config) else str(config)
        onnx = path.with_suffix(".onnx")
        if runtime == "onnx" and not onnx.is_file():
            raise NoiseNilError(f"runtime='onnx': no {onnx.name} beside {path} (make one with "
                                f"noisenil export --format onnx)")
        if runtime == "onnx" or (runtime == "auto" and shipped and onnx.is_file()
                                 and onnxruntime_available()):
            model = OnnxNetwork(onnx)
        else:
            model = load_model(path)
        if name is None:
            name = path.parent.name if path.stem in ("best", "model", "last") else path.stem
        den = cls(model, cfg, name=name, batch_size=batch_size, max_gain_db=max_gain_db)
        den.config_source = source
        return den

    # -- properties ------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """The rate the network works at, in Hz (``audio.sample_rate`` of its config)."""
        return self.cfg.audio.sample_rate

    @property
    def params(self) -> int:
        """Number of parameters of the network (0 when the callable does not say)."""
        count = getattr(self.model, "count_params", None)
        return int(count()) if count is not None else 0

    # -- the inference path --------------------------------------------------------------------
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """The network on one batch of chunks, in inference mode.

        Args:
            batch: ``(batch, freq, frames, channels)`` float32, ``freq`` a multiple of
                ``patches.height``.

        Returns:
            The network's output, same shape, float32 NumPy.
        """
        return np.asarray(self._call(np.asarray(batch, np.float32)), dtype=np.float32)

    def bound_features(self, out: np.ndarray, spec: np.ndarray) -> np.ndarray:
        """Limit each bin of the network's output to the noisy magnitude + ``max_gain_db``.

        A denoiser removes energy; an under-trained network can instead output feature values
        far above its input, which the exponential inverse of the dB scale turns into huge
        samples. The bound is applied in the feature domain (the scales are monotonic), so it
        never overflows.

        Args:
            out: Network output features ``(freq, frames, channels)``.
            spec: The noisy complex spectrogram ``(freq, frames)``.
        """
        if self.max_gain_db is None:
            return out
        cap = self.features.encode(spec * np.float32(10.0 ** (self.max_gain_db / 20.0)))
        if out.shape[-1] == 1:
            return np.minimum(out, cap)
        mag = np.sqrt(np.sum(out * out, axis=-1, keepdims=True))
        limit = np.sqrt(np.sum(cap * cap, axis=-1, keepdims=True))
        return out * np.minimum(1.0, limit / np.maximum(mag, 1e-12))

    def stream(self, *, sample_rate: int | None = None, channels: int = 1, frames: int,
               level: float | None = None) -> StreamingDenoiser:
        """A :class:`~noisenil.inference.streaming.StreamingDenoiser` over this network
        (``level``: the input's active RMS if known, see :mod:`noisenil.dsp.levels`)."""
        sr = self.sample_rate if sample_rate is None else int(sample_rate)
        return StreamingDenoiser(self, sample_rate=sr, channels=channels, frames=frames,
                                 level=level)

    def denoise(self, audio: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Denoise a signal of any length, rate and channel count (one block of the stream).

        Args:
            audio: ``(samples,)`` or ``(channels, samples)`` float in [-1, 1].
            sample_rate: Its rate in Hz; ``None`` means the network's rate. Other rates are
                resampled to the network's and back.

        Returns:
            The denoised signal: same shape, rate and dtype float32. Level-invariant: the
            input is scaled to the reference level and back by the exact inverse gain
            (:mod:`noisenil.dsp.levels`), so ``denoise(a * x) == a * denoise(x)``; silence
            (below -80 dBFS active RMS) comes back unchanged.

        Raises:
            AudioError: Not 1-D/2-D, empty, or NaN/Inf samples.
        """
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim not in (1, 2) or x.shape[-1] == 0:
            raise AudioError(f"audio of shape {x.shape}: expected (samples,) or (channels, "
                             f"samples) with at least one sample")
        channels = x[None] if x.ndim == 1 else x
        sr = self.sample_rate if sample_rate is None else int(sample_rate)
        level = active_rms(channels, sr) if np.all(np.isfinite(channels)) else None
        stream = self.stream(sample_rate=sr, channels=channels.shape[0],
                             frames=channels.shape[1], level=level)
        out = stream.run(channels.T).T
        return out[0] if x.ndim == 1 else out

    def __call__(self, audio: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        return self.denoise(audio, sample_rate)

