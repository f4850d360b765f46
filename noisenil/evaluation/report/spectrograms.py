"""Spectrogram figures for evaluation reports: a row of panels (noisy / denoised / clean /
removed) and a grid of examples by methods, each on one colour scale.

Figures are drawn and saved as in :mod:`noisenil.evaluation.report.figures` (no ``pyplot``),
as 256-colour palette PNGs that keep self-contained HTML reports small; each function writes
one PNG and returns its path; parent folders are created.

Spectrograms are ``(freq, frames)`` arrays of magnitudes in dB re a full-scale sinusoid (0 dB
is a full-scale tone, as in :mod:`noisenil.dsp.features`); :func:`spectrogram_db` makes them from
waveforms. Frequency bins are taken to span 0 to ``sample_rate / 2``; frame ``t`` starts at
``t * hop / sample_rate`` seconds.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from noisenil.config import StftConfig
from noisenil.errors import ConfigError
from noisenil.dsp.checks import check_rate
from noisenil.evaluation.report.figures import DPI, save_png

#: Width, in inches, that :func:`spectrogram_grid` keeps to while columns are at least 1.5 in.
GRID_WIDTH = 11.0
#: Default span of the spectrogram colour scale below the loudest bin shown, in dB.
DYNAMIC_RANGE_DB = 80.0
#: Floor of :func:`spectrogram_db`, in dB re full scale (the features' ``db_floor``).
DB_FLOOR = -100.0
CMAP = "magma"
#: Colour-bar label of the spectrogram figures (the scale of :func:`spectrogram_db`).
COLORBAR_LABEL = "dB re full scale"


def _check_rate_hop(sample_rate: int, hop: int) -> None:
    check_rate(sample_rate)
    if not (isinstance(hop, (int, np.integer)) and hop > 0):
        raise ConfigError(f"hop={hop!r} must be a positive integer (samples)", key="hop")


def _check_spec(name: str, spec: np.ndarray) -> np.ndarray:
    s = np.asarray(spec, dtype=np.float64)
    if s.ndim != 2 or s.size == 0:
        raise ConfigError(f"spectrogram {name!r}: expected a non-empty 2-D (freq, frames) array, "
                          f"got shape {s.shape}", key="panels")
    return s


def _colour_limits(specs: Sequence[np.ndarray], dynamic_range_db: float) -> tuple[float, float]:
    if not dynamic_range_db > 0:
        raise ConfigError(f"dynamic_range_db={dynamic_range_db!r} must be positive",
                          key="dynamic_range_db")
    peaks = [float(np.nanmax(s)) for s in specs if np.isfinite(s).any()]
    vmax = max(peaks) if peaks else 0.0
    return vmax - dynamic_range_db, vmax


def _draw_spec(ax, spec: np.ndarray, sample_rate: int, hop: int, vmin: float, vmax: float):
    extent = (0.0, spec.shape[1] * hop / sample_rate, 0.0, sample_rate / 2000.0)
    # "antialiased" low-passes when downsampling long spectrograms: truer and far smaller PNGs.
    return ax.imshow(spec, origin="lower", aspect="auto", extent=extent, cmap=CMAP,
                     vmin=vmin, vmax=vmax, interpolation="antialiased")


def spectrogram_db(x: np.ndarray, *, stft: StftConfig | None = None,
                   floor_db: float = DB_FLOOR) -> np.ndarray:
    """dB magnitude spectrogram of a waveform, for figures.

    Uses :func:`noisenil.dsp.features.stft` (``center=True``) and the features' fixed full-scale
    reference, so figures share the networks' scale: 0 dB is a full-scale sinusoid.

    Args:
        x: Waveform ``(samples,)``, float in [-1, 1].
        stft: STFT settings; :class:`~noisenil.config.StftConfig` defaults (``n_fft=254``, hop 64)
            when omitted. Pass ``hop=stft.hop_length`` to the figure functions.
        floor_db: Lowest level returned, in dB re full scale.

    Returns:
        float32 ``(n_fft // 2 + 1, frames)``, in ``[floor_db, ~0]`` dB.
    """
    from noisenil.dsp import features

    cfg = stft or StftConfig()
    mag = np.abs(features.stft(np.asarray(x, dtype=np.float32), cfg))
    rel = mag / features.full_scale_reference(cfg)
    return (20.0 * np.log10(np.maximum(rel, 10.0 ** (floor_db / 20.0)))).astype(np.float32)


def spectrogram_panels(panels: Mapping[str, np.ndarray], *, sample_rate: int, hop: int,
                       path: str | Path, title: str | None = None,
                       dynamic_range_db: float = DYNAMIC_RANGE_DB,
                       colorbar_label: str = COLORBAR_LABEL) -> Path:
    """A row of spectrograms (e.g. noisy / denoised / clean / removed) on one colour scale.

    Args:
        panels: Panel title to ``(freq, frames)`` magnitudes in dB re full scale, drawn left to
            right in the mapping's order.
        sample_rate: Audio rate in Hz (the top bin is ``sample_rate / 2``).
        hop: Hop between frames in samples.
        path: PNG file to write.
        title: Figure title.
        dynamic_range_db: The colour scale spans this many dB below the loudest bin of all
            panels; quieter bins are drawn at the bottom colour.
        colorbar_label: Label of the colour bar; say so if the dB are not re full scale.

    Returns:
        ``path``, a PNG about 3.1 in wide per panel and 3 in high at ``DPI``.

    Raises:
        ConfigError: No panels, a panel not 2-D, or a bad ``sample_rate``/``hop``.
    """
    _check_rate_hop(sample_rate, hop)
    if not panels:
        raise ConfigError("panels is empty: give at least one spectrogram", key="panels")
    specs = {name: _check_spec(name, s) for name, s in panels.items()}
    vmin, vmax = _colour_limits(list(specs.values()), dynamic_range_db)

    n = len(specs)
    fig = Figure(figsize=(0.6 + 3.1 * n, 3.0 if title is None else 3.3), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    image = None
    for ax, (name, spec) in zip(axes, specs.items(), strict=True):
        image = _draw_spec(ax, spec, sample_rate, hop, vmin, vmax)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    fig.colorbar(image, ax=list(axes), label=colorbar_label, pad=0.01, fraction=0.03)
    if title is not None:
        fig.suptitle(title, fontsize=11)
    return save_png(fig, path, cmap=CMAP)


def spectrogram_grid(rows: Sequence[tuple[str, Mapping[str, np.ndarray]]], *, sample_rate: int,
                     hop: int, path: str | Path,
                     dynamic_range_db: float = DYNAMIC_RANGE_DB,
                     colorbar_label: str = COLORBAR_LABEL) -> Path:
    """Examples as rows, signals as columns (noisy, each method, clean), one colour scale.

    Column titles are the signal names in order of first appearance across rows (give them in
    the order wanted, e.g. ``noisy``, methods, ``clean``); a row lacking a column leaves that
    cell empty. Row labels are written at the left.

    Args:
        rows: ``(row label, {column name: (freq, frames) dB array})`` per example.
        sample_rate: Audio rate in Hz.
        hop: Hop between frames in samples.
        path: PNG file to write.
        dynamic_range_db: Colour span below the loudest bin of the whole grid, in dB.
        colorbar_label: Label of the colour bar.

    Returns:
        ``path``, a PNG of 1.5 to 2.3 in per column (about ``GRID_WIDTH`` in all from 4
        columns on) by 1.6 in per row, at ``DPI``.

    Raises:
        ConfigError: No rows, an empty row, a cell not 2-D, or a bad ``sample_rate``/``hop``.
    """
    _check_rate_hop(sample_rate, hop)
    if not rows:
        raise ConfigError("rows is empty: give at least one example", key="rows")
    columns: dict[str, None] = {}
    checked = []
    for label, cells in rows:
        if not cells:
            raise ConfigError(f"row {label!r} has no spectrograms", key="rows")
        checked.append((label, {name: _check_spec(name, s) for name, s in cells.items()}))
        columns.update(dict.fromkeys(cells))
    vmin, vmax = _colour_limits([s for _, cells in checked for s in cells.values()],
                                dynamic_range_db)

    n_rows, n_cols = len(checked), len(columns)
    # Columns narrow as they multiply so the figure stays near GRID_WIDTH (a page's width).
    col_w = min(2.3, max(1.5, (GRID_WIDTH - 1.6) / n_cols))
    fig = Figure(figsize=(1.6 + col_w * n_cols, 0.55 + 1.6 * n_rows), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(n_rows, n_cols, sharex=False, sharey=True, squeeze=False)
    image = None
    for r, (label, cells) in enumerate(checked):
        for c, name in enumerate(columns):
            ax = axes[r, c]
            if name in cells:
                image = _draw_spec(ax, cells[name], sample_rate, hop, vmin, vmax)
            else:
                ax.set_facecolor("0.95")
                ax.text(0.5, 0.5, "—", transform=ax.transAxes, ha="center", va="center")
            if r == 0:
                ax.set_title(name, fontsize=10)
            if c == 0:
                ax.set_ylabel(textwrap.fill(label, 24) + "\nfrequency (kHz)", fontsize=8.5)
            if r == n_rows - 1:
                ax.set_xlabel("time (s)", fontsize=9)
            ax.tick_params(labelsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label=colorbar_label, pad=0.01,
                     fraction=0.025 if n_rows > 1 else 0.03, aspect=30)
    return save_png(fig, path, cmap=CMAP)
