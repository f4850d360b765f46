"""``noisenil quickstart``: the main job end to end on the demo corpus (or the user's folders).

At this stage of the project the quickstart runs the data pipeline: it generates the demo corpus,
scans and splits it by speaker, draws training batches (mixing + augmentation + STFT +
patching), measures the pipeline's throughput, and writes what it produced (resolved config,
split, example mixtures, a figure of patches). Later stages add the sweep, the comparison report
and a denoised example.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noisenil.config import Config, load_config, save_config
from noisenil.errors import DatasetError

logger = logging.getLogger(__name__)


@dataclass
class QuickstartResult:
    """Where everything went, and the measured throughput.

    Attributes:
        out_dir: The run folder.
        files: Named paths of what was written.
        patches_per_second: Data-pipeline throughput measured on the training batches.
        summary: The data summary (files, splits, left-out files).
    """

    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    patches_per_second: float = 0.0
    summary: str = ""


def data_overrides(data_dir: str | Path) -> list[str]:
    """Config overrides pointing at a user's folder: ``clean/`` + ``noisy/`` or ``noise/``.

    Raises:
        DatasetError: The folder has no ``clean/`` subfolder, or neither ``noisy/`` nor ``noise/``.
    """
    root = Path(data_dir).expanduser().resolve()
    if not (root / "clean").is_dir():
        raise DatasetError(f"--data {data_dir}: expected a 'clean/' subfolder (with 'noisy/' "
                           f"for paired data or 'noise/' for mixing)")
    if (root / "noisy").is_dir():
        return ["data.mode=paired", f"data.clean_dir={root / 'clean'}",
                f"data.noisy_dir={root / 'noisy'}"]
    if (root / "noise").is_dir():
        return ["data.mode=mixing", f"data.clean_dir={root / 'clean'}",
                f"data.noise_dir={root / 'noise'}"]
    raise DatasetError(f"--data {data_dir}: found 'clean/' but neither 'noisy/' nor 'noise/'")


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


def run_quickstart(*, data: str | Path | None = None, out: str | Path = "noisenil_quickstart",
                   config: str | Path | None = None, overrides: list[str] | tuple = (),
                   batches: int = 16, progress: bool = True) -> QuickstartResult:
    """Run the quickstart and return where its results are.

    Args:
        data: A folder with ``clean/`` and ``noisy/`` (paired) or ``noise/`` (mixing);
            ``None`` uses the generated demo corpus (in ``out/demo_data``).
        out: Run folder (created).
        config: Optional config file; ``data``/``out`` settings are applied on top.
        overrides: Extra ``key=value`` overrides, applied last.
        batches: Training batches timed to measure the pipeline (after one warm-up batch).
        progress: Progress bars.
    """
    from noisenil.audio_io import save_audio
    from noisenil.datasets import MixingSource, build_datasets
    from noisenil.manifest import write_split

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sets = data_overrides(data) if data else [f"data.demo_dir={out / 'demo_data'}"]
    cfg: Config = load_config(config, overrides=[*sets, *overrides])
    result = QuickstartResult(out)
    result.files["config"] = save_config(cfg, out / "config.yaml")

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
    logger.info("quickstart finished in %s", out)
    return result
