"""What both report renderers (:mod:`.markdown`, :mod:`.html`) show, as numbers and text: cell
formats, the columns of the comparison table, the ranking of methods and the per-SNR table.

Conventions: metric names are the keys of :data:`noisenil.evaluation.quality.METRIC_INFO`;
``delta_<m>`` is the improvement over the noisy input, in the metric's unit and direction. A
metric whose values are all NaN (PESQ/STOI without the ``eval`` extra) is listed as not
available instead of shown as a column of NaN. Rounding: dB to 2 decimals, PESQ/STOI/SSIM to 3,
MSE to 4 significant digits; the best value of each metric column (among models and baselines,
not the noisy input) is highlighted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from noisenil.errors import ConfigError
from noisenil.evaluation.perceptual import INSTALL_HINT, OPTIONAL_PACKAGES
from noisenil.evaluation.quality import METRIC_INFO, metric_info, metric_label, snr_label

#: Metrics of the optional ``eval`` extra (see :mod:`noisenil.evaluation.perceptual`).
OPTIONAL_METRICS = tuple(OPTIONAL_PACKAGES)
#: What the report says about a metric of the ``eval`` extra that has no values.
NOT_AVAILABLE = f"not available ({INSTALL_HINT})"

#: What each ``kind`` of method is, for the reports' legends.
KIND_LEGEND = {
    "model": "a trained network (named after its backbone)",
    "baseline": "a classical denoiser, no training (noisenil.evaluation.baselines)",
    "input": "the noisy input itself, unprocessed: the reference of every Δ",
}
#: Cost columns of ``comparison``: (header, unit, best first when sorting: "asc"/"desc").
COST_COLUMNS = {
    "params": ("params", "", "asc"),
    "size_mb": ("size", "MB", "asc"),
    "patches_per_s": ("speed", "patches/s", "desc"),
    "rtf": ("RTF", "s/s", "asc"),
}
#: Headers of the best-per-metric table (rows from :func:`best_table_rows`).
BEST_HEADERS = ["metric", "best model", "value", "best baseline", "value", "beats baselines"]


# --- numbers ----------------------------------------------------------------------------------

def finite(value) -> float | None:
    """``value`` as a float, or ``None`` when it is not a finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def times_real_time(rtf: float) -> str:
    """A real-time factor as speed: ``"50× real time"``."""
    speed = 1.0 / rtf if rtf > 0 else math.inf
    if math.isinf(speed):
        return "∞× real time"
    text = f"{speed:,.0f}" if speed >= 10 else f"{speed:.1f}"
    return f"{text}× real time"


def format_value(column: str, value) -> str:
    """A table cell's text for a value of a ``comparison`` or ``best_per_metric`` column.

    Args:
        column: ``params``, ``size_mb``, ``patches_per_s``, ``rtf``, a metric or ``delta_`` name.
        value: The number; NaN or ``None`` gives ``"—"``.

    Returns:
        dB to 2 decimals, PESQ/STOI/SSIM to 3, MSE to 4 significant digits (improvements with a
        sign); params as ``"37,985"`` or ``"32.6 M"``; RTF to 3 significant digits (the
        ``N× real time`` part is added by the tables).
    """
    v = finite(value)
    if v is None:
        return "—"
    if column == "params":
        return f"{v / 1e6:.1f} M" if v >= 1e6 else f"{v:,.0f}"
    if column == "size_mb":
        return f"{v:.1f}" if v >= 10 else f"{v:.2f}"
    if column == "patches_per_s":
        return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
    if column == "rtf":
        return f"{v:#.3g}".rstrip(".")
    info, is_delta = metric_info(column)
    sign = "+" if is_delta else ""
    if info.unit == "dB":
        text = f"{v:{sign}.2f}"
    elif column.endswith("spectrogram_mse"):
        text = f"{v:{sign}#.4g}"
    else:
        text = f"{v:{sign}.3f}"
    return text.replace("-", "\u2212")  # a typographic minus, as wide as "+"


def plot_caption(key: str) -> str:
    """Caption of a ``metric_plots`` figure: the metric's label, else the key itself."""
    base = key[len("delta_"):] if key.startswith("delta_") else key
    if base in METRIC_INFO:
        return f"{metric_label(key, arrow=True)} vs input SNR (mean ± 95 % CI)"
    return key


