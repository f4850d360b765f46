"""STFT and the network's feature representations, each with its exact inverse.

One code path serves training, evaluation and inference.

**STFT.** The STFT of ``librosa.stft`` (same frames and values, computed here with ``scipy.fft``: no
librosa/numba start-up on the inference path, and 4x faster than ``numpy.fft`` on the 254-point
frames, whose length has the prime factor 127) with a periodic window (Hann by default), ``n_fft=254`` (128 bins), hop
64 at 16 kHz. Whole signals use ``center=True`` (zero padding of ``n_fft // 2`` on both sides) and
the inverse is cut to exactly the input length. Training segments use ``center=False`` on
``(frames - 1) * hop + n_fft`` samples, which gives exactly the frames the whole-signal STFT has at
the same position, so training sees no padding artefacts that inference would not.

**Reference.** Magnitudes are measured against a fixed full-scale reference ``ref = sum(window)/2``:
the STFT peak of a full-scale (amplitude 1.0) sinusoid. 0 dB is therefore a full-scale tone. No
per-clip or per-patch normalisation is ever applied.

**Representations** (``features.representation``):

- ``magnitude`` (1 channel), ``magnitude_scale="db"`` (default):
  ``f = 1 + max(20*log10(|S|/ref), db_floor) / -db_floor``, so ``db_floor`` (-100 dB) maps to 0
  and 0 dB to 1; louder than a full-scale tone goes slightly above 1. Exactly invertible above the
  floor. ``magnitude_scale="power"``: ``f = (|S|/ref) ** power``, exactly invertible everywhere.
  The phase is not in the features: inversion takes it from another spectrogram (the noisy input).
- ``complex`` (2 channels): ``c = (|S|/ref) ** power * exp(j*angle(S))`` split into real and
  imaginary channels (seed 001's compressed real/imaginary input). Exactly invertible alone.

Shapes: waveforms ``(samples,)``; complex spectrograms ``(freq, frames)``; features
``(freq, frames, channels)``. Leading batch axes are allowed throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as _fft

from noisenil.config import Config, FeatureConfig, StftConfig
from noisenil.errors import AudioError, ConfigError

_TINY = 1e-12


#: Periodic cosine-sum windows computed here (the same values as ``scipy.signal.get_window``);
#: other names are handed to scipy, whose import costs ~0.8 s of start-up.
_COSINE_WINDOWS = {"hann": (0.5, 0.5), "hamming": (0.54, 0.46),
                   "blackman": (0.42, 0.5, 0.08)}


def window(cfg: StftConfig) -> np.ndarray:
    """The periodic analysis window, ``(n_fft,)`` float64."""
    coefs = _COSINE_WINDOWS.get(cfg.window)
    if coefs is None:
        import scipy.signal

        return scipy.signal.get_window(cfg.window, cfg.n_fft, fftbins=True)
    phase = 2.0 * np.pi * np.arange(cfg.n_fft) / cfg.n_fft
    return sum((-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefs))


def full_scale_reference(cfg: StftConfig) -> float:
    """STFT magnitude of a full-scale sinusoid at a bin centre: ``sum(window) / 2``."""
    return float(np.sum(window(cfg)) / 2.0)


def n_frames(n_samples: int, cfg: StftConfig, *, center: bool = True) -> int:
    """Frames of the STFT of ``n_samples`` samples."""
    if center:
        return 1 + n_samples // cfg.hop_length
    return 0 if n_samples < cfg.n_fft else 1 + (n_samples - cfg.n_fft) // cfg.hop_length


def segment_samples(frames: int, cfg: StftConfig) -> int:
    """Samples whose ``center=False`` STFT has exactly ``frames`` frames."""
    return (frames - 1) * cfg.hop_length + cfg.n_fft


def stft(x: np.ndarray, cfg: StftConfig, *, center: bool = True) -> np.ndarray:
    """Complex STFT.

    Args:
        x: Waveform ``(..., samples)``.
        cfg: STFT settings.
        center: Zero-pad ``n_fft // 2`` on both sides (whole signals) or not (training segments).

    Returns:
        complex64 array ``(..., n_fft // 2 + 1, frames)``.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] < (1 if center else cfg.n_fft):
        raise AudioError(f"signal of {x.shape[-1]} samples is too short for an STFT with "
                         f"n_fft={cfg.n_fft}")
    if center:  # zeros, as librosa.stft(center=True, pad_mode="constant")
        half = cfg.n_fft // 2
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)])
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft, axis=-1)
    frames = frames[..., ::cfg.hop_length, :]                      # (..., frames, n_fft)
    spec = _fft.rfft(frames * window(cfg).astype(np.float32), axis=-1, workers=-1)
    return np.swapaxes(spec, -1, -2).astype(np.complex64)


