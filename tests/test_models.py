"""Every registered model: shapes, finiteness, learning, config and .keras round trips, tuning.

Parametrized over ``list_models()``: a new family inherits every test by registering itself and
declaring its ``tiny`` hyperparameters.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest

import noisenil.models.layers  # noqa: F401  (registers the custom layers for loading)
import noisenil.models.metrics  # noqa: F401
from noisenil.errors import ConfigError
from noisenil.models import get_hypermodel, list_models

MODELS = list_models()
#: Published-size parameter counts (DESIGN.md measured facts).
DEFAULT_PARAMS = {"dncnn": 558_017, "unet": 1_941_093, "resnet_unet": 51_673_111,
                  "two_stage_unet": 38_264_034}


def tiny_model(name: str, channels: int = 1) -> keras.Model:
    hm = get_hypermodel(name, channels=channels, **get_hypermodel(name).tiny)
    return hm.build(kt.HyperParameters())


def batch(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_registry_has_the_baselines_and_rejects_unknown_names():
    assert {"dncnn", "resnet_unet", "two_stage_unet", "unet"} <= set(MODELS)
    with pytest.raises(ConfigError, match=r"model.name='unnet': unknown model; choose one of \["):
        get_hypermodel("unnet")


@pytest.mark.parametrize("name", MODELS)
def test_default_build_is_the_published_size(name):
    model = get_hypermodel(name).build(kt.HyperParameters())
    assert model.input_shape == (None, None, None, 1)
    if name in DEFAULT_PARAMS:
        assert model.count_params() == DEFAULT_PARAMS[name]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("channels", [1, 2])
def test_output_shape_equals_input_for_patches_and_chunks(name, channels):
    model = tiny_model(name, channels)
    for shape in [(2, 128, 128, channels), (1, 128, 200, channels), (1, 37, 53, channels)]:
        y = model(batch(shape), training=False)
        assert tuple(y.shape) == shape
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))


@pytest.mark.parametrize("name", MODELS)
def test_a_few_steps_lower_the_loss_on_a_fixed_batch(name):
    # Training-mode figures from train_on_batch: inference-mode batch-norm statistics barely move
    # in 10 steps, so evaluate() would measure the moving averages, not learning.
    keras.utils.set_random_seed(0)
    hm = get_hypermodel(name, feature_scale={"magnitude_scale": "power"},
                        **get_hypermodel(name).tiny)
    model = hm.build(kt.HyperParameters())
    x = batch((4, 32, 32, 1), seed=1)
    y = x * 0.5  # a learnable mapping (a -20 dB gain on power-law features)
    history = [model.train_on_batch(x, y, return_dict=True) for _ in range(10)]
    first, last = history[0]["loss"], history[-1]["loss"]  # spectral_sdr: dB, of either sign
    assert last < first - 0.05 * abs(first)
    assert history[-1]["snr"] > history[0]["snr"] + 0.5


@pytest.mark.parametrize("name", MODELS)
def test_get_config_round_trip(name):
    model = tiny_model(name, channels=2)
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = batch((1, 32, 48, 2))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone(x)),
                               keras.ops.convert_to_numpy(model(x)), atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_keras_file_reloads_in_safe_mode_without_custom_objects(name, tmp_path):
    model = tiny_model(name)
    x = batch((2, 32, 40, 1))
    model.train_on_batch(x, x * 0.5)  # non-trivial weights and optimizer state
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-5)
    assert loaded.count_params() == model.count_params()


@pytest.mark.parametrize("name", MODELS)
def test_hypermodel_defaults_and_fixed_overrides(name):
    hm = get_hypermodel(name)
    defaults = hm.defaults()
    assert 1e-5 <= defaults["learning_rate"] <= 1e-2
    tiny = get_hypermodel(name, **hm.tiny)
    hp = kt.HyperParameters()
    tiny.build(hp)
    for key, value in hm.tiny.items():
        if key in hm.options:  # chosen builder options are not hyperparameters
            assert tiny.chosen[key] == value and key not in hp.values
        else:
            assert hp.get(key) == value
    others = set(hm.hyperparameter_names()) - set(hm.tiny)
    assert all(hp.get(k) == defaults[k] for k in others if k in defaults)
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        get_hypermodel(name, no_such_knob=3)
    with pytest.raises(ConfigError, match="channels=3"):
        get_hypermodel(name, channels=3)
    with pytest.raises(ConfigError, match="model.loss='huber'"):
        get_hypermodel(name, loss="huber")


@pytest.mark.parametrize("name", MODELS)
def test_one_trial_random_search_completes_with_val_snr(name, tmp_path):
    hm = get_hypermodel(name, **get_hypermodel(name).tiny)
    tuner = kt.RandomSearch(hm, objective=kt.Objective("val_snr", "max"), max_trials=1,
                            directory=str(tmp_path), project_name=name, seed=0)
    x, y = batch((8, 32, 32, 1)), batch((8, 32, 32, 1), seed=2)
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=4, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED"]
    assert np.isfinite(trials[0].score)


def test_bilinear_upsampling_matches_keras_and_takes_any_size():
    from noisenil.models.layers import BilinearUpsample2x

    x = batch((2, 5, 7, 3))
    ref = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)
    np.testing.assert_allclose(np.asarray(BilinearUpsample2x()(x)), np.asarray(ref), atol=1e-6)
    inp = keras.Input((None, None, 3))
    model = keras.Model(inp, BilinearUpsample2x()(inp))
    for width in (7, 9, 11):  # shapes relaxed to unknown after the second one
        assert model.predict_on_batch(batch((1, 4, width, 3))).shape == (1, 8, 2 * width, 3)
