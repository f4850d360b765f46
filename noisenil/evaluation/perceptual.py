"""Perceptual measures from the optional ``eval`` extra: PESQ (``pesq``) and STOI (``pystoi``).

Both packages are imported when a score is asked for, not at import time. Without them
:func:`pesq_score` and :func:`stoi_score` return NaN with the install hint in
:attr:`Score.note` instead of raising (``pip install "noisenil[eval]"``), and
:func:`missing_hint` says so beforehand.

Arguments are 1-D float arrays ``(samples,)`` of equal length, reference (clean) first,
estimate second, checked as in :mod:`noisenil.dsp.measures`.
"""

from __future__ import annotations

import importlib
import logging
import math
import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from noisenil.dsp.checks import check_pair, check_rate

logger = logging.getLogger(__name__)

#: Install hint carried by missing optional metrics.
INSTALL_HINT = 'pip install "noisenil[eval]"'
#: Metric -> the package of the ``eval`` extra that computes it.
OPTIONAL_PACKAGES = {"pesq": "pesq", "stoi": "pystoi"}


@dataclass(frozen=True)
class Score:
    """A metric value with a note on how it was obtained.

    Attributes:
        value: The score; NaN when it could not be computed.
        note: Empty when the metric ran as asked; otherwise why not or what was changed (the
            rate PESQ was resampled to, or the install hint of a missing package).
    """

    value: float
    note: str = ""

    def __float__(self) -> float:
        return float(self.value)


def _optional_module(metric: str) -> ModuleType | None:
    try:
        return importlib.import_module(OPTIONAL_PACKAGES[metric])
    except ImportError:
        return None


def _install_note(metric: str) -> str:
    return f"{metric} needs the '{OPTIONAL_PACKAGES[metric]}' package: {INSTALL_HINT}"


def missing_hint(metric: str) -> str | None:
    """Why ``metric`` cannot run here (its package is missing, with the install hint), or
    ``None`` when it can (metrics outside the extra always can)."""
    if metric not in OPTIONAL_PACKAGES or _optional_module(metric) is not None:
        return None
    return _install_note(metric)


def pesq_score(ref: np.ndarray, est: np.ndarray, *, sample_rate: int) -> Score:
    """PESQ (ITU-T P.862) mean opinion score, via the ``pesq`` package.

    16 kHz signals get wide-band PESQ (P.862.2, up to about 4.64), 8 kHz signals narrow-band
    (up to about 4.55). Other rates are resampled (soxr) to 16 kHz wide-band, or to 8 kHz
    narrow-band when ``sample_rate < 16000``; the returned :attr:`Score.note` says so
    (:func:`noisenil.evaluation.quality.audio_scores` logs it at DEBUG).

    Args:
        ref: Clean reference ``(samples,)``, float in [-1, 1].
        est: Estimate ``(samples,)``.
        sample_rate: Rate of both signals in Hz.

    Returns:
        :class:`Score`; NaN with the install hint when ``pesq`` is missing, NaN with the PESQ
        error when the signals cannot be scored (e.g. no utterance found, under 0.25 s).

    Raises:
        AudioError: Lengths differ or NaN/Inf samples, naming the argument.
        ConfigError: ``sample_rate`` is not a positive integer.
    """
    check_rate(sample_rate)
    r, e = check_pair(ref, est)
    module = _optional_module("pesq")
    if module is None:
        return Score(math.nan, _install_note("pesq"))
    if not np.any(r):
        return Score(math.nan, "ref is all zeros: PESQ is undefined")
    rate = 16000 if sample_rate >= 16000 else 8000
    mode = "wb" if rate == 16000 else "nb"
    note = ""
    if rate != sample_rate:
        from noisenil.dsp.audio_io import resample

        r, e = resample(r, sample_rate, rate), resample(e, sample_rate, rate)
        note = f"resampled {sample_rate} Hz -> {rate} Hz for {mode} PESQ"
        logger.debug("pesq_score: %s", note)
    try:
        value = float(module.pesq(rate, r.astype(np.float64), e.astype(np.float64), mode))
    except module.PesqError as err:
        detail = err.args[0] if err.args else ""
        detail = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        why = f"PESQ failed: {type(err).__name__}: {detail}"
        return Score(math.nan, f"{note}; {why}" if note else why)
    return Score(value, note)


def stoi_score(ref: np.ndarray, est: np.ndarray, *, sample_rate: int,
               extended: bool = False) -> Score:
    """Short-time objective intelligibility (Taal et al., 2011), via ``pystoi``.

    ``pystoi`` resamples to 10 kHz internally and drops silent frames of the reference.

    Args:
        ref: Clean reference ``(samples,)``.
        est: Estimate ``(samples,)``.
        sample_rate: Rate of both signals in Hz.
        extended: Extended STOI (Jensen and Taal, 2016) instead of STOI.

    Returns:
        :class:`Score` with a value in about [0, 1] (1 for identical signals); NaN with the
        install hint when ``pystoi`` is missing, and NaN with a note when the reference has
        fewer than 30 non-silent frames (~0.4 s; ``pystoi`` would return a meaningless 1e-5).
    """
    check_rate(sample_rate)
    r, e = check_pair(ref, est)
    module = _optional_module("stoi")
    if module is None:
        return Score(math.nan, _install_note("stoi"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(module.stoi(r, e, sample_rate, extended=extended))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return Score(math.nan, "too little speech for STOI (< 30 non-silent 25.6 ms frames)")
    return Score(value)
