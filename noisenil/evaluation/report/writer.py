"""Evaluation reports: ``report.md`` and one self-contained ``report.html``.

Rendering only: the numbers come from the evaluation (a per-method ``comparison`` table and a
per-method, per-input-SNR ``summary``), the figures from :mod:`noisenil.evaluation.report.plots`, the audio as
:class:`AudioExample` waveforms. :func:`write_report` writes

- ``report.md``: tables in Markdown, figures as relative image links, audio as links to
  ``audio/<example>/<signal>.wav`` (16-bit PCM, written here);
- ``report.html`` (rendered by :mod:`noisenil.evaluation.report.html`): one file with everything inside (PNGs and WAVs as base64 ``data:`` URIs, inline
  CSS and a small inline script that sorts the comparison table by any column); it references
  no other file and no URL, so it can be mailed or attached as it is.

Conventions: metric names are the keys of :data:`noisenil.evaluation.quality.METRIC_INFO`; ``delta_<m>`` is
the improvement over the noisy input, in the metric's unit and direction. A metric whose values
are all NaN (PESQ/STOI without the ``eval`` extra) is listed as not available instead of shown
as a column of NaN. Rounding: dB to 2 decimals, PESQ/STOI/SSIM to 3, MSE to 4 significant
digits; the best value of each metric column (among models and baselines, not the noisy input)
is in bold.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from noisenil.dsp.audio_io import save_audio
from noisenil.errors import ConfigError
from noisenil.evaluation.report.plots import metric_info, metric_label
from noisenil.evaluation.quality import INSTALL_HINT, METRIC_INFO

logger = logging.getLogger(__name__)

#: Metrics of the optional ``eval`` extra (see :mod:`noisenil.evaluation.quality`).
OPTIONAL_METRICS = ("pesq", "stoi")
#: What the report says about a metric of the ``eval`` extra that has no values.
NOT_AVAILABLE = f"not available ({INSTALL_HINT})"

KIND_LEGEND = {
    "model": "a trained network (named after its backbone)",
    "baseline": "a classical denoiser, no training (noisenil.evaluation.baselines)",
    "input": "the noisy input itself, unprocessed: the reference of every Δ",
}
#: Cost columns of ``comparison``: (header, unit, best first when sorting: "asc"/"desc").
_COST_COLUMNS = {
    "params": ("params", "", "asc"),
    "size_mb": ("size", "MB", "asc"),
    "patches_per_s": ("speed", "patches/s", "desc"),
    "rtf": ("RTF", "s/s", "asc"),
}


@dataclass(frozen=True)
class AudioExample:
    """One test utterance as heard through every method, for the report's listening table.

    Attributes:
        label: Row label, e.g. ``"arctic_a0001 @ 5 dB"``.
        sample_rate: Rate of every signal, in Hz.
        signals: ``"clean"``, ``"noisy"`` and each method's name to a waveform ``(samples,)``,
            float in [-1, 1] (values beyond are clipped when written).
    """

    label: str
    sample_rate: int
    signals: Mapping[str, np.ndarray]

    def __post_init__(self):
        if not (isinstance(self.sample_rate, (int, np.integer)) and self.sample_rate > 0):
            raise ConfigError(f"AudioExample {self.label!r}: sample_rate={self.sample_rate!r} "
                              "must be a positive integer (Hz)", key="sample_rate")
        if not self.signals:
            raise ConfigError(f"AudioExample {self.label!r}: signals is empty", key="signals")
        for name, x in self.signals.items():
            shape = np.shape(x)
            if len(shape) != 1 or shape[0] == 0:
                raise ConfigError(f"AudioExample {self.label!r}: signal {name!r} must be a "
                                  f"non-empty 1-D waveform, got shape {shape}", key="signals")


# --- numbers ----------------------------------------------------------------------------------

def _finite(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _times_real_time(rtf: float) -> str:
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
    v = _finite(value)
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


# --- which metrics, which columns -------------------------------------------------------------

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
    _require(comparison, ("method", "kind"), "comparison")
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


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{name} has no column(s) {missing}; it has {sorted(frame.columns)}",
                          key=name)


@dataclass(frozen=True)
class _Column:
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


def _table_columns(comparison: pd.DataFrame, available: Sequence[str]) -> list[_Column]:
    cols = []
    for m in available:
        info = METRIC_INFO[m]
        present = [c for c in (m, f"delta_{m}") if c in comparison.columns]
        arrow = "↑" if info.higher_is_better else "↓"
        cols.append(_Column(_score_column(comparison, m), info.label,
                            f"{info.unit} {arrow}" if info.unit else arrow,
                            "desc" if info.higher_is_better else "asc",
                            score=m if m in present else None,
                            delta=f"delta_{m}" if f"delta_{m}" in present else None))
    for key, (header, unit, first) in _COST_COLUMNS.items():
        if key in comparison.columns and comparison[key].notna().any():
            cols.append(_Column(key, header, unit, first))
    return cols


def _sorted_comparison(comparison: pd.DataFrame, available: Sequence[str]) -> pd.DataFrame:
    """Best first by the first available metric's improvement (else score), NaN last."""
    if not available:
        return comparison.reset_index(drop=True)
    col = _score_column(comparison, available[0])
    higher = METRIC_INFO[available[0]].higher_is_better
    key = pd.to_numeric(comparison[col], errors="coerce")
    order = key.sort_values(ascending=not higher, na_position="last", kind="stable").index
    return comparison.loc[order].reset_index(drop=True)


