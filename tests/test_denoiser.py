"""``Denoiser``: the inference path (chunks, overlap-add, exact length, rates, channels), the
configuration carried inside ``.keras`` files, and the throughput counters."""

from __future__ import annotations

import logging
import zipfile

import keras
import keras_tuner as kt
import numpy as np
import pytest

from noisenil.config import load_config, save_config
from noisenil.dsp.levels import active_rms, normalising_gain
from noisenil.inference.denoiser import Denoiser
from noisenil.models.saving import (CONFIG_ENTRY, embed_config, embedded_config,
                               model_config, save_model)
from noisenil.errors import AudioError, NoiseNilError
from noisenil.models import get_hypermodel, list_models


def identity_model(channels: int = 1) -> keras.Model:
    inp = keras.Input((None, None, channels))
    return keras.Model(inp, keras.layers.Identity()(inp), name="identity")


def tiny_model(name: str) -> keras.Model:
    return get_hypermodel(name, **get_hypermodel(name).tiny).build(kt.HyperParameters())


def band_limited(rng, seconds: float, sr: int, top_hz: float = 3000.0) -> np.ndarray:
    """A sum of sines below ``top_hz`` (survives resampling to 16 kHz and back)."""
    t = np.arange(int(seconds * sr)) / sr
    freqs = rng.uniform(100, top_hz, 8)
    x = sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, rng.uniform(0, 6, 8)))
    return (0.05 * x).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.05, 0.9, 3.0, 11.3])
