"""Apply a trained network to audio: :class:`Denoiser`, and ``.keras`` files that carry their
feature settings.

The flow is the design's inference path::

    wave ──> STFT ──> features (F, T, C) ──> full-height chunks (n, F, chunk_width, C)
         ──> model ──> cross-faded overlap-add ──> inverse features (noisy phase for magnitude)
         ──> ISTFT ──> wave of exactly the input's length

A network only means something with the STFT and feature settings it was trained on, so
noisenil writes the resolved configuration *into* every ``.keras`` it saves (an extra
``noisenil/config.yaml`` entry in the zip; plain ``keras.saving.load_model`` ignores it).
:func:`model_config` finds it there, else beside the file (``best_hparams.yaml`` of a tuning
experiment, ``config.yaml`` of a training run), else in the parent folder.
"""

from __future__ import annotations

import logging
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import yaml

from noisenil.dsp.audio_io import check_audio, resample
from noisenil.config import Config, config_from_dict, load_config
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.dsp.features import FeatureTransform
from noisenil.dsp.chunks import overlap_add, pad_to_multiple, split_chunks

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
        model: A noisenil network mapping ``(batch, freq, time, channels)`` to the same shape.
        cfg: Its configuration (``audio``, ``stft``, ``features`` and ``patches`` are used).
        name: A label for reports; defaults to the model's name.
        batch_size: Chunks per network call.
        max_gain_db: Largest gain, in dB, any time-frequency bin may get over the noisy input
            (see :meth:`bound_features`); ``None`` leaves the network's output as it is.

    Example:
        >>> den = Denoiser.from_file("tuning_results/sweep/dncnn/best.keras")
        >>> clean = den.denoise(noisy, sample_rate=44100)   # same shape and rate as noisy
    """

    def __init__(self, model: keras.Model, cfg: Config, *, name: str | None = None,
                 batch_size: int = 4, max_gain_db: float | None = 6.0):
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size}: must be >= 1", key="batch_size")
        self.model = model
        self.cfg = cfg
        self.name = name or model.name
        self.batch_size = batch_size
        self.max_gain_db = max_gain_db
        self.features = FeatureTransform.from_config(cfg)
        self.throughput = Throughput()
        self.config_source = "given"

    @classmethod
    def from_file(cls, path: str | Path, *, config: Config | str | Path | None = None,
                  name: str | None = None, batch_size: int = 4,
                  max_gain_db: float | None = 6.0) -> Denoiser:
        """Load a ``.keras`` model (``safe_mode``) and its configuration.

        Args:
            path: The ``.keras`` file.
            config: A :class:`Config` or YAML path overriding the one found by
                :func:`model_config`.
            name: Report label; defaults to the folder name for ``best.keras``/``model.keras``
                (the family in a tuning experiment), else the file's stem.
            batch_size: Chunks per network call.
            max_gain_db: See :class:`Denoiser`.

        Raises:
            NoiseNilError: The file is missing or not a ``.keras`` model.
        """
        path = Path(path)
        if not path.is_file():
            raise NoiseNilError(f"model={str(path)!r}: no such file")
        if config is None:
            cfg, source = model_config(path)
        else:
            cfg = config if isinstance(config, Config) else load_config(config)
            source = "given" if isinstance(config, Config) else str(config)
        import noisenil.models.layers  # noqa: F401  (registers the custom layers)
        import noisenil.models.losses  # noqa: F401
        import noisenil.models.metrics  # noqa: F401
        import noisenil.models  # noqa: F401

        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except (ValueError, OSError, zipfile.BadZipFile) as err:
            raise NoiseNilError(f"model={str(path)!r}: cannot load ({err})") from err
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
        """Number of parameters of the network."""
        return int(self.model.count_params())

    # -- the inference path --------------------------------------------------------------------
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """The network on one batch of chunks, in inference mode.

        Goes through Keras's compiled predict function (``tf.function`` / ``jax.jit``), which
        runs a small network about 1.7x faster on CPU than an eager ``model(batch)`` call; it is
        traced once per chunk shape.

        Args:
            batch: ``(batch, freq, frames, channels)`` float32, ``freq`` a multiple of
                ``patches.height``.

        Returns:
            The network's output, same shape, float32 NumPy.
        """
        return np.asarray(self.model.predict_on_batch(np.asarray(batch, np.float32)),
                          dtype=np.float32)

    def denoise_features(self, feats: np.ndarray) -> np.ndarray:
        """Run the network over a whole spectrogram in full-height, cross-faded chunks.

        Args:
            feats: Features ``(freq, frames, channels)`` float32.

        Returns:
            Denoised features of the same shape.
        """
        p = self.cfg.patches
        padded, n_freq = pad_to_multiple(feats, p.height, axis=0)  # what the depth needs
        n_frames = padded.shape[1]
        # Short inputs use a narrower chunk (a multiple of the patch width, which every model
        # is trained on), long ones the configured width.
        width = min(p.chunk_width, -(-n_frames // p.width) * p.width)
        overlap = min(p.chunk_overlap, width // 2)
        chunks, starts = split_chunks(padded, width=width, overlap=overlap)
        out = np.empty_like(chunks)
        for i in range(0, len(chunks), self.batch_size):
            batch = chunks[i:i + self.batch_size]
            out[i:i + len(batch)] = self.predict(batch)
        self.throughput.patches += chunks.shape[0] * (chunks.shape[1] / p.height) * (
            chunks.shape[2] / p.width)
        return overlap_add(out, starts, n_frames, overlap=overlap)[:n_freq]

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

    def _denoise_mono(self, x: np.ndarray) -> np.ndarray:
        feats, spec = self.features.analyze(x)
        out = self.bound_features(self.denoise_features(feats), spec)
        return self.features.synthesize(out, length=x.shape[-1], phase_from=spec)

    def denoise(self, audio: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Denoise a signal of any length, rate and channel count.

        Args:
            audio: ``(samples,)`` or ``(channels, samples)`` float in [-1, 1].
            sample_rate: Its rate in Hz; ``None`` means the network's rate. Other rates are
                resampled to the network's and back.

        Returns:
            The denoised signal: same shape, rate and dtype float32. No gain is applied.

        Raises:
            AudioError: Not 1-D/2-D, empty, or NaN/Inf samples.
        """
        x = np.asarray(audio, dtype=np.float32)
        check_audio(x, name="audio", allow_silent=True)
        sr = self.sample_rate if sample_rate is None else int(sample_rate)
        start = time.perf_counter()
        channels = x[None] if x.ndim == 1 else x
        out = np.empty_like(channels)
        for c, ch in enumerate(channels):
            y = ch if sr == self.sample_rate else resample(ch, sr, self.sample_rate)
            y = self._denoise_mono(y)
            if sr != self.sample_rate:
                y = resample(y, self.sample_rate, sr)
                y = np.pad(y, (0, max(0, ch.shape[0] - y.shape[0])))[:ch.shape[0]]
            out[c] = y
        self.throughput.seconds += time.perf_counter() - start
        self.throughput.audio_seconds += channels.shape[0] * channels.shape[1] / sr
        return out[0] if x.ndim == 1 else out

    def __call__(self, audio: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        return self.denoise(audio, sample_rate)
