"""Audio files in and out: load, downmix, resample, validate, save.

Conventions: samples are float32 in [-1, 1] (full scale = 1.0); multi-channel arrays are
channels-first, shape ``(channels, samples)`` as in librosa; mono arrays are 1-D ``(samples,)``.
Resampling uses soxr. Loading returns the file's original rate so that outputs can be written
back at it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from noisenil.errors import AudioError

logger = logging.getLogger(__name__)

#: Peak below which a signal counts as silent (-80 dBFS).
SILENCE_PEAK = 1e-4


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file.

    Attributes:
        path: The file.
        sample_rate: Rate in Hz.
        channels: Channel count.
        frames: Samples per channel.
        subtype: soundfile subtype, e.g. ``"PCM_16"``.
        format: soundfile container format, e.g. ``"WAV"``.
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    subtype: str
    format: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def audio_info(path: str | Path) -> AudioInfo:
    """Read a file's header without decoding the audio.

    Raises:
        AudioError: The file is missing, unreadable or holds no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found", path=path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"{path}: unreadable audio ({err})", path=path) from err
    if info.frames <= 0:
        raise AudioError(f"{path}: empty file (0 samples)", path=path)
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames),
                     info.subtype, info.format)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int, *, quality: str = "HQ") -> np.ndarray:
    """Resample with soxr.

    Args:
        audio: ``(samples,)`` or ``(channels, samples)`` float array.
        orig_sr: Rate of ``audio`` in Hz.
        target_sr: Wanted rate in Hz.
        quality: soxr quality recipe (``"VHQ"``, ``"HQ"``, ``"MQ"``, ``"LQ"``, ``"QQ"``).

    Returns:
        float32 array with the same layout and ``round(samples * target_sr / orig_sr)`` samples.
    """
    if orig_sr == target_sr:
        return np.asarray(audio, dtype=np.float32)
    x = np.asarray(audio, dtype=np.float32)
    # soxr wants (samples, channels); keep channels-first outside.
    y = soxr.resample(x.T if x.ndim == 2 else x, orig_sr, target_sr, quality=quality)
    return np.ascontiguousarray(y.T if x.ndim == 2 else y, dtype=np.float32)


def check_audio(audio: np.ndarray, *, name: str = "audio", min_samples: int = 1,
                allow_silent: bool = False) -> np.ndarray:
    """Validate an audio array; return it unchanged.

    Args:
        audio: ``(samples,)`` or ``(channels, samples)`` array.
        name: What to call the signal in messages (usually its file name).
        min_samples: Fewest samples per channel accepted.
        allow_silent: Accept a signal whose peak is below -80 dBFS.

    Raises:
        AudioError: Wrong rank, too short, NaN/Inf, or silent, naming ``name``.
    """
    x = np.asarray(audio)
    if x.ndim not in (1, 2):
        raise AudioError(f"{name}: expected (samples,) or (channels, samples), got shape {x.shape}")
    n = x.shape[-1]
    if n == 0:
        raise AudioError(f"{name}: empty (0 samples)")
    if n < min_samples:
        raise AudioError(f"{name}: too short ({n} samples < {min_samples} needed)")
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{name}: contains NaN or Inf samples")
    if not allow_silent and float(np.max(np.abs(x))) < SILENCE_PEAK:
        raise AudioError(f"{name}: silent (peak below -80 dBFS)")
    return audio


def load_audio(path: str | Path, *, sample_rate: int | None = None, mono: bool = True,
               quality: str = "HQ", allow_silent: bool = False,
               min_seconds: float = 0.0) -> tuple[np.ndarray, int]:
    """Load an audio file as float32.

    Any format and subtype soundfile reads (WAV 8/16/24/32-bit int or float, FLAC, OGG...).

    Args:
        path: The file.
        sample_rate: Resample to this rate in Hz; ``None`` keeps the file's rate.
        mono: Average the channels into one ``(samples,)`` array; otherwise return
            ``(channels, samples)`` (also for a mono file).
        quality: soxr quality for resampling.
        allow_silent: Accept an all-silent file instead of raising.
        min_seconds: Shortest duration accepted, in seconds.

    Returns:
        ``(audio, original_rate)``: samples in [-1, 1] and the file's own rate in Hz.

    Raises:
        AudioError: Missing, unreadable, empty, NaN/Inf, silent or too short, naming the file.
    """
    info = audio_info(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: unreadable audio ({err})", path=path) from err
    data = data.T  # (channels, samples)
    if data.shape[1] == 0:
        raise AudioError(f"{path}: empty file (0 samples)", path=path)
    try:
        check_audio(data, name=str(path), allow_silent=allow_silent,
                    min_samples=max(1, int(np.ceil(min_seconds * sr))))
    except AudioError as err:
        raise AudioError(str(err), path=path) from None
    if mono:
        data = data.mean(axis=0)
    if sample_rate is not None and sample_rate != sr:
        data = resample(data, sr, sample_rate, quality=quality)
    logger.debug("loaded %s (%d ch, %d Hz -> %s Hz)", path, info.channels, sr, sample_rate or sr)
    return np.ascontiguousarray(data, dtype=np.float32), int(sr)


def save_audio(path: str | Path, audio: np.ndarray, sample_rate: int, *,
               subtype: str | None = None, overwrite: bool = False) -> Path:
    """Write audio with soundfile; refuse to replace an existing file unless asked.

    Args:
        path: Destination; the format follows the extension (``.wav``, ``.flac``, ``.ogg``).
            Parent folders are created.
        audio: ``(samples,)`` or ``(channels, samples)`` float array in [-1, 1].
        sample_rate: Rate in Hz.
        subtype: soundfile subtype (``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``...); ``None`` uses
            the format's default.
        overwrite: Replace an existing file.

    Returns:
        The path written.

    Raises:
        AudioError: The file exists and ``overwrite`` is false, or the array is invalid.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise AudioError(f"{path}: already exists (pass overwrite=True to replace it)", path=path)
    fmt = path.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise AudioError(f"{path}: unsupported extension {path.suffix!r} "
                         f"(soundfile writes {sorted(sf.available_formats())})", path=path)
    x = np.asarray(audio, dtype=np.float32)
    check_audio(x, name=str(path), allow_silent=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary name first so a failed write never destroys an existing file.
    tmp = path.with_name(f".{path.name}.partial")
    try:
        sf.write(str(tmp), x.T if x.ndim == 2 else x, int(sample_rate), subtype=subtype,
                 format=fmt)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