def test_an_identity_network_gives_back_its_input_at_any_length(seconds, rng):
    """Chunks (one short, several long), cross-fades and ISTFT put every sample back."""
    den = Denoiser(identity_model(), load_config())
    x = (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)
    y = den.denoise(x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.max(np.abs(y - x)) < 1e-5


@pytest.mark.parametrize("sr", [8000, 44100, 48000])
def test_other_rates_and_stereo_come_back_at_their_rate_and_channel_count(sr, rng):
    den = Denoiser(identity_model(), load_config())
    x = np.stack([band_limited(rng, 1.3, sr), band_limited(rng, 1.3, sr, 2000.0)])
    y = den.denoise(x, sample_rate=sr)
    assert y.shape == x.shape
    err = np.sqrt(np.mean((y - x) ** 2) / np.mean(x ** 2))
    assert err < 0.01  # only the resampler's band edge and the ends differ


def test_chunked_inference_equals_one_pass_for_a_pointwise_network(rng):
    """With no receptive field across frames, the chunk plan's cross-fades are exact: the one
    inference path gives what the network applied to the whole spectrogram at once gives."""
    inp = keras.Input((None, None, 1))
    model = keras.Model(inp, keras.layers.Activation("sigmoid")(inp))
    cfg = load_config(overrides=["patches.chunk_width=256", "patches.chunk_overlap=64"])
    den = Denoiser(model, cfg, max_gain_db=None)
    x = (0.1 * rng.standard_normal(64 * 1000)).astype(np.float32)  # 1001 frames: 5 chunks
    g = normalising_gain(active_rms(x, 16000))  # the level gain the inference path applies
    feats, spec = den.features.analyze(g * x)
    whole = keras.ops.convert_to_numpy(model(feats[None]))[0]
    one_pass = den.features.synthesize(whole, length=len(x), phase_from=spec) / g
    inner = slice(0, len(x) - cfg.stft.n_fft)  # the path adds frames past the end: see streaming
    assert np.max(np.abs(den.denoise(x)[inner] - one_pass[inner])) < 1e-6


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_denoises_mono_and_stereo_files(name, rng):
    den = Denoiser(tiny_model(name), load_config(), name=name)
    # Three lengths, so three chunk widths: Keras then traces the network for unknown widths
    # (bilinear UpSampling2D failed there on TensorFlow; the ResNet U-Net's decoder).
    for samples in (16000, 7000, 27000):
        mono = (0.1 * rng.standard_normal(samples)).astype(np.float32)
        y = den.denoise(mono)
        assert y.shape == mono.shape and np.all(np.isfinite(y))
    stereo = (0.1 * rng.standard_normal((2, 22050))).astype(np.float32)
    assert den.denoise(stereo, sample_rate=22050).shape == stereo.shape
    assert den.params == tiny_model(name).count_params()


@pytest.mark.parametrize("representation", ["magnitude", "complex"])
def test_no_bin_gains_more_than_max_gain_db_over_the_noisy_input(representation, rng):
    """A network that adds +5 to every feature (+500 dB in the dB scale) is held to +6 dB."""
    channels = 1 if representation == "magnitude" else 2
    inp = keras.Input((None, None, channels))
    wild = keras.Model(inp, keras.layers.Rescaling(1.0, offset=5.0)(inp))
    cfg = load_config(overrides=[f"features.representation={representation}"])
    x = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    y = Denoiser(wild, cfg).denoise(x)
    assert np.all(np.isfinite(y))
    assert np.sqrt(np.mean(y ** 2)) <= 2.0 * np.sqrt(np.mean(x ** 2)) * 1.01
    # In the spectrogram every bin is at most 2x (+6 dB) the noisy one.
    den = Denoiser(wild, cfg)
    feats, spec = den.features.analyze(x)
    bounded = den.features.decode(den.bound_features(feats + 5.0, spec), phase_from=spec)
    assert np.all(np.abs(bounded) <= 2.0 * np.abs(spec) * (1 + 1e-4) + 1e-7)
    assert np.mean(np.abs(bounded) >= 1.99 * np.abs(spec)) > 0.9  # the cap is what binds
    unbounded = Denoiser(wild, cfg, max_gain_db=None).denoise(x)
    assert not np.all(np.isfinite(unbounded)) or np.max(np.abs(unbounded)) > 100


def test_throughput_counts_patches_and_real_time_factor(rng):
    den = Denoiser(identity_model(), load_config())
    den.denoise(np.zeros(48000, np.float32) + 0.01)
    # 751 frames -> chunks of 512 frames overlapping by 64: starts 0 and 448, 2 x (512/128) = 8
    assert den.throughput.patches == pytest.approx(8.0)
    assert den.throughput.audio_seconds == pytest.approx(3.0)
    assert 0 < den.throughput.rtf < 10
    den.throughput.reset()
    assert den.throughput.patches == 0 and np.isnan(den.throughput.rtf)


def test_bad_audio_is_refused_naming_the_argument():
    den = Denoiser(identity_model(), load_config())
    with pytest.raises(AudioError, match=r"NaN or Inf samples \(first at 0.00 s\)"):
        den.denoise(np.array([0.1, np.nan, 0.2], np.float32))
    with pytest.raises(AudioError, match=r"audio of shape \(1, 2, 3\): expected"):
        den.denoise(np.zeros((1, 2, 3), np.float32))


# --- configuration carried with the model ---------------------------------------------------

def test_save_model_embeds_the_config_and_plain_keras_still_loads_it(tmp_path, rng):
    cfg = load_config(overrides=["stft.hop_length=32", "model.name=dncnn"])
    model = tiny_model("dncnn")
    path = save_model(model, tmp_path / "m.keras", cfg)
    assert CONFIG_ENTRY in zipfile.ZipFile(path).namelist()
    assert embedded_config(path) == cfg
    plain = keras.saving.load_model(path, safe_mode=True, compile=False)
    x = rng.random((1, 32, 32, 1), dtype=np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(plain(x)),
                               keras.ops.convert_to_numpy(model(x)), atol=1e-6)
    den = Denoiser.from_file(path)
    assert den.cfg.stft.hop_length == 32 and den.config_source == "embedded"
    assert den.name == "m"
    # Replacing the embedded copy leaves exactly one entry.
    embed_config(path, load_config())
    names = zipfile.ZipFile(path).namelist()
    assert names.count(CONFIG_ENTRY) == 1 and embedded_config(path) == load_config()


@pytest.mark.parametrize("name", list_models())
def test_save_model_leaves_out_the_optimizer_state_of_a_trained_model(name, tmp_path, rng):
    model = tiny_model(name)  # compiled by the hypermodel
    x = rng.random((2, 32, 32, 1), dtype=np.float32)
    model.fit(x, x, epochs=1, batch_size=2, verbose=0)  # builds the optimizer's slots
    assert model.optimizer.variables
    path = save_model(model, tmp_path / "m.keras", load_config())
    with zipfile.ZipFile(path) as zf:
        zf.extract("model.weights.h5", tmp_path)
    import h5py

    with h5py.File(tmp_path / "model.weights.h5") as h5:
        assert "optimizer" not in h5 or not len(h5["optimizer"])
    den = Denoiser.from_file(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(den.model(x)),
                               keras.ops.convert_to_numpy(model(x)), atol=1e-5)
    assert den.model.count_params() == model.count_params()


def test_config_found_beside_the_model_then_in_its_parent_then_defaults(tmp_path, caplog):
    model = identity_model()
    run = tmp_path / "exp" / "dncnn"
    run.mkdir(parents=True)
    path = run / "best.keras"
    model.save(path)  # no embedded config
    save_config(load_config(overrides=["stft.hop_length=48"]), tmp_path / "exp" / "config.yaml")
    cfg, source = model_config(path)
    assert cfg.stft.hop_length == 48 and source.endswith("exp/config.yaml")
    save_config(load_config(overrides=["stft.hop_length=40"]), run / "best_hparams.yaml")
    assert model_config(path)[0].stft.hop_length == 40
    assert Denoiser.from_file(path).name == "dncnn"  # best.keras is named after its folder
    lone = tmp_path / "lone.keras"
    model.save(lone)
    with caplog.at_level(logging.WARNING):
        assert model_config(lone) == (load_config(), "defaults")
    assert "carries no noisenil configuration" in caplog.text


def test_missing_or_broken_model_files_name_the_file(tmp_path):
    with pytest.raises(NoiseNilError, match=r"model='.*nope.keras': no such file"):
        Denoiser.from_file(tmp_path / "nope.keras")
    bad = tmp_path / "bad.keras"
    bad.write_text("not a zip")
    with pytest.raises(NoiseNilError, match=r"model='.*bad.keras': not a .keras model file \(not a "
                                            r"readable zip archive"):
        Denoiser.from_file(bad)
