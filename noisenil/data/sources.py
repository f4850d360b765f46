"""Example sources: each draw is one ``(noisy, clean)`` pair of equal-length waveform segments.

- :class:`MixingSource`: a random segment of a clean file (files weighted by duration) and of a
  noise file (files weighted equally, short noises looped with a cross-fade), each augmented in its
  group (:mod:`noisenil.data.augmenter`), band-limited together when the pair is narrow-band (see
  below), mixed as ``X = beta * (Y + alpha * N)`` at a random SNR and level
  (:mod:`noisenil.data.mixing`), then the ``mixture`` group;
- :class:`PairedSource`: the same random segment of a clean file and its noisy twin, scaled by a
  random level.

**Level.** With ``data.normalise_level`` (default) every pair is first scaled so that its noisy
segment's active RMS is the inference reference (:data:`noisenil.dsp.levels.REFERENCE_DBFS`,
the gain the inference path applies), then by ``beta`` (``data.level_db``, a jitter around it):
the network is trained at the level it is run at. Without it, ``beta`` scales the file's own level.

**Bandwidth.** A clean target never has less bandwidth than the input it is paired with: a clean
file recorded below the training rate (8 kHz telephone speech resampled to 16 kHz has nothing
above 4 kHz) gets its noise low-passed just below the file's Nyquist frequency, so it trains only the
narrow-band condition (input and target band-limited alike). Wideband pairs are made narrow-band
the same way with probability ``data.narrowband_p`` (cut-off drawn from ``data.narrowband_hz``),
so band-limited recordings are a condition the network has seen, not noise to remove.

Segments are 1-D float32 at the training sample rate, ``length`` samples each (shorter files are
zero-padded at a random place); a pair whose noisy peak exceeds :data:`PEAK_LIMIT` is scaled down
with its target. The random generator is passed in, so a draw depends only on it.
"""

from __future__ import annotations

import numpy as np

from noisenil.config import Config
from noisenil.data.audio_store import AudioStore
from noisenil.data.augment import lowpass
from noisenil.data.augmenter import Augmenter
from noisenil.data.manifest import AudioFile, Pair
from noisenil.data.mixing import draw_db, loop_to_length, mix, power
from noisenil.dsp.levels import active_rms, normalising_gain
from noisenil.errors import DatasetError

#: Order of the Butterworth low-pass of narrow-band pairs (zero-phase: twice the dB slope).
NARROWBAND_ORDER = 8
#: A file recorded below the training rate has its pairs cut at this fraction of its Nyquist
#: frequency (resamplers keep about 0.9-0.95 of it): 3.6 kHz for 8 kHz recordings.
SOURCE_BAND = 0.9

#: Mixtures are scaled down (with their targets) so their peak stays below this.
PEAK_LIMIT = 0.99


