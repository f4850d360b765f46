"""The time-domain declicker (:mod:`noisenil.dsp.declick`) on real music: it takes synthetic
clicks out, leaves clean music and impulsive-by-nature signals alone, streams in blocks of any
size exactly as the whole signal, and is validated as a config section."""

import numpy as np
import pytest

from noisenil.config import config_from_dict
from noisenil.data.augment import clicks
from noisenil.dsp.audio_io import load_audio
from noisenil.dsp.declick import Declicker, declick, interpolate_gap, ar_coefficients
from noisenil.dsp.measures import si_sdr
from noisenil.errors import ConfigError

SR = 22050
SECONDS = 6.0
# Guards with margin; measured with the defaults (order 32, threshold 8, 6 ms) on these
# fixtures: 50-92 % of the click energy removed (median 84 %; the piano's attacks hide clicks),
# clean fixtures changed in at most 0.018 % of their samples and at >= 50 dB SI-SDR against
# themselves. The declicker alone; the music model's figures (with its network) are in the README.
REMOVED_MEDIAN, REMOVED_FILE = 0.7, 0.35
CLEAN_DB = 40.0


@pytest.fixture(scope="module")
def music(fixture_rows):
    rows = [r for r in fixture_rows if r["path"].parent.name == "music"]
    assert len(rows) >= 5, "music fixtures missing"
    return [(r["path"].stem, load_audio(r["path"], sample_rate=SR)[0][:int(SECONDS * SR)])
            for r in rows]


def _clicked(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    peak = float(np.max(np.abs(x)))
    y = clicks(x, SR, rng, rate_hz=4.0, width_ms=[0.1, 2.0], amplitude=[0.1 * peak, 0.8 * peak])
    return y, y != x


def test_clicks_are_taken_out_of_real_music(music):
    removed = []
    for i, (name, x) in enumerate(music):
        noisy, at = _clicked(x, 10 + i)
        y = declick(noisy, SR)
        share = 1.0 - np.sum((y[at] - x[at]) ** 2) / np.sum((noisy[at] - x[at]) ** 2)
        assert share >= REMOVED_FILE, (name, share)
        removed.append(share)
    assert np.median(removed) >= REMOVED_MEDIAN, removed


def test_clean_music_passes_through_nearly_untouched(music):
    for name, x in music:
        y = declick(x, SR)
        assert np.mean(y != x) < 0.001, name  # samples outside the gaps are kept bit for bit
        if np.any(y != x):
            assert si_sdr(x, y) >= CLEAN_DB, name


def test_silence_and_impulsive_signals_are_left_alone():
    assert np.array_equal(declick(np.zeros(SR, np.float32), SR), np.zeros(SR, np.float32))
    t = np.arange(2 * SR) / SR
    saw = (0.5 * ((110.0 * t) % 1.0) - 0.25).astype(np.float32)  # an edge every 9 ms
    assert np.array_equal(declick(saw, SR), saw)


def test_a_gap_is_filled_as_the_model_predicts():
    t = np.arange(4000) / SR
    x = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t)).astype(float)
    a = ar_coefficients(x, 32)
    fill = interpolate_gap(x, 2000, 2040, a)  # 1.8 ms
    err = np.sum((fill - x[2000:2040]) ** 2) / np.sum(x[2000:2040] ** 2)
    assert 10 * np.log10(err) < -40.0


@pytest.mark.parametrize("block", [1, 777, 4096])
def test_blocks_of_any_size_give_the_whole_signal_output(music, block):
    n = int(2.5 * SR)
    x = np.stack([music[0][1][:n], music[1][1][:n]], axis=1)
    noisy = np.stack([_clicked(x[:, c], 5 + c)[0] for c in range(2)], axis=1)
    whole = declick(noisy, SR)
    stream = Declicker(SR, 2)
    parts = [stream(noisy[i:i + block]) for i in range(0, len(noisy), block)]
    parts.append(stream(np.zeros((0, 2), np.float32), last=True))
    out = np.concatenate(parts)
    assert out.shape == noisy.shape and np.array_equal(out, whole)
    assert not np.array_equal(whole, noisy)


@pytest.mark.parametrize("key,value", [("threshold", 0.5), ("order", 0), ("max_click_ms", 0.0),
                                       ("order", 2.5)])
def test_bad_settings_name_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"declick\.{key}"):
        config_from_dict({"declick": {key: value}})