def _best_rows(table: pd.DataFrame, column: str) -> set[int]:
    """Row positions holding the best value of a metric column, the noisy input excluded."""
    values = pd.to_numeric(table[column], errors="coerce").where(table["kind"] != "input")
    if values.notna().sum() == 0:
        return set()
    best = values.max() if metric_info(column)[0].higher_is_better else values.min()
    return set(np.flatnonzero(values.to_numpy() == best).tolist())


@dataclass(frozen=True)
class _Content:
    """Everything a report shows, prepared once for both renderers."""

    title: str
    notes: list[str]
    table: pd.DataFrame                 # comparison, best first
    columns: list[_Column]
    available: list[str]
    missing: dict[str, str]             # metric -> why it has no values
    best: pd.DataFrame                  # best_per_metric()
    headline: tuple[str, list[str], list[list[str]]] | None  # per-SNR table
    plots: dict[str, Path]
    grids: list[tuple[str, Path]]
    audio: list[AudioExample]
    audio_paths: list[dict[str, Path]]  # per example: signal -> WAV written
    signal_order: list[str]


def _best_table_rows(best: pd.DataFrame) -> list[list[str]]:
    return [[r.label, r.best, format_value(r.column, r.value), r.best_baseline or "—",
             format_value(r.column, r.baseline_value),
             {True: "yes", False: "no", None: "—"}[r.beats_baselines]]
            for r in best.itertuples()]


_BEST_HEADERS = ["metric", "best model", "value", "best baseline", "value", "beats baselines"]


# --- audio ------------------------------------------------------------------------------------

def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return slug or "x"


def _signal_order(audio: Sequence[AudioExample], methods: Sequence[str]) -> list[str]:
    names: dict[str, None] = {}
    for ex in audio:
        names.update(dict.fromkeys(ex.signals))
    first = [n for n in ("clean", "noisy") if n in names]
    middle = [m for m in methods if m in names and m not in first]
    return first + middle + [n for n in names if n not in first and n not in middle]


def _write_audio(out_dir: Path, audio: Sequence[AudioExample]) -> list[dict[str, Path]]:
    """``out_dir/audio/<example>/<signal>.wav`` (PCM 16) per example; their paths by signal."""
    written, used = [], set()
    for ex in audio:
        slug = _slug(ex.label)
        n = 2
        while slug in used:
            slug, n = f"{_slug(ex.label)}_{n}", n + 1
        used.add(slug)
        paths, names = {}, set()
        for name, x in ex.signals.items():
            y = np.asarray(x, dtype=np.float32)
            if np.any(np.abs(y) > 1.0):
                logger.warning("audio %r / %r: peak %.2f beyond full scale, clipped to [-1, 1]",
                               ex.label, name, float(np.max(np.abs(y))))
                y = np.clip(y, -1.0, 1.0)
            stem = _slug(name)
            while stem in names:
                stem += "_"
            names.add(stem)
            paths[name] = save_audio(out_dir / "audio" / slug / f"{stem}.wav", y,
                                     int(ex.sample_rate), subtype="PCM_16", overwrite=True)
        written.append(paths)
    return written


