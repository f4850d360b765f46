"""The configs shipped with noisenil, found by name wherever the package is installed.

``--config debug.yaml`` (or ``--config debug``) and ``extends: quickstart.yaml`` name a shipped
config; they live in ``configs/`` of a source checkout and, after ``pip install .``, in
``<prefix>/share/noisenil/configs/`` (``data_files`` in ``setup.cfg``; ``--user`` installs under
``site.USER_BASE``). :func:`find_config` tries a shipped config's name before a path, so the same
command works from any working directory; ``noisenil configs`` lists them.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

from noisenil.config.validate import fail

#: The shipped configs' folder below an installation prefix.
SHARE_DIR = Path("share") / "noisenil" / "configs"


def config_dirs() -> list[Path]:
    """Where shipped configs may be, in the order they are tried: the source checkout's
    ``configs/``, then ``<sys.prefix>/share/noisenil/configs``, then the user base's."""
    return [Path(__file__).resolve().parents[2] / "configs", Path(sys.prefix) / SHARE_DIR,
            Path(site.USER_BASE or sys.prefix) / SHARE_DIR]


def shipped_configs() -> dict[str, Path]:
    """The shipped configs by file name (``{"base.yaml": path, ...}``), sorted; where a name is
    in several folders of :func:`config_dirs`, the first wins."""
    found: dict[str, Path] = {}
    for root in config_dirs():
        if root.is_dir():
            for path in sorted(root.glob("*.yaml")):
                found.setdefault(path.name, path)
    return dict(sorted(found.items()))


def _shipped(name: str) -> Path | None:
    if Path(name).name != name:  # a path with folders is never a name
        return None
    shipped = shipped_configs()
    return shipped.get(name) or shipped.get(f"{name}.yaml")


def find_config(config: str | os.PathLike, *, key: str = "config") -> Path:
    """The file a ``--config`` value names: a shipped config's name (``debug.yaml``, or
    ``debug``), else a path (relative to the working directory).

    Raises:
        ConfigError: Neither; the message lists the shipped names.
    """
    text = str(config)
    path = _shipped(text)
    if path is not None:
        return path
    path = Path(text).expanduser()
    if not path.is_file():
        fail(key, text, f"file not found, and not a shipped config's name "
                        f"({', '.join(shipped_configs()) or 'none installed'}; see noisenil "
                        f"configs)")
    return path


def find_parent(config: Path, parent: str) -> Path:
    """The file ``extends: parent`` in ``config`` names: beside ``config``, else a shipped
    config of that name (``extends: quickstart.yaml`` from anywhere).

    Raises:
        ConfigError: Neither exists (naming ``extends``, the value and the file).
    """
    beside = config.parent / parent
    if beside.is_file():
        return beside
    shipped = _shipped(parent)
    if shipped is None:
        fail("extends", parent, f"in {config}: no such file beside it, nor a shipped config's "
                                f"name ({', '.join(shipped_configs())})")
    return shipped


def describe_config(path: Path) -> str:
    """The first sentence of a config file's leading comment (for ``noisenil configs``)."""
    lines = []
    for line in Path(path).read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines).replace("`", "")
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


__all__ = ["SHARE_DIR", "config_dirs", "describe_config", "find_config", "find_parent",
           "shipped_configs"]
