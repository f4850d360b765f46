"""Everything a report shows, checked and prepared once for both renderers
(:mod:`.markdown` and :mod:`.html`): :class:`ReportContent`, made by :func:`build_content`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from noisenil.errors import ConfigError
from noisenil.evaluation.report.audio import AudioExample, signal_order, write_audio
from noisenil.evaluation.report.tables import (Column, best_per_metric, headline_summary,
                                               metric_status, require_columns,
                                               sorted_comparison, table_columns)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportContent:
    """Everything a report shows, prepared once for both renderers."""

    title: str
    notes: list[str]
    table: pd.DataFrame                 # comparison, best first
    columns: list[Column]
    available: list[str]
    missing: dict[str, str]             # metric -> why it has no values
    best: pd.DataFrame                  # best_per_metric()
    headline: tuple[str, list[str], list[list[str]]] | None  # per-SNR table
    plots: dict[str, Path]
    grids: list[tuple[str, Path]]
    audio: list[AudioExample]
    audio_paths: list[dict[str, Path]]  # per example: signal -> WAV written
    signal_order: list[str]


def build_content(out_dir: Path, *, title: str, comparison: pd.DataFrame,
                  summary: pd.DataFrame | None, metric_plots: Mapping[str, str | Path] | None,
                  grids: Sequence[tuple[str, str | Path]], audio: Sequence[AudioExample],
                  notes: Sequence[str]) -> ReportContent:
    """Check the inputs of :func:`noisenil.evaluation.report.writer.write_report` (which
    documents them), create ``out_dir`` and write the audio examples' WAVs into it, and rank
    and lay out what the report shows.

    Raises:
        ConfigError: ``comparison`` lacks ``method``/``kind``, or a figure file does not exist.
    """
    require_columns(comparison, ("method", "kind"), "comparison")
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
    table = sorted_comparison(comparison, available)
    methods = list(table["method"])
    audio = list(audio)
    return ReportContent(
        title=title, notes=list(notes), table=table, columns=table_columns(table, available),
        available=available, missing=missing, best=best_per_metric(comparison),
        headline=headline_summary(summary, methods, available), plots=plots, grids=grid_list,
        audio=audio, audio_paths=write_audio(out_dir, audio),
        signal_order=signal_order(audio, methods))