def _crop_or_pad(x: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample segment along axis 0 of ``(samples, ...)``; shorter signals are
    zero-padded at a random place."""
    n = x.shape[0]
    if n >= length:
        start = int(rng.integers(0, n - length + 1))
        return x[start:start + length]
    out = np.zeros((length,) + x.shape[1:], dtype=np.float32)
    start = int(rng.integers(0, length - n + 1))
    out[start:start + n] = x
    return out


def _limit_peak(noisy: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    peak = float(np.max(np.abs(noisy)))
    if peak > PEAK_LIMIT:
        g = PEAK_LIMIT / peak
        return noisy * g, clean * g
    return noisy, clean


def set_level(noisy: np.ndarray, clean: np.ndarray, sample_rate: int, *, beta_db: float,
              to_reference: bool) -> tuple[np.ndarray, np.ndarray]:
    """Scale a pair by ``beta_db`` dB, after (``to_reference``, ``data.normalise_level``) the
    gain that brings the noisy segment's active RMS to the inference reference: the same gain
    :mod:`noisenil.dsp.levels` gives the inference path. A near-silent noisy segment (which
    inference passes through unchanged) gets ``beta`` only; then the peak is limited.
    """
    g = 10.0 ** (beta_db / 20.0)
    if to_reference:
        g *= normalising_gain(active_rms(noisy, sample_rate)) or 1.0
    return _limit_peak((noisy * g).astype(np.float32), (clean * g).astype(np.float32))


def _duration_weights(items: list) -> np.ndarray:
    w = np.array([max(i.duration, 1e-3) for i in items], dtype=np.float64)
    return w / w.sum()


class MixingSource:
    """Draws ``(noisy, clean)`` segments by mixing clean files with noise files.

    Args:
        clean: Clean files (weighted by duration).
        noise: Noise files (weighted equally).
        store: The audio store.
        cfg: The configuration (``data``, ``augment``, ``audio``).
        length: Segment length in samples.
        augment: Apply the augmentation groups.
    """

    def __init__(self, clean: list[AudioFile], noise: list[AudioFile], store: AudioStore,
                 cfg: Config, *, length: int, augment: bool = True):
        if not clean or not noise:
            raise DatasetError(f"mixing needs clean and noise files (got {len(clean)} clean, "
                               f"{len(noise)} noise)")
        self.clean, self.noise, self.store = clean, noise, store
        self.length = length
        self.sr = cfg.audio.sample_rate
        self.data = cfg.data
        self.crossfade = int(cfg.data.noise_crossfade_s * self.sr)
        self.weights = _duration_weights(clean)
        groups = ("clean", "noise", "mixture")
        self.aug = {g: Augmenter(g, getattr(cfg.augment, g)) if augment else None for g in groups}

    def _apply(self, group: str, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        aug = self.aug[group]
        return aug(x, self.sr, rng) if aug is not None and aug.enabled else x

    def band_limit(self, clean_file: AudioFile, rng: np.random.Generator) -> float | None:
        """The cut-off (Hz) that makes this pair narrow-band, or ``None`` for a wideband pair.

        A file recorded below the training rate is band-limited already: :data:`SOURCE_BAND`
        of its Nyquist frequency. A wideband one is made narrow-band with probability
        ``data.narrowband_p``.
        """
        source = 0.5 * clean_file.info.sample_rate
        if source < 0.5 * self.sr:
            return SOURCE_BAND * source
        if self.data.narrowband_p > 0 and rng.random() < self.data.narrowband_p:
            low, high = self.data.narrowband_hz
            return float(rng.uniform(low, high)) if high > low else float(low)
        return None

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` pair of ``length``-sample float32 segments."""
        clean_file = self.clean[int(rng.choice(len(self.clean), p=self.weights))]
        clean_audio, clean_power = self.store.get(clean_file.path)
        y = self._apply("clean", _crop_or_pad(clean_audio, self.length, rng), rng)
        for _ in range(4):  # a noise segment can fall in a digitally silent stretch: redraw
            noise_audio, _ = self.store.get(self.noise[int(rng.integers(len(self.noise)))].path)
            n = loop_to_length(noise_audio, self.length, crossfade=self.crossfade,
                               offset=int(rng.integers(noise_audio.shape[0])))
            n = self._apply("noise", n, rng)
            if power(n) > 1e-12:
                break
        cutoff = self.band_limit(clean_file, rng)
        if cutoff is not None:  # input and target band-limited alike (a linear filter)
            n = lowpass(n, self.sr, rng, cutoff_hz=cutoff, order=NARROWBAND_ORDER)
            y = lowpass(y, self.sr, rng, cutoff_hz=cutoff, order=NARROWBAND_ORDER)
            if power(n) <= 1e-12:  # a purely high-frequency noise: none left in the band
                n = n + np.float32(1e-4) * rng.standard_normal(n.shape).astype(np.float32)
        p_seg = power(y)
        # A segment in a pause is mixed at the level the file's speech would have.
        p_ref = p_seg if p_seg >= 1e-3 * clean_power else clean_power
        beta_db = draw_db(rng, self.data.level_db)
        noisy, target = mix(y, n, snr=draw_db(rng, self.data.snr_db), clean_power=p_ref)
        noisy, target = set_level(noisy, target, self.sr, beta_db=beta_db,
                                  to_reference=self.data.normalise_level)
        return self._apply("mixture", noisy, rng), target


class PairedSource:
    """Draws the same random segment from a clean file and its noisy twin.

    Only the level (the reference level with ``data.normalise_level``, then ``beta`` from
    ``data.level_db``) is applied, identically to both; the noisy recordings are real, so no
    other augmentation is done.
    """

    def __init__(self, pairs: list[Pair], store: AudioStore, cfg: Config, *, length: int):
        if not pairs:
            raise DatasetError("paired mode needs at least one clean/noisy pair")
        self.pairs, self.store, self.length = pairs, store, length
        self.level_db, self.normalise = cfg.data.level_db, cfg.data.normalise_level
        self.sr = cfg.audio.sample_rate
        self.weights = _duration_weights(pairs)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` pair of ``length``-sample float32 segments."""
        pair = self.pairs[int(rng.choice(len(self.pairs), p=self.weights))]
        clean, _ = self.store.get(pair.clean.path)
        noisy, _ = self.store.get(pair.noisy.path)
        n = min(clean.shape[0], noisy.shape[0])
        both = _crop_or_pad(np.stack([noisy[:n], clean[:n]], axis=-1), self.length, rng)
        return set_level(both[:, 0], both[:, 1], self.sr, beta_db=draw_db(rng, self.level_db),
                         to_reference=self.normalise)
