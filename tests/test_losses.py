"""The losses: the waveform-aware ``spectral_sdr`` measured against the waveform it stands for, on
real recordings, and every loss selectable by name for every family, saved and reloaded."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from noisenil.config import Config, FeatureConfig
from noisenil.dsp.audio_io import load_audio
from noisenil.dsp.features import FeatureTransform, segment_samples
from noisenil.dsp.measures import snr
from noisenil.errors import ConfigError
from noisenil.models import get_hypermodel, list_models
from noisenil.models.heads import feature_scale
from noisenil.models.losses import LOSSES, SpectralSDR, get_loss
from noisenil.models.saving import load_model

FRAMES = 256


def patch_pair(audio_dir, features: FeatureConfig, snr_db: float = 5.0):
    """A real speech segment and the same with real noise at ``snr_db``: waveforms and the
    features of their ``center=False`` STFT (``FRAMES`` frames, as training patches are cut)."""
    cfg = Config(features=features)
    n = segment_samples(FRAMES, cfg.stft)
    clean = load_audio(audio_dir / "fixtures/speech/librispeech_198-209-0000_16k.wav")[0][:n]
    noise = load_audio(audio_dir / "fixtures/noise/doing_the_dishes_16k.wav")[0][:n]
    noise = noise * np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    noisy = (clean + noise).astype(np.float32)
    transform = FeatureTransform.from_config(cfg)
    feats = [transform.analyze(x, center=False)[0][None] for x in (clean, noisy)]
    return clean, noisy, feats


def loss_value(loss, y_true, y_pred) -> float:
    return float(keras.ops.convert_to_numpy(loss(y_true, y_pred)))


@pytest.mark.parametrize("snr_db", [-5.0, 5.0, 20.0])
def test_on_complex_features_the_loss_is_the_waveform_snr(audio_dir, snr_db):
    """A Hann STFT at hop n_fft/4 is a tight frame: the complex spectrogram's SDR is the
    waveform's (up to the patch's two edge windows)."""
    features = FeatureConfig(representation="complex", power=0.3)
    clean, noisy, (f_clean, f_noisy) = patch_pair(audio_dir, features, snr_db)
    loss = get_loss("spectral_sdr", channels=2, feature_scale=feature_scale(features))
    assert isinstance(loss, SpectralSDR)
    assert abs(-loss_value(loss, f_clean, f_noisy) - snr(clean, noisy)) < 0.3
    assert loss_value(loss, f_clean, f_clean) < -50.0  # perfect: down at the noise floor


@pytest.mark.parametrize("scale", ["db", "power"])
def test_on_magnitude_features_the_loss_is_the_phase_blind_bound(audio_dir, scale):
    """With the noisy phase reused, only the magnitude error is seen: never more than the
    complex error, and the same on the dB and power-law scales (both invert exactly)."""
    features = FeatureConfig(representation="magnitude", magnitude_scale=scale)
    clean, noisy, (f_clean, f_noisy) = patch_pair(audio_dir, features, 5.0)
    magnitude = loss_value(get_loss("spectral_sdr", feature_scale=feature_scale(features)),
                           f_clean, f_noisy)
    assert -magnitude > snr(clean, noisy) - 0.3  # |(|S| - |S'|)| <= |S - S'|
    assert -magnitude < snr(clean, noisy) + 15.0  # but still the noise's energy, not a log scale
    other = FeatureConfig(representation="magnitude",
                          magnitude_scale="power" if scale == "db" else "db")
    _, _, (g_clean, g_noisy) = patch_pair(audio_dir, other, 5.0)
    again = loss_value(get_loss("spectral_sdr", feature_scale=feature_scale(other)),
                       g_clean, g_noisy)
    assert abs(again - magnitude) < 0.05


def test_the_loss_is_per_patch_and_finite_on_silence(audio_dir):
    features = FeatureConfig()
    _, _, (f_clean, f_noisy) = patch_pair(audio_dir, features, 0.0)
    silent = np.zeros_like(f_clean)  # the dB scale's floor: digital silence
    loss = SpectralSDR(channels=1, magnitude_scale="db", reduction=None)
    per_patch = keras.ops.convert_to_numpy(loss(np.concatenate([f_clean, silent]),
                                                np.concatenate([f_noisy, silent])))
    assert per_patch.shape == (2,)
    assert np.all(np.isfinite(per_patch))
    assert -3.1 < per_patch[1] <= 0.0  # silence for silence: the error is at the floor
    # Noise left in a silent patch costs its level above the floor (speech at ~-45 dB a bin).
    assert loss_value(SpectralSDR(), silent, f_noisy) > 40.0
    # An overflowing prediction (an unbounded head early in training) stays finite.
    assert np.isfinite(loss_value(SpectralSDR(), f_clean, f_noisy + 50.0))


def test_an_unknown_loss_names_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"model.loss='sisdr'.*spectral_sdr"):
        get_loss("sisdr")
    with pytest.raises(ConfigError, match="model.loss"):
        get_hypermodel("unet", loss="sisdr")


@pytest.mark.parametrize("name, loss", [(name, "spectral_sdr") for name in list_models()]
                         + [("dncnn", loss) for loss in LOSSES if loss != "spectral_sdr"])
def test_the_waveform_loss_trains_every_family_and_every_loss_reloads(name, loss, tmp_path, rng):
    keras.utils.set_random_seed(0)
    hm = get_hypermodel(name, loss=loss, **get_hypermodel(name).tiny)
    model = hm.build(kt.HyperParameters())
    x = rng.random((2, 32, 32, 1)).astype(np.float32)
    y = (x * 0.5).astype(np.float32)
    history = model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras", compile=True)
    assert type(again.loss).__name__ == type(model.loss).__name__
    np.testing.assert_allclose(np.asarray(again(x[:1])), np.asarray(model(x[:1])), atol=1e-6)
