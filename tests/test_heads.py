"""The shared output heads, over the registry: bounded masks for every family and representation,
the published heads still selectable, and saved models that reload in safe mode."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from noisenil.errors import ConfigError
from noisenil.models import get_hypermodel, list_models
from noisenil.models.heads import HEADS
from noisenil.models.layers.masks import MagnitudeMask

SCALES = [{"magnitude_scale": "power", "power": 0.3}, {"magnitude_scale": "db", "db_floor": -100.0}]


def build(name, *, channels=1, **kw):
    keras.utils.set_random_seed(0)
    hm = get_hypermodel(name, channels=channels, **kw, **get_hypermodel(name).tiny)
    return hm.build(kt.HyperParameters())


def loud_weights(model, scale=30.0):
    """Push the logits to extremes: a bounded head must stay bounded whatever the weights."""
    conv = model.get_layer("mask_logits")
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel * scale, bias + scale])


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("scale", SCALES, ids=["power", "db"])
def test_the_mask_head_never_raises_a_bin_and_never_cuts_below_the_floor(name, scale, rng):
    model = build(name, head="mask", min_gain_db=-20.0, feature_scale=scale)
    x = rng.random((2, 40, 24, 1)).astype(np.float32)
    for sign in (1.0, -1.0):  # logits driven to +inf (gain 1) and -inf (gain g_min)
        loud_weights(model, 30.0 * sign)
        y = np.asarray(model(x))
        assert np.all(y <= x + 1e-6)
        if scale["magnitude_scale"] == "power":  # f * g^p with g >= 0.1
            assert np.all(y >= x * 0.1 ** 0.3 - 1e-6)
        else:  # f + 20 log10(g) / 100, floored at 0
            assert np.all(y >= np.maximum(x - 20.0 / 100.0, 0.0) - 1e-6)


@pytest.mark.parametrize("name", list_models())
def test_the_complex_mask_keeps_every_bin_within_its_input_magnitude(name, rng):
    model = build(name, channels=2, head="mask")
    loud_weights(model)
    x = rng.standard_normal((1, 40, 24, 2)).astype(np.float32)
    y = np.asarray(model(x))
    assert np.all(np.hypot(y[..., 0], y[..., 1]) <= np.hypot(x[..., 0], x[..., 1]) + 1e-5)


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("head", HEADS)
def test_every_head_builds_and_reloads_in_safe_mode(name, head, tmp_path, rng):
    model = build(name, head=head)
    x = rng.random((1, 32, 16, 1)).astype(np.float32)
    path = tmp_path / f"{name}_{head}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-5)
    layer_types = {type(layer).__name__ for layer in model.layers}
    assert ("MagnitudeMask" in layer_types) == (head == "mask")


def test_head_options_are_checked_and_retired_pins_named():
    with pytest.raises(ConfigError, match="model.head='gain': choose one of"):
        get_hypermodel("unet", head="gain")
    with pytest.raises(ConfigError, match="model.min_gain_db=3"):
        get_hypermodel("dncnn", min_gain_db=3)
    with pytest.raises(ConfigError, match=r"\['mask'\] retired.*model.head"):
        get_hypermodel("unet", mask=True)


def test_the_mask_layer_is_a_gain_on_magnitudes():
    """On power-law features a gain g on |S| is g^p on the features, exactly."""
    layer = MagnitudeMask(min_gain_db=-40.0, magnitude_scale="power", power=0.5)
    logits = np.zeros((1, 1, 1, 1), np.float32)  # sigmoid 0.5
    g = 0.01 + 0.99 * 0.5
    out = np.asarray(layer([logits, np.full((1, 1, 1, 1), 0.8, np.float32)]))
    np.testing.assert_allclose(out, 0.8 * g ** 0.5, rtol=1e-6)
