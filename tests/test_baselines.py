"""Classical baselines: real improvement on real speech + real noise, length, pass-through."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from noisenil.dsp import features
from noisenil.dsp.audio_io import load_audio, resample
from noisenil.evaluation.baselines import (
    BASELINES,
    MissingDependencyError,
    available_baselines,
    estimate_noise_psd,
    get_baseline,
    spectral_gating,
)
from noisenil.config import StftConfig
from noisenil.errors import AudioError, ConfigError, NoiseNilError
from noisenil.data.mixing import loop_to_length, mix, power
from noisenil.dsp.measures import si_sdr

SR = 16000
RUNNABLE = ["spectral_subtraction", "wiener", "log_mmse"]  # numpy/scipy only, always available


def _fixture(fixture_rows, folder: str, contains: str) -> np.ndarray:
    """A fixtures/MANIFEST.tsv recording, mono at 16 kHz; skips when the manifest lacks it."""
    for row in fixture_rows:
        if row["path"].parent.name == folder and contains in row["path"].name:
            return load_audio(row["path"], sample_rate=SR)[0]
    pytest.skip(f"no fixtures/{folder} recording matching {contains!r} in MANIFEST.tsv")


@pytest.fixture(scope="module")
def speech(fixture_rows) -> np.ndarray:
    """CMU ARCTIC aew a0001 (3.9 s, 16 kHz), with short pauses at both ends."""
    return _fixture(fixture_rows, "speech", "arctic_aew")


@pytest.fixture(scope="module", params=["running_tap", "rain"])
def mixture(request, fixture_rows, speech) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean)``: the speech plus a fairly stationary real noise at 5 dB SNR."""
    noise = _fixture(fixture_rows, "noise", request.param)
    noisy, clean = mix(speech, loop_to_length(noise, speech.shape[0]), snr=5.0)
    return noisy, clean


def test_registry_names_and_availability():
    assert list(BASELINES) == ["spectral_subtraction", "wiener", "log_mmse", "spectral_gating"]
    assert set(RUNNABLE) <= set(available_baselines())
    assert get_baseline("wiener") is BASELINES["wiener"]
    with pytest.raises(ConfigError, match="choose from .*log_mmse"):
        get_baseline("kalman")


def test_spectral_gating_without_noisereduce_raises_with_the_hint(monkeypatch, rng):
    monkeypatch.setitem(sys.modules, "noisereduce", None)  # simulates absence
    assert "spectral_gating" not in available_baselines()
    with pytest.raises(MissingDependencyError, match="pip install noisereduce") as err:
        spectral_gating(rng.standard_normal(SR).astype(np.float32), sample_rate=SR)
    assert isinstance(err.value, NoiseNilError) and isinstance(err.value, ImportError)
    with pytest.raises(MissingDependencyError, match="noisereduce"):
        get_baseline("spectral_gating")


def test_noise_psd_is_the_mean_of_the_quietest_frames(rng):
    power_ = np.ones((16, 100))
    power_[:, 30:] *= rng.uniform(50, 100, (16, 70))  # "speech" in 70 % of frames
    assert np.allclose(estimate_noise_psd(power_, quantile=0.2), 1.0)
    cfg = StftConfig()
    white = (0.1 * rng.standard_normal(4 * SR)).astype(np.float32)
    spec = features.stft(white, cfg)[:, 2:-2]  # drop the zero-padded edge frames
    expected = 0.01 * np.sum(features.window(cfg) ** 2)  # E|X|^2 of windowed white noise
    est = estimate_noise_psd(np.abs(spec) ** 2)
    assert est.shape == (cfg.n_bins, 1)
    assert abs(10 * np.log10(np.mean(est[1:-1]) / expected)) < 1.5  # quietest frames: a bit low
    with pytest.raises(ConfigError, match="noise_quantile=0"):
        estimate_noise_psd(power_, quantile=0)


@pytest.mark.realaudio
@pytest.mark.parametrize("name", RUNNABLE)
def test_baseline_improves_si_sdr_on_real_speech_in_real_noise(name, mixture):
    noisy, clean = mixture
    out = BASELINES[name](noisy, sample_rate=SR)
    assert out.shape == noisy.shape and out.dtype == np.float32
    gain = si_sdr(clean, out) - si_sdr(clean, noisy)
    assert gain > 1.0, f"{name}: SI-SDR improvement {gain:.2f} dB"


@pytest.mark.realaudio
@pytest.mark.parametrize("name", RUNNABLE)
def test_other_rates_and_stft_settings_keep_length_and_improve(name, mixture):
    noisy, clean = mixture
    noisy22, clean22 = resample(noisy, SR, 22050), resample(clean, SR, 22050)
    out = BASELINES[name](noisy22, sample_rate=22050)
    assert out.shape == noisy22.shape
    assert si_sdr(clean22, out) > si_sdr(clean22, noisy22) + 1.0
    out = BASELINES[name](noisy[:-37], sample_rate=SR, stft=StftConfig(n_fft=512, hop_length=128))
    assert out.shape == noisy[:-37].shape
    assert si_sdr(clean[:-37], out) > si_sdr(clean[:-37], noisy[:-37]) + 1.0


@pytest.mark.realaudio
@pytest.mark.parametrize("name", RUNNABLE)
def test_clean_speech_passes_through_nearly_unchanged(name, speech):
    out = BASELINES[name](speech, sample_rate=SR)
    assert out.shape == speech.shape
    assert si_sdr(speech, out) > 15.0


@pytest.mark.parametrize("name", RUNNABLE)
def test_noise_only_is_attenuated_and_silence_stays_silent(name, rng):
    white = (0.05 * rng.standard_normal(2 * SR)).astype(np.float32)
    out = BASELINES[name](white, sample_rate=SR)
    assert 10 * np.log10(power(out) / power(white)) < -10.0
    silence = np.zeros(1000, np.float32)
    assert np.array_equal(BASELINES[name](silence, sample_rate=SR), silence)


@pytest.mark.parametrize("name", RUNNABLE)
def test_bad_input_names_the_argument(name, rng):
    x = rng.standard_normal(SR).astype(np.float32)
    x[10] = np.nan
    with pytest.raises(AudioError, match="noisy: contains NaN"):
        BASELINES[name](x, sample_rate=SR)
    with pytest.raises(AudioError, match="noisy: expected a non-empty 1-D signal"):
        BASELINES[name](np.zeros((2, 100), np.float32), sample_rate=SR)
    with pytest.raises(ConfigError, match="sample_rate=-1"):
        BASELINES[name](np.ones(100, np.float32), sample_rate=-1)
