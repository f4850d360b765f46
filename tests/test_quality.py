"""Quality measures: known values, validation, PESQ/STOI on real speech, the missing-extra path."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from noisenil.evaluation import quality
from noisenil.dsp.audio_io import load_audio, resample
from noisenil.errors import AudioError, ConfigError
from noisenil.evaluation.perceptual import INSTALL_HINT, pesq_score, stoi_score
from noisenil.evaluation.quality import audio_scores, available_metrics
from noisenil.evaluation.spectrogram import spectrogram_mse, spectrogram_ssim
from noisenil.dsp.measures import MAX_DB, band_energy_db, segmental_snr, si_sdr, snr

SR = 16000


def _speechlike(rng: np.random.Generator, seconds: float = 4.0, sr: int = SR) -> np.ndarray:
    """A zero-mean harmonic signal with a syllable-rate envelope."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140.0 * (1.0 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 12))
    return (0.2 * x * (0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t))).astype(np.float64)


def _noise_at(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise scaled so that ``x`` against it is exactly ``snr_db``."""
    n = rng.standard_normal(x.shape[0])
    return n * np.sqrt(np.sum(x ** 2) / np.sum(n ** 2) / 10.0 ** (snr_db / 10.0))


def _speech(fixture_rows, rate: int) -> np.ndarray:
    rows = [r for r in fixture_rows if r["path"].parent.name == "speech"
            and r["sample_rate"] == rate and r["seconds"] >= 1.0]
    if not rows:
        pytest.skip(f"no clean speech at {rate} Hz of at least 1 s in fixtures/MANIFEST.tsv")
    return load_audio(rows[0]["path"])[0].astype(np.float64)


# --- known values -----------------------------------------------------------------------------

def test_snr_and_si_sdr_at_an_exact_10_db(rng):
    x = _speechlike(rng)
    noisy = x + _noise_at(x, 10.0, rng)
    assert snr(x, noisy) == pytest.approx(10.0, abs=0.01)
    assert si_sdr(x, noisy) == pytest.approx(10.0, abs=0.1)


def test_identical_and_rescaled_signals_reach_the_cap(rng):
    x = _speechlike(rng, seconds=1.0)
    assert snr(x, x) == MAX_DB
    assert si_sdr(x, 0.5 * x) >= 90.0
    assert si_sdr(x, 0.5 * x + 0.01) >= 90.0  # a DC offset is removed too
    assert snr(x, 0.5 * x) == pytest.approx(10 * np.log10(4.0), abs=1e-9)


def test_si_sdr_ignores_scale_but_snr_does_not(rng):
    x = _speechlike(rng)
    noisy = x + _noise_at(x, 5.0, rng)
    assert si_sdr(x, 3.0 * noisy) == pytest.approx(si_sdr(x, noisy), abs=1e-9)
    assert snr(x, 3.0 * noisy) < snr(x, noisy) - 5.0


def test_segmental_snr_clamps_and_skips_silent_reference_frames(rng):
    x = _speechlike(rng, seconds=2.0)
    x[SR:] = 0.0  # the second second is silent
    assert segmental_snr(x, x, sample_rate=SR) == pytest.approx(35.0)
    # Noise only where the reference is silent: those frames are left out entirely.
    est = x.copy()
    est[SR + 1024:] += 0.1 * rng.standard_normal(SR - 1024)
    assert segmental_snr(x, est, sample_rate=SR) == pytest.approx(35.0)
    # A steady tone with white noise at 10 dB in every frame, then silence: about 10 dB, not
    # pulled down to the -10 dB clamp by the silent half.
    tone = np.zeros(2 * SR)
    tone[:SR] = 0.3 * np.sin(2 * np.pi * 440.0 * np.arange(SR) / SR)
    est = tone.copy()
    est[:SR] += _noise_at(tone[:SR], 10.0, rng)
    assert segmental_snr(tone, est, sample_rate=SR) == pytest.approx(10.0, abs=0.5)
    assert segmental_snr(x, -x, sample_rate=SR) == pytest.approx(-6.02, abs=0.01)  # error 2x
    assert segmental_snr(x, -3 * x, sample_rate=SR) == pytest.approx(-10.0)  # -12 dB, clamped


def test_spectrogram_measures_known_values(rng):
    a = rng.uniform(0, 1, (128, 64)).astype(np.float32)
    assert spectrogram_ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert spectrogram_mse(a, a) == 0.0
    assert spectrogram_mse(a, a + 0.1) == pytest.approx(0.01, rel=1e-5)
    assert spectrogram_ssim(a, rng.uniform(0, 1, a.shape)) < 0.1
    two = rng.uniform(0, 1, (40, 30, 2))
    assert spectrogram_ssim(two, two) == pytest.approx(1.0, abs=1e-6)
    mixed = two.copy()
    mixed[..., 1] = rng.uniform(0, 1, (40, 30))
    expected = 0.5 * (1.0 + spectrogram_ssim(two[..., 1], mixed[..., 1]))
    assert spectrogram_ssim(two, mixed) == pytest.approx(expected, abs=1e-6)
    small = rng.uniform(0, 1, (5, 4))  # smaller than the 7x7 window: 3x3 is used
    assert spectrogram_ssim(small, small) == pytest.approx(1.0, abs=1e-6)


# --- validation -------------------------------------------------------------------------------

def test_mismatched_lengths_and_bad_values_name_the_argument(rng):
    x = rng.standard_normal(100)
    with pytest.raises(AudioError, match="est has 99 samples but ref has 100"):
        snr(x, x[:99])
    with pytest.raises(AudioError, match="est has 99 samples but ref has 100"):
        si_sdr(x, x[:99])
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(AudioError, match="est: contains NaN or Inf"):
        si_sdr(x, bad)
    with pytest.raises(AudioError, match="ref: contains NaN or Inf"):
        segmental_snr(np.where(np.arange(100) == 5, np.inf, x), x, sample_rate=SR)
    with pytest.raises(AudioError, match="estimate has 99 samples but clean has 100"):
        audio_scores(x, x[:99], sample_rate=SR, metrics=["snr"])
    with pytest.raises(AudioError, match="estimate: contains NaN"):
        audio_scores(x, bad, sample_rate=SR, metrics=["snr"])
    with pytest.raises(AudioError, match=r"est_features has shape \(4, 5\) but ref_features"):
        spectrogram_ssim(np.ones((4, 4)), np.ones((4, 5)))
    with pytest.raises(AudioError, match="est_features: contains NaN"):
        spectrogram_mse(np.ones((4, 4)), np.full((4, 4), np.nan))
    with pytest.raises(AudioError, match="too small for SSIM"):
        spectrogram_ssim(np.ones((2, 9)), np.ones((2, 9)))
    with pytest.raises(AudioError, match="ref: expected a 1-D signal"):
        snr(np.ones((2, 5)), np.ones((2, 5)))
    with pytest.raises(ConfigError, match="unknown"):
        audio_scores(x, x, sample_rate=SR, metrics=["snr", "mos"])
    with pytest.raises(ConfigError, match="sample_rate=0"):
        segmental_snr(x, x, sample_rate=0)


# --- audio_scores -------------------------------------------------------------------------------

def test_audio_scores_give_the_metrics_asked_for_in_order(rng):
    x = _speechlike(rng)
    n = _noise_at(x, 0.0, rng)
    names = ["snr", "segmental_snr", "si_sdr"]
    noisy = audio_scores(x, x + n, sample_rate=SR, metrics=names)
    denoised = audio_scores(x, x + 0.25 * n, sample_rate=SR, metrics=names)
    assert list(noisy) == list(denoised) == names
    assert noisy["snr"] == pytest.approx(0.0, abs=0.01)
    assert denoised["snr"] - noisy["snr"] == pytest.approx(20 * np.log10(4.0), abs=0.01)  # +12 dB
    assert all(denoised[m] > noisy[m] for m in names)


@pytest.mark.realaudio
def test_audio_scores_on_real_speech_with_every_metric(fixture_rows, rng):
    x = _speech(fixture_rows, SR)
    n = _noise_at(x, 5.0, rng)
    noisy = audio_scores(x, x + n, sample_rate=SR)
    denoised = audio_scores(x, x + 0.3 * n, sample_rate=SR)
    assert list(denoised) == list(quality.AUDIO_METRICS)
    for m in quality.AUDIO_METRICS:
        if available_metrics()[m] is None:
            assert denoised[m] > noisy[m], m
        else:  # the eval extra is missing: NaN, never a made-up number
            assert np.isnan(denoised[m]) and np.isnan(noisy[m]), m
    assert denoised["snr"] - noisy["snr"] == pytest.approx(-20 * np.log10(0.3), abs=0.01)


# --- PESQ and STOI ------------------------------------------------------------------------------

@pytest.mark.realaudio
def test_pesq_of_identical_speech_is_near_the_maximum(fixture_rows, rng):
    pytest.importorskip("pesq")
    wb = _speech(fixture_rows, 16000)
    nb = _speech(fixture_rows, 8000)
    same = pesq_score(wb, wb, sample_rate=16000)
    assert same.value >= 4.4 and same.note == ""
    assert pesq_score(nb, nb, sample_rate=8000).value >= 4.4
    noisy = wb + _noise_at(wb, 5.0, rng)
    assert pesq_score(wb, noisy, sample_rate=16000).value < 2.5


@pytest.mark.realaudio
@pytest.mark.parametrize("rate, target, mode", [(22050, 16000, "wb"), (44100, 16000, "wb"),
                                                (11025, 8000, "nb")])
def test_pesq_resamples_other_rates_and_says_so(fixture_rows, rate, target, mode):
    pytest.importorskip("pesq")
    x = resample(_speech(fixture_rows, 16000), 16000, rate).astype(np.float64)
    score = pesq_score(x, x, sample_rate=rate)
    assert score.value >= 4.4
    assert score.note == f"resampled {rate} Hz -> {target} Hz for {mode} PESQ"
    assert float(score) == score.value


@pytest.mark.realaudio
def test_stoi_of_identical_speech_is_one_and_noise_lowers_it(fixture_rows, rng):
    pytest.importorskip("pystoi")
    x = _speech(fixture_rows, SR)
    same = stoi_score(x, x, sample_rate=SR)
    assert same.value >= 0.99 and same.note == ""
    noisy = x + _noise_at(x, 0.0, rng)
    assert stoi_score(x, noisy, sample_rate=SR).value < same.value - 0.05
    assert stoi_score(x, noisy, sample_rate=SR, extended=True).value < 0.99


def test_stoi_of_too_little_speech_is_nan_with_the_reason(rng):
    pytest.importorskip("pystoi")
    x = 0.1 * rng.standard_normal(SR // 5)  # 0.2 s: fewer than 30 frames of 25.6 ms
    score = stoi_score(x, x, sample_rate=SR)
    assert math.isnan(score.value) and score.note.startswith("too little speech for STOI")


def test_pesq_that_cannot_score_gives_nan_with_the_reason(rng):
    pytest.importorskip("pesq")
    x = 0.1 * rng.standard_normal(SR // 10)  # 0.1 s: PESQ needs at least 0.25 s
    score = pesq_score(x, x, sample_rate=SR)
    assert math.isnan(score.value)
    assert score.note.startswith("PESQ failed: BufferTooShortError: Buffer needs")
    assert pesq_score(np.zeros(SR), x.repeat(10), sample_rate=SR).note.startswith("ref is all")


# --- the optional eval extra is missing -----------------------------------------------------------

@pytest.mark.parametrize("metric, module", [("pesq", "pesq"), ("stoi", "pystoi")])
def test_missing_eval_extra_gives_nan_and_the_install_hint(monkeypatch, rng, metric, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail: absence
    x = _speechlike(rng, seconds=1.0)
    score = (pesq_score if metric == "pesq" else stoi_score)(x, x, sample_rate=SR)
    assert math.isnan(score.value)
    assert INSTALL_HINT in score.note and module in score.note
    hints = available_metrics()
    assert INSTALL_HINT in hints[metric]
    assert hints["si_sdr"] is None and hints["spectrogram_ssim"] is None
    out = audio_scores(x, x, sample_rate=SR, metrics=[metric, "snr"])
    assert math.isnan(out[metric])
    assert out["snr"] == MAX_DB


def test_band_energy_splits_a_signal_by_frequency_and_sums_channels():
    sr = 16000
    t = np.arange(sr) / sr
    low, high = np.sin(2 * np.pi * 1000 * t), 0.5 * np.sin(2 * np.pi * 5000 * t)
    x = low + high
    # The 5 kHz tone carries 0.25 / 1.25 of the energy: -6.99 dB of the whole.
    assert band_energy_db(x, sr, 3000.0) - band_energy_db(x, sr) == pytest.approx(-6.99, abs=0.01)
    assert band_energy_db(x, sr, 0.0, 3000.0) == pytest.approx(band_energy_db(low, sr), abs=1e-6)
    stereo = np.stack([x, x], axis=1)   # (samples, channels): twice the energy
    twice = band_energy_db(stereo, sr, axis=0) - band_energy_db(x, sr)
    assert twice == pytest.approx(3.01, abs=0.01)
