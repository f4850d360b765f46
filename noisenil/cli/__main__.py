"""``python -m noisenil.cli``: the console script."""

import sys

from noisenil.cli import main

sys.exit(main())
