"""Tests of the synthetic demo corpus (noisenil.data.demo)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from noisenil.data.demo import NOISE_KINDS, SPEAKER_PATTERN, DemoCorpus, make_demo_corpus
from noisenil.errors import ConfigError, DatasetError

SR = 16000
SMALL = dict(n_speakers=2, clips_per_speaker=1, clip_seconds=1.0, n_music=1, n_noises=2,
             noise_seconds=1.0, n_paired=2)


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory) -> tuple[DemoCorpus, float]:
    """The default corpus and the seconds it took to generate."""
    start = time.perf_counter()
    corpus = make_demo_corpus(tmp_path_factory.mktemp("demo_a"))
    return corpus, time.perf_counter() - start


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _speech(corpus: DemoCorpus) -> list[Path]:
    return sorted(p for p in corpus.clean_dir.glob("spk*.wav"))


def _slope_db_per_octave(x: np.ndarray, low: float = 50.0, high: float = 6000.0) -> float:
    f, p = welch(x, SR, nperseg=4096)
    band = (f >= low) & (f <= high)
    return float(np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0])


def test_layout_counts_and_names(default_corpus):
    corpus, _ = default_corpus
    root = corpus.root
    speech = [f"spk{s:02d}_{c:03d}.wav" for s in range(1, 5) for c in range(1, 7)]
    music = [f"music_{m:03d}.wav" for m in range(1, 5)]
    assert _names(corpus.clean_dir) == sorted(speech + music)
    assert _names(corpus.noise_dir) == sorted(f"{k}.wav" for k in NOISE_KINDS)
    assert len(NOISE_KINDS) == 8
    paired = _names(corpus.paired_clean_dir)
    assert len(paired) == 6
    assert paired == _names(corpus.paired_noisy_dir)
    assert corpus.n_files == 24 + 4 + 8 + 2 * 6 == len(list(root.rglob("*.wav")))
    assert sorted(p.name for p in root.iterdir()) == ["README.txt", "clean", "demo.json",
                                                       "noise", "paired"]
    readme = (root / "README.txt").read_text()
    assert "synthetic" in readme.lower() and "seed: 0" in readme and "16000 Hz" in readme


def test_format_lengths_and_levels(default_corpus):
    corpus, _ = default_corpus
    for path in corpus.root.rglob("*.wav"):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (
            SR, 1, "PCM_16", "WAV"), path
        expected = 8 * SR if path.parent == corpus.noise_dir else 3 * SR
        assert info.frames == expected, path
        x, _ = sf.read(path)
        peak = np.max(np.abs(x))
        assert peak < 1.0, path
        if path.parent == corpus.clean_dir:
            assert 20 * np.log10(peak) == pytest.approx(-3.0, abs=0.1), path
        elif path.parent == corpus.noise_dir:
            assert 20 * np.log10(peak) <= -0.99, path
            assert 20 * np.log10(np.sqrt(np.mean(x**2))) <= -22.9, path
        else:
            assert 20 * np.log10(peak) <= -0.99, path


def test_generation_time(default_corpus):
    _, seconds = default_corpus
    assert seconds < 10.0


def test_deterministic_same_seed_byte_identical(default_corpus, tmp_path):
    corpus, _ = default_corpus
    again = make_demo_corpus(tmp_path / "b")
    first, second = _files(corpus.root), _files(again.root)
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def test_different_seed_differs(tmp_path):
    a = _files(make_demo_corpus(tmp_path / "a", seed=0, **SMALL).root)
    b = _files(make_demo_corpus(tmp_path / "b", seed=1, **SMALL).root)
    assert sorted(a) == sorted(b)
    wavs = [name for name in a if name.endswith(".wav")]
    assert len(wavs) == 2 + 1 + 2 + 4
    assert all(a[name] != b[name] for name in wavs)


def test_fast_path_does_not_rewrite(default_corpus):
    corpus, _ = default_corpus
    before = {p: p.stat().st_mtime_ns for p in corpus.root.rglob("*") if p.is_file()}
    start = time.perf_counter()
    again = make_demo_corpus(corpus.root)
    assert time.perf_counter() - start < 1.0
    assert again == corpus
    after = {p: p.stat().st_mtime_ns for p in corpus.root.rglob("*") if p.is_file()}
    assert after == before


def test_parameter_mismatch_raises_naming_folder(default_corpus):
    corpus, _ = default_corpus
    with pytest.raises(DatasetError, match=re.escape(str(corpus.root))):
        make_demo_corpus(corpus.root, seed=1)


def test_overwrite_replaces_only_own_files(tmp_path):
    root = tmp_path / "demo"
    make_demo_corpus(root, **SMALL)
    (root / "notes.txt").write_text("mine")
    (root / "clean" / "extra.wav").write_bytes(b"not a demo file")
    smaller = {**SMALL, "n_speakers": 1, "n_noises": 1}
    with pytest.raises(DatasetError, match="other parameters"):
        make_demo_corpus(root, **smaller)
    corpus = make_demo_corpus(root, **smaller, overwrite=True)
    assert _names(corpus.clean_dir) == ["extra.wav", "music_001.wav", "spk01_001.wav"]
    assert _names(corpus.noise_dir) == ["white.wav"]
    assert (root / "notes.txt").read_text() == "mine"
    assert corpus.n_files == 1 + 1 + 1 + 4


def test_foreign_file_is_never_overwritten(tmp_path):
    (tmp_path / "clean").mkdir()
    mine = tmp_path / "clean" / "spk01_001.wav"
    mine.write_bytes(b"user data")
    with pytest.raises(DatasetError, match="spk01_001.wav"):
        make_demo_corpus(tmp_path, **SMALL, overwrite=True)
    assert mine.read_bytes() == b"user data"


def test_root_that_is_a_file_raises(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(DatasetError, match="not a folder"):
        make_demo_corpus(path)


@pytest.mark.parametrize(
    "kwargs, key",
    [({"seed": -1}, "seed"), ({"sample_rate": 1000}, "sample_rate"),
     ({"n_speakers": 0}, "n_speakers"), ({"n_speakers": 90}, "n_speakers"),
     ({"clip_seconds": 0.1}, "clip_seconds"), ({"n_paired": -1}, "n_paired"),
     ({"paired_snr_db": float("nan")}, "paired_snr_db")],
)
def test_invalid_parameters(tmp_path, kwargs, key):
    with pytest.raises(ConfigError, match=key) as info:
        make_demo_corpus(tmp_path, **kwargs)
    assert info.value.key == key
    assert not any(tmp_path.iterdir())


def test_pairs_match_and_snr_is_exact(default_corpus):
    corpus, _ = default_corpus
    clean_speakers = {re.match(SPEAKER_PATTERN, p.name).group(1) for p in _speech(corpus)}
    for clean_path in sorted(corpus.paired_clean_dir.iterdir()):
        noisy_path = corpus.paired_noisy_dir / clean_path.name
        clean, _ = sf.read(clean_path)
        noisy, _ = sf.read(noisy_path)
        assert clean.shape == noisy.shape == (3 * SR,)
        snr = 10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2))
        assert snr == pytest.approx(5.0, abs=0.1), clean_path.name
        speaker = re.match(SPEAKER_PATTERN, clean_path.name).group(1)
        assert speaker not in clean_speakers


def test_custom_snr_and_other_rate(tmp_path):
    corpus = make_demo_corpus(tmp_path, sample_rate=8000, paired_snr_db=-3.0, **SMALL)
    for clean_path in corpus.paired_clean_dir.iterdir():
        clean, sr = sf.read(clean_path)
        noisy, _ = sf.read(corpus.paired_noisy_dir / clean_path.name)
        assert sr == 8000 and clean.size == 8000
        assert np.max(np.abs(noisy)) < 1.0
        snr = 10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2))
        assert snr == pytest.approx(-3.0, abs=0.1)


def test_speech_is_band_limited_with_pauses(default_corpus):
    corpus, _ = default_corpus
    frame = SR // 20  # 50 ms
    for path in _speech(corpus):
        x, _ = sf.read(path)
        f, p = welch(x, SR, nperseg=1024)
        assert p[f < 4000].sum() / p.sum() > 0.8, path.name
        energy = np.mean(x[: x.size // frame * frame].reshape(-1, frame) ** 2, axis=1)
        level = 10 * np.log10(energy + 1e-20)
        quiet = np.mean(level < level.max() - 30)
        assert 0.0 < quiet < 0.5, path.name  # pauses, but mostly talking
        assert energy.min() > 0, path.name  # silence is quiet, not digital zero


def test_speaker_ids_parse(default_corpus):
    corpus, _ = default_corpus
    speech = _speech(corpus)
    assert len(speech) == 24
    ids = [re.match(SPEAKER_PATTERN, p.name) for p in speech]
    assert all(ids)
    assert len({m.group(1) for m in ids}) >= 4
    music = sorted(corpus.clean_dir.glob("music_*.wav"))
    assert len(music) == 4 and not any(re.match(SPEAKER_PATTERN, p.name) for p in music)


@pytest.mark.parametrize("kind, slope", [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_coloured_noise_slopes(default_corpus, kind, slope):
    corpus, _ = default_corpus
    x, _ = sf.read(corpus.noise_dir / f"{kind}.wav")
    low = 100.0 if kind == "brown" else 50.0  # brown is flat below 20 Hz by design
    assert _slope_db_per_octave(x, low) == pytest.approx(slope, abs=1.5)


def test_hum_is_mains_harmonics(default_corpus):
    corpus, _ = default_corpus
    x, _ = sf.read(corpus.noise_dir / "hum.wav")
    f, p = welch(x, SR, nperseg=SR)  # 1 Hz bins
    near_harmonic = (np.abs(f - 50 * np.round(f / 50)) <= 2) & (f > 25)
    assert p[near_harmonic].sum() / p.sum() > 0.95
    assert f[np.argmax(p)] in (50.0, 100.0)


def test_more_than_eight_noises_get_variants(tmp_path):
    corpus = make_demo_corpus(tmp_path, **{**SMALL, "n_noises": 10})
    assert _names(corpus.noise_dir) == sorted(
        [f"{k}.wav" for k in NOISE_KINDS] + ["white_2.wav", "pink_2.wav"])
    assert (corpus.noise_dir / "white.wav").read_bytes() != (
        corpus.noise_dir / "white_2.wav").read_bytes()


def _median_f0(x: np.ndarray) -> float:
    """Median autocorrelation pitch (Hz) over loud, clearly periodic 40 ms frames."""
    frame, f0s = 640, []
    lo, hi = SR // 300, SR // 80
    for start in range(0, x.size - frame, frame // 2):
        seg = x[start:start + frame]
        if np.sqrt(np.mean(seg**2)) < 0.03:
            continue
        ac = np.correlate(seg, seg, "full")[frame - 1:]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            f0s.append(SR / lag)
    return float(np.median(f0s))


def test_speakers_have_consistent_distinct_pitch(default_corpus):
    corpus, _ = default_corpus
    f0 = {}
    for path in _speech(corpus):
        f0.setdefault(path.name[:5], []).append(_median_f0(sf.read(path)[0]))
    medians = {spk: np.median(values) for spk, values in f0.items()}
    for spk, values in f0.items():
        assert np.max(np.abs(np.log2(np.array(values) / medians[spk]))) < 0.25, (spk, values)
    assert all(95 * 0.85 < m < 230 * 1.15 for m in medians.values()), medians
    assert medians["spk02"] / medians["spk01"] > 1.3  # a low and a high voice


def test_missing_file_is_regenerated_identically(tmp_path):
    corpus = make_demo_corpus(tmp_path, **SMALL)
    path = corpus.noise_dir / "pink.wav"
    original = path.read_bytes()
    path.unlink()
    make_demo_corpus(tmp_path, **SMALL)
    assert path.read_bytes() == original
