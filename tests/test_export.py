"""``noisenil export``: SavedModel, TFLite and ONNX exports of every registered model family
match the Keras model, carry their configuration, and fail with clear errors.
"""

from __future__ import annotations

import importlib.util

import keras
import numpy as np
import pytest

from noisenil.cli import main
from noisenil.config import Config, load_config
from noisenil.models.saving import save_model
from noisenil.errors import ConfigError, MissingDependencyError, NoiseNilError
from noisenil.inference.export import INPUT_NAME, export_model
from noisenil.models import get_hypermodel, list_models

pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="export needs the TensorFlow backend"),
    pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning"),
]

#: Families too slow to export in the default run: none, since the tiny resnet_unet uses the
#: one-block-per-stage ResNet (resnet_tiny) instead of ResNet50.
SLOW: set[str] = set()
#: 32 bins (n_fft=62) by 32-frame patches: the exported input is (batch, 32, time, channels).
OVERRIDES = ["stft.n_fft=62", "stft.hop_length=16"]
TOLERANCE = 1e-4


def families(*, slow: set[str] = SLOW):
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in list_models()]


def tiny_config(representation: str = "magnitude") -> Config:
    return load_config("configs/debug.yaml",
                       overrides=[*OVERRIDES, f"features.representation={representation}"])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """``model_file(family, representation)``: a tiny saved model, built once per module."""
    cache = {}

    def make(family: str, representation: str = "magnitude"):
        if (family, representation) not in cache:
            cfg = tiny_config(representation)
            hm = get_hypermodel(family)
            keras.utils.set_random_seed(0)
            net = type(hm).builder(channels=cfg.features.channels, **hm.tiny)
            path = tmp_path_factory.mktemp(family) / f"{family}_{representation}.keras"
            cache[family, representation] = (save_model(net, path, cfg), net, cfg)
        return cache[family, representation]

    return make


def patch(cfg: Config, width: int | None = None, batch: int = 1, seed: int = 0) -> np.ndarray:
    shape = (batch, cfg.stft.n_bins, width or cfg.patches.width, cfg.features.channels)
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def keras_out(net: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(net(x, training=False))


def check_dims(dims, cfg: Config, family: str, fmt: str) -> bool:
    """The exported input dims are (batch, n_bins, time, channels); returns whether time is
    dynamic. The simplest network and the shipped speech model's family must stay dynamic in
    every format."""
    n_bins, channels = cfg.stft.n_bins, cfg.features.channels
    assert list(dims[1:2]) == [n_bins] and list(dims[3:]) == [channels], dims
    dynamic = dims[2] in (None, -1) or isinstance(dims[2], str)
    assert dynamic or dims[2] == cfg.patches.width, dims
    # resnet_unet's up-sampling is one ResizeBilinear on TensorFlow: dynamic in every format.
    if family in ("dncnn", "resnet_unet") or (family == "two_stage_unet" and fmt == "tflite"):
        assert dynamic, f"{family} {fmt}: time axis not dynamic ({dims})"
    return dynamic


@pytest.mark.parametrize("family", families())
def test_savedmodel_serving_signature_matches_keras(family, model_file, tmp_path):
    import tensorflow as tf

    path, net, cfg = model_file(family)
    out = export_model(path, tmp_path / "sm", format="savedmodel")
    assert out == tmp_path / "sm" and (out / "saved_model.pb").is_file()
    assert load_config(out / "config.yaml") == cfg

    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    spec = serve.structured_input_signature[1][INPUT_NAME]
    dynamic = check_dims(spec.shape.as_list(), cfg, family, "savedmodel")
    for x in [patch(cfg)] + ([patch(cfg, width=40, batch=2, seed=1)] if dynamic else []):
        (y,) = serve(**{INPUT_NAME: tf.constant(x)}).values()
        assert y.shape == x.shape
        assert np.max(np.abs(y.numpy() - keras_out(net, x))) < TOLERANCE


def run_tflite(content: bytes, x: np.ndarray) -> tuple[np.ndarray, list[int]]:
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=content)
    inp = interpreter.get_input_details()[0]
    if list(inp["shape"]) != list(x.shape):
        interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return y, list(inp["shape_signature"])


