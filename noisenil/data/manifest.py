"""Finding audio files, pairing them, and splitting them into train/validation/test by file.

The split is made here, on files (on speakers when a speaker id can be parsed from the file
name), before any mixing or patching, with a fixed seed, so no recording ever feeds both training
and validation. A scan never dies on the first bad file: it lists each bad file with the reason
and goes on.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noisenil.dsp.audio_io import AudioInfo, audio_info
from noisenil.errors import AudioError, DatasetError

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class AudioFile:
    """One audio file of a dataset.

    Attributes:
        path: Absolute path.
        name: Path relative to the scanned folder, with ``/`` separators (the pairing key).
        group: Split group: the speaker id parsed from the name, else the name itself.
        info: Header facts (rate, channels, frames).
    """

    path: Path
    name: str
    group: str
    info: AudioInfo

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.info.duration


@dataclass
class Scan:
    """Result of scanning a folder: usable files and ``(path, reason)`` for the bad ones."""

    root: Path
    files: list[AudioFile] = field(default_factory=list)
    bad: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Total duration of the usable files, in seconds."""
        return float(sum(f.duration for f in self.files))


def speaker_of(stem: str, patterns: Sequence[str]) -> str | None:
    """The speaker id in a file stem: group 1 of the first matching pattern, else ``None``."""
    for pattern in patterns:
        m = re.search(pattern, stem)
        if m:
            return m.group(1)
    return None


def _roots(folder: str | Path | Sequence[str | Path], label: str) -> tuple[list[Path], Path]:
    """The folders to scan, resolved, and the root that file names are relative to: the folder
    itself, or the deepest common parent of several (``train/speech/x``, ``dev/speech/y``)."""
    many = not isinstance(folder, (str, Path))
    folders = list(folder) if many else [folder]
    if not folders:
        raise DatasetError(f"{label}=[]: give at least one folder")
    roots = []
    for f in folders:
        root = Path(f).expanduser().resolve()
        if not root.is_dir():
            raise DatasetError(f"{label}={str(f)!r}: folder not found")
        roots.append(root)
    if not many:
        return roots, roots[0]
    common = Path(os.path.commonpath([str(r) for r in roots]))
    return roots, common


def scan_folder(folder: str | Path | Sequence[str | Path], *,
                extensions: Iterable[str] = (".wav", ".flac", ".ogg"),
                speaker_patterns: Sequence[str] = (), exclude: Sequence[str] = (),
                label: str = "folder") -> Scan:
    """List the audio files under ``folder`` (recursively, sorted) and read their headers.

    Args:
        folder: The folder, or a list of folders scanned as one (names are then relative to
            their deepest common parent, e.g. ``train/speech/emodb/03a01Fa.flac``).
        extensions: Extensions to include (case-insensitive).
        speaker_patterns: See :func:`speaker_of`.
        exclude: Glob patterns (:func:`fnmatch.fnmatch`, ``*`` crosses ``/``) of relative names
            to leave out, e.g. ``"*/ravdess/*"``.
        label: What to call the folder in messages (e.g. the config key ``data.clean_dir``).

    Returns:
        A :class:`Scan`; unreadable and empty files are in ``scan.bad`` with their reason.

    Raises:
        DatasetError: A folder is missing, or none holds a usable audio file.
    """
    roots, common = _roots(folder, label)
    exts = {e.lower() for e in extensions}
    scan = Scan(common)
    paths = sorted({p for root in roots for p in root.rglob("*")
                    if p.is_file() and p.suffix.lower() in exts})
    for path in paths:
        name = path.relative_to(common).as_posix()
        if any(fnmatch.fnmatch(name, pattern) for pattern in exclude):
            continue
        try:
            info = audio_info(path)
        except AudioError as err:
            scan.bad.append((path, str(err).removeprefix(f"{path}: ")))
            continue
        group = speaker_of(path.stem, speaker_patterns) or name
        scan.files.append(AudioFile(path, name, group, info))
    for path, why in scan.bad:
        logger.warning("skipping %s: %s", path, why)
    if not scan.files:
        shown = str(folder) if isinstance(folder, (str, Path)) else [str(f) for f in folder]
        raise DatasetError(f"{label}={shown!r}: no usable audio files (extensions "
                           f"{sorted(exts)}; {len(scan.bad)} bad)")
    return scan


@dataclass(frozen=True)
class Pair:
    """A clean file and its noisy counterpart (same relative name)."""

    clean: AudioFile
    noisy: AudioFile

    @property
    def name(self) -> str:
        return self.clean.name

    @property
    def group(self) -> str:
        return self.clean.group

    @property
    def duration(self) -> float:
        return self.clean.duration


def _bad_names(scan: Scan) -> set[str]:
    """The relative names of the files a scan left out as bad."""
    names = set()
    for path, _ in scan.bad:
        try:
            names.add(Path(path).relative_to(scan.root).as_posix())
        except ValueError:
            continue
    return names


