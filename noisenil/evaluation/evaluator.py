"""Score denoisers on a test set: per-file metrics, per-SNR means with 95% confidence intervals,
speed, and example figures — ``noisenil evaluate``.

A *method* is anything that maps a noisy signal to a denoised one: a trained network
(:class:`~noisenil.inference.denoiser.Denoiser`), a classical baseline (:mod:`noisenil.evaluation.baselines`), or the
noisy input itself (the reference every improvement ``delta_<metric>`` is measured against).
:func:`score_methods` runs every method on the identical examples of a
:class:`~noisenil.data.testset.TestSet`; :func:`evaluate` does that for one model and writes::

    <out>/metrics.csv    one row per (method, example): every metric, its noisy_ and delta_ value
    <out>/summary.csv    per method and input SNR: n, <metric>_mean and <metric>_ci95
    <out>/figures/       noisy / denoised / clean / removed spectrograms of a few examples

Spectrogram MSE and SSIM compare noisenil features (dB magnitude on [0, 1] by default, SSIM
``data_range=1``) of the clean and the denoised signal, computed with the same STFT for every
method. Audio metrics come from :func:`noisenil.evaluation.quality.evaluate_pair`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from noisenil.evaluation import quality
from noisenil.evaluation.baselines import available_baselines, get_baseline
from noisenil.config import Config, StftConfig
from noisenil.inference.denoiser import Denoiser, Throughput
from noisenil.errors import ConfigError
from noisenil.dsp.features import FeatureTransform
from noisenil.data.testset import TestExample, TestSet

logger = logging.getLogger(__name__)

#: Name of the method that passes the noisy input through unchanged.
NOISY_INPUT = "noisy input"
#: Columns that identify a row of ``metrics.csv``.
ID_COLUMNS = ("method", "kind", "file", "snr_db", "input_snr", "noise", "seconds")


@dataclass
class Method:
    """A way of denoising, scored like any other.

    Attributes:
        name: Label in tables (unique within one evaluation).
        kind: ``"model"``, ``"baseline"`` or ``"input"``.
        fn: ``fn(noisy (samples,), sample_rate) -> denoised (samples,)``.
        denoiser: The :class:`Denoiser` behind a model (size and patch counts come from it).
        size_mb: Size of the model file in MB, if known.
        source: The model file it was loaded from (``""`` for baselines, the input, or a model
            given in memory), so a comparison table says which file each row is.
        timing: Wall time and audio duration over the test set (filled by
            :func:`score_methods`; its ``rtf`` is the method's real-time factor).
    """

    name: str
    kind: str
    fn: Callable[[np.ndarray, int], np.ndarray]
    denoiser: Denoiser | None = None
    size_mb: float = float("nan")
    source: str = ""
    timing: Throughput = field(default_factory=Throughput)

    @property
    def params(self) -> float:
        """Parameter count of a model, NaN otherwise."""
        return float(self.denoiser.params) if self.denoiser is not None else float("nan")


def input_method() -> Method:
    """The noisy input passed through (scores the starting point)."""
    return Method(NOISY_INPUT, "input", lambda x, sr: x)


def model_method(denoiser: Denoiser, *, source: str | Path | None = None) -> Method:
    """A trained network as a method; ``source``, the file it came from, gives its size."""
    size_mb = Path(source).stat().st_size / 1e6 if source else float("nan")
    return Method(denoiser.name, "model", denoiser.denoise, denoiser=denoiser, size_mb=size_mb,
                  source=str(source or ""))


def baseline_methods(names: str | Sequence[str] | None) -> list[Method]:
    """Classical baselines by name; ``"all"`` is every available one, ``None``/``"none"`` none.

    Raises:
        ConfigError: An unknown baseline, naming it and the choices.
    """
    if names is None or names == "none":
        return []
    chosen = available_baselines() if names == "all" else list(names)
    out = []
    for name in chosen:
        fn = get_baseline(name)
        out.append(Method(name, "baseline",
                          lambda x, sr, fn=fn: fn(x, sample_rate=sr)))
    return out


@dataclass
class Scores:
    """What :func:`score_methods` measured.

    Attributes:
        metrics: One row per (method, example); see :data:`ID_COLUMNS` and the metric columns.
        outputs: ``{example index: {method name: denoised signal}}`` for the kept examples.
        methods: The methods, with their timing filled in.
        test_set: The examples scored.
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


def _spectrogram_scores(clean_features: np.ndarray, features: np.ndarray) -> dict[str, float]:
    return {"spectrogram_mse": quality.spectrogram_mse(clean_features, features),
            "spectrogram_ssim": quality.spectrogram_ssim(clean_features, features)}


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
                **_spectrogram_scores(clean_feats, noisy_feats)})
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
                  **_spectrogram_scores(ref.clean_features, ft.analyze(y)[0])}
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


