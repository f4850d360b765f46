"""Shared pytest fixtures.

Real recordings live outside the repository (``../shared/audio`` relative to the project root, or
``$NOISENIL_AUDIO_DIR``); tests that need them skip with a clear reason when they are absent.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SKIP_REASON = "real audio not found: set NOISENIL_AUDIO_DIR or provide ../shared/audio"


def real_audio_dir() -> Path | None:
    """The shared real-audio folder, or ``None`` when it is not available."""
    env = os.environ.get("NOISENIL_AUDIO_DIR")
    candidate = Path(env) if env else PROJECT_ROOT.parent / "shared" / "audio"
    return candidate if (candidate / "fixtures" / "MANIFEST.tsv").is_file() else None


def read_manifest(folder: Path) -> list[dict]:
    """Rows of ``folder/MANIFEST.tsv`` with ``path`` made absolute and numbers parsed."""
    with open(folder / "MANIFEST.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for row in rows:
        row["path"] = folder / row["path"]
        row["seconds"] = float(row["seconds"])
        row["sample_rate"] = int(row["sample_rate"])
        row["channels"] = int(row["channels"])
    return rows


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    """Root of the real recordings; skips the test when absent."""
    found = real_audio_dir()
    if found is None:
        pytest.skip(SKIP_REASON)
    return found


@pytest.fixture(scope="session")
def fixture_rows(audio_dir: Path) -> list[dict]:
    """The rows of ``fixtures/MANIFEST.tsv`` (29 short real recordings)."""
    return read_manifest(audio_dir / "fixtures")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> str:
    """The synthetic demo corpus (generated once per test session)."""
    from noisenil.data.demo import make_demo_corpus

    root = tmp_path_factory.mktemp("demo") / "corpus"
    make_demo_corpus(root)
    return str(root)


@pytest.fixture()
def rng() -> np.random.Generator:
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(20261121)


#: Runs first in :func:`run_on_two_logical_cpus`: TensorFlow sees two CPU devices, the test
#: stand-in for a T4x2 (must happen before TensorFlow initialises, hence a fresh interpreter).
_TWO_LOGICAL_CPUS = """import json, logging, tensorflow as tf
logging.basicConfig(level=logging.INFO)
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


def run_on_two_logical_cpus(body: str, cwd: Path) -> tuple[dict, str]:
    """Run ``body`` (Python; ``json`` and ``tf`` imported, INFO logging on) in a fresh
    interpreter whose CPU is split into two logical devices.

    Returns:
        ``(the JSON of the last line it printed, its stderr)``; fails the test on a non-zero exit.
    """
    proc = subprocess.run([sys.executable, "-c", _TWO_LOGICAL_CPUS + textwrap.dedent(body)],
                          capture_output=True, text=True, timeout=600, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr
