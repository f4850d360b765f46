"""One output audio file, written to a temporary name beside its destination and renamed at the
end (:class:`AudioWriter`), so a failure never leaves a half-written file; and the format an
output can be written in (:func:`output_subtype`)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from noisenil.config.atomic import write_error
from noisenil.errors import AudioError, NoiseNilError

#: Subtypes that store values beyond [-1, 1] as they are (all others are limited to it).
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


def output_subtype(info, path: Path) -> tuple[str, str, str]:
    """``(format, subtype, note)``: the input's where the output format can write it."""
    fmt, subtype = info.format, info.subtype
    if sf.check_format(fmt, subtype):
        return fmt, subtype, ""
    fallback = sf.default_subtype(fmt)
    if fallback and sf.check_format(fmt, fallback):
        return fmt, fallback, f"written as {fmt}/{fallback} ({subtype} cannot be written)"
    raise AudioError(f"{path}: libsndfile cannot write {fmt} files; convert it first "
                     f"(e.g. to WAV)", path=path)


class AudioWriter:
    """Writes blocks to a temporary file beside ``dest``; :meth:`commit` renames it."""

    def __init__(self, dest: Path, info, fmt: str, subtype: str):
        self.dest = dest
        self.tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        self.limit = subtype not in FLOAT_SUBTYPES
        self.limited = 0
        self.peak = 0.0
        self._file = None
        with self._naming_the_output():
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._file = sf.SoundFile(str(self.tmp), "w", samplerate=info.samplerate,
                                      channels=info.channels, format=fmt, subtype=subtype)

    @contextlib.contextmanager
    def _naming_the_output(self):
        """Errors of the file system (read-only, full disk) name the output, not the
        temporary file, and say what went wrong."""
        try:
            yield
        except (RuntimeError, OSError) as err:  # LibsndfileError is a RuntimeError
            raise NoiseNilError(write_error(err, self.dest)) from err

    def write(self, block: np.ndarray) -> np.ndarray:
        """Write ``(samples, channels)``; return what was written (after limiting)."""
        if block.size:
            self.peak = max(self.peak, float(np.max(np.abs(block))))
        if self.limit:
            over = np.abs(block) > 1.0
            if over.any():
                self.limited += int(over.sum())
                block = np.clip(block, -1.0, 1.0)
        with self._naming_the_output():
            self._file.write(block)
        return block

    def commit(self) -> None:
        with self._naming_the_output():
            self._file.close()
            os.replace(self.tmp, self.dest)

    def abort(self) -> None:
        if self._file is not None:
            with contextlib.suppress(RuntimeError, OSError):
                self._file.close()
        self.tmp.unlink(missing_ok=True)


__all__ = ["FLOAT_SUBTYPES", "AudioWriter", "output_subtype"]
