"""How much Keras prints while a model trains: the usual command-line convention.

:func:`keras_verbose` maps noisenil's ``progress`` flag to Keras' ``verbose``: one line per epoch
(``verbose=2``) when standard output is a terminal; Keras' live bar (``verbose=1``) in a
notebook, which draws it in place; nothing when output goes to a file or a CI log (the run's
own log lines still say what each epoch reached), and nothing with ``progress=False``
(``noisenil -q``).
"""

from __future__ import annotations

import sys


def keras_verbose(progress: bool) -> int:
    """Keras' ``verbose`` for ``fit`` (and Keras Tuner's ``search``) given ``progress``.

    Returns:
        ``0`` (silent), ``1`` (a live bar: notebooks) or ``2`` (one line per epoch: terminals).
    """
    if not progress:
        return 0
    if "ipykernel" in sys.modules:
        return 1
    stdout = sys.stdout
    return 2 if stdout is not None and hasattr(stdout, "isatty") and stdout.isatty() else 0


__all__ = ["keras_verbose"]
