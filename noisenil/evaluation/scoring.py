"""The scoring core of ``evaluate`` and ``compare``: methods on a test set, per-file metrics,
per-SNR means with 95% confidence intervals, speed, and the three tables they write.

:func:`run_methods` runs every :class:`~noisenil.evaluation.methods.Method` on the identical
examples of a :class:`~noisenil.data.testset.TestSet` (:func:`score_methods`), summarises the
scores and writes::

    <out>/metrics.csv      one row per (method, example): every metric, its noisy_ and delta_ value
    <out>/summary.csv      per method and input SNR: n, <metric>_mean and <metric>_ci95
    <out>/comparison.csv   one row per method: kind, source, size, speed and every metric's mean

Spectrogram MSE and SSIM compare noisenil features (dB magnitude on [0, 1] by default, SSIM
``data_range=1``) of the clean and the denoised signal, computed with the same STFT for every
method. Audio metrics come from :func:`noisenil.evaluation.quality.audio_scores`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from noisenil.config import Config
from noisenil.data.testset import TestExample, TestSet
from noisenil.dsp.features import FeatureTransform
from noisenil.errors import ConfigError
from noisenil.evaluation import quality
from noisenil.evaluation.methods import Method

#: Columns that identify a row of ``metrics.csv``.
ID_COLUMNS = ("method", "kind", "file", "snr_db", "input_snr", "noise", "seconds")


@dataclass
class Scores:
    """What :func:`score_methods` measured.

    Attributes:
        metrics: One row per (method, example); see :data:`ID_COLUMNS` and the metric columns.
        outputs: ``{example index: {method name: denoised signal}}`` for the kept examples.
        methods: The methods, with their timing filled in.
        test_set: The examples scored.
        notes: Why a metric asked for cannot run here (its install hint).
    """

    metrics: pd.DataFrame
    outputs: dict[int, dict[str, np.ndarray]]
    methods: list[Method]
    test_set: TestSet
    notes: list[str] = field(default_factory=list)


def example_indices(test_set: TestSet, count: int) -> list[int]:
    """Up to ``count`` examples spread over the SNR groups (lowest SNR first), for figures."""
    by_snr: dict[float, list[int]] = {}
    for i, e in enumerate(test_set.examples):
        by_snr.setdefault(e.snr_db, []).append(i)
    picked: list[int] = []
    rank = 0
    while len(picked) < count and any(rank < len(v) for v in by_snr.values()):
        for snr in sorted(by_snr):
            if rank < len(by_snr[snr]) and len(picked) < count:
                picked.append(by_snr[snr][rank])
        rank += 1
    return picked


@dataclass(frozen=True)
class _Reference:
    """What every method of one example is compared with."""

    clean_features: np.ndarray
    noisy_scores: dict[str, float]


def score_methods(test_set: TestSet, methods: Sequence[Method], *,
                  features: FeatureTransform | None = None,
                  metrics: Sequence[str] | None = None, keep: Sequence[int] = (),
                  progress: bool = True) -> Scores:
    """Run every method on every example and score it.

    Each method is warmed up on the first example before timing (so one-off tracing is not
    counted in its speed).

    Args:
        test_set: The examples.
        methods: Methods with unique names.
        features: Feature transform for the spectrogram metrics; default settings if ``None``.
        metrics: Audio metric names (:data:`noisenil.evaluation.quality.AUDIO_METRICS` by default);
            spectrogram MSE/SSIM are always computed.
        keep: Example indices whose outputs are returned (for figures and audio).
        progress: Show a progress bar.

    Returns:
        :class:`Scores`.

    Raises:
        ConfigError: Duplicate method names or an unknown metric.
    """
    from tqdm.auto import tqdm

    names = [m.name for m in methods]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"methods: duplicate names {dupes}; give each model its own name",
                          key="methods")
    ft = features or FeatureTransform.from_config(Config())
    sr = test_set.sample_rate
    rows, outputs = [], {i: {} for i in keep}
    first = test_set.examples[0].noisy[: sr]
    for m in methods:
        m.fn(first, sr)  # warm-up, not timed
        if m.denoiser is not None:
            m.denoiser.throughput.reset()
    total = len(methods) * len(test_set)
    with tqdm(total=total, desc="evaluating", unit="file", disable=not progress) as bar:
        for i, ex in enumerate(test_set.examples):
            # The input's own scores are computed once per example, not once per method.
            clean_feats, noisy_feats = ft.analyze(ex.clean)[0], ft.analyze(ex.noisy)[0]
            reference = _Reference(clean_feats, {
                **quality.audio_scores(ex.clean, ex.noisy, sample_rate=sr, metrics=metrics),
                **quality.spectrogram_scores(clean_feats, noisy_feats)})
            for m in methods:
                start = time.perf_counter()
                y = np.asarray(m.fn(ex.noisy, sr), dtype=np.float32)
                m.timing.seconds += time.perf_counter() - start
                m.timing.audio_seconds += ex.samples / sr
                rows.append(_row(m, ex, y, sr, ft, reference, metrics))
                if i in outputs:
                    outputs[i][m.name] = y
                bar.update()
    df = pd.DataFrame(rows)
    notes = [f"{name}: {hint}" for name, hint in quality.available_metrics().items()
             if hint and (metrics is None or name in metrics)]
    return Scores(df, outputs, list(methods), test_set, notes)


def _row(m: Method, ex: TestExample, y: np.ndarray, sr: int, ft: FeatureTransform,
         ref: _Reference, metrics: Sequence[str] | None) -> dict:
    if y.shape != ex.noisy.shape:
        raise ConfigError(f"method {m.name!r} returned shape {y.shape} for input "
                          f"{ex.noisy.shape}", key="methods")
    row = dict(method=m.name, kind=m.kind, file=ex.name, snr_db=ex.snr_db,
               input_snr=ex.input_snr, noise=ex.noise, seconds=ex.samples / sr)
    if m.kind == "input":  # scored once per example already
        scores = ref.noisy_scores
    else:
        scores = {**quality.audio_scores(ex.clean, y, sample_rate=sr, metrics=metrics),
                  **quality.spectrogram_scores(ref.clean_features, ft.analyze(y)[0])}
    for name, value in scores.items():
        row[name] = value
        row[f"noisy_{name}"] = ref.noisy_scores[name]
        row[f"delta_{name}"] = value - ref.noisy_scores[name]
    return row


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The metric and ``delta_`` columns of a metrics frame, in report order."""
    cols = []
    for m in quality.METRIC_INFO:
        cols += [c for c in (m, f"delta_{m}") if c in df.columns]
    return cols


