"""Figures for evaluation reports: metric-versus-input-SNR curves and spectrogram panels.

Everything draws on a :class:`matplotlib.figure.Figure` with its own Agg canvas, never through
``pyplot``: no GUI backend, no global figure state, safe in threads, notebooks and headless
servers. Each function writes one PNG and returns its path; parent folders are created.

Conventions:

- Metric names are the keys of :data:`noisenil.evaluation.quality.METRIC_INFO` (``"si_sdr"``) or their
  improvements over the noisy input, ``"delta_<metric>"`` (same unit and direction).
- Spectrograms are ``(freq, frames)`` arrays of magnitudes in dB re a full-scale sinusoid (0 dB
  is a full-scale tone, as in :mod:`noisenil.dsp.features`); :func:`spectrogram_db` makes them from
  waveforms. Frequency bins are taken to span 0 to ``sample_rate / 2``; frame ``t`` starts at
  ``t * hop / sample_rate`` seconds.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from noisenil.config import StftConfig
from noisenil.errors import ConfigError
from noisenil.evaluation.quality import METRIC_INFO, MetricInfo

logger = logging.getLogger(__name__)

#: Size of :func:`metric_vs_snr` figures in inches, and the resolution of every figure.
METRIC_FIGSIZE = (6.4, 4.0)
DPI = 110
#: Width, in inches, that :func:`spectrogram_grid` keeps to while columns are at least 1.5 in.
GRID_WIDTH = 11.0
#: Default span of the spectrogram colour scale below the loudest bin shown, in dB.
DYNAMIC_RANGE_DB = 80.0
#: Floor of :func:`spectrogram_db`, in dB re full scale (the features' ``db_floor``).
DB_FLOOR = -100.0
CMAP = "magma"
#: Colour-bar label of the spectrogram figures (the scale of :func:`spectrogram_db`).
COLORBAR_LABEL = "dB re full scale"

_KIND_ORDER = {"model": 0, "baseline": 1, "input": 2}
_INPUT_COLOR = "0.45"


# --- metric metadata --------------------------------------------------------------------------

def metric_info(metric: str) -> tuple[MetricInfo, bool]:
    """Label, unit and direction of a metric or of its improvement column.

    Args:
        metric: A :data:`~noisenil.evaluation.quality.METRIC_INFO` key or ``"delta_<key>"``. Unknown names
            get their own name as label, no unit and higher-is-better.

    Returns:
        ``(info, is_delta)``; for ``delta_`` names the label is prefixed with ``"Δ"``.
    """
    is_delta = metric.startswith("delta_")
    base = metric[len("delta_"):] if is_delta else metric
    info = METRIC_INFO.get(base, MetricInfo(base, "", True))
    if is_delta:
        info = MetricInfo(f"Δ{info.label}", info.unit, info.higher_is_better)
    return info, is_delta


def metric_label(metric: str, *, arrow: bool = False) -> str:
    """Axis or table label of a metric: ``"ΔSI-SDR (dB)"``, optionally with ``↑``/``↓``."""
    info, _ = metric_info(metric)
    text = f"{info.label} ({info.unit})" if info.unit else info.label
    if arrow:
        text += " ↑" if info.higher_is_better else " ↓"
    return text


def plottable_metrics(summary: pd.DataFrame) -> list[str]:
    """Metric and ``delta_`` names of ``summary`` that have at least one value to plot.

    Returns:
        In :data:`~noisenil.evaluation.quality.METRIC_INFO` order, each metric followed by its ``delta_``.
    """
    out = []
    for base in METRIC_INFO:
        for name in (base, f"delta_{base}"):
            col = f"{name}_mean"
            if col in summary.columns and summary[col].notna().any():
                out.append(name)
    return out


# --- helpers ----------------------------------------------------------------------------------

def _palette(cmap: str):
    """A PIL palette image: 224 steps of ``cmap`` and 32 greys (text, axes, white)."""
    from PIL import Image  # a matplotlib dependency

    colours = colormaps[cmap](np.linspace(0.0, 1.0, 224))[:, :3]
    greys = np.repeat(np.linspace(0.0, 1.0, 32)[:, None], 3, axis=1)
    palette = Image.new("P", (1, 1))
    palette.putpalette((np.concatenate([colours, greys]) * 255).round().astype(np.uint8)
                       .ravel().tolist())
    return palette


def _save(fig: Figure, path: str | Path, *, cmap: str | None = None) -> Path:
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


def _method_order(summary: pd.DataFrame) -> list[tuple[str, str]]:
    """``(method, kind)`` pairs: models, then baselines, then the input, each in given order."""
    pairs = summary[["method", "kind"]].drop_duplicates("method")
    pairs = list(pairs.itertuples(index=False, name=None))
    return sorted(pairs, key=lambda p: _KIND_ORDER.get(p[1], 1))


def _check_rate_hop(sample_rate: int, hop: int) -> None:
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ConfigError(f"sample_rate={sample_rate!r} must be a positive integer (Hz)",
                          key="sample_rate")
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


# --- public figures ---------------------------------------------------------------------------

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


def metric_vs_snr(summary: pd.DataFrame, metric: str, path: str | Path, *,
                  title: str | None = None) -> Path:
    """Plot one metric's mean (with its 95 % confidence band) against the input SNR.

    One line per method: models solid with circles, baselines dashed with squares, the noisy
    input dotted grey. The legend sits to the right of the axes so it never hides data. For
    ``delta_`` metrics a thin line marks 0 (no improvement).

    Args:
        summary: One row per method and SNR group, with columns ``method``, ``kind``
            (``"model"``, ``"baseline"`` or ``"input"``), ``snr_db`` (dB), ``<metric>_mean`` and
            optionally ``<metric>_ci95`` (half-width of the 95 % interval; NaN draws no band).
        metric: A :data:`~noisenil.evaluation.quality.METRIC_INFO` key or ``"delta_<key>"``.
        path: PNG file to write.
        title: Figure title; by default the metric and its direction.

    Returns:
        ``path``, a ``METRIC_FIGSIZE`` × ``DPI`` PNG (704 × 440 pixels).

    Raises:
        ConfigError: ``summary`` lacks ``method``/``kind``/``snr_db`` or ``<metric>_mean``, or the
            metric has no finite value (e.g. PESQ without its package); the message names it.
    """
    mean_col, ci_col = f"{metric}_mean", f"{metric}_ci95"
    missing = [c for c in ("method", "kind", "snr_db", mean_col) if c not in summary.columns]
    if missing:
        raise ConfigError(f"metric {metric!r}: summary has no column(s) {missing}; it has "
                          f"{sorted(summary.columns)}", key="metric")
    if not summary[mean_col].notna().any():
        raise ConfigError(f"metric {metric!r}: every value is NaN (not computed, e.g. its "
                          "package is missing); nothing to plot", key="metric")
    info, is_delta = metric_info(metric)

    fig = Figure(figsize=METRIC_FIGSIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    methods = _method_order(summary)
    # One colour per method from matplotlib's tab10, fixed by its place in the summary so a
    # method keeps its colour in every figure (a method without values skips, not shifts).
    colours = {m: f"C{i % 10}" for i, (m, kind) in
               enumerate(p for p in methods if p[1] != "input")}
    for method, kind in methods:
        rows = summary[summary["method"] == method].sort_values("snr_db")
        x = rows["snr_db"].to_numpy(dtype=float)
        y = rows[mean_col].to_numpy(dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            continue
        if kind == "input":
            style = dict(color=_INPUT_COLOR, linestyle=":", marker=None, linewidth=2.0)
        else:
            style = dict(color=colours[method], linestyle="-" if kind == "model" else "--",
                         marker="o" if kind == "model" else "s", markersize=4.5, linewidth=1.8)
        ax.plot(x[ok], y[ok], label=method, **style)
        if ci_col in rows.columns:
            ci = rows[ci_col].to_numpy(dtype=float)
            band = ok & np.isfinite(ci)
            if band.any():
                ax.fill_between(x[band], (y - ci)[band], (y + ci)[band], color=style["color"],
                                alpha=0.12, linewidth=0)
    if is_delta:
        ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    snrs = np.unique(summary["snr_db"].dropna().to_numpy(dtype=float))
    if 0 < snrs.size <= 12:
        ax.set_xticks(snrs)
        ax.set_xticklabels([f"{s:g}" for s in snrs])
    ax.set_xlabel("input SNR (dB)", fontsize=10.5)
    ax.set_ylabel(metric_label(metric), fontsize=10.5)
    ax.tick_params(labelsize=10)
    direction = "higher is better" if info.higher_is_better else "lower is better"
    # Over the whole figure, not the axes, so a long title never runs into the legend.
    fig.suptitle(title if title is not None else f"{info.label} vs input SNR ({direction})",
                 fontsize=11)
    ax.grid(True, color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if ax.lines:
        # Right of the axes (constrained layout makes room), never over the data.
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  fontsize=9.5, frameon=False, title="method", title_fontsize=9.5,
                  alignment="left")
    return _save(fig, path)


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
    return _save(fig, path, cmap=CMAP)


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
    return _save(fig, path, cmap=CMAP)


def metric_plots(summary: pd.DataFrame, out_dir: str | Path, *,
                 metrics: Sequence[str] | None = None) -> dict[str, Path]:
    """:func:`metric_vs_snr` for every plottable metric, as ``<out_dir>/<metric>_vs_snr.png``.

    Args:
        summary: See :func:`metric_vs_snr`.
        out_dir: Folder for the PNGs (created).
        metrics: Names to plot; by default :func:`plottable_metrics`. All-NaN metrics are skipped
            with an INFO log line.

    Returns:
        ``{metric: png path}`` in plotting order, ready for
        :func:`noisenil.evaluation.report.writer.write_report`.
    """
    names = list(plottable_metrics(summary) if metrics is None else metrics)
    out: dict[str, Path] = {}
    for name in names:
        col = f"{name}_mean"
        if col in summary.columns and not summary[col].notna().any():
            logger.info("metric_plots: %s has no values (not available), skipped", name)
            continue
        out[name] = metric_vs_snr(summary, name, Path(out_dir) / f"{name}_vs_snr.png")
    logger.debug("metric_plots: %d figures in %s", len(out), out_dir)
    return out