# --- which metrics, which columns -------------------------------------------------------------

def require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raises :class:`~noisenil.errors.ConfigError` naming the ``columns`` ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{name} has no column(s) {missing}; it has {sorted(frame.columns)}",
                          key=name)


def metric_status(comparison: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Metrics of ``comparison`` that have values, and why the others have none.

    Returns:
        ``(available, missing)``: available metric keys in :data:`METRIC_INFO` order, and
        ``{metric: reason}`` for metrics whose ``<m>``/``delta_<m>`` columns are present but all
        NaN (the reason carries the install hint for PESQ/STOI). Metrics without columns are in
        neither.
    """
    available, missing = [], {}
    for m in METRIC_INFO:
        cols = [c for c in (m, f"delta_{m}") if c in comparison.columns]
        if not cols:
            continue
        if any(comparison[c].notna().any() for c in cols):
            available.append(m)
        else:
            missing[m] = NOT_AVAILABLE if m in OPTIONAL_METRICS else "not available (no values)"
    return available, missing


def _score_column(comparison: pd.DataFrame, metric: str) -> str:
    """``delta_<m>`` when it has values, else ``<m>``."""
    delta = f"delta_{metric}"
    if delta in comparison.columns and comparison[delta].notna().any():
        return delta
    return metric


@dataclass(frozen=True)
class Column:
    """One column of the comparison table: a metric (score with Δ beneath) or a cost."""

    key: str           # column ranked, sorted on and highlighted
    header: str        # e.g. "SI-SDR"
    unit: str          # e.g. "dB ↑", "MB"
    first_sort: str    # "asc" / "desc": direction of the first click (best first)
    score: str | None = None   # metric columns: the score column, if present
    delta: str | None = None   # metric columns: the improvement column, if present

    @property
    def is_metric(self) -> bool:
        return self.score is not None or self.delta is not None


def table_columns(comparison: pd.DataFrame, available: Sequence[str]) -> list[Column]:
    """The comparison table's columns: each available metric, then the costs that have values."""
    cols = []
    for m in available:
        info = METRIC_INFO[m]
        present = [c for c in (m, f"delta_{m}") if c in comparison.columns]
        arrow = "↑" if info.higher_is_better else "↓"
        cols.append(Column(_score_column(comparison, m), info.label,
                           f"{info.unit} {arrow}" if info.unit else arrow,
                           "desc" if info.higher_is_better else "asc",
                           score=m if m in present else None,
                           delta=f"delta_{m}" if f"delta_{m}" in present else None))
    for key, (header, unit, first) in COST_COLUMNS.items():
        if key in comparison.columns and comparison[key].notna().any():
            cols.append(Column(key, header, unit, first))
    return cols


# --- ranking ----------------------------------------------------------------------------------

def sorted_comparison(comparison: pd.DataFrame, available: Sequence[str]) -> pd.DataFrame:
    """Best first by the first available metric's improvement (else score), NaN last."""
    if not available:
        return comparison.reset_index(drop=True)
    col = _score_column(comparison, available[0])
    higher = METRIC_INFO[available[0]].higher_is_better
    key = pd.to_numeric(comparison[col], errors="coerce")
    order = key.sort_values(ascending=not higher, na_position="last", kind="stable").index
    return comparison.loc[order].reset_index(drop=True)


def best_rows(table: pd.DataFrame, column: str) -> set[int]:
    """Row positions holding the best value of a metric column, the noisy input excluded."""
    values = pd.to_numeric(table[column], errors="coerce").where(table["kind"] != "input")
    if values.notna().sum() == 0:
        return set()
    best = values.max() if metric_info(column)[0].higher_is_better else values.min()
    return set(np.flatnonzero(values.to_numpy() == best).tolist())


def _best_of(frame: pd.DataFrame, column: str) -> tuple[str | None, float]:
    values = pd.to_numeric(frame[column], errors="coerce").dropna()
    if values.empty:
        return None, math.nan
    higher = metric_info(column)[0].higher_is_better
    idx = values.idxmax() if higher else values.idxmin()
    return str(frame.loc[idx, "method"]), float(values[idx])


def best_per_metric(comparison: pd.DataFrame, *,
                    kinds: Sequence[str] = ("model",)) -> pd.DataFrame:
    """The best method of the given kinds per metric, against the best classical baseline.

    Each available metric is ranked on its improvement ``delta_<m>`` when that column has
    values, else on ``<m>``, in the metric's direction (SI-SDR: highest; spectrogram MSE:
    lowest). Ties go to the first row.

    Args:
        comparison: One row per method with ``method``, ``kind`` and metric columns.
        kinds: Kinds competing for "best" (``"model"`` by default).

    Returns:
        One row per available metric (in :data:`METRIC_INFO` order) with columns ``metric``
        (key), ``label`` (e.g. ``"ΔSI-SDR (dB) ↑"``), ``column`` (the one ranked), ``best``,
        ``value``, ``best_baseline``, ``baseline_value`` and ``beats_baselines`` (bool; ``None``
        when there is no baseline value). Metrics no row of ``kinds`` has a value for are left
        out.

    Raises:
        ConfigError: ``comparison`` lacks ``method`` or ``kind``.
    """
    require_columns(comparison, ("method", "kind"), "comparison")
    columns = ["metric", "label", "column", "best", "value", "best_baseline", "baseline_value",
               "beats_baselines"]
    contenders = comparison[comparison["kind"].isin(list(kinds))]
    baselines = comparison[comparison["kind"] == "baseline"]
    out = []
    for metric in metric_status(comparison)[0]:
        col = _score_column(comparison, metric)
        best, value = _best_of(contenders, col)
        if best is None:
            continue
        base, base_value = _best_of(baselines, col)
        higher = METRIC_INFO[metric].higher_is_better
        beats = None if base is None else bool(value > base_value if higher
                                               else value < base_value)
        out.append((metric, metric_label(col, arrow=True), col, best, value, base, base_value,
                    beats))
    # object dtype keeps beats_baselines as Python True/False/None
    return pd.DataFrame(out, columns=columns).astype({"beats_baselines": object})


def best_table_rows(best: pd.DataFrame) -> list[list[str]]:
    """Cells of the best-per-metric table (headers :data:`BEST_HEADERS`), from
    :func:`best_per_metric`."""
    return [[r.label, r.best, format_value(r.column, r.value), r.best_baseline or "—",
             format_value(r.column, r.baseline_value),
             {True: "yes", False: "no", None: "—"}[r.beats_baselines]]
            for r in best.itertuples()]


# --- per-SNR summary --------------------------------------------------------------------------

def headline_summary(summary: pd.DataFrame | None, methods: Sequence[str],
                     available: Sequence[str]) -> tuple[str, list[str], list[list[str]]] | None:
    """(metric column, SNR headers, rows of cells) for the first available metric, or None."""
    if summary is None or summary.empty or not {"method", "snr_db"} <= set(summary.columns):
        return None
    for m in available:
        for col in (f"delta_{m}", m):
            mean = f"{col}_mean"
            if mean in summary.columns and summary[mean].notna().any():
                break
        else:
            continue
        break
    else:
        return None
    snrs = sorted(summary["snr_db"].dropna().unique())
    headers = []
    for s in snrs:
        n = summary.loc[summary["snr_db"] == s, "n"].max() if "n" in summary else None
        headers.append(f"{snr_label(s)} dB" + (f" (n={int(n)})" if finite(n) is not None else ""))
    order = [m for m in methods if m in set(summary["method"])]
    order += [m for m in summary["method"].drop_duplicates() if m not in order]
    rows = []
    for method in order:
        cells = [method]
        for s in snrs:
            hit = summary[(summary["method"] == method) & (summary["snr_db"] == s)]
            if hit.empty:
                cells.append("—")
                continue
            text = format_value(col, hit[mean].iloc[0])
            ci = finite(hit[f"{col}_ci95"].iloc[0]) if f"{col}_ci95" in hit else None
            cells.append(text if ci is None or text == "—"
                         else f"{text} ± {format_value(col, ci).lstrip('+')}")
        rows.append(cells)
    return col, headers, rows
