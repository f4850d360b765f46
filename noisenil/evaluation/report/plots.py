"""Metric figures for evaluation reports: each metric's mean against the input SNR, one line
per method with its 95 % confidence band.

Figures are drawn and saved as in :mod:`noisenil.evaluation.report.figures` (no ``pyplot``);
each function writes one PNG and returns its path; parent folders are created. Metric names are
the keys of :data:`noisenil.evaluation.quality.METRIC_INFO` (``"si_sdr"``) or their improvements
over the noisy input, ``"delta_<metric>"`` (same unit and direction). Spectrogram figures are in
:mod:`noisenil.evaluation.report.spectrograms`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from noisenil.errors import ConfigError
from noisenil.evaluation.quality import METRIC_INFO, metric_info, metric_label, snr_label
from noisenil.evaluation.report.figures import DPI, save_png

logger = logging.getLogger(__name__)

#: Fewest examples behind a mean for its confidence band to be drawn: from one or two the
#: Student-t interval is wider than anything it would show (t = 12.7 for n = 2).
MIN_N = 3
#: Size of :func:`metric_vs_snr` figures in inches (at :data:`~.figures.DPI`).
METRIC_FIGSIZE = (6.4, 4.0)

_KIND_ORDER = {"model": 0, "baseline": 1, "input": 2}
_INPUT_COLOR = "0.45"


def plottable_metrics(summary: pd.DataFrame) -> list[str]:
    """Metric and ``delta_`` names of ``summary`` that have at least one value to plot.

    Returns:
        In :data:`~noisenil.evaluation.quality.METRIC_INFO` order, each metric followed by
        its ``delta_``.
    """
    out = []
    for base in METRIC_INFO:
        for name in (base, f"delta_{base}"):
            col = f"{name}_mean"
            if col in summary.columns and summary[col].notna().any():
                out.append(name)
    return out


def _in_range(values: np.ndarray, info) -> np.ndarray:
    """``values`` clipped to the metric's ``[low, high]`` (either may be open)."""
    lo = -np.inf if info.low is None else info.low
    hi = np.inf if info.high is None else info.high
    return np.clip(values, lo, hi)


def _method_order(summary: pd.DataFrame) -> list[tuple[str, str]]:
    """``(method, kind)`` pairs: models, then baselines, then the input, each in given order."""
    pairs = summary[["method", "kind"]].drop_duplicates("method")
    pairs = list(pairs.itertuples(index=False, name=None))
    return sorted(pairs, key=lambda p: _KIND_ORDER.get(p[1], 1))


def metric_vs_snr(summary: pd.DataFrame, metric: str, path: str | Path, *,
                  title: str | None = None) -> Path:
    """Plot one metric's mean (with its 95 % confidence band) against the input SNR.

    One line per method: models solid with circles, baselines dashed with squares, the noisy
    input dotted grey. A band is drawn only where the mean has at least :data:`MIN_N` examples
    behind it (``n`` column; the markers show the points elsewhere), clipped to the metric's
    range (:class:`~noisenil.evaluation.quality.MetricInfo` ``low``/``high``: MSE never below
    0). The legend sits to the right of the axes so it never hides data. For
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
            n = (rows["n"].to_numpy(dtype=float) if "n" in rows.columns
                 else np.full_like(ci, MIN_N))
            band = ok & np.isfinite(ci) & (n >= MIN_N)
            if band.any():
                low, high = _in_range(y - ci, info), _in_range(y + ci, info)
                ax.fill_between(x[band], low[band], high[band], color=style["color"],
                                alpha=0.12, linewidth=0)
            if (ok & ~band).any() and style["marker"] is None:  # no band: show the points
                ax.plot(x[ok & ~band], y[ok & ~band], linestyle="none", marker="o",
                        markersize=3.5, color=style["color"])
    if is_delta:
        ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    bottom, top = ax.get_ylim()  # autoscale margins never reach past the metric's range
    ax.set_ylim(bottom if info.low is None else max(bottom, info.low),
                top if info.high is None else min(top, info.high))
    snrs = np.unique(summary["snr_db"].dropna().to_numpy(dtype=float))
    if 0 < snrs.size <= 12:
        ax.set_xticks(snrs)
        ax.set_xticklabels([snr_label(s) for s in snrs])
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
    return save_png(fig, path)


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
