"""Listening examples of a report: :class:`AudioExample` and the WAV files written for it.

Each example's signals go to ``<out>/audio/<example>/<signal>.wav`` (16-bit PCM, at the
example's own rate, not resampled); names are made file-safe by :func:`slug`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noisenil.dsp.audio_io import save_audio
from noisenil.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioExample:
    """One test utterance as heard through every method, for the report's listening table.

    Attributes:
        label: Row label, e.g. ``"arctic_a0001 @ 5 dB"``.
        sample_rate: Rate of every signal, in Hz.
        signals: ``"clean"``, ``"noisy"`` and each method's name to a waveform ``(samples,)``,
            float in [-1, 1] (values beyond are clipped when written).
    """

    label: str
    sample_rate: int
    signals: Mapping[str, np.ndarray]

    def __post_init__(self):
        if not (isinstance(self.sample_rate, (int, np.integer)) and self.sample_rate > 0):
            raise ConfigError(f"AudioExample {self.label!r}: sample_rate={self.sample_rate!r} "
                              "must be a positive integer (Hz)", key="sample_rate")
        if not self.signals:
            raise ConfigError(f"AudioExample {self.label!r}: signals is empty", key="signals")
        for name, x in self.signals.items():
            shape = np.shape(x)
            if len(shape) != 1 or shape[0] == 0:
                raise ConfigError(f"AudioExample {self.label!r}: signal {name!r} must be a "
                                  f"non-empty 1-D waveform, got shape {shape}", key="signals")


def slug(text: str) -> str:
    """``text`` with every run of characters other than ``A-Za-z0-9._-`` replaced by ``_``
    (never empty): safe as a file name and as a CSS class."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return out or "x"


def signal_order(audio: Sequence[AudioExample], methods: Sequence[str]) -> list[str]:
    """Every signal name of ``audio``: clean, noisy, the ``methods`` in order, then the rest."""
    names: dict[str, None] = {}
    for ex in audio:
        names.update(dict.fromkeys(ex.signals))
    first = [n for n in ("clean", "noisy") if n in names]
    middle = [m for m in methods if m in names and m not in first]
    return first + middle + [n for n in names if n not in first and n not in middle]


def write_audio(out_dir: Path, audio: Sequence[AudioExample]) -> list[dict[str, Path]]:
    """``out_dir/audio/<example>/<signal>.wav`` (PCM 16) per example; their paths by signal."""
    written, used = [], set()
    for ex in audio:
        folder = slug(ex.label)
        n = 2
        while folder in used:
            folder, n = f"{slug(ex.label)}_{n}", n + 1
        used.add(folder)
        paths, names = {}, set()
        for name, x in ex.signals.items():
            y = np.asarray(x, dtype=np.float32)
            if np.any(np.abs(y) > 1.0):
                logger.warning("audio %r / %r: peak %.2f beyond full scale, clipped to [-1, 1]",
                               ex.label, name, float(np.max(np.abs(y))))
                y = np.clip(y, -1.0, 1.0)
            stem = slug(name)
            while stem in names:
                stem += "_"
            names.add(stem)
            paths[name] = save_audio(out_dir / "audio" / folder / f"{stem}.wav", y,
                                     int(ex.sample_rate), subtype="PCM_16", overwrite=True)
        written.append(paths)
    return written
