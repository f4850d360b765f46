"""Files written whole or not at all, and folders checked for writing before long work starts.

Every file a training run or a tuning experiment writes goes through :func:`atomic_write`
(bytes or text, :func:`write_json`) or :func:`atomic_target` (for writers that need a file
name: Keras' ``model.save`` and ``save_weights``): the data goes to a temporary file beside the
destination (``<name>.partial.<suffixes>``, e.g. ``oracle.partial.json``), is flushed and
fsynced, and only then renamed over the destination (``os.replace``, atomic on POSIX), the
folder fsynced after. A kill at any moment leaves the old file or the new one, never a torn one;
a write that fails removes its temporary file.

:func:`check_writable` is called before long work (``train --run-dir``, ``tune.results_dir``,
``evaluate``/``compare --out``, ``denoise -o``) and names what cannot be written where, and why
(read-only file system, permission, no space left); :func:`write_error` words a failed write
the same way.

Test hook (for the kill tests): with ``NOISENIL_TEST_PAUSE_IN_WRITE=<glob>[@<n>]`` set, the
``n``-th write (default: the first) of this process to a file whose name matches ``<glob>``
pauses half-way through (after half the bytes of :func:`atomic_write`, or before the rename of
:func:`atomic_target`) for ``NOISENIL_TEST_PAUSE_S`` seconds (default 600), after creating the
file ``NOISENIL_TEST_PAUSE_MARKER`` if that is set, so a test can kill the process there.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from noisenil.errors import NoiseNilError

#: Environment variables of the test hook (see the module docstring).
PAUSE_ENV, PAUSE_S_ENV, PAUSE_MARKER_ENV = ("NOISENIL_TEST_PAUSE_IN_WRITE", "NOISENIL_TEST_PAUSE_S",
                                            "NOISENIL_TEST_PAUSE_MARKER")
_writes_seen: dict[str, int] = {}


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary file a write of ``path`` goes to: ``<first part>.partial.<rest>``
    (``last.partial.keras``, ``checkpoint.partial.weights.h5``, ``state.partial.json``), so
    writers that check the suffix accept it."""
    path = Path(path)
    first, dot, rest = path.name.partition(".")
    return path.with_name(f"{first}.partial{dot}{rest}")


def _maybe_pause(path: Path) -> None:
    """The test hook: pause inside the ``n``-th matching write (see the module docstring)."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    pattern, _, nth = spec.partition("@")
    if not fnmatch.fnmatch(path.name, pattern):
        return
    _writes_seen[pattern] = _writes_seen.get(pattern, 0) + 1
    if _writes_seen[pattern] != int(nth or 1):
        return
    marker = os.environ.get(PAUSE_MARKER_ENV)
    if marker:
        Path(marker).write_text(str(path))
    time.sleep(float(os.environ.get(PAUSE_S_ENV, "600")))


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform or file system allows it
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _commit(tmp: Path, path: Path) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_folder(path.parent)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8) to ``path``, whole or not at all.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: The write failed (no temporary file is left).
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp = partial_path(path)
    try:
        with open(tmp, "wb") as fh:
            half = len(raw) // 2
            fh.write(raw[:half])
            fh.flush()
            _maybe_pause(path)
            fh.write(raw[half:])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path`` through (:func:`partial_path`); on leaving the block
    it is fsynced and renamed over ``path``, on an error removed.

    Example:
        >>> with atomic_target(run_dir / "last.keras") as tmp:
        ...     model.save(tmp)
    """
    path = Path(path)
    tmp = partial_path(path)
    try:
        yield tmp
        _maybe_pause(path)
        _commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` to ``path`` as indented JSON, whole or not at all."""
    return atomic_write(path, json.dumps(data, indent=2))


def read_json(path: str | os.PathLike) -> Any | None:
    """The JSON in ``path``, or ``None`` where it is missing, empty or torn (a file written
    before writes were atomic, or by another program)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _reason(err: OSError) -> str:
    name = errno.errorcode.get(err.errno or 0)
    text = err.strerror or str(err)
    return f"{text.lower()} ({name})" if name else text


def os_error_text(err: OSError) -> str:
    """An ``OSError`` in one line: the file it names, what went wrong and the errno name
    (``/data/out.csv: no space left on device (ENOSPC)``)."""
    reason = _reason(err) if err.errno else " ".join(str(err).split())
    return f"{err.filename}: {reason}" if err.filename else reason


def write_error(err: BaseException, path: str | os.PathLike) -> str:
    """One line on why writing ``path`` failed: the OS error and its errno name, or (for
    libraries that lose the errno, such as libsndfile's "System error") a full disk."""
    path = Path(path)
    if isinstance(err, OSError) and err.errno:
        return f"cannot write {path}: {_reason(err)}"
    folder = next((p for p in [path.parent, *path.parents] if p.is_dir()), None)
    if folder is not None:
        with contextlib.suppress(OSError):
            if shutil.disk_usage(folder).free == 0:
                return f"cannot write {path}: no space left on device (ENOSPC)"
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"cannot write {path}: {first}"


def check_writable(folder: str | os.PathLike, *, what: str) -> Path:
    """Check that files can be written in ``folder`` (or where it would be created), before
    any long work: a small probe file is created there and removed.

    Args:
        folder: The folder results go to (need not exist yet).
        what: The option or key that named it (``--out``, ``tune.results_dir``).

    Returns:
        ``folder`` as a :class:`~pathlib.Path`.

    Raises:
        NoiseNilError: One line naming ``what``, the folder and the reason: a file in the way,
            a read-only file system, no permission, no space left on the device.
    """
    folder = Path(folder)
    where = f"{what}={str(folder)!r}"
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise NoiseNilError(f"{where}: cannot write there: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".noisenil-write-check-", dir=existing)
        try:
            os.write(fd, b"noisenil")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as err:
        raise NoiseNilError(f"{where}: cannot write in {existing}: {_reason(err)}") from err
    if shutil.disk_usage(existing).free == 0:
        raise NoiseNilError(f"{where}: cannot write in {existing}: no space left on device "
                            f"(ENOSPC)")
    return folder


__all__ = ["PAUSE_ENV", "PAUSE_MARKER_ENV", "PAUSE_S_ENV", "atomic_target", "atomic_write",
           "check_writable", "os_error_text", "partial_path", "read_json", "write_error",
           "write_json"]
