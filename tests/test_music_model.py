"""The shipped music-restoration model (``--model music``) on real music: it loads by name with its
own configuration, leaves clean music as it is, takes hiss and clicks out, and ``--residual``
writes what it removed.

The music fixtures are short real recordings (piano, orchestra, violin, cello, singing, a string
orchestra); some of their sources are in ``dev/music``, so these are guards of behaviour, not the
held-out figures: those come from the test split (``bench/conditions.py``, ``bench/clicks.py``,
README "The music-restoration model").
"""

import numpy as np
import pytest
import soundfile as sf

from noisenil.data.augment import clicks, hiss
from noisenil.dsp.audio_io import load_audio
from noisenil.dsp.measures import band_energy_db, si_sdr
from noisenil.inference.denoiser import Denoiser
from noisenil.inference.files import denoise_file
from noisenil.pretrained import model_card_path, shipped_models

SR = 22050
SECONDS = 6.0
# Guards, measured on the shipped file with margin (README "The music-restoration model"):
# clean fixtures come out at 20.1-43.6 dB against themselves, hiss at 10 dB SNR gains
# 5.9-14.2 dB (mean 9.3), and 83-99 % of the clicks' energy goes (median 94 %; 81 % without
# the declicker, which the model's configuration turns on).
CLEAN_DB = 18.0
HISS_GAIN_FILE_DB, HISS_GAIN_DB = 3.0, 6.0
CLICKS_REMOVED = 0.85


@pytest.fixture(scope="module")
def den():
    return Denoiser.from_file("music")


@pytest.fixture(scope="module")
def music(fixture_rows):
    """The music fixtures' first 6 s, mono, at the model's 22.05 kHz (the inference path's
    loader and resampler)."""
    rows = [r for r in fixture_rows if r["path"].parent.name == "music"]
    assert len(rows) >= 5, "music fixtures missing"
    return [(r["path"].stem, load_audio(r["path"], sample_rate=SR)[0][:int(SECONDS * SR)])
            for r in rows]


def test_music_loads_by_name_with_its_own_config_and_card(den):
    path = shipped_models()["music"]
    assert den.config_source == "embedded" and den.sample_rate == SR
    assert den.cfg.model.name == "two_stage_unet" and den.cfg.model.head == "mask"
    assert den.cfg.declick.enabled
    assert path.stat().st_size <= 10 * 2 ** 20 and path.with_suffix(".onnx").is_file()
    card = model_card_path("music").read_text()
    for folder in ("train/music", "dev/music", "dev/vinyl"):
        assert folder in card
    with pytest.raises(Exception, match="model='musik': not a shipped model; choose one of "
                                        "default, music"):
        model_card_path("musik")


def test_clean_music_comes_out_as_it_went_in(den, music):
    for name, x in music:
        assert si_sdr(x, den.denoise(x, SR)) >= CLEAN_DB, name


def test_hiss_at_10_db_is_taken_out_of_every_file(den, music):
    gains = []
    for i, (name, x) in enumerate(music):
        rng = np.random.default_rng(i)
        rms = float(np.sqrt(np.mean(x ** 2)))
        noisy = hiss(x, SR, rng, level_db=20 * np.log10(rms) - 10.0)
        gain = si_sdr(x, den.denoise(noisy, SR)) - si_sdr(x, noisy)
        assert gain >= HISS_GAIN_FILE_DB, name
        gains.append(gain)
    assert np.mean(gains) >= HISS_GAIN_DB


def test_clicks_are_taken_out(den, music):
    removed = []
    for i, (name, x) in enumerate(music):
        rng = np.random.default_rng(100 + i)
        peak = float(np.max(np.abs(x)))
        clicked = clicks(x, SR, rng, rate_hz=2.0, width_ms=[0.1, 1.0],
                         amplitude=[0.3 * peak, 1.0 * peak])
        at = clicked != x
        assert at.sum() > 0
        before = np.sum((clicked[at] - x[at]) ** 2)
        after = np.sum((den.denoise(clicked, SR)[at] - x[at]) ** 2)
        removed.append(1.0 - after / before)
    assert np.median(removed) >= CLICKS_REMOVED


def test_residual_of_a_44k_stereo_record_is_what_was_removed(den, audio_dir, tmp_path):
    src = audio_dir / "fixtures" / "historical" / "vinyl_hiss_44k_stereo.wav"
    res = denoise_file(den, src, tmp_path / "out.wav", residual=True)
    assert res.ok, res.error
    x, sr = sf.read(src, dtype="float32", always_2d=True)
    y, sr_y = sf.read(res.output, dtype="float32", always_2d=True)
    r, sr_r = sf.read(res.residual, dtype="float32", always_2d=True)
    assert sr == sr_y == sr_r == 44100 and x.shape == y.shape == r.shape and x.shape[1] == 2
    np.testing.assert_allclose(y + r, x, atol=2 / 2 ** 15)   # 16-bit files: one LSB each
    # It is all surface noise: the hiss and crackle above 500 Hz go (-9 dB measured); the rumble
    # below 100 Hz (93 % of this record's energy, where music's bass is) mostly stays.
    assert band_energy_db(y, sr, 500.0, axis=0) - band_energy_db(x, sr, 500.0, axis=0) <= -6.0
