"""The folder layouts ``--data DIR`` names, recognised once for every command.

``DIR`` holds sub-folders whose names say what they are:

- ``clean/`` + ``noisy/``: paired recordings, matched by relative file name (any sub-folders
  whose names contain ``clean`` and ``noisy``);
- ``clean/`` + ``noise/``: clean recordings and noises, mixed at an SNR (the demo corpus);
- a VoiceBank-DEMAND root (``clean_trainset_28spk_wav/``, ``noisy_trainset_28spk_wav/``,
  ``clean_testset_wav/``, ``noisy_testset_wav/``): where there are several folders of a kind,
  the one named ``train`` is used for training (``check-data``, ``train``, ``tune``,
  ``quickstart``) and the one named ``test`` for scoring (``evaluate``, ``compare``).

:func:`find_layout` reads the folder names only (no audio, no numpy), so the command line checks
``--data`` before it imports TensorFlow; :func:`data_overrides` turns a layout into the
``data.*`` settings training reads; :func:`check_data_folders` checks that the folders a
configuration names exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from noisenil.errors import DatasetError

logger = logging.getLogger(__name__)

#: The folder kinds, in the order their names are tested (``noisy`` before ``noise``).
KINDS = ("clean", "noisy", "noise")


@dataclass(frozen=True)
class DataLayout:
    """What a ``--data`` folder holds.

    Attributes:
        root: The folder given.
        clean: The clean recordings.
        noisy: The noisy recordings paired with them (``None`` for clean + noise).
        noise: The noises to mix with them (``None`` for paired data).
    """

    root: Path
    clean: Path
    noisy: Path | None = None
    noise: Path | None = None

    @property
    def mode(self) -> str:
        """``data.mode`` for this layout: ``paired`` or ``mixing``."""
        return "paired" if self.noisy is not None else "mixing"

    def overrides(self) -> list[str]:
        """The ``data.*`` overrides that point a configuration at these folders."""
        other = (f"data.noisy_dir={self.noisy}" if self.noisy is not None
                 else f"data.noise_dir={self.noise}")
        return [f"data.mode={self.mode}", f"data.clean_dir={self.clean}", other]

    def describe(self) -> str:
        """``clean_testset_wav/ + noisy_testset_wav/``: the two folders, for messages."""
        other = self.noisy if self.noisy is not None else self.noise
        return f"{self.clean.name}/ + {other.name}/"


def _classify(root: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {k: [] for k in KINDS}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        low = d.name.lower()
        kind = next((k for k in KINDS if k in low), None)
        if kind is not None:
            found[kind].append(d)
    return found


def find_layout(data: str | Path, *, use: Literal["train", "test"] = "train",
                key: str = "data") -> DataLayout:
    """Recognise the layout of a ``--data`` folder (see the module docstring).

    Args:
        data: The folder.
        use: ``"train"`` or ``"test"``: which folder of a kind to take where there are several.
        key: The option's name in error messages.

    Returns:
        A :class:`DataLayout` (paired when both ``noisy`` and ``noise`` folders exist).

    Raises:
        DatasetError: Not a folder, no clean + noisy or clean + noise sub-folders, or several
            folders of a kind and not exactly one of them named ``use``.
    """
    root = Path(data).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"{key}={str(data)!r}: no such folder")
    found = _classify(root)
    for kind, dirs in found.items():
        if len(dirs) > 1:
            named = [d for d in dirs if use in d.name.lower()]
            if len(named) != 1:
                raise DatasetError(f"{key}={str(data)!r}: several {kind} folders "
                                   f"{[d.name for d in dirs]}, {len(named)} of them named "
                                   f"{use!r}; point --data at one layout")
            logger.info("%s: %s folders %s: using %s/", root, kind, [d.name for d in dirs],
                        named[0].name)
            found[kind] = named
    first = {k: v[0] for k, v in found.items() if v}
    if "clean" in first and ("noisy" in first or "noise" in first):
        return DataLayout(root, first["clean"], noisy=first.get("noisy"),
                          noise=None if "noisy" in first else first["noise"])
    raise DatasetError(
        f"{key}={str(data)!r}: expected sub-folders clean/ + noisy/ (paired) or clean/ + noise/ "
        f"(mixed at an SNR), or a VoiceBank-DEMAND folder (clean_*/ + noisy_*/); found "
        f"{sorted(p.name for p in root.iterdir())}")


def data_overrides(data: str | Path, *, key: str = "data") -> list[str]:
    """Config overrides that train on a ``--data`` folder (its ``train`` folders, if several).

    Raises:
        DatasetError: See :func:`find_layout`.
    """
    return find_layout(data, use="train", key=key).overrides()


def check_data_folders(data_cfg) -> None:
    """Check that the folders a data section (:class:`~noisenil.config.DataConfig`) reads exist.

    Raises:
        DatasetError: A folder the mode needs is missing (any of a list), naming its key.
    """
    needed = {"paired": ("clean_dir", "noisy_dir"), "mixing": ("clean_dir", "noise_dir")}
    for name in needed.get(data_cfg.mode, ()):
        value = getattr(data_cfg, name)
        for folder in (value if isinstance(value, (list, tuple)) else [value]):
            if folder and not Path(folder).expanduser().is_dir():
                raise DatasetError(f"data.{name}={folder!r}: folder not found")


__all__ = ["DataLayout", "KINDS", "check_data_folders", "data_overrides", "find_layout"]