def _ci95(values: pd.Series) -> float:
    from scipy import stats

    v = values.dropna().to_numpy(dtype=float)
    if len(v) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def summarize(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per method and input SNR: ``n``, ``<metric>_mean`` and ``<metric>_ci95``.

    ``_ci95`` is the half-width of the 95% confidence interval of the mean (Student t,
    ``n - 1`` degrees of freedom); NaN below 2 files.
    """
    cols = metric_columns(metrics)
    out = []
    for (method, kind, snr), g in metrics.groupby(["method", "kind", "snr_db"], sort=False):
        row = dict(method=method, kind=kind, snr_db=snr, n=len(g))
        for c in cols:
            row[f"{c}_mean"] = float(g[c].mean())
            row[f"{c}_ci95"] = _ci95(g[c])
        out.append(row)
    return pd.DataFrame(out).sort_values(["snr_db"], kind="stable").reset_index(drop=True)


def comparison_table(scores: Scores) -> pd.DataFrame:
    """One row per method: kind, model file (``source``), size, speed and every metric's mean
    over all examples."""
    df = scores.metrics
    cols = metric_columns(df)
    rows = []
    for m in scores.methods:
        g = df[df["method"] == m.name]
        th = m.denoiser.throughput if m.denoiser is not None else None
        row = dict(method=m.name, kind=m.kind, source=m.source, params=m.params,
                   size_mb=m.size_mb,
                   patches_per_s=th.patches_per_second if th else float("nan"),
                   rtf=m.timing.rtf if m.kind != "input" else float("nan"))
        row.update({c: float(g[c].mean()) for c in cols})
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class Results:
    """What :func:`run_methods` measured and wrote.

    Attributes:
        scores: Per-file rows, the kept examples' outputs and the timed methods.
        summary: Per method and SNR (``summary.csv``), from :func:`summarize`.
        comparison: One row per method (``comparison.csv``), from :func:`comparison_table`.
        out_dir: Where the tables went (``None`` if nothing was written).
    """

    scores: Scores
    summary: pd.DataFrame
    comparison: pd.DataFrame
    out_dir: Path | None = None

    @property
    def metrics(self) -> pd.DataFrame:
        """Per-file rows (``metrics.csv``)."""
        return self.scores.metrics


def run_methods(test_set: TestSet, methods: Sequence[Method],
                out_dir: str | Path | None = None, *, features: FeatureTransform | None = None,
                metrics: Sequence[str] | None = None, examples: int = 3,
                progress: bool = True) -> Results:
    """Score methods on a test set, summarise the scores and write the three tables.

    Args:
        test_set: The examples.
        methods: Methods with unique names (e.g. :func:`noisenil.evaluation.methods.methods_for`).
        out_dir: Folder (created) for ``metrics.csv``, ``summary.csv`` and ``comparison.csv``;
            nothing is written if ``None``.
        features: Feature transform for the spectrogram metrics (see :func:`score_methods`).
        metrics: Audio metrics (all by default).
        examples: Number of examples, spread over the SNR groups, whose outputs are kept in
            ``scores.outputs`` for figures and audio.
        progress: Progress bar.

    Returns:
        :class:`Results`.

    Raises:
        ConfigError: Duplicate method names or an unknown metric.
    """
    scores = score_methods(test_set, methods, features=features, metrics=metrics,
                           keep=example_indices(test_set, examples), progress=progress)
    results = Results(scores, summarize(scores.metrics), comparison_table(scores))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        results.metrics.to_csv(out / "metrics.csv", index=False)
        results.summary.to_csv(out / "summary.csv", index=False)
        results.comparison.to_csv(out / "comparison.csv", index=False)
        results.out_dir = out
    return results