# --- per-SNR summary --------------------------------------------------------------------------

def _headline_summary(summary: pd.DataFrame | None, methods: Sequence[str],
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
        headers.append(f"{s:g} dB" + (f" (n={int(n)})" if _finite(n) is not None else ""))
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
            ci = _finite(hit[f"{col}_ci95"].iloc[0]) if f"{col}_ci95" in hit else None
            cells.append(text if ci is None or text == "—"
                         else f"{text} ± {format_value(col, ci).lstrip('+')}")
        rows.append(cells)
    return col, headers, rows


# --- Markdown ---------------------------------------------------------------------------------

def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
              align: Sequence[str]) -> list[str]:
    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |",
             "|" + "|".join(rule[a] for a in align) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def _rel(path: Path, out_dir: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), out_dir.resolve())).as_posix()


def _cell_text(column: str, value) -> str:
    text = format_value(column, value)
    v = _finite(value)
    if column == "rtf" and v is not None:
        text += f" ({_times_real_time(v)})"
    return text


def _metric_md(c: _Column, row: pd.Series) -> str:
    """``"20.39 (+15.38)"``: the mean score and, in brackets, its improvement."""
    score = format_value(c.score, row[c.score]) if c.score else None
    delta = format_value(c.delta, row[c.delta]) if c.delta else "—"
    if score is None:
        return delta
    return score if delta == "—" else f"{score} ({delta})"


def _caption(key: str) -> str:
    base = key[len("delta_"):] if key.startswith("delta_") else key
    if base in METRIC_INFO:
        return f"{metric_label(key, arrow=True)} vs input SNR (mean ± 95 % CI)"
    return key


def _render_md(c: _Content, out_dir: Path) -> str:
    lines = [f"# {c.title}", ""]
    if c.notes:
        lines += [f"- {n}" for n in c.notes] + [""]
    lines += ["## Comparison", "",
              "Metric cells: mean score (Δ), where Δ = mean improvement over the noisy input "
              "(same unit and direction as the metric); ↑ higher is better, ↓ lower is better. "
              "Best per metric in **bold** (noisy input excluded). RTF = processing seconds per "
              "second of audio (lower is faster).", ""]
    headers = ["method", "kind"] + [f"{col.header} ({col.unit})" if col.unit else col.header
                                    for col in c.columns]
    bold = {col.key: _best_rows(c.table, col.key) for col in c.columns if col.is_metric}
    rows = []
    for i, row in c.table.iterrows():
        cells = [str(row["method"]), str(row["kind"])]
        for col in c.columns:
            text = _metric_md(col, row) if col.is_metric else _cell_text(col.key, row[col.key])
            cells.append(f"**{text}**" if i in bold.get(col.key, ()) else text)
        rows.append(cells)
    lines += _md_table(headers, rows, "ll" + "r" * len(c.columns)) + [""]
    lines += [f"- {METRIC_INFO[m].label}: {why}" for m, why in c.missing.items()]
    if c.missing:
        lines.append("")
    if not c.best.empty:
        lines += ["## Best per metric", ""]
        lines += _md_table(_BEST_HEADERS, _best_table_rows(c.best), "llrlrc") + [""]
    if c.headline is not None:
        col, snr_headers, rows = c.headline
        lines += [f"## {metric_label(col, arrow=True)} by input SNR", "",
                  "Mean ± half-width of the 95 % confidence interval; n = files per group.", ""]
        lines += _md_table(["method"] + snr_headers, rows, "l" + "r" * len(snr_headers)) + [""]
    if c.plots:
        lines += ["## Metrics vs input SNR", ""]
        for key, path in c.plots.items():
            lines += [f"![{_md(_caption(key))}]({_rel(path, out_dir)})", ""]
    if c.grids:
        lines += ["## Spectrograms", ""]
        for caption, path in c.grids:
            lines += [f"**{_md(caption)}**", "", f"![{_md(caption)}]({_rel(path, out_dir)})", ""]
    if c.audio:
        lines += ["## Audio examples", "", "One column per test example, one row per signal "
                  "(16-bit WAV, not resampled).", ""]
        rows = [[n] + [f"[▶ wav]({_rel(paths[n], out_dir)})" if n in paths else "—"
                       for paths in c.audio_paths] for n in c.signal_order]
        lines += _md_table(["signal"] + [ex.label for ex in c.audio], rows,
                           "l" + "c" * len(c.audio))
        lines.append("")
    return "\n".join(lines)


