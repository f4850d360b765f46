"""Audio loading at every bit depth and rate, resampling, validation errors, safe saving."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from noisenil.dsp.audio_io import audio_info, check_audio, load_audio, resample, save_audio
from noisenil.errors import AudioError


def tone(sr: int, seconds: float = 0.5, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("ext, subtype, tol", [
    (".wav", "PCM_U8", 1e-2), (".wav", "PCM_16", 1e-4), (".wav", "PCM_24", 1e-6),
    (".wav", "PCM_32", 1e-8), (".wav", "FLOAT", 0.0), (".flac", "PCM_16", 1e-4),
    (".flac", "PCM_24", 1e-6), (".ogg", "VORBIS", 5e-2),
])
def test_every_subtype_round_trips(tmp_path, ext, subtype, tol):
    x = tone(16000)
    path = save_audio(tmp_path / f"a{ext}", x, 16000, subtype=subtype)
    y, sr = load_audio(path)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == x.shape
    if subtype == "VORBIS":  # lossy: compare levels, not samples
        assert abs(np.std(y) - np.std(x)) < tol
    else:
        assert np.max(np.abs(y - x)) <= tol + 1e-7


@pytest.mark.parametrize("sr", [8000, 16000, 44100, 48000])
def test_resample_keeps_tone_and_length_and_reports_original_rate(tmp_path, sr):
    stereo = np.stack([tone(sr, freq=440.0), tone(sr, freq=880.0, amp=0.25)])
    path = save_audio(tmp_path / "s.wav", stereo, sr, subtype="PCM_16")
    mono, orig = load_audio(path, sample_rate=16000)
    assert orig == sr
    assert mono.shape == (round(stereo.shape[1] * 16000 / sr),)
    kept, _ = load_audio(path, sample_rate=16000, mono=False)
    assert kept.shape == (2, mono.shape[0])
    np.testing.assert_allclose(kept.mean(axis=0), mono, atol=1e-6)
    # The 440 Hz tone survives resampling: its bin dominates the spectrum of channel 0.
    spec = np.abs(np.fft.rfft(kept[0]))
    assert abs(np.argmax(spec) * 16000 / kept.shape[1] - 440.0) < 3.0


def test_resample_identity_and_back_and_forth():
    x = tone(16000, seconds=1.0)
    assert resample(x, 16000, 16000) is not None
    y = resample(resample(x, 16000, 48000), 48000, 16000)
    core = slice(200, -200)
    assert 10 * np.log10(np.sum(x[core] ** 2) / np.sum((x - y)[core] ** 2)) > 60


def test_real_fixtures_load_at_every_rate_mono_and_stereo(fixture_rows):
    seen = set()
    for row in fixture_rows:
        y, orig = load_audio(row["path"], sample_rate=16000, mono=False)
        assert orig == row["sample_rate"]
        assert y.shape[0] == row["channels"]
        assert abs(y.shape[1] / 16000 - row["seconds"]) < 0.02
        native, _ = load_audio(row["path"], mono=False)
        assert np.max(np.abs(native)) <= 1.0
        # Band-limited resampling may overshoot a near-full-scale peak a little (Gibbs).
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.05 * np.max(np.abs(native))
        seen.add((row["sample_rate"], row["channels"]))
    assert {8000, 16000, 44100, 48000} <= {sr for sr, _ in seen}
    assert {1, 2} <= {ch for _, ch in seen}


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_bytes(b"RIFF not really a wav file"), "unreadable"),
    (lambda p: sf.write(str(p), np.zeros((0,), np.float32), 16000), "empty"),
    (lambda p: sf.write(str(p), np.zeros(1600, np.float32), 16000), "silent"),
    (lambda p: sf.write(str(p), np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT"),
     "NaN"),
])
def test_bad_files_raise_with_the_file_name(tmp_path, make, fragment):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=fragment) as info:
        load_audio(path)
    assert info.value.path == path
    assert str(path) in str(info.value)


def test_missing_and_too_short(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        audio_info(tmp_path / "nothing.wav")
    path = save_audio(tmp_path / "short.wav", tone(16000, 0.01), 16000)
    with pytest.raises(AudioError, match="too short"):
        load_audio(path, min_seconds=0.5)
    silent, _ = load_audio(save_audio(tmp_path / "z.wav", np.zeros(100), 16000),
                           allow_silent=True)
    assert not silent.any()


def test_save_refuses_to_overwrite_and_keeps_the_original(tmp_path):
    path = save_audio(tmp_path / "keep.wav", tone(16000), 16000)
    before = path.read_bytes()
    with pytest.raises(AudioError, match="already exists"):
        save_audio(path, tone(16000, amp=0.1), 16000)
    assert path.read_bytes() == before
    save_audio(path, tone(16000, amp=0.1), 16000, overwrite=True)
    assert path.read_bytes() != before
    with pytest.raises(AudioError, match="unsupported extension"):
        save_audio(tmp_path / "x.mp9", tone(16000), 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]


def test_check_audio_shapes():
    with pytest.raises(AudioError, match="shape"):
        check_audio(np.zeros((2, 2, 2)))
    assert check_audio(tone(8000)) is not None