@pytest.mark.parametrize("family", families())
def test_tflite_matches_keras(family, model_file, tmp_path):
    path, net, cfg = model_file(family)
    out = export_model(path, tmp_path, format="tflite")
    assert out == tmp_path / f"{path.stem}.tflite"
    assert load_config(tmp_path / f"{path.stem}.config.yaml") == cfg

    x = patch(cfg)
    y, dims = run_tflite(out.read_bytes(), x)
    assert np.max(np.abs(y - keras_out(net, x))) < TOLERANCE
    if check_dims(dims, cfg, family, "tflite") and dims[0] == -1:
        x = patch(cfg, width=40, batch=2, seed=1)
        y, _ = run_tflite(out.read_bytes(), x)
        assert np.max(np.abs(y - keras_out(net, x))) < TOLERANCE


@pytest.mark.parametrize("family", families())
def test_onnx_matches_keras(family, model_file, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed "
                              "(pip install 'noisenil[export]')")
    pytest.importorskip("tf2onnx", reason="tf2onnx not installed (pip install 'noisenil[export]')")
    path, net, cfg = model_file(family)
    out = export_model(path, tmp_path / "model.onnx", format="onnx")
    assert load_config(tmp_path / "model.config.yaml") == cfg

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == INPUT_NAME
    dynamic = check_dims(inp.shape, cfg, family, "onnx")
    for x in [patch(cfg)] + ([patch(cfg, width=40, batch=2, seed=1)] if dynamic else []):
        (y,) = session.run(None, {INPUT_NAME: x})
        assert np.max(np.abs(y - keras_out(net, x))) < TOLERANCE


def test_complex_features_export_two_channels(model_file, tmp_path):
    import tensorflow as tf

    path, net, cfg = model_file("dncnn", "complex")
    out = export_model(path, tmp_path / "sm", format="savedmodel")
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    assert serve.structured_input_signature[1][INPUT_NAME].shape.as_list() == [None, 32, None, 2]
    x = patch(cfg) * 2 - 1  # complex features are signed
    (y,) = serve(**{INPUT_NAME: tf.constant(x)}).values()
    assert np.max(np.abs(y.numpy() - keras_out(net, x))) < TOLERANCE


def test_cli_export_prints_the_path(model_file, tmp_path, capsys):
    path, _, _ = model_file("dncnn")
    out = tmp_path / "deploy" / "denoiser.tflite"
    assert main(["export", "--model", str(path), "--format", "tflite", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert out.is_file() and (tmp_path / "deploy" / "denoiser.config.yaml").is_file()
    # An existing export is kept unless --overwrite.
    assert main(["export", "--model", str(path), "--format", "tflite", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", "--model", str(path), "--format", "tflite", "--out", str(out),
                 "--overwrite"]) == 0


def test_cli_export_default_destination_is_beside_the_model(model_file, tmp_path, capsys):
    path, _, _ = model_file("dncnn")
    assert main(["export", "--model", str(path)]) == 0
    out = path.with_name(f"{path.stem}_savedmodel")
    assert (out / "saved_model.pb").is_file() and (out / "config.yaml").is_file()
    assert str(out) in capsys.readouterr().out


def test_cli_reports_a_missing_model(tmp_path, capsys):
    assert main(["export", "--model", str(tmp_path / "nope.keras")]) == 2
    assert "nope.keras" in capsys.readouterr().err


def test_bad_format_names_the_value(model_file):
    path, _, _ = model_file("dncnn")
    with pytest.raises(ConfigError, match=r"format='foo': must be one of savedmodel, tflite, "
                                          r"onnx"):
        export_model(path, format="foo")


def test_missing_model_file(tmp_path):
    with pytest.raises(NoiseNilError, match=r"model='.*missing\.keras': no such file"):
        export_model(tmp_path / "missing.keras", format="tflite")


def test_refuses_to_overwrite_the_model_or_a_foreign_folder(model_file, tmp_path):
    path, _, _ = model_file("dncnn")
    with pytest.raises(NoiseNilError, match="is the model itself"):
        export_model(path, path, format="tflite", overwrite=True)
    folder = tmp_path / "mine"
    (folder / "keep.txt").parent.mkdir()
    (folder / "keep.txt").write_text("data")
    with pytest.raises(NoiseNilError, match="not a SavedModel"):
        export_model(path, folder, format="savedmodel", overwrite=True)
    assert (folder / "keep.txt").read_text() == "data"


def test_onnx_without_tf2onnx_names_the_package(model_file, monkeypatch):
    path, _, _ = model_file("dncnn")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else find_spec(name, *a))
    with pytest.raises(MissingDependencyError, match=r"needs tf2onnx.*noisenil\[export\]"):
        export_model(path, format="onnx")