# --- HTML -------------------------------------------------------------------------------------

def write_report(out_dir: str | Path, *, title: str, comparison: pd.DataFrame,
                 summary: pd.DataFrame | None = None,
                 metric_plots: Mapping[str, str | Path] | None = None,
                 grids: Sequence[tuple[str, str | Path]] = (),
                 audio: Sequence[AudioExample] = (),
                 notes: Sequence[str] = ()) -> tuple[Path, Path]:
    """Write ``report.md`` and a self-contained ``report.html`` into ``out_dir``.

    Args:
        out_dir: Report folder (created). Audio goes to ``out_dir/audio/<example>/<signal>.wav``.
        title: Report title.
        comparison: One row per method: ``method``, ``kind`` (``"model"``, ``"baseline"``,
            ``"input"``), optionally ``params``, ``size_mb``, ``patches_per_s``, ``rtf`` and, per
            metric ``m``, ``m`` (mean over all files) and ``delta_m`` (mean improvement).
            Rows are shown best first by the first available metric's improvement.
        summary: Per method and input SNR group (``method``, ``kind``, ``snr_db``, ``n``,
            ``<m>_mean``, ``<m>_ci95``); the first available metric's improvement is tabulated by
            input SNR. ``None`` leaves that table out.
        metric_plots: ``{metric or delta_ name: PNG}`` from :func:`noisenil.evaluation.report.plots.metric_plots`
            (captioned with the metric); other keys are used as captions.
        grids: ``(caption, PNG)`` spectrogram figures.
        audio: Listening examples; each becomes a column of players (rows: clean, noisy,
            then the methods best first).
        notes: Lines shown under the title (data used, training budget, ...).

    Returns:
        ``(report.md path, report.html path)``.

    Raises:
        ConfigError: ``comparison`` lacks ``method``/``kind``, or a figure file does not exist.
    """
    out_dir = Path(out_dir)
    _require(comparison, ("method", "kind"), "comparison")
    plots = {k: Path(p) for k, p in (metric_plots or {}).items()}
    grid_list = [(str(c), Path(p)) for c, p in grids]
    for key, figures in (("metric_plots", plots.items()), ("grids", grid_list)):
        for name, path in figures:
            if not path.is_file():
                raise ConfigError(f"{key}: figure {name!r}: {path} does not exist", key=key)
    out_dir.mkdir(parents=True, exist_ok=True)

    available, missing = metric_status(comparison)
    for m, why in missing.items():
        logger.info("report: %s %s", m, why)
    table = _sorted_comparison(comparison, available)
    methods = list(table["method"])
    audio = list(audio)
    content = _Content(
        title=title, notes=list(notes), table=table, columns=_table_columns(table, available),
        available=available, missing=missing, best=best_per_metric(comparison),
        headline=_headline_summary(summary, methods, available), plots=plots, grids=grid_list,
        audio=audio, audio_paths=_write_audio(out_dir, audio),
        signal_order=_signal_order(audio, methods))

    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(_render_md(content, out_dir), encoding="utf-8")
    from noisenil.evaluation.report.html import render_html  # imports this module: import it late

    html_path.write_text(render_html(content), encoding="utf-8")
    logger.info("report: wrote %s and %s (%.1f MB)", md_path, html_path,
                html_path.stat().st_size / 1e6)
    return md_path, html_path