# -- evaluate ------------------------------------------------------------------------------------

@dataclass
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes:
        metrics: Per-file rows (``metrics.csv``).
        summary: Per method and SNR (``summary.csv``).
        comparison: One row per method with speed and means.
        out_dir: Where the files went (``None`` if nothing was written).
        figures: Example spectrogram figures.
    """

    metrics: pd.DataFrame
    summary: pd.DataFrame
    comparison: pd.DataFrame
    out_dir: Path | None
    figures: list[Path] = field(default_factory=list)


def example_figures(scores: Scores, method: str, out_dir: Path, *, stft_cfg: StftConfig,
                    prefix: str = "example") -> list[Path]:
    """noisy / denoised / clean / removed-residual spectrogram panels for the kept examples."""
    from noisenil.evaluation.report import plots

    paths = []
    sr = scores.test_set.sample_rate
    hop = stft_cfg.hop_length
    for i, outs in scores.outputs.items():
        ex = scores.test_set.examples[i]
        y = outs[method]
        panels = {"noisy": plots.spectrogram_db(ex.noisy, stft=stft_cfg),
                  f"denoised ({method})": plots.spectrogram_db(y, stft=stft_cfg),
                  "clean": plots.spectrogram_db(ex.clean, stft=stft_cfg),
                  "removed (noisy - denoised)": plots.spectrogram_db(ex.noisy - y,
                                                                     stft=stft_cfg)}
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ex.name)
        paths.append(plots.spectrogram_panels(
            panels, sample_rate=sr, hop=hop, path=out_dir / f"{prefix}_{i:03d}_{safe}.png",
            title=f"{ex.name} (input SNR {ex.input_snr:.1f} dB)"))
    return paths


def evaluate(model: str | Path | Denoiser, data: str | Path | Config, *,
             out_dir: str | Path | None = None, config: Config | str | Path | None = None,
             snrs: Sequence[float] = (0.0, 5.0, 10.0, 15.0), seed: int = 0,
             max_files: int | None = None, baselines: str | Sequence[str] | None = None,
             metrics: Sequence[str] | None = None, examples: int = 3,
             progress: bool = True) -> Evaluation:
    """Denoise a test set with one model and score it against the noisy input.

    Args:
        model: A ``.keras`` file or a :class:`Denoiser`.
        data: A test folder or a config (its test split); see :func:`noisenil.data.testset.load_test_set`.
        out_dir: Folder for ``metrics.csv``, ``summary.csv`` and ``figures/``; nothing is
            written if ``None``.
        config: Overrides the configuration found with the model.
        snrs: Input SNRs (dB) of mixed test sets.
        seed: Seed of the mixtures.
        max_files: At most this many clean files.
        baselines: Classical baselines scored beside it (``"all"``, names, or ``None``).
        metrics: Audio metrics (all by default).
        examples: Number of example figures.
        progress: Progress bars.

    Returns:
        :class:`Evaluation`.
    """
    from noisenil.data.testset import load_test_set

    path = None if isinstance(model, Denoiser) else Path(model)
    den = model if path is None else Denoiser.from_file(path, config=config)
    test_set = load_test_set(data, sample_rate=den.sample_rate, snrs=snrs, seed=seed,
                             max_files=max_files)
    methods = [input_method(), model_method(den, source=path), *baseline_methods(baselines)]
    keep = example_indices(test_set, examples)
    scores = score_methods(test_set, methods, features=den.features, metrics=metrics, keep=keep,
                           progress=progress)
    result = Evaluation(scores.metrics, summarize(scores.metrics), comparison_table(scores),
                        None)
    for note in scores.notes:
        logger.warning("%s", note)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result.metrics.to_csv(out / "metrics.csv", index=False)
        result.summary.to_csv(out / "summary.csv", index=False)
        result.comparison.to_csv(out / "comparison.csv", index=False)
        result.figures = example_figures(scores, den.name, out / "figures",
                                         stft_cfg=den.cfg.stft)
        result.out_dir = out
    return result
