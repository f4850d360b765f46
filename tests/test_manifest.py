"""Folder scans report bad files and go on; pairs match by name; splits never share a source."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf

from noisenil.errors import DatasetError
from noisenil.data.manifest import match_pairs, scan_folder, speaker_of, split_by_group, write_split
from tests.conftest import read_manifest

PATTERNS = [r"^(p\d+)_\d+", r"^(spk\d+)_", r"^\d+_([A-Za-z]+)_\d+$", r"^(\d+)-\d+-\d+$"]


def write(path, seconds=0.5, sr=16000, value=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    x = np.full(n, value, np.float32) if value is not None else \
        0.1 * np.sin(np.arange(n) * 0.05).astype(np.float32)
    sf.write(str(path), x, sr)
    return path


@pytest.mark.parametrize("stem, speaker", [
    ("p232_001", "p232"), ("spk03_002", "spk03"), ("7_jackson_32", "jackson"),
    ("198-209-0000", "198"), ("hello-world", None),
])
def test_speaker_of(stem, speaker):
    assert speaker_of(stem, PATTERNS) == speaker


def test_scan_lists_bad_files_and_goes_on(tmp_path):
    write(tmp_path / "a" / "p1_001.wav")
    write(tmp_path / "b.flac")
    (tmp_path / "broken.wav").write_bytes(b"garbage")
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, np.float32), 16000)
    (tmp_path / "notes.txt").write_text("not audio")
    scan = scan_folder(tmp_path, speaker_patterns=PATTERNS)
    assert [f.name for f in scan.files] == ["a/p1_001.wav", "b.flac"]
    assert [f.group for f in scan.files] == ["p1", "b.flac"]
    assert sorted(p.name for p, _ in scan.bad) == ["broken.wav", "empty.wav"]
    reasons = dict((p.name, why) for p, why in scan.bad)
    assert "unreadable" in reasons["broken.wav"] and "empty" in reasons["empty.wav"]
    assert scan.seconds == pytest.approx(1.0)


def test_several_folders_scan_as_one_with_exclusions_and_pieces_kept_together(tmp_path):
    """train/speech + dev/speech as one list: names relative to their common parent, an
    excluded corpus left out, the pieces of one recording in one group (never split)."""
    from noisenil.config import DataConfig

    write(tmp_path / "train" / "speech" / "emodb" / "03a01Fa.flac")
    write(tmp_path / "train" / "speech" / "ravdess" / "a01_03-01.flac")
    write(tmp_path / "train" / "speech" / "long_p1.flac")
    write(tmp_path / "train" / "speech" / "long_p2.flac")
    write(tmp_path / "dev" / "speech" / "7_jackson_32.wav")
    scan = scan_folder([tmp_path / "train" / "speech", tmp_path / "dev" / "speech"],
                       speaker_patterns=DataConfig().speaker_patterns, exclude=["*/ravdess/*"])
    assert scan.root == tmp_path
    assert [f.name for f in scan.files] == ["dev/speech/7_jackson_32.wav",
                                            "train/speech/emodb/03a01Fa.flac",
                                            "train/speech/long_p1.flac",
                                            "train/speech/long_p2.flac"]
    groups = {f.name.split("/")[-1]: f.group for f in scan.files}
    assert groups["long_p1.flac"] == groups["long_p2.flac"] == "long"
    assert groups["7_jackson_32.wav"] == "jackson"
    with pytest.raises(DatasetError, match=r"data.clean_dir='.*nope': folder not found"):
        scan_folder([tmp_path / "dev", tmp_path / "nope"], label="data.clean_dir")


def test_scan_missing_or_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"data.clean_dir='.*nope': folder not found"):
        scan_folder(tmp_path / "nope", label="data.clean_dir")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DatasetError, match="no usable audio files"):
        scan_folder(tmp_path, label="data.noise_dir")


def test_pairs_match_by_relative_name_and_report_problems(tmp_path):
    for name in ["s/p1_001.wav", "s/p1_002.wav", "p2_001.wav", "only_clean.wav"]:
        write(tmp_path / "clean" / name)
    for name in ["s/p1_001.wav", "p2_001.wav", "only_noisy.wav"]:
        write(tmp_path / "noisy" / name)
    write(tmp_path / "noisy" / "s" / "p1_002.wav", seconds=0.6)  # length mismatch
    pairs, problems = match_pairs(scan_folder(tmp_path / "clean", speaker_patterns=PATTERNS),
                                  scan_folder(tmp_path / "noisy"))
    assert sorted(p.name for p in pairs) == ["p2_001.wav", "s/p1_001.wav"]
    assert {p.group for p in pairs} == {"p1", "p2"}
    problems = dict(problems)
    assert set(problems) == {"s/p1_002.wav", "only_clean.wav", "only_noisy.wav"}
    assert "length mismatch" in problems["s/p1_002.wav"]
    assert "no noisy file" in problems["only_clean.wav"]
    assert "no clean file" in problems["only_noisy.wav"]


@dataclass(frozen=True)
class Item:
    name: str
    group: str


@pytest.mark.parametrize("seed", range(8))
def test_split_is_disjoint_by_group_deterministic_and_near_fractions(seed):
    rng = np.random.default_rng(seed)
    items = [Item(f"f{i}", f"g{rng.integers(40)}") for i in range(400)]
    s = split_by_group(items, val_fraction=0.1, test_fraction=0.1, seed=seed)
    groups = {k: {i.group for i in v} for k, v in s.items()}
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
    assert not (groups["val"] & groups["test"])
    assert sum(len(v) for v in s.values()) == 400
    assert 0 < len(s["val"]) <= 40 and 0 < len(s["test"]) <= 40
    assert s == split_by_group(items, val_fraction=0.1, test_fraction=0.1, seed=seed)


def test_split_takes_smallest_group_when_none_fits_and_keeps_one_for_training():
    items = [Item(f"a{i}", "big") for i in range(50)] + [Item(f"b{i}", "mid") for i in range(20)]
    s = split_by_group(items, val_fraction=0.1, seed=0)
    assert {i.group for i in s["val"]} == {"mid"} and len(s["train"]) == 50
    one = split_by_group(items[:50], val_fraction=0.5, seed=0)
    assert len(one["train"]) == 50 and not one["val"]


def test_real_dev_speech_splits_by_speaker_without_overlap(audio_dir, tmp_path):
    scan = scan_folder(audio_dir / "dev" / "speech", speaker_patterns=PATTERNS)
    assert len(scan.files) == len(read_manifest(audio_dir / "dev")) - sum(
        1 for r in read_manifest(audio_dir / "dev") if not str(r["path"]).startswith(
            str(audio_dir / "dev" / "speech")))
    s = split_by_group(scan.files, val_fraction=0.1, test_fraction=0.1, seed=1234)
    paths = {k: {f.path for f in v} for k, v in s.items()}
    assert not (paths["train"] & paths["val"]) and not (paths["train"] & paths["test"])
    fsdd_speakers = {k: {f.group for f in v if "fsdd" in f.name} for k, v in s.items()}
    assert not (fsdd_speakers["train"] & (fsdd_speakers["val"] | fsdd_speakers["test"]))
    csv_path = write_split(s, tmp_path / "split.csv")
    assert len(csv_path.read_text().splitlines()) == 1 + len(scan.files)
