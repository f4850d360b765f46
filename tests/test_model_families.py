"""Family-specific model tests: the two-stage U-Net's structure (seed 001) and the ResNet U-Net's
encoder (named skips, weights, freezing). The registry-wide tests are in test_models.py.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest

from noisenil.errors import ConfigError
from noisenil.models.layers import FrequencyEmbedding, SupervisedAttention
from noisenil.models import get_hypermodel
from noisenil.models.resnet_unet import (ENCODER_FEATURES, build_resnet_encoder,
                                         imagenet_weights_path)
from noisenil.models.staged_model import StagedModel
from noisenil.models.two_stage_unet import build_two_stage_unet


def batch(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


# ---------------------------------------------------------------- two_stage_unet (seed 001)

def test_two_stage_has_two_supervised_outputs_and_a_sam():
    model = build_two_stage_unet(channels=2, depth=2, filters=4)
    assert isinstance(model, StagedModel)
    assert [o.shape for o in model.outputs] == [(None, None, None, 2)] * 2
    assert len([layer for layer in model.layers if isinstance(layer, SupervisedAttention)]) == 1
    assert not [layer for layer in model.layers if "normalization" in type(layer).__name__.lower()]
    x = batch((2, 32, 24, 2))
    final, stage1 = model(x, training=True)
    assert final.shape == stage1.shape == x.shape
    # Outside training the model keeps the one-tensor contract, and it is the final stage.
    np.testing.assert_allclose(numpy(model(x, training=False)), numpy(final), atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), numpy(final), atol=1e-5)


def test_two_stage_stage1_is_input_plus_predicted_residual():
    model = build_two_stage_unet(depth=2, filters=4)
    sam = model.get_layer("sam")
    features, spectrogram = sam.input
    probe = keras.Model(model.input, [features, spectrogram, sam.output[1]])
    x = batch((1, 37, 53, 1), seed=3)  # padded inside to 40x56
    f, padded, stage1 = (numpy(t) for t in probe(x))
    np.testing.assert_array_equal(padded[:, :37, :53], x)
    # A fresh stage 1 returns its input exactly (the noise convolution starts at zero) ...
    np.testing.assert_array_equal(numpy(sam.predict_noise(f)), 0.0)
    np.testing.assert_array_equal(stage1, padded)
    # ... and once it has weights, stage 1 = input + its noise estimate.
    kernel, bias = sam.noise_conv.get_weights()
    rng = np.random.default_rng(0)
    sam.noise_conv.set_weights([rng.normal(0, 0.1, kernel.shape).astype("float32"), bias])
    f, padded, stage1 = (numpy(t) for t in probe(x))
    noise = numpy(sam.predict_noise(f))
    assert np.abs(noise).max() > 1e-3  # a real prediction, not zeros
    np.testing.assert_allclose(stage1, padded + noise, atol=1e-5)
    _, stage1_out = model(x, training=True)
    np.testing.assert_allclose(numpy(stage1_out), stage1[:, :37, :53], atol=1e-5)


def test_two_stage_loss_sums_both_stages():
    model = build_two_stage_unet(depth=2, filters=4)
    hm = get_hypermodel("two_stage_unet", loss="l1")
    hm.compile(model, 1e-4)
    x, y = batch((2, 16, 16, 1)), batch((2, 16, 16, 1), seed=1)
    final, stage1 = (numpy(t) for t in model(x, training=True))
    expected = np.abs(final - y).mean() + np.abs(stage1 - y).mean()
    loss = numpy(model.compute_loss(x, y, model(x, training=True), training=True))
    assert loss == pytest.approx(expected, rel=1e-5)
    # Validation reports the final output's loss and metrics under plain names.
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(np.abs(final - y).mean(), rel=1e-5)
    assert set(logs) == {"loss", "snr"}


def test_two_stage_uses_the_papers_optimizer_settings():
    model = get_hypermodel("two_stage_unet", depth=2, filters=4).build(kt.HyperParameters())
    assert float(model.optimizer.beta_1) == 0.5 and float(model.optimizer.beta_2) == 0.9
    assert float(numpy(model.optimizer.learning_rate)) == pytest.approx(1e-4)


def test_frequency_embedding_channels():
    x = np.zeros((2, 5, 3, 1), "float32")
    y = numpy(FrequencyEmbedding(10)(x))
    assert y.shape == (2, 5, 3, 11)
    n = np.arange(5) / 4
    for k in range(10):
        np.testing.assert_allclose(y[0, :, 1, 1 + k], np.cos(2 ** k * np.pi * n), atol=1e-5)
    np.testing.assert_array_equal(y[1], y[0])  # the same for every item and frame


# ---------------------------------------------------------------- resnet_unet (seed 002)

@pytest.mark.parametrize("backbone", sorted(ENCODER_FEATURES))
def test_resnet_encoder_exposes_the_named_skips_at_the_right_scales(backbone):
    encoder = build_resnet_encoder(backbone)
    _, skips, bottleneck = ENCODER_FEATURES[backbone]
    assert encoder.name == "encoder"
    assert set(encoder.output) == {*skips, bottleneck}
    out = encoder(np.zeros((1, 64, 96, 3), "float32"))
    for name, scale in zip((*skips, bottleneck), (2, 4, 8, 16, 32)):
        assert tuple(out[name].shape[1:3]) == (64 // scale, 96 // scale), name
    if backbone == "resnet101":
        assert skips == ("conv1_relu", "conv2_block3_out", "conv3_block4_out",
                         "conv4_block23_out")


def test_resnet_unet_takes_an_injected_encoder_with_its_skip_names():
    """Any image model with layers at 1/2 ... 1/32 resolution: here the tiny ResNet, named."""
    from noisenil.models.resnet_unet import build_resnet_unet, build_tiny_resnet

    _, skips, bottleneck = ENCODER_FEATURES["resnet_tiny"]
    model = build_resnet_unet(encoder=build_tiny_resnet(4), skips=skips, bottleneck=bottleneck,
                              decoder_filters=2)
    assert model.get_layer("encoder").output[bottleneck].shape[-1] == 64  # 16 x 4 filters
    x = batch((1, 40, 24, 1))
    assert tuple(model(x).shape) == (1, 40, 24, 1)
    with pytest.raises(ConfigError, match=r"encoder skips \['conv9_out'\]: not layers"):
        build_resnet_unet(encoder=build_tiny_resnet(4), skips=("conv9_out",),
                          bottleneck=bottleneck)
    with pytest.raises(ConfigError, match="without skips and bottleneck"):
        build_resnet_unet(encoder=build_tiny_resnet(4))


def test_resnet_unet_rejects_unknown_backbones_and_missing_weights(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="model.backbone='resnet18'"):
        get_hypermodel("resnet_unet", backbone="resnet18").build(kt.HyperParameters())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert imagenet_weights_path("resnet50").startswith(str(tmp_path))
    with pytest.raises(ConfigError, match="model.weights='imagenet': no weights file at .*never "
                                          "downloaded"):
        build_resnet_encoder("resnet50", "imagenet")
    with pytest.raises(ConfigError, match="no weights file at"):
        build_resnet_encoder("resnet50", str(tmp_path / "missing.weights.h5"))


def test_resnet_unet_loads_local_encoder_weights(tmp_path):
    source = build_resnet_encoder("resnet_tiny")
    source.set_weights([w + 0.01 for w in source.get_weights()])
    path = tmp_path / "resnet_tiny_notop.weights.h5"
    keras.Model(source.input, source.output).save_weights(path)
    model = get_hypermodel("resnet_unet", backbone="resnet_tiny", weights=str(path),
                           decoder_filters=4).build(kt.HyperParameters())
    loaded = model.get_layer("encoder").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(loaded, source.get_weights()))


def test_resnet_unet_freezes_the_encoder_for_the_first_epochs():
    keras.utils.set_random_seed(0)
    hm = get_hypermodel("resnet_unet", backbone="resnet_tiny", decoder_filters=4, freeze_epochs=1)
    hp = kt.HyperParameters()
    model = hm.build(hp)
    encoder, decoder_conv = model.get_layer("encoder"), model.get_layer("dec4_conv0")
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append((encoder.get_weights()[0].copy(), decoder_conv.get_weights()[0].copy()))

    start = (encoder.get_weights()[0].copy(), decoder_conv.get_weights()[0].copy())
    x = batch((4, 32, 32, 1))
    history = hm.fit(hp, model, x, x * 0.5, epochs=2, batch_size=4, verbose=0,
                     callbacks=[Snapshot()])
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2
    np.testing.assert_array_equal(snapshots[0][0], start[0])  # epoch 0: encoder frozen
    assert not np.array_equal(snapshots[0][1], start[1])  # ... while the decoder learns
    assert not np.array_equal(snapshots[1][0], snapshots[0][0])  # epoch 1: encoder trains
    assert encoder.trainable


# ---------------------------------------------------------------- the model config section

def test_model_config_builds_the_named_family_with_its_channels():
    from noisenil.config import load_config
    from noisenil.models import hypermodel_from_config

    cfg = load_config(overrides=["model.name=two_stage_unet", "model.loss=l1",
                                 "model.hparams={depth: 2, filters: 4}",
                                 "features.representation=complex"])
    hm = hypermodel_from_config(cfg)
    model = hm.build(kt.HyperParameters())
    assert (hm.family, hm.loss, hm.channels) == ("two_stage_unet", "l1", 2)
    assert model.input_shape == (None, None, None, 2)
    with pytest.raises(ConfigError, match="model.name='dncn': unknown model"):
        hypermodel_from_config(load_config(overrides=["model.name=dncn"]))
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        hypermodel_from_config(load_config(overrides=["model.hparams={depht: 3}"]))
    with pytest.raises(ConfigError, match="model.loss='huber'"):
        load_config(overrides=["model.loss=huber"])


# ---------------------------------------------------------------- unet head width

def test_unet_residual_head_subtracts_the_predicted_noise():
    from noisenil.models.unet import build_unet

    x = batch((2, 40, 24, 1), seed=3) + 0.1
    residual = build_unet(base_filters=4, depth=2, dropout=0.0, head="residual")
    noise = keras.Model(residual.inputs, residual.get_layer("noise").output)
    np.testing.assert_allclose(numpy(residual(x)), x - numpy(noise(x)), atol=1e-6)
    # A wider body end is the only difference in parameters from the seed-004 width.
    wide = build_unet(base_filters=4, depth=2, dropout=0.0, head_filters=4)
    narrow = build_unet(base_filters=4, depth=2, dropout=0.0)
    assert wide.count_params() - narrow.count_params() == (3 * 3 * 4 + 1) * 2 + 2 * 1


def test_unet_refuses_a_head_below_one_filter():
    from noisenil.models.unet import build_unet

    with pytest.raises(ConfigError, match="head_filters=0"):
        build_unet(head_filters=0)
