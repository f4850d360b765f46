"""A quiet terminal: the backend's start-up logging kept off the screen unless asked for.

TensorFlow writes about eight lines to stderr as it is imported (oneDNN, CUDA stubs, CPU
features; on CPU machines ``failed call to cuInit``) and more while it runs (``remapper failed``
during training). :func:`quiet_backend` sets its C++ log level and the Python loggers of
TensorFlow and absl before anything imports it; the lines TensorFlow writes before its logging
is initialised ignore that level, so :func:`import_backend` imports Keras (and with it the
backend) with the process's stderr set aside, and gives back what was written there only if the
import fails. ``noisenil -v`` skips both: every log line is shown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import typing
from collections.abc import Iterator

#: Python loggers of the backend, raised to ERROR unless verbose.
BACKEND_LOGGERS = ("tensorflow", "absl", "jax", "h5py")


def quiet_backend(verbose: bool) -> None:
    """Before TensorFlow is imported: its C++ logs off (``TF_CPP_MIN_LOG_LEVEL=3``, unless the
    environment sets it), its and absl's Python loggers at ERROR. Nothing when ``verbose``."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in BACKEND_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _stderr_set_aside() -> Iterator[typing.BinaryIO]:
    """File descriptor 2 pointed at a temporary file for the block (C++ writes included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield tmp
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_backend(verbose: bool) -> None:
    """Import Keras and its backend now, their start-up lines on stderr dropped (shown when the
    import fails, and never set aside when ``verbose``)."""
    if verbose or "keras" in sys.modules:
        import keras  # noqa: F401
        return
    failed, written = None, b""
    with _stderr_set_aside() as tmp:
        try:
            import keras  # noqa: F401
        except BaseException as err:  # re-raised below, once stderr is back
            failed = err
            tmp.seek(0)
            written = tmp.read()
    if failed is not None:
        sys.stderr.write(written.decode(errors="replace"))
        raise failed


__all__ = ["BACKEND_LOGGERS", "import_backend", "quiet_backend"]
