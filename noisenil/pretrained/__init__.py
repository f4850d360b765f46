"""The pretrained models shipped with the package, by name (:data:`SHIPPED_MODELS`): ``default``,
the speech model used when no ``--model`` is given, and ``music``, the restoration model for old
records (``MUSIC_MODEL_CARD.md``).

``default.keras`` is a ResNet-encoder U-Net (``resnet_unet`` on ``resnet_tiny``, mask head) for
16 kHz speech, the winner of ``noisenil tune --config configs/speech_model.yaml`` trained on with
``noisenil train --config configs/speech_model_train.yaml`` on ``../shared/audio/train`` + ``dev``
(without RAVDESS); ``default.onnx`` beside it is its ONNX export, which the default runtime runs
without TensorFlow. ``MODEL_CARD.md`` records the data folders, the commands, the training budget
and its held-out evaluation against the classical baselines. The file carries its own
configuration (STFT, features, patches) inside, like every ``.keras`` file that ``noisenil
train`` writes.
"""

from __future__ import annotations

from pathlib import Path

from noisenil.errors import NoiseNilError

_HERE = Path(__file__).resolve().parent

#: File name of the default model inside this folder.
DEFAULT_MODEL = "default.keras"
#: The shipped models: the name ``--model`` accepts -> file name inside this folder. A new model
#: is one entry here plus its file, its ONNX export and a model card; help texts and errors list
#: the names.
SHIPPED_MODELS = {"default": DEFAULT_MODEL, "music": "music.keras"}
#: Each shipped model's card (data, commands, budget, held-out figures) in this folder.
MODEL_CARDS = {"default": "MODEL_CARD.md", "music": "MUSIC_MODEL_CARD.md"}


def default_model_path() -> Path:
    """Path of the shipped default model.

    Raises:
        NoiseNilError: The file is missing (a broken installation).
    """
    path = _HERE / DEFAULT_MODEL
    if not path.is_file():
        raise NoiseNilError(f"the default model {path} is missing from this installation; "
                            f"reinstall noisenil or pass --model M.keras")
    return path


def model_card_path(name: str = "default") -> Path:
    """Path of a shipped model's card (Markdown).

    Raises:
        NoiseNilError: ``name`` is not a shipped model's (the message lists them).
    """
    if name not in MODEL_CARDS:
        raise NoiseNilError(f"model={name!r}: not a shipped model; choose one of "
                            f"{', '.join(SHIPPED_MODELS)}")
    return _HERE / MODEL_CARDS[name]


def shipped_models() -> dict[str, Path]:
    """The models shipped with the package, by the name ``--model`` accepts (the files may be
    missing from a broken installation: :func:`noisenil.models.locate.model_files` says so)."""
    return {name: _HERE / file for name, file in SHIPPED_MODELS.items()}
