"""Training data: audio store, example sources (mixing, paired), and batches of feature patches.

Flow (DESIGN.md): files are scanned and split by file/speaker (:mod:`noisenil.data.manifest`) before
anything else; each example is then drawn on the fly:

- **mixing**: a random segment of a clean file (files weighted by duration) and of a noise file
  (files weighted equally, short noises looped with a cross-fade), each augmented in its group,
  mixed as ``X = beta * (Y + alpha * N)`` at a random SNR and level, then the ``mixture`` group;
- **paired**: the same random segment of a clean file and its noisy twin, scaled by a random level.

A segment is exactly ``(width - 1) * hop + n_fft`` samples, analysed with ``center=False``, so it
gives one ``height x width`` patch (a random frequency tile when ``height`` < bins) whose frames
are those the whole-file STFT has at that position. Batches come from a
:class:`keras.utils.PyDataset` (every backend; thread or process workers) or, on TensorFlow,
from :func:`to_tf_dataset`. Every batch's random generator is derived from ``(seed, epoch,
batch index)``, so results do not depend on worker count or scheduling; validation batches use a
fixed generator per index and are identical every epoch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from noisenil.dsp.audio_io import load_audio
from noisenil.data.augment import Augmenter
from noisenil.config import Config
from noisenil.errors import AudioError, DatasetError
from noisenil.dsp.features import FeatureTransform, segment_samples
from noisenil.data.manifest import AudioFile, Pair, Scan, match_pairs, scan_folder, split_by_group
from noisenil.data.mixing import active_power, draw_db, loop_to_length, mix, power, trim_silence

logger = logging.getLogger(__name__)

#: Mixtures are scaled down (with their targets) so their peak stays below this.
PEAK_LIMIT = 0.99


class AudioStore:
    """Loads files at one rate (mono), validates them, and keeps them in memory.

    Args:
        sample_rate: Target rate in Hz.
        quality: soxr resampling quality.
        trim: Cut silent stretches (``trim_top_db`` below the peak) after loading.
        trim_top_db: See ``trim``.
        min_samples: Files shorter than this (after trimming) are rejected as too short.
    """

    def __init__(self, sample_rate: int, *, quality: str = "HQ", trim: bool = False,
                 trim_top_db: float = 40.0, min_samples: int = 1):
        self.sample_rate = sample_rate
        self.quality = quality
        self.trim = trim
        self.trim_top_db = trim_top_db
        self.min_samples = min_samples
        self._cache: dict[Path, tuple[np.ndarray, float]] = {}

    def get(self, path: Path) -> tuple[np.ndarray, float]:
        """``(audio (samples,), active power)`` of a file, loading it on first use.

        Raises:
            AudioError: Unreadable, empty, silent, NaN/Inf or too short, naming the file.
        """
        hit = self._cache.get(path)
        if hit is not None:
            return hit
        audio, _ = load_audio(path, sample_rate=self.sample_rate, quality=self.quality)
        if self.trim:
            audio = trim_silence(audio, top_db=self.trim_top_db)
        if audio.shape[0] < self.min_samples:
            raise AudioError(f"{path}: too short for one patch ({audio.shape[0]} samples at "
                             f"{self.sample_rate} Hz < {self.min_samples})", path=path)
        hit = self._cache[path] = (audio, active_power(audio))
        return hit

    def preload(self, files: list, *, desc: str = "loading audio",
                progress: bool = True) -> tuple[list, list[tuple[Path, str]]]:
        """Load every file (``AudioFile`` or ``Pair``) now; return ``(good, bad)``.

        A bad file is reported as ``(path, reason)`` and left out; the rest go on.
        """
        from tqdm.auto import tqdm

        good, bad = [], []
        for item in tqdm(files, desc=desc, unit="file", disable=not progress, leave=False):
            paths = [item.clean.path, item.noisy.path] if isinstance(item, Pair) else [item.path]
            try:
                for p in paths:
                    self.get(p)
                good.append(item)
            except AudioError as err:
                bad.append((err.path or paths[0], str(err).removeprefix(f"{err.path}: ")))
        for path, why in bad:
            logger.warning("skipping %s: %s", path, why)
        return good, bad


def _crop_or_pad(x: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample segment along axis 0 of ``(samples, ...)``; shorter signals are
    zero-padded at a random place."""
    n = x.shape[0]
    if n >= length:
        start = int(rng.integers(0, n - length + 1))
        return x[start:start + length]
    out = np.zeros((length,) + x.shape[1:], dtype=np.float32)
    start = int(rng.integers(0, length - n + 1))
    out[start:start + n] = x
    return out


