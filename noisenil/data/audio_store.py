"""The audio store: training files loaded once at one sample rate, validated, kept in memory.

:class:`AudioStore` reads a file (mono, resampled to the training rate with soxr), optionally cuts
its silent stretches, rejects files too short for one training segment, and caches the audio with
its active power (the power of its speech-active frames, :func:`noisenil.data.mixing.active_power`),
which the example sources (:mod:`noisenil.data.sources`) use as the level reference when mixing.
:meth:`AudioStore.preload` loads a whole split up front, leaving out (and reporting) bad files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from noisenil.dsp.audio_io import load_audio
from noisenil.data.manifest import Pair
from noisenil.data.mixing import active_power, trim_silence
from noisenil.errors import AudioError

logger = logging.getLogger(__name__)


class AudioStore:
    """Loads files at one rate (mono), validates them, and keeps them in memory.

    Args:
        sample_rate: Target rate in Hz.
        quality: soxr resampling quality.
        trim: Cut silent stretches (``trim_top_db`` below the peak) after loading.
        trim_top_db: See ``trim``.
        min_samples: Files shorter than this (after trimming) are rejected as too short.
    """

    def __init__(self, sample_rate: int, *, quality: str = "HQ", trim: bool = False,
                 trim_top_db: float = 40.0, min_samples: int = 1):
        self.sample_rate = sample_rate
        self.quality = quality
        self.trim = trim
        self.trim_top_db = trim_top_db
        self.min_samples = min_samples
        self._cache: dict[Path, tuple[np.ndarray, float]] = {}

    def get(self, path: Path) -> tuple[np.ndarray, float]:
        """``(audio (samples,), active power)`` of a file, loading it on first use.

        Raises:
            AudioError: Unreadable, empty, silent, NaN/Inf or too short, naming the file.
        """
        hit = self._cache.get(path)
        if hit is not None:
            return hit
        audio, _ = load_audio(path, sample_rate=self.sample_rate, quality=self.quality)
        if self.trim:
            audio = trim_silence(audio, top_db=self.trim_top_db)
        if audio.shape[0] < self.min_samples:
            raise AudioError(f"{path}: too short for one patch ({audio.shape[0]} samples at "
                             f"{self.sample_rate} Hz < {self.min_samples})", path=path)
        hit = self._cache[path] = (audio, active_power(audio))
        return hit

    def preload(self, files: list, *, desc: str = "loading audio",
                progress: bool = True) -> tuple[list, list[tuple[Path, str]]]:
        """Load every file (``AudioFile`` or ``Pair``) now; return ``(good, bad)``.

        A bad file is reported as ``(path, reason)`` and left out; the rest go on.
        """
        from tqdm.auto import tqdm

        good, bad = [], []
        for item in tqdm(files, desc=desc, unit="file", disable=not progress, leave=False):
            paths = [item.clean.path, item.noisy.path] if isinstance(item, Pair) else [item.path]
            try:
                for p in paths:
                    self.get(p)
                good.append(item)
            except AudioError as err:
                bad.append((err.path or paths[0], str(err).removeprefix(f"{err.path}: ")))
        for path, why in bad:
            logger.warning("skipping %s: %s", path, why)
        return good, bad
