"""Level-invariant inference (noisenil.dsp.levels through the one inference path) and a clean
last sample: the shipped default model on real recordings at any level and any length."""

import numpy as np
import pytest
import soundfile as sf

from noisenil.dsp.levels import (REFERENCE_DBFS, SILENCE_DBFS, active_rms, frame_energies,
                                 normalising_gain)
from noisenil.inference.denoiser import Denoiser
from noisenil.inference.files import denoise_file


@pytest.fixture(scope="module")
def den():
    return Denoiser.from_file("default")


def _speech(fixture_rows, n=3):
    rows = [r for r in fixture_rows if "speech" in str(r["path"])][:n]
    assert rows, "no speech fixtures"
    return [sf.read(r["path"], dtype="float32", always_2d=True) for r in rows]


def test_active_rms_is_homogeneous_and_ignores_pauses(rng):
    x = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    with_pause = np.concatenate([x, np.zeros(48000, np.float32)])
    assert active_rms(with_pause, 16000) == pytest.approx(active_rms(x, 16000), rel=1e-6)
    assert active_rms(3.0 * x, 16000) == pytest.approx(3.0 * active_rms(x, 16000), rel=1e-6)
    g = normalising_gain(active_rms(x, 16000))
    assert 20 * np.log10(active_rms(g * x, 16000)) == pytest.approx(REFERENCE_DBFS, abs=1e-6)
    assert normalising_gain(10 ** ((SILENCE_DBFS - 1) / 20)) is None
    assert frame_energies(np.zeros((2, 0)), 16000).size == 0


@pytest.mark.parametrize("gain_db", [-30.0, -12.0, 6.0])
def test_denoise_of_a_scaled_recording_is_the_scaled_denoise(den, fixture_rows, gain_db):
    a = np.float32(10 ** (gain_db / 20))
    for x, sr in _speech(fixture_rows):
        x = x[: 4 * sr].T
        ref = a * den.denoise(x, sr)
        out = den.denoise(a * x, sr)
        err_db = 10 * np.log10(np.sum((out - ref) ** 2) / np.sum(ref ** 2) + 1e-30)
        assert err_db < -60  # far inside the 0.1 dB SI-SDR the design asks


def test_silence_and_near_silence_pass_unchanged_while_quiet_speech_is_denoised(den, rng,
                                                                                 fixture_rows):
    zeros = np.zeros((2, 16000), np.float32)
    assert np.array_equal(den.denoise(zeros), zeros)
    hum = (10 ** (-95 / 20) * rng.standard_normal(16000)).astype(np.float32)
    assert np.array_equal(den.denoise(hum), hum)
    x, sr = _speech(fixture_rows, 1)[0]
    x = x[: 4 * sr, 0]
    quiet = x * np.float32(10 ** (-60 / 20) / active_rms(x, sr))  # -60 dBFS active RMS: real
    loud = x * np.float32(10 ** (-20 / 20) / active_rms(x, sr))
    scale = np.float32(10 ** (-40 / 20))
    np.testing.assert_allclose(den.denoise(quiet, sr), scale * den.denoise(loud, sr),
                               atol=1e-7)
    assert not np.array_equal(den.denoise(quiet, sr), quiet)  # denoised, not bypassed


def test_a_file_is_denoised_exactly_as_its_array(den, fixture_rows, tmp_path):
    """The folder job measures the level in a first pass: the same gain as the whole array."""
    x, sr = _speech(fixture_rows, 1)[0]
    src = tmp_path / "in.wav"
    sf.write(src, x[: 3 * sr], sr, subtype="FLOAT")
    res = denoise_file(den, src, tmp_path / "out.wav", block_seconds=0.5, progress=False)
    assert res.ok, res.message
    got, _ = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    np.testing.assert_allclose(got.T, den.denoise(x[: 3 * sr].T, sr), atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_no_spike_at_the_end_at_any_length_or_rate(den, seed):
    """Lengths just short of whole hops (the old spike: 1, 2, 3 s at 16 kHz), random lengths,
    resampled rates: never 1 dB above the input's peak, no energy added in the last 20 ms."""
    rng = np.random.default_rng(seed)
    sr = [16000, 16000, 44100, 22050, 8000, 48000][seed]
    lengths = [sr, 2 * sr, 3 * sr - 1, int(rng.integers(2000, 5 * sr))]
    for n in lengths:
        t = np.arange(n) / sr
        x = (0.1 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(n)).astype(
            np.float32)
        y = den.denoise(x, sr)
        assert np.max(np.abs(y)) <= np.max(np.abs(x)) * 10 ** (1 / 20), (sr, n)
        tail = int(0.02 * sr)
        assert np.sum(y[-tail:] ** 2) <= np.sum(x[-tail:] ** 2) * 1.0001, (sr, n)
