"""Shared pytest fixtures.

Real recordings live outside the repository (``../shared/audio`` relative to the project root, or
``$NOISENIL_AUDIO_DIR``); tests that need them skip with a clear reason when they are absent.
"""

from __future__ import annotations

import csv
import os
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
    from noisenil.demo import make_demo_corpus

    root = tmp_path_factory.mktemp("demo") / "corpus"
    make_demo_corpus(root)
    return str(root)


@pytest.fixture()
def rng() -> np.random.Generator:
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(20261121)
