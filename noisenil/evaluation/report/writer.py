"""Evaluation reports: ``report.md`` and one self-contained ``report.html``.

Rendering only: the numbers come from the evaluation (a per-method ``comparison`` table and a
per-method, per-input-SNR ``summary``), the figures from :mod:`noisenil.evaluation.report.plots`
and :mod:`noisenil.evaluation.report.spectrograms`, the audio as
:class:`~noisenil.evaluation.report.audio.AudioExample` waveforms. :func:`write_report` writes

- ``report.md`` (rendered by :mod:`noisenil.evaluation.report.markdown`): tables in Markdown,
  figures as relative image links, audio as links to ``audio/<example>/<signal>.wav`` (16-bit
  PCM, written here);
- ``report.html`` (rendered by :mod:`noisenil.evaluation.report.html`): one file with everything
  inside (PNGs and WAVs as base64 ``data:`` URIs, inline CSS and a small inline script that
  sorts the comparison table by any column); it references no other file and no URL, so it can
  be mailed or attached as it is.

Both show the same content (:mod:`noisenil.evaluation.report.content`), formatted and ranked by
:mod:`noisenil.evaluation.report.tables`: the best value of each metric column (among models
and baselines, not the noisy input) is in bold, and a metric without values (PESQ/STOI without
the ``eval`` extra) is listed as not available.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from noisenil.evaluation.report.audio import AudioExample
from noisenil.evaluation.report.content import build_content
from noisenil.evaluation.report.html import render_html
from noisenil.evaluation.report.markdown import render_markdown

logger = logging.getLogger(__name__)


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
        metric_plots: ``{metric or delta_ name: PNG}`` from
            :func:`noisenil.evaluation.report.plots.metric_plots` (captioned with the metric);
            other keys are used as captions.
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
    content = build_content(out_dir, title=title, comparison=comparison, summary=summary,
                            metric_plots=metric_plots, grids=grids, audio=audio, notes=notes)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(render_markdown(content, out_dir), encoding="utf-8")
    html_path.write_text(render_html(content), encoding="utf-8")
    logger.info("report: wrote %s and %s (%.1f MB)", md_path, html_path,
                html_path.stat().st_size / 1e6)
    return md_path, html_path
