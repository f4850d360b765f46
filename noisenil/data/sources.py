"""Example sources: each draw is one ``(noisy, clean)`` pair of equal-length waveform segments.

- :class:`MixingSource`: a random segment of a clean file (files weighted by duration) and of a
  noise file (files weighted equally, short noises looped with a cross-fade), each augmented in its
  group (:mod:`noisenil.data.augmenter`), mixed as ``X = beta * (Y + alpha * N)`` at a random SNR
  and level (:mod:`noisenil.data.mixing`), then the ``mixture`` group;
- :class:`PairedSource`: the same random segment of a clean file and its noisy twin, scaled by a
  random level.

Segments are 1-D float32 at the training sample rate, ``length`` samples each (shorter files are
zero-padded at a random place); a pair whose noisy peak exceeds :data:`PEAK_LIMIT` is scaled down
with its target. The random generator is passed in, so a draw depends only on it.
"""

from __future__ import annotations

import numpy as np

from noisenil.config import Config
from noisenil.data.audio_store import AudioStore
from noisenil.data.augmenter import Augmenter
from noisenil.data.manifest import AudioFile, Pair
from noisenil.data.mixing import draw_db, loop_to_length, mix, power
from noisenil.errors import DatasetError

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

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` pair of ``length``-sample float32 segments."""
        clean_audio, clean_power = self.store.get(
            self.clean[int(rng.choice(len(self.clean), p=self.weights))].path)
        y = self._apply("clean", _crop_or_pad(clean_audio, self.length, rng), rng)
        for _ in range(4):  # a noise segment can fall in a digitally silent stretch: redraw
            noise_audio, _ = self.store.get(self.noise[int(rng.integers(len(self.noise)))].path)
            n = loop_to_length(noise_audio, self.length, crossfade=self.crossfade,
                               offset=int(rng.integers(noise_audio.shape[0])))
            n = self._apply("noise", n, rng)
            if power(n) > 1e-12:
                break
        p_seg = power(y)
        # A segment in a pause is mixed at the level the file's speech would have.
        p_ref = p_seg if p_seg >= 1e-3 * clean_power else clean_power
        noisy, target = mix(y, n, snr=draw_db(rng, self.data.snr_db),
                            level_db=draw_db(rng, self.data.level_db), clean_power=p_ref)
        noisy, target = _limit_peak(noisy, target)
        return self._apply("mixture", noisy, rng), target


class PairedSource:
    """Draws the same random segment from a clean file and its noisy twin.

    Only the level ``beta`` (``data.level_db``) is applied, identically to both; the noisy
    recordings are real, so no other augmentation is done.
    """

    def __init__(self, pairs: list[Pair], store: AudioStore, cfg: Config, *, length: int):
        if not pairs:
            raise DatasetError("paired mode needs at least one clean/noisy pair")
        self.pairs, self.store, self.length = pairs, store, length
        self.level_db = cfg.data.level_db
        self.weights = _duration_weights(pairs)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` pair of ``length``-sample float32 segments."""
        pair = self.pairs[int(rng.choice(len(self.pairs), p=self.weights))]
        clean, _ = self.store.get(pair.clean.path)
        noisy, _ = self.store.get(pair.noisy.path)
        n = min(clean.shape[0], noisy.shape[0])
        both = _crop_or_pad(np.stack([noisy[:n], clean[:n]], axis=-1), self.length, rng)
        g = 10.0 ** (draw_db(rng, self.level_db) / 20.0)
        return _limit_peak(both[:, 0] * g, both[:, 1] * g)
