"""Compare backbones and classical baselines on identical inputs — ``noisenil compare``.

:func:`compare` takes a tuning experiment folder (its ``<model>/best.keras``), training run
folders (``model.keras``), ``.keras`` files or shipped models' names
(:func:`noisenil.models.locate.find_models`), scores every model, the classical baselines and
the noisy input on one test set with the scoring core shared with ``evaluate``
(:func:`noisenil.evaluation.scoring.run_methods`), and writes::

    <out>/comparison.csv   one row per method: kind, parameters, size, patches/s, real-time
                           factor, and every metric's mean and mean improvement over the input
    <out>/metrics.csv      one row per (method, example)
    <out>/summary.csv      per method and input SNR: mean and 95% confidence interval
    <out>/plots/           one figure per metric against input SNR; spectrogram grids
    <out>/report.md        the tables, the figures and links to audio examples (audio/)
    <out>/report.html      the same in one self-contained file (sortable table, <audio> players)

It returns ``comparison.csv`` as a pandas DataFrame for notebooks.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Sequence
from pathlib import Path

import keras
import pandas as pd

from noisenil.config import Config, load_config
from noisenil.config.atomic import check_writable
from noisenil.data.testset import DEFAULT_SNRS, load_test_set
from noisenil.errors import NoiseNilError
from noisenil.evaluation.methods import NOISY_INPUT, methods_for
from noisenil.evaluation.scoring import Scores, run_methods
from noisenil.inference.denoiser import Denoiser
from noisenil.models.locate import find_models

logger = logging.getLogger(__name__)

#: Seconds of each audio example embedded in the report.
EXAMPLE_SECONDS = 4.0


def unique_names(denoisers: list[Denoiser], paths: Sequence[Path]) -> None:
    """Models sharing a network name are named after their files: the run or experiment
    folder for a ``model.keras``/``best.keras``, else the file's stem; then numbered."""
    counts: dict[str, int] = {}
    for d in denoisers:
        counts[d.name] = counts.get(d.name, 0) + 1
    for d, p in zip(denoisers, paths):
        if counts[d.name] > 1:
            p = Path(p)
            d.name = p.parent.name if p.stem in ("model", "best") else p.stem
    seen: dict[str, int] = {}
    for d in denoisers:
        seen[d.name] = seen.get(d.name, 0) + 1
        if seen[d.name] > 1:
            d.name = f"{d.name}-{seen[d.name]}"


