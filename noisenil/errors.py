"""The noisenil exception family.

Every error the package raises on purpose derives from :class:`NoiseNilError`, so notebook users
can catch one class. Messages name the parameter, key or file and the offending value.
"""

from __future__ import annotations

from pathlib import Path


class NoiseNilError(Exception):
    """Base class of every error raised by noisenil."""


class ConfigError(NoiseNilError, ValueError):
    """A configuration key is unknown or its value is invalid.

    Attributes:
        key: Dotted name of the offending key (``"data.snr_db"``), or ``None``.
    """

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key


class AudioError(NoiseNilError, ValueError):
    """An audio file or array is unusable (unreadable, empty, silent, NaN/Inf, too short, ...).

    Attributes:
        path: The offending file, or ``None`` for in-memory arrays.
    """

    def __init__(self, message: str, *, path: str | Path | None = None):
        super().__init__(message)
        self.path = None if path is None else Path(path)


class DatasetError(NoiseNilError):
    """A dataset cannot be built: missing folder, no usable audio, mismatched pairs, ..."""


class MissingDependencyError(NoiseNilError, ImportError):
    """An optional package a feature needs is not installed (the message has the install hint)."""
