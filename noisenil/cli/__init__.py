"""The noisenil command line: thin subcommands over the Python API.

Each subcommand checks what its arguments name (configs, data folders, models:
:func:`~noisenil.cli.commands.prepare`) before TensorFlow is imported, imports the backend
quietly (:mod:`~noisenil.cli.terminal`), calls one library function, and prints where the
results are. Errors of the :class:`~noisenil.errors.NoiseNilError` family are reported in one
line on stderr with exit code 2; ``-v``/``--verbose`` shows the backend's logs and debug
messages. The parser is in :mod:`~noisenil.cli.parser`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from noisenil.cli.commands import COMMANDS, prepare
from noisenil.cli.parser import build_parser
from noisenil.cli.terminal import import_backend, quiet_backend
from noisenil.errors import NoiseNilError

logger = logging.getLogger("noisenil")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``noisenil`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    quiet_backend(args.verbose)  # before anything imports TensorFlow
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        prepare(args)
        if args.backend:
            import_backend(args.verbose)
        return COMMANDS[args.command](args)
    except NoiseNilError as err:
        # Written directly: logging may be configured elsewhere (notebooks, pytest). One line.
        text = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
        print(f"noisenil {args.command}: error: {text}", file=sys.stderr)
        return 2
    except OSError as err:  # the file system failing under a long job (disk full, mount gone)
        from noisenil.config.atomic import os_error_text

        print(f"noisenil {args.command}: error: {os_error_text(err)}", file=sys.stderr)
        return 2


__all__ = ["build_parser", "main"]
