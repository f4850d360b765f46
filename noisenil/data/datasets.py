"""Training data from a configuration: :func:`build_datasets`, its :class:`DataBundle`, and the
folders it reads (:func:`resolve_data_dirs`).

Flow (DESIGN.md): files are scanned and split by file/speaker (:mod:`noisenil.data.manifest`) before
anything else; the train and validation files are loaded (:mod:`noisenil.data.audio_store`); each
example is then drawn on the fly by a source (:mod:`noisenil.data.sources`: mixing clean with
noise files, or paired clean/noisy recordings) and turned into batches of feature patches
(:mod:`noisenil.data.patch_dataset`), as :class:`keras.utils.PyDataset` objects or, on
TensorFlow, ``tf.data`` streams (``data.pipeline``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import keras

from noisenil.config import Config
from noisenil.data.audio_store import AudioStore
from noisenil.data.manifest import (
    Scan,
    match_pairs,
    scan_folder,
    split_by_group,
    split_shortfall,
)
from noisenil.data.patch_dataset import PatchDataset, to_tf_dataset
from noisenil.data.sources import MixingSource, PairedSource
from noisenil.dsp.features import FeatureTransform, segment_samples
from noisenil.errors import DatasetError

logger = logging.getLogger(__name__)


@dataclass
class DataBundle:
    """What :func:`build_datasets` made.

    Attributes:
        train: Training batches.
        val: Validation batches (fixed), or ``None`` when ``val_fraction`` is 0.
        splits: ``{"train"|"val"|"test": [AudioFile|Pair, ...]}`` of the clean side (or pairs).
        noise_splits: The same for noise files (mixing modes).
        bad: ``(path, reason)`` of every file left out.
        unpaired: ``(name, reason)`` of clean/noisy files without a partner (paired mode).
        notes: What the split could not do, with the remedy (see
            :func:`~noisenil.data.manifest.split_shortfall`); also logged as warnings.
    """

    train: PatchDataset
    val: PatchDataset | None
    splits: dict[str, list]
    noise_splits: dict[str, list] = field(default_factory=dict)
    bad: list[tuple[Path, str]] = field(default_factory=list)
    unpaired: list[tuple[str, str]] = field(default_factory=list)
    pipeline: str = "pydataset"
    notes: list[str] = field(default_factory=list)

    def inputs(self):
        """``(train, val)`` in the configured form (``data.pipeline``) for ``Model.fit``.

        ``pydataset``: the :class:`PatchDataset` objects themselves. ``tf.data``: endless
        ``tf.data.Dataset`` streams; pass ``steps_per_epoch=len(bundle.train)`` and
        ``validation_steps=len(bundle.val)`` to ``fit``.
        """
        if self.pipeline == "tf.data":
            import keras

            if keras.backend.backend() != "tensorflow":
                raise DatasetError(f"data.pipeline='tf.data' needs the TensorFlow backend "
                                   f"(KERAS_BACKEND={keras.backend.backend()!r}); "
                                   f"use data.pipeline=pydataset")
            return (to_tf_dataset(self.train),
                    to_tf_dataset(self.val) if self.val is not None else None)
        return self.train, self.val

    def summary(self, *, notes: bool = True) -> str:
        """A few human-readable lines on files, splits and left-out files (and the
        :attr:`notes`, unless ``notes=False``: where they were logged already)."""
        def line(label, splits):
            parts = [f"{s} {len(v)} files / {sum(i.duration for i in v):.1f} s"
                     for s, v in splits.items() if v]
            return f"{label}: " + ", ".join(parts)

        lines = [line("clean" if self.noise_splits else "pairs", self.splits)]
        if self.noise_splits:
            lines.append(line("noise", self.noise_splits))
        shape = "x".join(map(str, self.train.element_shape))
        lines.append(f"train: {len(self.train)} batches of {self.train.batch_size} patches "
                     f"{shape}" + (f"; val: {len(self.val)} batches" if self.val else ""))
        lines += [f"note: {n}" for n in self.notes if notes]
        if self.bad or self.unpaired:
            lines.append(f"left out: {len(self.bad)} bad files, {len(self.unpaired)} unpaired")
            lines += [f"  {p}: {why}" for p, why in self.bad[:20]]
            lines += [f"  {n}: {why}" for n, why in self.unpaired[:20]]
        return "\n".join(lines)


def resolve_data_dirs(cfg: Config) -> dict[str, str | None]:
    """The folders the data section points at; demo mode generates the demo corpus first."""
    d = cfg.data
    if d.mode == "demo":
        from noisenil.data.demo import make_demo_corpus

        corpus = make_demo_corpus(d.demo_dir, sample_rate=cfg.audio.sample_rate)
        return {"clean_dir": str(corpus.clean_dir), "noise_dir": str(corpus.noise_dir),
                "noisy_dir": None}
    return {"clean_dir": d.clean_dir, "noise_dir": d.noise_dir, "noisy_dir": d.noisy_dir}


def build_datasets(cfg: Config, *, progress: bool = True, warn: bool = True) -> DataBundle:
    """Scan, split (by file/speaker, before any mixing), load, and wrap the data in datasets.

    Args:
        cfg: The configuration (``data``, ``audio``, ``stft``, ``features``, ``patches``,
            ``augment``).
        progress: Show a progress bar while loading audio.
        warn: Log :attr:`DataBundle.notes` as warnings as soon as the split is made, before
            the audio is loaded (``False`` where the caller shows the summary instead).

    Returns:
        A :class:`DataBundle`.

    Raises:
        DatasetError: A folder is missing, or no usable file is left for training.
    """
    d, p = cfg.data, cfg.patches
    dirs = resolve_data_dirs(cfg)
    length = segment_samples(p.width, cfg.stft)
    store = AudioStore(cfg.audio.sample_rate, quality=cfg.audio.resample_quality,
                       trim=d.trim_silence, trim_top_db=d.trim_top_db,
                       min_samples=1 if d.pad_short else length)
    fractions = dict(val_fraction=d.val_fraction, test_fraction=d.test_fraction, seed=d.split_seed)
    scan_kw = dict(extensions=d.extensions, speaker_patterns=d.speaker_patterns,
                   exclude=d.exclude)
    clean_scan = scan_folder(dirs["clean_dir"], label="data.clean_dir", **scan_kw)
    bad, unpaired, noise_splits = list(clean_scan.bad), [], {}
    if d.mode == "paired":
        noisy_scan = scan_folder(dirs["noisy_dir"], label="data.noisy_dir", **scan_kw)
        bad += noisy_scan.bad
        items, unpaired = match_pairs(clean_scan, noisy_scan)
        if not items:
            raise DatasetError(f"data.clean_dir={d.clean_dir!r} and data.noisy_dir="
                               f"{d.noisy_dir!r}: no file name is in both folders")
    else:
        items = clean_scan.files
        noise_scan: Scan = scan_folder(dirs["noise_dir"], label="data.noise_dir",
                                       extensions=d.extensions, exclude=d.exclude)
        bad += noise_scan.bad
        noise_splits = split_by_group(noise_scan.files, **fractions)
    splits = split_by_group(items, **fractions)
    shortfall = split_shortfall(splits, val_fraction=d.val_fraction,
                                test_fraction=d.test_fraction)
    notes = [] if shortfall is None else [shortfall]
    for note in notes if warn else ():  # before the audio is loaded: said up front
        logger.warning("%s", note)

    def load(split_items, what):
        good, failed = store.preload(split_items, desc=f"loading {what}", progress=progress)
        bad.extend(failed)
        return good

    for split in ("train", "val"):
        splits[split] = load(splits[split], f"{split} audio")
        if noise_splits:
            noise_splits[split] = load(noise_splits[split], f"{split} noise")
    if not splits["train"] or (noise_splits and not noise_splits["train"]):
        raise DatasetError(f"no usable training files left (data.mode={d.mode!r}); "
                           f"{len(bad)} bad files, e.g. {bad[:3]}")

    def source(split, augment):
        if d.mode == "paired":
            return PairedSource(splits[split], store, cfg, length=length)
        noise = noise_splits[split]
        if not noise:
            logger.warning("no %s noise files (too few noise files to split): the %s set "
                           "reuses the training noises", split, split)
            noise = noise_splits["train"]
        return MixingSource(splits[split], noise, store, cfg, length=length, augment=augment)

    if d.use_multiprocessing and keras.backend.backend() == "jax":
        logger.warning("data.use_multiprocessing=true forks worker processes, which can deadlock "
                       "with the JAX backend; prefer threads (data.use_multiprocessing=false)")
    transform = FeatureTransform.from_config(cfg)
    common = dict(height=p.height, width=p.width, batch_size=d.batch_size)
    train = PatchDataset(source("train", True), transform, n_patches=d.train_patches,
                         seed=d.seed, workers=d.workers, use_multiprocessing=d.use_multiprocessing,
                         **common)
    val = None
    if splits["val"]:
        val = PatchDataset(source("val", d.augment_validation), transform,
                           n_patches=d.val_patches, seed=d.seed + 1, fixed=True, **common)
    return DataBundle(train, val, splits, noise_splits, bad, unpaired, d.pipeline, notes)