def budget_note(den: Denoiser, path: Path) -> str:
    """How a model was trained: what its folder records, else what its configuration allows."""
    c = den.cfg
    steps = -(-c.data.train_patches // c.data.batch_size)
    state = path.parent / "state.json"
    if (path.parent / "best_hparams.yaml").is_file():
        epochs = f"the best trial of a tuning experiment: at most {c.tune.epochs} epochs"
    elif state.is_file():
        epochs = f"a training run of {json.loads(state.read_text()).get('epochs_done')} epochs"
    else:
        epochs = f"at most {c.train.epochs} epochs (train.epochs)"
    return (f"{den.name}: {den.params:,} parameters; {epochs} of {steps} steps of "
            f"{c.data.batch_size} patches of {c.patches.height}x{c.patches.width} "
            f"({c.data.mode} data); configuration: {den.config_source}")


def _experiment_note(sources: Sequence[Path]) -> list[str]:
    notes = []
    for src in sources:
        cfg_path = src / "config.yaml"
        if src.is_dir() and (src / "trials.csv").is_file() and cfg_path.is_file():
            c = load_config(cfg_path)
            trials = pd.read_csv(src / "trials.csv")
            notes.append(
                f"tuning experiment {src}: {c.tune.algorithm} search, "
                f"{len(trials)} trials over {', '.join(c.tune.models)}, {c.tune.epochs} epochs of "
                f"{c.data.train_patches} patches per trial, objective {c.tune.objective}")
    return notes


def _figures(scores: Scores, summary: pd.DataFrame, out: Path, *, stft_cfg) -> tuple[dict, list]:
    from noisenil.evaluation.report import plots, spectrograms

    plot_dir = out / "plots"
    metric_plots = plots.metric_plots(summary, plot_dir)
    grids = []
    sr = scores.test_set.sample_rate
    rows = []
    for i, outs in scores.outputs.items():
        ex = scores.test_set.examples[i]
        specs = {"noisy": spectrograms.spectrogram_db(ex.noisy, stft=stft_cfg)}
        specs.update({name: spectrograms.spectrogram_db(y, stft=stft_cfg)
                      for name, y in outs.items() if name != NOISY_INPUT})
        specs["clean"] = spectrograms.spectrogram_db(ex.clean, stft=stft_cfg)
        rows.append((f"{ex.name} ({ex.input_snr:.1f} dB)", specs))
    if rows:
        path = spectrograms.spectrogram_grid(rows, sample_rate=sr, hop=stft_cfg.hop_length,
                                             path=plot_dir / "examples_grid.png")
        grids.append(("Examples: rows are files, columns are methods (dB magnitude)", path))
    return metric_plots, grids


def _audio_examples(scores: Scores) -> list:
    from noisenil.evaluation.report.audio import AudioExample

    sr = scores.test_set.sample_rate
    n = int(EXAMPLE_SECONDS * sr)
    out = []
    for i, outs in scores.outputs.items():
        ex = scores.test_set.examples[i]
        signals = {"clean": ex.clean[:n], "noisy": ex.noisy[:n]}
        signals.update({k: v[:n] for k, v in outs.items() if k != NOISY_INPUT})
        out.append(AudioExample(label=f"{ex.name} ({ex.input_snr:.1f} dB)", sample_rate=sr,
                                signals=signals))
    return out


def compare(models: str | Path | Sequence[str | Path], data: str | Path | Config, *,
            out_dir: str | Path = "comparison", config: Config | str | Path | None = None,
            baselines: str | Sequence[str] | None = "all",
            snrs: Sequence[float] = DEFAULT_SNRS, seed: int = 0, max_files: int | None = None,
            metrics: Sequence[str] | None = None, examples: int = 3,
            progress: bool = True) -> pd.DataFrame:
    """Score several models and the classical baselines on one test set and write a report.

    Args:
        models: A tuning experiment folder, training run folders, ``.keras`` files, or a list.
        data: Test folder or config (see :func:`noisenil.data.testset.load_test_set`).
        out_dir: Where the report goes.
        config: Configuration for models that carry none (see
            :func:`noisenil.models.saving.model_config`).
        baselines: ``"all"`` available baselines, a list of names (or a comma list such as
            ``"wiener,log_mmse"``), or ``None``.
        snrs: Input SNRs in dB for mixed test sets.
        seed: Seed of the mixtures.
        max_files: At most this many clean files.
        metrics: Audio metrics (all by default).
        examples: Examples shown as spectrograms and audio players.
        progress: Progress bars.

    Returns:
        The comparison table (``comparison.csv``): one row per method.

    Raises:
        NoiseNilError: No model found, or models working at different sample rates.
    """
    from noisenil.evaluation.report.writer import write_report

    check_writable(out_dir, what="out_dir")  # before any model or audio is loaded
    sources = [models] if isinstance(models, (str, Path)) else list(models)
    paths = find_models(sources)
    dens = [Denoiser.from_file(p, config=config) for p in paths]
    unique_names(dens, paths)
    rates = {d.sample_rate for d in dens}
    if len(rates) > 1:
        raise NoiseNilError(f"models work at different rates {sorted(rates)} Hz: compare models "
                            "trained at one audio.sample_rate")
    sr = rates.pop()
    test_set = load_test_set(data, sample_rate=sr, snrs=snrs, seed=seed, max_files=max_files)
    methods = methods_for(zip(dens, paths), baselines)
    results = run_methods(test_set, methods, out_dir, features=dens[0].features,
                          metrics=metrics, examples=examples, progress=progress)
    scores, summary, table, out = (results.scores, results.summary, results.comparison,
                                   results.out_dir)
    metric_plots, grids = _figures(scores, summary, out, stft_cfg=dens[0].cfg.stft)
    notes = [f"Test set: {test_set.description}; {len(test_set)} examples, "
             f"{test_set.seconds:.0f} s at {sr} Hz."]
    if test_set.skipped:
        notes.append(f"{len(test_set.skipped)} files left out, e.g. {test_set.skipped[0]}")
    notes += _experiment_note([Path(s) for s in sources])
    notes += [budget_note(d, p) for d, p in zip(dens, paths)]
    notes.append(f"Speed: wall time of each method over the whole test set on this machine "
                 f"({platform.machine()}, Keras {keras.__version__} on {keras.backend.backend()}), "
                 f"after one warm-up call; models run {dens[0].batch_size} chunks of "
                 f"{dens[0].cfg.patches.chunk_width} frames per call. rtf = processing s / audio s.")
    notes += scores.notes
    write_report(out, title="noisenil comparison", comparison=table, summary=summary,
                 metric_plots=metric_plots, grids=grids, audio=_audio_examples(scores),
                 notes=notes)
    logger.info("comparison of %d methods on %d examples written to %s", len(methods),
                len(test_set), out)
    return table

