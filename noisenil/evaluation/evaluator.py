"""Score one model on a test set against the noisy input and the classical baselines —
``noisenil evaluate``.

:func:`evaluate` is a thin caller of the scoring core shared with ``compare``
(:func:`noisenil.evaluation.scoring.run_methods`) and writes::

    <out>/metrics.csv      one row per (method, example): every metric, its noisy_ and delta_ value
    <out>/summary.csv      per method and input SNR: n, <metric>_mean and <metric>_ci95
    <out>/comparison.csv   one row per method: kind, source, size, speed and every metric's mean
    <out>/figures/         noisy / denoised / clean / removed spectrograms of a few examples
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from noisenil.config import Config, StftConfig
from noisenil.config.atomic import check_writable
from noisenil.evaluation.methods import methods_for
from noisenil.evaluation.scoring import Scores, run_methods
from noisenil.inference.denoiser import Denoiser
from noisenil.models.saving import resolve_model

logger = logging.getLogger(__name__)


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
    from noisenil.evaluation.report import spectrograms

    paths = []
    sr = scores.test_set.sample_rate
    hop = stft_cfg.hop_length
    for i, outs in scores.outputs.items():
        ex = scores.test_set.examples[i]
        y = outs[method]
        panels = {"noisy": spectrograms.spectrogram_db(ex.noisy, stft=stft_cfg),
                  f"denoised ({method})": spectrograms.spectrogram_db(y, stft=stft_cfg),
                  "clean": spectrograms.spectrogram_db(ex.clean, stft=stft_cfg),
                  "removed (noisy - denoised)": spectrograms.spectrogram_db(ex.noisy - y,
                                                                            stft=stft_cfg)}
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ex.name)
        paths.append(spectrograms.spectrogram_panels(
            panels, sample_rate=sr, hop=hop, path=out_dir / f"{prefix}_{i:03d}_{safe}.png",
            title=f"{ex.name} (input SNR {ex.input_snr:.1f} dB)"))
    return paths


def evaluate(model: str | Path | Denoiser, data: str | Path | Config, *,
             out_dir: str | Path | None = None, config: Config | str | Path | None = None,
             snrs: Sequence[float] = (0.0, 5.0, 10.0, 15.0), seed: int = 0,
             max_files: int | None = None, baselines: str | Sequence[str] | None = "all",
             metrics: Sequence[str] | None = None, examples: int = 3,
             progress: bool = True) -> Evaluation:
    """Denoise a test set with one model and score it against the noisy input.

    Args:
        model: A :class:`Denoiser`, or what ``--model`` accepts
            (:func:`~noisenil.models.saving.resolve_model`): a shipped model's name, a
            ``.keras`` file, a training run folder or a tuning experiment folder (its best
            model).
        data: A test folder or a config (its test split); see
            :func:`noisenil.data.testset.load_test_set`.
        out_dir: Folder for ``metrics.csv``, ``summary.csv``, ``comparison.csv`` and
            ``figures/``; nothing is written if ``None``.
        config: Overrides the configuration found with the model.
        snrs: Input SNRs (dB) of mixed test sets.
        seed: Seed of the mixtures.
        max_files: At most this many clean files.
        baselines: Classical baselines scored beside it: ``"all"`` (the default, as for
            :func:`~noisenil.evaluation.comparison.compare`), names, or ``None``.
        metrics: Audio metrics (all by default).
        examples: Number of example figures.
        progress: Progress bars.

    Returns:
        :class:`Evaluation`.
    """
    from noisenil.data.testset import load_test_set

    if out_dir is not None:  # before any model or audio is loaded
        check_writable(out_dir, what="out_dir")
    path = None if isinstance(model, Denoiser) else resolve_model(model)
    den = model if path is None else Denoiser.from_file(path, config=config)
    test_set = load_test_set(data, sample_rate=den.sample_rate, snrs=snrs, seed=seed,
                             max_files=max_files)
    results = run_methods(test_set, methods_for([(den, path)], baselines), out_dir,
                          features=den.features, metrics=metrics, examples=examples,
                          progress=progress)
    for note in results.scores.notes:
        logger.warning("%s", note)
    result = Evaluation(results.metrics, results.summary, results.comparison, results.out_dir)
    if results.out_dir is not None:
        result.figures = example_figures(results.scores, den.name, results.out_dir / "figures",
                                         stft_cfg=den.cfg.stft)
    return result
