"""STFT/feature round trips: >= 40 dB SNR and exactly the input length."""

from __future__ import annotations

import numpy as np
import pytest

from noisenil.dsp.audio_io import load_audio
from noisenil.config import FeatureConfig, StftConfig, load_config
from noisenil.errors import ConfigError
from noisenil.dsp.features import FeatureTransform, full_scale_reference, segment_samples, stft

REPRESENTATIONS = [("magnitude", "db"), ("magnitude", "power"), ("complex", "power")]


def snr(ref: np.ndarray, est: np.ndarray) -> float:
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - est) ** 2), 1e-30))


def transform(rep: str, scale: str) -> FeatureTransform:
    return FeatureTransform(StftConfig(), FeatureConfig(representation=rep, magnitude_scale=scale))


def test_defaults_give_128_bins():
    cfg = load_config()
    assert (cfg.audio.sample_rate, cfg.stft.n_fft, cfg.stft.hop_length) == (16000, 254, 64)
    assert stft(np.zeros(16000), cfg.stft).shape == (128, 251)


@pytest.mark.filterwarnings("ignore:n_fft=254 is too large")  # lengths below n_fft on purpose
@pytest.mark.parametrize("rep, scale", REPRESENTATIONS)
@pytest.mark.parametrize("length", [1, 63, 254, 1001, 16000, 16001])
def test_round_trip_exact_length_and_snr(rep, scale, length, rng):
    x = (0.3 * rng.standard_normal(length)).astype(np.float32)
    ft = transform(rep, scale)
    feats, spec = ft.analyze(x)
    assert feats.shape == (128, 1 + length // 64, ft.channels) and feats.dtype == np.float32
    y = ft.synthesize(feats, length=length, phase_from=spec)
    assert y.shape == x.shape
    assert snr(x, y) >= 40.0


@pytest.mark.parametrize("rep, scale", REPRESENTATIONS)
def test_round_trip_on_real_speech_and_music_at_every_rate(rep, scale, fixture_rows):
    ft = transform(rep, scale)
    rates = set()
    for row in fixture_rows:
        x, orig = load_audio(row["path"], sample_rate=16000)
        feats, spec = ft.analyze(x)
        phase = spec if rep == "magnitude" else None
        y = ft.synthesize(feats, length=len(x), phase_from=phase)
        assert len(y) == len(x), row["path"]
        assert snr(x, y) >= 40.0, (row["path"], snr(x, y))
        rates.add(orig)
    assert {8000, 16000, 44100, 48000} <= rates


def test_db_scale_is_fixed_and_documented():
    """A full-scale tone at a bin centre reads 1.0; 20 dB quieter reads 1 - 20/100."""
    cfg = StftConfig()
    ft = transform("magnitude", "db")
    sr, k = 16000, 32
    t = np.arange(sr) / sr
    f = k * sr / cfg.n_fft
    for amp, expected in [(1.0, 1.0), (0.1, 0.8)]:
        feats, _ = ft.analyze(amp * np.cos(2 * np.pi * f * t))
        assert abs(np.median(feats[k, 10:-10, 0]) - expected) < 1e-3
    assert full_scale_reference(cfg) == pytest.approx(63.5)
    # Not normalised per clip: halving the input lowers the features by 6.02 dB / 100 dB.
    x = np.random.default_rng(0).standard_normal(4000) * 0.1
    a, _ = ft.analyze(x)
    b, _ = ft.analyze(x / 2)
    loud = a > 0.3
    assert np.allclose((a - b)[loud], 20 * np.log10(2) / 100, atol=1e-4)


def test_complex_features_invert_without_a_phase_source(rng):
    x = (0.2 * rng.standard_normal(5000)).astype(np.float32)
    ft = transform("complex", "power")
    feats, _ = ft.analyze(x)
    assert snr(x, ft.synthesize(feats, length=len(x))) > 100


def test_magnitude_without_phase_and_channel_mismatch_raise(rng):
    ft = transform("magnitude", "db")
    feats, _ = ft.analyze(rng.standard_normal(2000))
    with pytest.raises(ConfigError, match="phase_from"):
        ft.decode(feats)
    with pytest.raises(ConfigError, match="channels"):
        ft.decode(np.zeros((128, 10, 2)))


def test_training_segments_match_whole_file_frames(rng):
    """center=False on a segment gives exactly the frames of the whole-signal STFT there."""
    cfg = StftConfig()
    x = rng.standard_normal(20000).astype(np.float32)
    whole = stft(x, cfg)
    start_frame, frames = 40, 32
    seg = x[start_frame * 64 - 127: start_frame * 64 - 127 + segment_samples(frames, cfg)]
    part = stft(seg, cfg, center=False)
    assert part.shape == (128, frames)
    np.testing.assert_allclose(part, whole[:, start_frame:start_frame + frames], atol=1e-4)
