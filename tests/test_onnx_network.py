"""The shipped models' ONNX path: parity with their Keras model, and no TensorFlow needed."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from noisenil.dsp.audio_io import load_audio
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.inference.denoiser import Denoiser
from noisenil.inference.onnx_network import OnnxNetwork
from noisenil.pretrained import model_card_path, shipped_models

pytest.importorskip("onnxruntime")
TOLERANCE = 1e-4


@pytest.fixture(scope="module", params=sorted(shipped_models()))
def pair(request):
    """Each shipped model run by onnxruntime and by Keras."""
    onnx = Denoiser.from_file(request.param)
    keras_den = Denoiser.from_file(request.param, runtime="keras")
    assert isinstance(onnx.model, OnnxNetwork) and not isinstance(keras_den.model, OnnxNetwork)
    return onnx, keras_den


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_every_shipped_model_has_its_onnx_export_and_its_card_beside_it(name):
    path = shipped_models()[name]
    assert path.is_file() and path.with_suffix(".onnx").is_file()
    assert model_card_path(name).is_file()


def test_onnx_network_matches_keras_on_real_features(pair, fixture_rows):
    """Network outputs on full-height chunks of real recordings' features (speech, music)."""
    onnx, keras_den = pair
    worst = 0.0
    for row in fixture_rows[:8]:
        x, _ = load_audio(row["path"], sample_rate=onnx.sample_rate, allow_silent=True)
        feats, _ = onnx.features.analyze(x[:onnx.sample_rate * 3])
        chunk = np.zeros((1, 128, 256, 1), np.float32)
        n = min(256, feats.shape[1])
        chunk[0, :feats.shape[0], :n] = feats[:, :n]
        worst = max(worst, float(np.max(np.abs(onnx.predict(chunk) - keras_den.predict(chunk)))))
    assert worst <= TOLERANCE


def test_onnx_and_keras_denoise_real_files_alike(pair, fixture_rows):
    onnx, keras_den = pair
    for row in fixture_rows[:4]:
        x, sr = sf.read(row["path"], dtype="float32", always_2d=True)
        x = x[: 3 * sr].T
        assert np.max(np.abs(onnx.denoise(x, sr) - keras_den.denoise(x, sr))) <= TOLERANCE


def test_runtime_choices_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="runtime='tflite': choose one of"):
        Denoiser.from_file("default", runtime="tflite")
    lone = tmp_path / "model.keras"
    lone.write_bytes(shipped_models()["default"].read_bytes())
    with pytest.raises(NoiseNilError, match="runtime='onnx': no model.onnx beside"):
        Denoiser.from_file(lone, runtime="onnx")
    # A user's model runs through Keras unless asked: a stale .onnx beside it is not used.
    (tmp_path / "model.onnx").write_bytes(shipped_models()["default"].with_suffix(".onnx")
                                          .read_bytes())
    assert not isinstance(Denoiser.from_file(lone).model, OnnxNetwork)
    assert isinstance(Denoiser.from_file(lone, runtime="onnx").model, OnnxNetwork)


def test_the_shipped_model_denoises_without_importing_tensorflow():
    script = ("import sys, numpy as np\n"
              "from noisenil.inference.denoiser import Denoiser\n"
              "y = Denoiser.from_file('default').denoise(np.full(8000, 0.01, np.float32))\n"
              "print(y.shape[0], any(m in sys.modules for m in ('tensorflow', 'keras')))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.split() == ["8000", "False"], proc.stderr[-2000:]


def test_a_shipped_model_exports_from_its_keras_network_not_its_onnx_twin(tmp_path):
    """``noisenil export --model default`` converts the Keras network (it loaded the ONNX twin,
    which cannot be exported, and failed); the result matches the shipped export."""
    pytest.importorskip("tf2onnx")
    from noisenil.inference.export import export_model

    out = export_model("default", tmp_path / "again.onnx", format="onnx")
    rng = np.random.default_rng(0)
    chunk = rng.random((1, 128, 64, 1), dtype=np.float32)
    again = OnnxNetwork(out)(chunk)
    shipped = OnnxNetwork(shipped_models()["default"].with_suffix(".onnx"))(chunk)
    assert np.max(np.abs(again - shipped)) <= 1e-5
