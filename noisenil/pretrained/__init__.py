"""The pretrained default model shipped with the package (used when no ``--model`` is given).

``default.keras`` is a small U-Net trained on real speech and noise in two stages, ``noisenil
train --config configs/default_model.yaml`` then ``configs/default_model_finetune.yaml`` (which
starts from the first's weights with ``train.init_from``); ``MODEL_CARD.md`` beside it records the
data, the command, the training budget and its held-out evaluation against the classical
baselines. The file carries its own configuration (STFT, features, patches) inside, like every
``.keras`` file that ``noisenil train`` writes.
"""

from __future__ import annotations

from pathlib import Path

from noisenil.errors import NoiseNilError

_HERE = Path(__file__).resolve().parent

#: File name of the default model inside this folder.
DEFAULT_MODEL = "default.keras"


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


def model_card_path() -> Path:
    """Path of the default model's model card (Markdown)."""
    return _HERE / "MODEL_CARD.md"


def shipped_models() -> dict[str, Path]:
    """The models shipped with the package, by the name ``--model`` accepts."""
    return {"default": _HERE / DEFAULT_MODEL}