def match_pairs(clean: Scan, noisy: Scan, *, tolerance_s: float = 0.01,
                ) -> tuple[list[Pair], list[tuple[str, str]]]:
    """Match clean and noisy files by relative name.

    Args:
        clean: Scan of the clean folder.
        noisy: Scan of the noisy folder.
        tolerance_s: Largest accepted length difference in seconds.

    Returns:
        ``(pairs, problems)``; each problem is ``(name, reason)``: only in one folder, or lengths
        that differ.
    """
    noisy_by_name = {f.name: f for f in noisy.files}
    clean_names = {f.name for f in clean.files}
    # A file whose partner is in the other scan's bad list is reported there, once.
    bad_clean, bad_noisy = _bad_names(clean), _bad_names(noisy)
    pairs, problems = [], []
    for c in clean.files:
        n = noisy_by_name.get(c.name)
        if n is None and c.name in bad_noisy:
            continue
        if n is None:
            problems.append((c.name, f"no noisy file of that name in {noisy.root}"))
        elif abs(c.duration - n.duration) > tolerance_s:
            problems.append((c.name, f"length mismatch: clean {c.duration:.3f} s, "
                                     f"noisy {n.duration:.3f} s"))
        else:
            pairs.append(Pair(c, n))
    problems += [(n.name, f"no clean file of that name in {clean.root}")
                 for n in noisy.files if n.name not in clean_names and n.name not in bad_clean]
    for name, why in problems:
        logger.warning("unpaired %s: %s", name, why)
    return pairs, problems


def split_by_group(items: Sequence, *, val_fraction: float, test_fraction: float = 0.0,
                   seed: int = 1234) -> dict[str, list]:
    """Split items (anything with ``.group``) so that no group spans two splits.

    Groups are shuffled with ``seed`` and handed to test, then validation, whenever they fit in
    what is left of the split's share (``fraction * len(items)``); the rest is training. A split
    with a non-zero fraction gets at least one group (the smallest, if none fits) as long as one
    group is left for training.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, each in the input order.
    """
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.group, []).append(i)
    keys = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    remaining = [keys[i] for i in order]
    assigned: dict[str, list[int]] = {s: [] for s in SPLITS}
    total = len(items)
    for split, fraction in (("test", test_fraction), ("val", val_fraction)):
        if fraction <= 0:
            continue
        target = fraction * total
        for key in list(remaining):
            if len(remaining) > 1 and len(assigned[split]) + len(groups[key]) <= target:
                assigned[split] += groups[key]
                remaining.remove(key)
        if not assigned[split] and len(remaining) > 1:
            # Every group is larger than the target: take the smallest (first in shuffled order).
            key = min(remaining, key=lambda k: len(groups[k]))
            assigned[split] += groups[key]
            remaining.remove(key)
    assigned["train"] = [i for key in remaining for i in groups[key]]
    return {s: [items[i] for i in sorted(idx)] for s, idx in assigned.items()}


_SPLIT_NAMES = {"val": "validation", "test": "test"}


def split_shortfall(splits: dict[str, list], *, val_fraction: float, test_fraction: float,
                    need: Sequence[str] = ()) -> str | None:
    """Which held-out split :func:`split_by_group` could not make, why, and how to get it.

    A split is missing when its fraction is above 0 (or it is in ``need``) and it got no file:
    a speaker's files never span two splits, so with too few speakers (one, in a single-speaker
    recording set) everything stays in training.

    Args:
        splits: What :func:`split_by_group` returned.
        val_fraction: ``data.val_fraction`` of the split.
        test_fraction: ``data.test_fraction`` of the split.
        need: Splits wanted whatever their fraction (``("test",)`` for a comparison).

    Returns:
        One sentence naming the files, the speakers and the remedy
        (``data.speaker_patterns=[]`` splits by file), or ``None`` when nothing is missing.
    """
    fractions = {"val": val_fraction, "test": test_fraction}
    missing = [s for s in ("val", "test")
               if (fractions[s] > 0 or s in need) and not splits.get(s)]
    if not missing:
        return None
    items = [i for split in splits.values() for i in split]
    groups = len({i.group for i in items})
    wanted = " and a ".join(_SPLIT_NAMES[s] for s in missing)
    return (f"{len(items)} files from {groups} speaker{'' if groups == 1 else 's'} (or files "
            f"without a speaker in their name) are too few to hold out a {wanted} split "
            f"(data.val_fraction={val_fraction}, data.test_fraction={test_fraction}): with "
            f"fewer speakers, --set data.speaker_patterns=[] splits by file, at the price of a "
            f"voice heard in training and in {_SPLIT_NAMES[missing[0]]}")


def write_split(splits: dict[str, list], path: str | Path) -> Path:
    """Save a split as CSV (``split,name,group,path,seconds``) beside a run's results."""
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["split", "name", "group", "path", "seconds"])
        for split in SPLITS:
            for item in splits.get(split, []):
                src = item.clean if isinstance(item, Pair) else item
                w.writerow([split, item.name, item.group, str(src.path), f"{src.duration:.3f}"])
    return path
