"""The Markdown half of a report: ``report.md``, with figures as relative image links and audio
as links to the WAVs written beside it (see :mod:`noisenil.evaluation.report.writer`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from noisenil.evaluation.quality import METRIC_INFO, metric_label
from noisenil.evaluation.report.content import ReportContent
from noisenil.evaluation.report.tables import (BEST_HEADERS, Column, best_rows, best_table_rows,
                                               finite, format_value, plot_caption,
                                               times_real_time)


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
    v = finite(value)
    if column == "rtf" and v is not None:
        text += f" ({times_real_time(v)})"
    return text


def _metric_md(c: Column, row: pd.Series) -> str:
    """``"20.39 (+15.38)"``: the mean score and, in brackets, its improvement."""
    score = format_value(c.score, row[c.score]) if c.score else None
    delta = format_value(c.delta, row[c.delta]) if c.delta else "—"
    if score is None:
        return delta
    return score if delta == "—" else f"{score} ({delta})"


def render_markdown(c: ReportContent, out_dir: Path) -> str:
    """The text of ``report.md``; links are relative to ``out_dir``, the report's folder."""
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
    bold = {col.key: best_rows(c.table, col.key) for col in c.columns if col.is_metric}
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
        lines += _md_table(BEST_HEADERS, best_table_rows(c.best), "llrlrc") + [""]
    if c.headline is not None:
        col, snr_headers, rows = c.headline
        lines += [f"## {metric_label(col, arrow=True)} by input SNR", "",
                  "Mean ± half-width of the 95 % confidence interval; n = files per group.", ""]
        lines += _md_table(["method"] + snr_headers, rows, "l" + "r" * len(snr_headers)) + [""]
    if c.plots:
        lines += ["## Metrics vs input SNR", ""]
        for key, path in c.plots.items():
            lines += [f"![{_md(plot_caption(key))}]({_rel(path, out_dir)})", ""]
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