class OverlapAdd:
    """The inverse STFT, fed frames in order and handing out samples as they become final.

    The one inverse STFT of the package: :func:`istft` runs it on a whole spectrogram, the
    streaming inference path on consecutive stretches of frames. Each frame is inverse-FFT'd,
    windowed and overlap-added at ``t * hop`` (positions counted in the ``center=True`` padded
    signal), and the sum is divided by the summed squared window, exactly as ``librosa.istft``.

    Args:
        cfg: STFT settings.
        lead: Leading (batch/channel) shape of the spectrograms fed, e.g. ``(channels,)``.
        length: Samples of the signal (``center=True``: the padding of ``n_fft // 2`` on both
            sides is not handed out).

    Shape:
        :meth:`push` takes ``(*lead, n_fft // 2 + 1, frames)`` complex; :meth:`pull` returns
        ``(*lead, samples)`` float64.
    """

    def __init__(self, cfg: StftConfig, *, lead: tuple[int, ...] = (), length: int):
        self._n_fft, self._hop = cfg.n_fft, cfg.hop_length
        self._half = cfg.n_fft // 2
        self._lead = tuple(lead)
        self._length = int(length)
        self._pieces = -(-self._n_fft // self._hop)
        pad = self._pieces * self._hop - self._n_fft
        self._window = window(cfg).astype(np.float32)
        self._sq = np.pad(window(cfg) ** 2, (0, pad))
        self._ola = np.zeros(self._lead + (0,), dtype=np.float64)
        self._env = np.zeros((0,), dtype=np.float64)
        self._o0 = 0          # padded index of self._ola[..., 0]
        self._frames = 0      # frames pushed so far
        self._emitted = 0     # samples handed out

    def push(self, frames: np.ndarray) -> None:
        """Add the next ``k`` frames (complex, ``(*lead, F, k)``)."""
        k = frames.shape[-1]
        if k == 0:
            return
        hop, pieces = self._hop, self._pieces
        y = _fft.irfft(np.swapaxes(frames, -1, -2), n=self._n_fft, axis=-1, workers=-1)
        y *= self._window                                             # (*lead, k, n_fft)
        # Cut every frame into hop-long pieces (zero-padding the last): piece r of consecutive
        # frames tiles one contiguous stretch, so ceil(n_fft / hop) slice additions do it all.
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, pieces * hop - self._n_fft)])
        y = y.reshape(y.shape[:-1] + (pieces, hop))                   # (*lead, k, pieces, hop)
        first = self._frames * hop - self._o0
        need = first + (k - 1 + pieces) * hop
        if need > self._env.shape[0]:
            grow = need - self._env.shape[0]
            self._ola = np.concatenate([self._ola, np.zeros(self._lead + (grow,))], axis=-1)
            self._env = np.concatenate([self._env, np.zeros(grow)])
        for r in range(pieces):
            a = first + r * hop
            self._ola[..., a:a + k * hop] += y[..., r, :].reshape(self._lead + (k * hop,))
            self._env[a:a + k * hop] += np.tile(self._sq[r * hop:(r + 1) * hop], k)
        self._frames += k

    def pull(self, *, last: bool = False) -> np.ndarray:
        """The samples no later frame adds to (all the rest when ``last``)."""
        final = self._o0 + self._env.shape[0] if last else self._frames * self._hop
        stop = min(final, self._half + self._length)  # padded index past the last real sample
        begin = max(self._o0, self._half + self._emitted)
        if stop <= begin:
            return np.zeros(self._lead + (0,))
        a, b = begin - self._o0, stop - self._o0
        env = self._env[a:b]
        y = self._ola[..., a:b].copy()
        nz = env > np.finfo(np.float32).tiny
        y[..., nz] /= env[nz]
        self._emitted += b - a
        self._ola = self._ola[..., b:]
        self._env = self._env[b:]
        self._o0 = stop
        return y


def istft(spec: np.ndarray, cfg: StftConfig, *, length: int) -> np.ndarray:
    """Inverse of :func:`stft` (``center=True``), cut or padded to exactly ``length`` samples.

    Args:
        spec: Complex spectrogram ``(..., n_fft // 2 + 1, frames)``.
        cfg: STFT settings.
        length: Samples of the output.

    Returns:
        float32 waveform ``(..., length)``.
    """
    spec = np.asarray(spec)
    ola = OverlapAdd(cfg, lead=spec.shape[:-2], length=length)
    ola.push(spec)
    y = ola.pull(last=True)
    if y.shape[-1] < length:  # frames that end before ``length``: the rest is silence
        y = np.concatenate([y, np.zeros(y.shape[:-1] + (length - y.shape[-1],))], axis=-1)
    return y.astype(np.float32)


