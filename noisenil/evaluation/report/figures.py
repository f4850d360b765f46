"""Saving report figures: every figure is drawn on a :class:`matplotlib.figure.Figure` with
its own Agg canvas, never through ``pyplot`` (no GUI backend, no global figure state, safe in
threads, notebooks and headless servers), and written as one PNG at :data:`DPI`."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: Resolution of every figure, in dots per inch.
DPI = 110


def _palette(cmap: str):
    """A PIL palette image: 224 steps of ``cmap`` and 32 greys (text, axes, white)."""
    from PIL import Image  # a matplotlib dependency

    colours = colormaps[cmap](np.linspace(0.0, 1.0, 224))[:, :3]
    greys = np.repeat(np.linspace(0.0, 1.0, 32)[:, None], 3, axis=1)
    palette = Image.new("P", (1, 1))
    palette.putpalette((np.concatenate([colours, greys]) * 255).round().astype(np.uint8)
                       .ravel().tolist())
    return palette


def save_png(fig: Figure, path: str | Path, *, cmap: str | None = None) -> Path:
    """Write ``fig`` as PNG at ``DPI``.

    With ``cmap`` (spectrogram figures) the image is stored with a 256-colour palette of that
    colour map plus greys: visually identical, about 2.5 times smaller than RGB for the
    noise-like texture of spectrograms, which keeps self-contained HTML reports small.
    """
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas = FigureCanvasAgg(fig)
    if cmap is None:
        fig.savefig(path, dpi=DPI, format="png")
    else:
        canvas.draw()
        rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
        rgb.quantize(palette=_palette(cmap), dither=0).save(  # 0: no dithering (any Pillow)
            path, format="PNG", optimize=True)
    logger.debug("wrote %s", path)
    return path
