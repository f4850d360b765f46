"""``noisenil quickstart``: the main job end to end on the demo corpus (or the user's folders).

Four stages, each timed (logged, and kept in :attr:`QuickstartResult.stage_seconds`):

1. ``data``: generate the demo corpus (or scan ``--data``), split it by speaker, draw training
   batches (mixing + augmentation + STFT + patching) and measure the pipeline's throughput;
   writes ``config.yaml``, ``split.csv``, ``patches.png`` and ``examples/*.wav``.
2. ``sweep``: a Keras Tuner sweep (:func:`noisenil.tuning.experiment.tune`) over ``dncnn``,
   ``resnet_unet`` and ``two_stage_unet`` into ``tuning_results/<tune.experiment>/``
   (``trials.csv``, ``summary.md``, ``<model>/best.keras``).
3. ``comparison``: the three best models against the classical baselines and the noisy input
   (:func:`noisenil.evaluation.comparison.compare`) on held-out examples: the demo corpus's held-out
   speakers (``paired/``), or the test split (``data.test_fraction``) of ``--data``; writes
   ``comparison/report.html`` and ``report.md``.
4. ``denoise``: one held-out noisy file denoised by the sweep's best model (best
   ``tune.objective`` over all three families) with :func:`noisenil.inference.files.denoise_files`:
   ``denoised/<name>_denoised.wav`` beside ``denoised/<name>_noisy.wav``.

The sizes come from ``configs/quickstart.yaml``: tiny networks trained for seconds, about four
minutes in all on 2 CPU cores (three of them the sweep's). They show that the job runs, not what
the models can do; they lose to the classical baselines (``configs/default_model.yaml`` trains
the pretrained default model). Rerunning with the same ``out`` continues the sweep where it
stopped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from noisenil.config import Config, find_config, load_config, save_config
from noisenil.data.layout import data_overrides
from noisenil.data.manifest import split_shortfall
from noisenil.errors import ConfigError, DatasetError, NoiseNilError

logger = logging.getLogger(__name__)

#: File name of the quickstart's configuration (in ``configs/``; installed with the package).
CONFIG_NAME = "quickstart.yaml"


@dataclass
class QuickstartResult:
    """Where everything went, and what the run measured.

    Attributes:
        out_dir: The run folder.
        config: The configuration file the run started from (before overrides).
        files: Named paths of what was written.
        patches_per_second: Data-pipeline throughput measured on the training batches.
        summary: The data summary (files, splits, left-out files).
        objective: The sweep's objective (``tune.objective``, e.g. ``val_delta_si_sdr``).
        best_model: The family of the sweep's best model (best objective over all families).
        best_score: Its objective value on the validation batches.
        noisy_score: The noisy input's objective value on the same batches (no denoising).
        comparison: The comparison table (``comparison/comparison.csv``): one row per method.
        test_examples: Held-out examples the comparison scored.
        stage_seconds: Wall time of each stage (``data``, ``sweep``, ``comparison``,
            ``denoise``), seconds.
        seconds: Wall time of the whole run, seconds.
    """

    out_dir: Path
    config: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    patches_per_second: float = 0.0
    summary: str = ""
    objective: str = ""
    best_model: str = ""
    best_score: float = math.nan
    noisy_score: float = math.nan
    comparison: pd.DataFrame | None = None
    test_examples: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def delta_si_sdr(self, method: str) -> float:
        """Mean SI-SDR improvement over the noisy input (dB) of one method of the comparison."""
        table = self.comparison
        rows = table.loc[table["method"] == method, "delta_si_sdr"]
        return float(rows.iloc[0]) if len(rows) else math.nan

    @property
    def best_baseline(self) -> str:
        """The classical baseline with the largest mean SI-SDR improvement ("" if none ran)."""
        table = self.comparison
        base = table[table["kind"] == "baseline"] if table is not None else ()
        return "" if not len(base) else str(base.loc[base["delta_si_sdr"].idxmax(), "method"])

    def findings(self) -> str:
        """A few lines: the best model, how it compares with the best baseline, and the caveat."""
        lines, loses = [], False
        if self.best_model:
            lines.append(f"best model of the sweep: {self.best_model} ({self.objective} "
                         f"{self.best_score:.3f} on the validation batches; the noisy input "
                         f"scores {self.noisy_score:.3f})")
        if self.comparison is not None and self.best_model:
            model, base = self.delta_si_sdr(self.best_model), self.best_baseline
            n = self.test_examples
            text = (f"comparison on {n} held-out example{'' if n == 1 else 's'}: "
                    f"{self.best_model} ΔSI-SDR {model:+.2f} dB")
            if base:
                loses = model <= self.delta_si_sdr(base)
                text += f", best classical baseline {base} {self.delta_si_sdr(base):+.2f} dB"
            lines.append(text)
        if self.best_model and self.config is not None and self.config.name == CONFIG_NAME:
            lines.append(f"tiny sizes for a smoke run ({CONFIG_NAME}): networks trained for "
                         f"seconds " + ("lose to the classical baselines" if loses
                                        else "(read little into these numbers)")
                         + "; see configs/default_model.yaml / the pretrained default model "
                           "(noisenil denoise without --model) for a real one")
        return "\n".join(lines)


def default_config_path() -> Path:
    """``configs/quickstart.yaml``: the source checkout's, else the installed copy (see
    :func:`noisenil.config.shipped.config_dirs`).

    Raises:
        NoiseNilError: Neither exists (a broken installation).
    """
    from noisenil.config.shipped import config_dirs, shipped_configs

    path = shipped_configs().get(CONFIG_NAME)
    if path is None:
        raise NoiseNilError(f"{CONFIG_NAME} is missing from this installation (looked in "
                            f"{', '.join(map(str, config_dirs()))}); reinstall noisenil or pass "
                            f"--config")
    return path


def _plot_patches(x: np.ndarray, y: np.ndarray, path: Path, n: int = 4) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(n, x.shape[0])
    fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 5.2), squeeze=False)
    for i in range(n):
        for row, (arr, label) in enumerate(((x, "noisy"), (y, "clean"))):
            ax = axes[row, i]
            ax.imshow(arr[i, :, :, 0], origin="lower", aspect="auto", vmin=0, vmax=1,
                      cmap="magma")
            ax.set_title(f"{label} #{i}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("training patches (feature scale 0-1; frequency up, time right)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


@contextlib.contextmanager
def _stage(result: QuickstartResult, name: str) -> Iterator[None]:
    logger.info("quickstart: %s ...", name)
    start = time.perf_counter()
    yield
    result.stage_seconds[name] = seconds = time.perf_counter() - start
    logger.info("quickstart: %s took %.1f s", name, seconds)


def _data_stage(cfg: Config, out: Path, result: QuickstartResult, *, batches: int,
                progress: bool):
    """Build the datasets, time the pipeline, write the split, patches and example mixtures."""
    from noisenil.dsp.audio_io import save_audio
    from noisenil.data.datasets import build_datasets
    from noisenil.data.sources import MixingSource
    from noisenil.data.manifest import write_split

    bundle = build_datasets(cfg, progress=progress)
    result.summary = bundle.summary()
    result.files["split"] = write_split(bundle.splits, out / "split.csv")
    if bundle.noise_splits:
        result.files["noise_split"] = write_split(bundle.noise_splits, out / "noise_split.csv")

    first = bundle.train[0]  # warm-up: lazy imports and first filter designs (~2 s) not timed
    n = min(batches, len(bundle.train) - 1)
    t0 = time.perf_counter()
    drawn = [bundle.train[i] for i in range(1, n + 1)]
    elapsed = time.perf_counter() - t0
    result.patches_per_second = sum(b[0].shape[0] for b in drawn) / max(elapsed, 1e-9)
    result.files["patches_png"] = _plot_patches(*first, out / "patches.png")

    if isinstance(bundle.train.source, MixingSource):
        src = bundle.train.source
        seconds = 3
        examples = MixingSource(src.clean, src.noise, src.store, cfg,
                                length=seconds * cfg.audio.sample_rate)
        rng = np.random.default_rng(cfg.data.seed)
        for i in range(3):
            noisy, clean = examples.draw(rng)
            for kind, wav in (("noisy", noisy), ("clean", clean)):
                path = out / "examples" / f"example{i}_{kind}.wav"
                save_audio(path, wav, cfg.audio.sample_rate, subtype="PCM_16", overwrite=True)
                result.files[f"example{i}_{kind}"] = path
    return bundle


def _test_data(cfg: Config, bundle, where: str) -> Path | Config:
    """What the comparison scores: the demo corpus's held-out pairs, else the test split.

    Raises:
        DatasetError: Too few files (speakers) for a validation and a test split.
    """
    if cfg.data.mode == "demo":
        from noisenil.data.demo import make_demo_corpus

        corpus = make_demo_corpus(cfg.data.demo_dir, sample_rate=cfg.audio.sample_rate)
        return corpus.paired_clean_dir.parent
    d = cfg.data
    shortfall = split_shortfall(bundle.splits, val_fraction=d.val_fraction,
                                test_fraction=d.test_fraction, need=("test",))
    if shortfall is not None:
        raise DatasetError(f"{where}: {shortfall}; quickstart needs at least 3 speakers (or "
                           f"files), one each for training, validation and testing")
    return cfg


def _noisy_example(cfg: Config, test_data: Path | Config, bundle, folder: Path, *,
                   snr: float, seed: int) -> Path:
    """A held-out noisy file, copied (or, for mixed data, mixed) into ``folder``."""
    from noisenil.dsp.audio_io import save_audio
    from noisenil.data.testset import load_test_set

    if isinstance(test_data, Path):  # the demo corpus's paired/ folder
        src = min((test_data / "noisy").glob("*.wav"))
    elif cfg.data.mode == "paired":
        src = bundle.splits["test"][0].noisy.path
    else:  # clean + noise: no noisy file exists, so mix one held-out file at the first SNR
        example = load_test_set(cfg, sample_rate=cfg.audio.sample_rate, snrs=(snr,), seed=seed,
                                max_files=1).examples[0]
        stem = Path(example.name.rsplit("@", 1)[0]).stem
        return save_audio(folder / f"{stem}_{snr:g}dB_noisy.wav", example.noisy,
                          cfg.audio.sample_rate, subtype="PCM_16", overwrite=True)
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(src, folder / f"{src.stem}_noisy{src.suffix}"))


def run_quickstart(*, data: str | Path | None = None, out: str | Path = "noisenil_quickstart",
                   config: str | Path | None = None, overrides: list[str] | tuple = (),
                   batches: int = 16, test_files: int = 6, snrs: tuple[float, ...] = (0.0, 10.0),
                   examples: int = 2, progress: bool = True) -> QuickstartResult:
    """Run the quickstart (see the module docstring) and return where its results are.

    Args:
        data: A folder with ``clean/`` and ``noisy/`` (paired) or ``noise/`` (mixing), or a
            VoiceBank-DEMAND root (:func:`noisenil.data.layout.find_layout`, its training
            folders); ``None`` uses the generated demo corpus (in ``out/demo_data``).
        out: Run folder (created); the sweep goes to ``out/tuning_results/<tune.experiment>``.
        config: Config file or shipped config's name; default ``configs/quickstart.yaml``.
            The data folders and
            ``tune.results_dir`` are set on top.
        overrides: Extra ``key=value`` overrides, applied last.
        batches: Training batches timed to measure the pipeline (after one warm-up batch).
        test_files: Held-out clean files (or pairs) the comparison scores, at most.
        snrs: Input SNRs in dB of the comparison's mixtures (``--data`` with ``noise/``).
        examples: Examples shown as spectrograms and audio players in the report.
        progress: Progress bars (and Keras Tuner's trial reports).

    Returns:
        A :class:`QuickstartResult`.

    Raises:
        NoiseNilError: A bad folder or config, too few files for the held-out splits, or a
            sweep in which no trial completed.
    """
    from noisenil.evaluation.comparison import compare
    from noisenil.inference.files import denoise_files
    from noisenil.tuning.experiment import plan_experiment, tune

    start = time.perf_counter()
    out = Path(out).resolve()
    where = f"--data {data}" if data else f"config {config or CONFIG_NAME}"
    sets = data_overrides(data) if data else [f"data.demo_dir={out / 'demo_data'}"]
    sets.append(f"tune.results_dir={out / 'tuning_results'}")
    config = find_config(config) if config is not None else default_config_path()
    cfg: Config = load_config(config, overrides=[*sets, *overrides])
    plan_experiment(cfg)  # a bad tune section fails now, not after the data stage
    if cfg.data.mode != "demo" and cfg.data.test_fraction <= 0:
        raise ConfigError(f"data.test_fraction={cfg.data.test_fraction}: quickstart compares the "
                          f"models on held-out test files of {where}; set it above 0",
                          key="data.test_fraction")
    out.mkdir(parents=True, exist_ok=True)
    result = QuickstartResult(out, config=config, objective=cfg.tune.objective)
    result.files["config"] = save_config(cfg, out / "config.yaml")

    with _stage(result, "data"):
        bundle = _data_stage(cfg, out, result, batches=batches, progress=progress)
        test_data = _test_data(cfg, bundle, where)

    with _stage(result, "sweep"):
        sweep = tune(cfg, progress=progress)
        result.files["trials"] = sweep.trials_path
        result.files["sweep_summary"] = sweep.summary_path
        done = [b for b in sweep.best.values() if b.model_path is not None]
        if not done:
            raise NoiseNilError(f"the sweep in {sweep.experiment_dir} completed no trial; the "
                                f"reasons are in {sweep.trials_path}")
        pick = max if sweep.direction == "max" else min
        best = pick(done, key=lambda b: b.score)
        result.best_model, result.best_score = best.model, best.score
        result.noisy_score = sweep.baseline.get(sweep.objective, math.nan)
        result.files["best_model"] = best.model_path

    with _stage(result, "comparison"):
        report = out / "comparison"
        result.comparison = compare(sweep.experiment_dir, test_data, out_dir=report,
                                    baselines="all", snrs=snrs, seed=cfg.data.seed,
                                    max_files=test_files, examples=examples, progress=progress)
        methods = pd.read_csv(report / "metrics.csv")["method"]
        result.test_examples = int((methods == methods.iloc[0]).sum())
        result.files["report_html"] = report / "report.html"
        result.files["report_md"] = report / "report.md"

    with _stage(result, "denoise"):
        noisy = _noisy_example(cfg, test_data, bundle, out / "denoised", snr=snrs[0],
                               seed=cfg.data.seed)
        target = noisy.with_name(noisy.stem.removesuffix("_noisy") + "_denoised" + noisy.suffix)
        done_files = denoise_files([noisy], target, model=best.model_path, overwrite=True,
                                   progress=progress)
        if done_files.failed:
            raise NoiseNilError(done_files.summary())
        result.files["noisy_example"] = noisy
        result.files["denoised"] = target

    result.seconds = time.perf_counter() - start
    logger.info("quickstart finished in %.0f s (%s) in %s", result.seconds,
                ", ".join(f"{k} {v:.0f} s" for k, v in result.stage_seconds.items()), out)
    return result