@dataclass(frozen=True)
class FeatureTransform:
    """Maps complex spectrograms to network features and back.

    Args:
        stft_cfg: STFT settings (they fix the full-scale reference).
        feature_cfg: Representation settings.

    Example:
        >>> ft = FeatureTransform.from_config(load_config())
        >>> feats, spec = ft.analyze(wave)           # (128, frames, 1), (128, frames)
        >>> wave2 = ft.synthesize(feats, length=len(wave), phase_from=spec)
    """

    stft_cfg: StftConfig
    feature_cfg: FeatureConfig

    @classmethod
    def from_config(cls, cfg: Config) -> FeatureTransform:
        """Build from a whole :class:`~noisenil.config.Config`."""
        return cls(cfg.stft, cfg.features)

    @property
    def channels(self) -> int:
        """Feature channels: 1 (magnitude) or 2 (complex)."""
        return self.feature_cfg.channels

    @property
    def reference(self) -> float:
        """The fixed full-scale magnitude reference (see the module docstring)."""
        return full_scale_reference(self.stft_cfg)

    # -- magnitude scale and its inverse -------------------------------------------------------
    def _compress(self, mag: np.ndarray) -> np.ndarray:
        fc = self.feature_cfg
        rel = mag / self.reference
        if fc.representation == "magnitude" and fc.magnitude_scale == "db":
            db = 20.0 * np.log10(np.maximum(rel, 10.0 ** (fc.db_floor / 20.0)))
            return 1.0 + db / -fc.db_floor
        return rel ** fc.power

    def _expand(self, comp: np.ndarray) -> np.ndarray:
        fc = self.feature_cfg
        if fc.representation == "magnitude" and fc.magnitude_scale == "db":
            return self.reference * 10.0 ** ((comp - 1.0) * -fc.db_floor / 20.0)
        return self.reference * np.maximum(comp, 0.0) ** (1.0 / fc.power)

    # -- public API ----------------------------------------------------------------------------
    def encode(self, spec: np.ndarray) -> np.ndarray:
        """Complex spectrogram ``(..., F, T)`` to features ``(..., F, T, C)`` float32."""
        mag = np.abs(spec)
        if self.feature_cfg.representation == "magnitude":
            return self._compress(mag).astype(np.float32)[..., None]
        comp = self._compress(mag)
        unit = spec / np.maximum(mag, _TINY)
        out = np.empty(spec.shape + (2,), dtype=np.float32)
        out[..., 0] = comp * unit.real
        out[..., 1] = comp * unit.imag
        return out

    def decode(self, features: np.ndarray, *, phase_from: np.ndarray | None = None) -> np.ndarray:
        """Features ``(..., F, T, C)`` back to a complex spectrogram ``(..., F, T)``.

        Args:
            features: Output of :meth:`encode` (or of a network).
            phase_from: Complex spectrogram whose phase is used; required for ``magnitude``
                features (usually the noisy input's), ignored for ``complex``.
        """
        features = np.asarray(features, dtype=np.float32)
        if features.shape[-1] != self.channels:
            raise ConfigError(f"features with {features.shape[-1]} channels do not match "
                              f"features.representation={self.feature_cfg.representation!r}",
                              key="features.representation")
        if self.feature_cfg.representation == "magnitude":
            if phase_from is None:
                raise ConfigError("magnitude features need phase_from (e.g. the noisy "
                                  "spectrogram) to be inverted", key="features.representation")
            mag = self._expand(features[..., 0])
            unit = phase_from / np.maximum(np.abs(phase_from), _TINY)
            # Where the phase source is exactly zero there is no phase: use 0 rad.
            unit = np.where(np.abs(phase_from) > 0, unit, 1.0)
            return (mag * unit).astype(np.complex64)
        comp = features[..., 0] + 1j * features[..., 1]
        cmag = np.abs(comp)
        unit = np.where(cmag > 0, comp / np.maximum(cmag, _TINY), 1.0)
        return (self._expand(cmag) * unit).astype(np.complex64)

    def analyze(self, x: np.ndarray, *, center: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Waveform ``(..., samples)`` to ``(features (..., F, T, C), spectrogram (..., F, T))``."""
        spec = stft(x, self.stft_cfg, center=center)
        return self.encode(spec), spec

    def synthesize(self, features: np.ndarray, *, length: int,
                   phase_from: np.ndarray | None = None) -> np.ndarray:
        """Features back to a waveform of exactly ``length`` samples (see :meth:`decode`)."""
        return istft(self.decode(features, phase_from=phase_from), self.stft_cfg, length=length)
