"""A small synthetic demo corpus, generated on the spot, so that ``noisenil quickstart`` needs no
download.

:func:`make_demo_corpus` writes speech-like and music-like clean clips, eight noise types and
held-out noisy/clean test pairs, byte-identically for a given seed (see :mod:`.corpus`).

Modules: :mod:`.speech` (source-filter speech), :mod:`.sounds` (music and noises),
:mod:`.corpus` (layout, manifest and the entry point), :mod:`._dsp` (levels, signal helpers).
"""

from noisenil.data.demo._dsp import CLEAN_PEAK_DBFS, MAX_PEAK_DBFS, NOISE_RMS_DBFS
from noisenil.data.demo.corpus import (
    GENERATOR_VERSION,
    HELD_OUT_SPEAKERS,
    NOISE_KINDS,
    SPEAKER_PATTERN,
    DemoCorpus,
    make_demo_corpus,
)

__all__ = ["DemoCorpus", "make_demo_corpus", "NOISE_KINDS", "SPEAKER_PATTERN", "HELD_OUT_SPEAKERS",
           "GENERATOR_VERSION", "CLEAN_PEAK_DBFS", "MAX_PEAK_DBFS", "NOISE_RMS_DBFS"]