def _limit_peak(noisy: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    peak = float(np.max(np.abs(noisy)))
    if peak > PEAK_LIMIT:
        g = PEAK_LIMIT / peak
        return noisy * g, clean * g
    return noisy, clean


def _duration_weights(items: list) -> np.ndarray:
    w = np.array([max(i.duration, 1e-3) for i in items], dtype=np.float64)
    return w / w.sum()


class MixingSource:
    """Draws ``(noisy, clean)`` segments by mixing clean files with noise files.

    Args:
        clean: Clean files (weighted by duration).
        noise: Noise files (weighted equally).
        store: The audio store.
        cfg: The configuration (``data``, ``augment``, ``audio``).
        length: Segment length in samples.
        augment: Apply the augmentation groups.
    """

    def __init__(self, clean: list[AudioFile], noise: list[AudioFile], store: AudioStore,
                 cfg: Config, *, length: int, augment: bool = True):
        if not clean or not noise:
            raise DatasetError(f"mixing needs clean and noise files (got {len(clean)} clean, "
                               f"{len(noise)} noise)")
        self.clean, self.noise, self.store = clean, noise, store
        self.length = length
        self.sr = cfg.audio.sample_rate
        self.data = cfg.data
        self.crossfade = int(cfg.data.noise_crossfade_s * self.sr)
        self.weights = _duration_weights(clean)
        groups = ("clean", "noise", "mixture")
        self.aug = {g: Augmenter(g, getattr(cfg.augment, g)) if augment else None for g in groups}

    def _apply(self, group: str, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        aug = self.aug[group]
        return aug(x, self.sr, rng) if aug is not None and aug.enabled else x

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` pair of ``length``-sample float32 segments."""
        clean_audio, clean_power = self.store.get(
            self.clean[int(rng.choice(len(self.clean), p=self.weights))].path)
        y = self._apply("clean", _crop_or_pad(clean_audio, self.length, rng), rng)
        for _ in range(4):  # a noise segment can fall in a digitally silent stretch: redraw
            noise_audio, _ = self.store.get(self.noise[int(rng.integers(len(self.noise)))].path)
            n = loop_to_length(noise_audio, self.length, crossfade=self.crossfade,
                               offset=int(rng.integers(noise_audio.shape[0])))
            n = self._apply("noise", n, rng)
            if power(n) > 1e-12:
                break
        p_seg = power(y)
        # A segment in a pause is mixed at the level the file's speech would have.
        p_ref = p_seg if p_seg >= 1e-3 * clean_power else clean_power
        noisy, target = mix(y, n, snr=draw_db(rng, self.data.snr_db),
                            level_db=draw_db(rng, self.data.level_db), clean_power=p_ref)
        noisy, target = _limit_peak(noisy, target)
        return self._apply("mixture", noisy, rng), target


class PairedSource:
    """Draws the same random segment from a clean file and its noisy twin.

    Only the level ``beta`` (``data.level_db``) is applied, identically to both; the noisy
    recordings are real, so no other augmentation is done.
    """

    def __init__(self, pairs: list[Pair], store: AudioStore, cfg: Config, *, length: int):
        if not pairs:
            raise DatasetError("paired mode needs at least one clean/noisy pair")
        self.pairs, self.store, self.length = pairs, store, length
        self.level_db = cfg.data.level_db
        self.weights = _duration_weights(pairs)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` pair of ``length``-sample float32 segments."""
        pair = self.pairs[int(rng.choice(len(self.pairs), p=self.weights))]
        clean, _ = self.store.get(pair.clean.path)
        noisy, _ = self.store.get(pair.noisy.path)
        n = min(clean.shape[0], noisy.shape[0])
        both = _crop_or_pad(np.stack([noisy[:n], clean[:n]], axis=-1), self.length, rng)
        g = 10.0 ** (draw_db(rng, self.level_db) / 20.0)
        return _limit_peak(both[:, 0] * g, both[:, 1] * g)


class PatchDataset(keras.utils.PyDataset):
    """Batches of ``(noisy, clean)`` feature patches, ``(batch, height, width, channels)`` each.

    Args:
        source: A :class:`MixingSource` or :class:`PairedSource`.
        transform: The feature transform (STFT + representation).
        height: Patch height in bins.
        width: Patch width in frames.
        batch_size: Patches per batch.
        n_patches: Patches per epoch (the last batch may be smaller).
        seed: Base seed.
        fixed: Draw the same batches every epoch (validation).
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for PyDataset.
    """

    def __init__(self, source, transform: FeatureTransform, *, height: int, width: int,
                 batch_size: int, n_patches: int, seed: int = 0, fixed: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.source, self.transform = source, transform
        self.height, self.width = height, width
        self.batch_size, self.n_patches = batch_size, n_patches
        self.seed, self.fixed = seed, fixed
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(self.n_patches / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batch(index, epoch=0 if self.fixed else self.epoch)

    def on_epoch_end(self):
        self.epoch += 1

    @property
    def element_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one patch."""
        return (self.height, self.width, self.transform.channels)

    def batch(self, index: int, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``index`` of ``epoch``: ``(noisy, clean)`` float32 feature patches."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range [0, {len(self)})")
        size = min(self.batch_size, self.n_patches - index * self.batch_size)
        rng = np.random.default_rng([self.seed, int(self.fixed), epoch, index])
        noisy_w, clean_w = zip(*(self.source.draw(rng) for _ in range(size)))
        x, _ = self.transform.analyze(np.stack(noisy_w), center=False)
        y, _ = self.transform.analyze(np.stack(clean_w), center=False)
        n_bins = x.shape[1]
        if self.height < n_bins:  # one random frequency tile per batch
            f0 = int(rng.integers(0, n_bins - self.height + 1))
            x, y = x[:, f0:f0 + self.height], y[:, f0:f0 + self.height]
        return x, y


def to_tf_dataset(ds: PatchDataset, *, repeat: bool = True, parallel: int | None = None):
    """The same batches as a ``tf.data.Dataset`` (TensorFlow backend only).

    Batch ``i`` of the stream is batch ``i % len(ds)`` of epoch ``i // len(ds)`` (validation
    datasets repeat the same batches), generated in parallel by ``tf.numpy_function``.

    Args:
        ds: The dataset.
        repeat: Run forever (fit with ``steps_per_epoch``) rather than one epoch.
        parallel: Parallel calls; ``None`` lets tf.data tune it.
    """
    import tensorflow as tf

    n = len(ds)

    def make(i):
        i = int(i)
        return ds.batch(i % n, epoch=0 if ds.fixed else i // n)

    shape = (None,) + ds.element_shape
    indices = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(n)

    def fetch(i):
        x, y = tf.numpy_function(make, [i], (tf.float32, tf.float32), stateful=False)
        x.set_shape(shape)
        y.set_shape(shape)
        return x, y

    return indices.map(fetch, num_parallel_calls=parallel or tf.data.AUTOTUNE,
                       deterministic=True).prefetch(tf.data.AUTOTUNE)


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
    """

    train: PatchDataset
    val: PatchDataset | None
    splits: dict[str, list]
    noise_splits: dict[str, list] = field(default_factory=dict)
    bad: list[tuple[Path, str]] = field(default_factory=list)
    unpaired: list[tuple[str, str]] = field(default_factory=list)
    pipeline: str = "pydataset"

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

    def summary(self) -> str:
        """A few human-readable lines on files, splits and left-out files."""
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


def build_datasets(cfg: Config, *, progress: bool = True) -> DataBundle:
    """Scan, split (by file/speaker, before any mixing), load, and wrap the data in datasets.

    Args:
        cfg: The configuration (``data``, ``audio``, ``stft``, ``features``, ``patches``,
            ``augment``).
        progress: Show a progress bar while loading audio.

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
    scan_kw = dict(extensions=d.extensions, speaker_patterns=d.speaker_patterns)
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
                                       extensions=d.extensions)
        bad += noise_scan.bad
        noise_splits = split_by_group(noise_scan.files, **fractions)
    splits = split_by_group(items, **fractions)

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
    return DataBundle(train, val, splits, noise_splits, bad, unpaired, d.pipeline)
