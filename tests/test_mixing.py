"""Mixing hits the target SNR and level; noise looping is seamless; silence handling."""

from __future__ import annotations

import numpy as np
import pytest

from noisenil.errors import AudioError
from noisenil.data.mixing import active_power, loop_to_length, mix, power, snr_db, trim_silence


@pytest.mark.parametrize("target_snr", [-5.0, 0.0, 2.0, 7.5, 20.0, 35.0])
@pytest.mark.parametrize("level_db", [-6.0, 0.0, 4.0])
def test_mix_hits_target_snr_and_level(target_snr, level_db, rng):
    clean = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    noise = (0.5 * rng.standard_normal(16000)).astype(np.float32)
    noisy, target = mix(clean, noise, snr=target_snr, level_db=level_db)
    assert abs(snr_db(target, noisy - target) - target_snr) < 0.1
    assert abs(10 * np.log10(power(target) / power(clean)) - level_db) < 0.01


def test_mix_with_a_reference_power(rng):
    clean = np.zeros(8000, np.float32)
    clean[:1000] = 0.1 * rng.standard_normal(1000)
    noise = rng.standard_normal(8000).astype(np.float32)
    ref = power(clean[:1000])
    noisy, target = mix(clean, noise, snr=10.0, clean_power=ref)
    assert abs(10 * np.log10(ref / power(noisy - target)) - 10.0) < 0.1


def test_mix_rejects_silence_and_shape_mismatch(rng):
    with pytest.raises(AudioError, match="clean signal is silent"):
        mix(np.zeros(100), rng.standard_normal(100), snr=5)
    with pytest.raises(AudioError, match="noise signal is silent"):
        mix(rng.standard_normal(100), np.zeros(100), snr=5)
    with pytest.raises(AudioError, match="same shape"):
        mix(np.ones(10), np.ones(11), snr=5)


def test_loop_is_seamless_and_keeps_level(rng):
    noise = rng.standard_normal(4000).astype(np.float32)
    out = loop_to_length(noise, 30000, crossfade=800, offset=123)
    assert out.shape == (30000,)
    # Equal-power cross-fades keep the level steady: windowed RMS varies little.
    rms = np.sqrt(np.mean(out[:29600].reshape(-1, 400) ** 2, axis=1))
    assert rms.min() > 0.75 * rms.max()
    assert abs(10 * np.log10(power(out) / power(noise))) < 0.5
    # Outside the seams it is the noise itself.
    np.testing.assert_array_equal(loop_to_length(noise, 1000, offset=500), noise[500:1500])


def test_loop_short_and_empty(rng):
    tiny = rng.standard_normal(10).astype(np.float32)
    assert loop_to_length(tiny, 1000, crossfade=100).shape == (1000,)
    with pytest.raises(AudioError, match="empty"):
        loop_to_length(np.zeros(0), 10)


def test_active_power_ignores_pauses_and_trim_removes_them(rng):
    speech = 0.1 * rng.standard_normal(16000)
    with_pause = np.concatenate([speech, np.zeros(32000), speech]).astype(np.float32)
    assert abs(10 * np.log10(active_power(with_pause) / power(speech))) < 0.2
    trimmed = trim_silence(with_pause, top_db=40)
    assert 31000 < trimmed.shape[0] < 34000
