"""Test sets for evaluation: paired noisy/clean files, or clean files mixed with noises at fixed
SNRs with a fixed seed, so every method is scored on identical inputs.

Layouts :func:`load_test_set` understands for a folder ``DIR`` (recognised by
:func:`noisenil.data.layout.find_layout`, as for every ``--data``):

- ``DIR/clean/`` + ``DIR/noisy/``: paired, files matched by relative name (also the
  VoiceBank-DEMAND names ``clean_testset_wav/`` + ``noisy_testset_wav/``: any sub-folder whose
  name contains ``clean`` and one containing ``noisy``; where there are several of a kind, as
  in the whole VoiceBank-DEMAND download with its ``*_trainset_28spk_wav/`` folders, the one
  whose name contains ``test``);
- ``DIR/clean/`` + ``DIR/noise/``: each clean file mixed with a noise drawn for it at every SNR
  of ``snrs`` (the demo corpus' layout);
- a :class:`~noisenil.config.Config`: its data section's **test** split (the files
  ``split_by_group`` held out with ``data.test_fraction``, never seen in training).

Every example is resampled to one evaluation rate and downmixed to mono. Mixtures are scaled so
``snr(clean, noisy)`` equals the nominal SNR exactly (whole-file power), and both signals are
scaled down together when the mixture would clip. Paired examples are grouped by their measured
input SNR rounded to the nearest multiple of ``snr_step`` dB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noisenil.dsp.audio_io import load_audio
from noisenil.config import Config
from noisenil.errors import AudioError, ConfigError, DatasetError
from noisenil.data.augmenter import Augmenter
from noisenil.data.layout import find_layout
from noisenil.data.manifest import AudioFile, match_pairs, scan_folder, split_by_group
from noisenil.data.mixing import loop_to_length, mix, snr_db

logger = logging.getLogger(__name__)

#: Input SNRs (dB) of mixed test sets unless told otherwise.
DEFAULT_SNRS = (0.0, 5.0, 10.0, 15.0)
_PEAK = 0.99


@dataclass(frozen=True)
class TestExample:
    """One noisy/clean pair.

    Attributes:
        name: Unique id, e.g. ``"spk01_003.wav@5dB"`` (mixed) or the relative file name (paired).
        clean: ``(samples,)`` float32 at the set's rate.
        noisy: ``(samples,)`` float32, same length.
        snr_db: The group the example is reported under: the nominal mixing SNR, or the
            measured input SNR rounded to the grid (paired).
        input_snr: Measured ``snr(clean, noisy)`` in dB.
        noise: The noise file's name for mixtures, else ``""``.
    """

    __test__ = False  # not a pytest class

    name: str
    clean: np.ndarray
    noisy: np.ndarray
    snr_db: float
    input_snr: float
    noise: str = ""

    @property
    def samples(self) -> int:
        """Length in samples."""
        return int(self.clean.shape[0])


@dataclass
class TestSet:
    """Examples at one rate, and what they were made from.

    Attributes:
        examples: The examples, in a fixed order.
        sample_rate: Their rate in Hz.
        description: One line for reports (source folders, layout, SNRs, seed).
        skipped: ``(file, reason)`` for files left out (unreadable, silent, unpaired...).
    """

    __test__ = False

    examples: list[TestExample]
    sample_rate: int
    description: str
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def seconds(self) -> float:
        """Total duration in seconds."""
        return sum(e.samples for e in self.examples) / self.sample_rate


def _load(f: AudioFile, sample_rate: int, skipped: list) -> np.ndarray | None:
    try:
        return load_audio(f.path, sample_rate=sample_rate)[0]
    except AudioError as err:
        skipped.append((f.name, str(err)))
        logger.warning("test set: skipping %s", err)
        return None


def _limit(noisy: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    peak = float(np.max(np.abs(noisy)))
    g = _PEAK / peak if peak > _PEAK else 1.0
    return (noisy * g).astype(np.float32), (clean * g).astype(np.float32)


def mixed_examples(clean: Sequence[AudioFile], noises: Sequence[AudioFile], *, sample_rate: int,
                   snrs: Sequence[float] = DEFAULT_SNRS, seed: int = 0,
                   skipped: list | None = None,
                   noise_augment: Callable | None = None) -> list[TestExample]:
    """Mix every clean file with one noise per SNR, reproducibly.

    The noise file and the offset into it are drawn from ``(seed, clean index, SNR index)``
    alone, so adding methods or SNRs never changes the other examples.

    Args:
        clean: Clean files.
        noises: Noise files (looped with a cross-fade when shorter than the clean file).
        sample_rate: Evaluation rate in Hz.
        snrs: Input SNRs in dB.
        seed: Seed of the noise draws.
        skipped: List that receives ``(file, reason)`` for unusable files.
        noise_augment: ``f(noise, sample_rate, rng) -> noise`` applied to each example's
            looped noise with that example's generator (an
            :class:`~noisenil.data.augmenter.Augmenter` of the noise group), or ``None``.

    Returns:
        ``len(clean) * len(snrs)`` examples (fewer if files are unusable), clean-file-major.
    """
    skipped = [] if skipped is None else skipped
    noise_audio = [(f.name, _load(f, sample_rate, skipped)) for f in noises]
    noise_audio = [(n, a) for n, a in noise_audio if a is not None]
    if not noise_audio:
        raise DatasetError(f"no usable noise file among {len(noises)}: {skipped[:3]}")
    out = []
    for i, f in enumerate(clean):
        x = _load(f, sample_rate, skipped)
        if x is None:
            continue
        for j, snr in enumerate(snrs):
            rng = np.random.default_rng([seed, i, j])
            noise_name, noise = noise_audio[int(rng.integers(len(noise_audio)))]
            n = loop_to_length(noise, x.shape[0], crossfade=int(0.5 * sample_rate),
                               offset=int(rng.integers(max(noise.shape[0], 1))))
            if noise_augment is not None:
                n = noise_augment(n, sample_rate, rng)
            try:
                noisy, target = mix(x, n, snr=float(snr))
            except AudioError as err:  # a silent noise segment
                skipped.append((f"{f.name}+{noise_name}", str(err)))
                continue
            noisy, target = _limit(noisy, target)
            out.append(TestExample(name=f"{f.name}@{snr:g}dB", clean=target, noisy=noisy,
                                   snr_db=float(snr), input_snr=snr_db(target, noisy - target),
                                   noise=noise_name))
    return out


def paired_examples(pairs: Sequence, *, sample_rate: int, snr_step: float = 5.0,
                    skipped: list | None = None) -> list[TestExample]:
    """Load matched clean/noisy pairs (:class:`~noisenil.data.manifest.Pair`) as examples.

    Lengths that differ by a few samples after resampling are cut to the shorter one.
    """
    skipped = [] if skipped is None else skipped
    out = []
    for p in pairs:
        x, y = _load(p.clean, sample_rate, skipped), _load(p.noisy, sample_rate, skipped)
        if x is None or y is None:
            continue
        n = min(x.shape[0], y.shape[0])
        x, y = x[:n], y[:n]
        measured = snr_db(x, y - x)
        # + 0.0: a group just below 0 dB rounds to -0.0, which prints as "-0 dB".
        out.append(TestExample(name=p.name, clean=x, noisy=y, input_snr=measured,
                               snr_db=float(np.round(measured / snr_step) * snr_step) + 0.0))
    return out


def _first(items: list, max_files: int | None) -> list:
    """At most ``max_files`` of ``items``, spread evenly over the sorted list (the first and
    the last included), so a folder of several sources or speakers is sampled across all of
    them rather than from its first one alphabetically."""
    if max_files is None or max_files >= len(items):
        return items
    if max_files <= 1:
        return items[:max_files]
    picks = np.linspace(0, len(items) - 1, max_files).round().astype(int)
    return [items[i] for i in picks]


def load_test_set(data: str | Path | Config, *, sample_rate: int = 16000,
                  snrs: Sequence[float] = DEFAULT_SNRS, seed: int = 0,
                  max_files: int | None = None, snr_step: float = 5.0,
                  split: str = "test") -> TestSet:
    """Build a test set from a folder (see the module docstring) or a config's test split.

    Args:
        data: A folder, or a :class:`~noisenil.config.Config` whose data section is used.
        sample_rate: Evaluation rate in Hz (every file is resampled to it).
        snrs: Input SNRs in dB for mixed sets.
        seed: Seed of the noise draws of mixed sets.
        max_files: Use at most this many clean files (spread evenly over them by name), for
            quick runs.
        snr_step: Grid, in dB, that paired examples are grouped on.
        split: With a config: its ``"test"`` split (default) or its ``"val"`` split (the
            waveform validation clips of training).

    Returns:
        A :class:`TestSet`.

    Raises:
        DatasetError: Missing folder, unknown layout, or no usable example.
        ConfigError: A config without a test split (``data.test_fraction`` is 0), or bad SNRs.
    """
    if not snrs:
        raise ConfigError("snrs=[]: give at least one input SNR", key="snrs")
    if max_files is not None and max_files < 1:
        raise ConfigError(f"max_files={max_files}: must be >= 1", key="max_files")
    skipped: list[tuple[str, str]] = []
    snr_text = "/".join(f"{s:g}" for s in snrs)
    if isinstance(data, Config):
        examples, description = _from_config(data, sample_rate=sample_rate, snrs=snrs, seed=seed,
                                             max_files=max_files, snr_step=snr_step,
                                             skipped=skipped, split=split)
    else:
        layout = find_layout(data, use="test")
        root = layout.root
        if layout.noisy is not None:
            pairs, problems = match_pairs(scan_folder(layout.clean, label="clean"),
                                          scan_folder(layout.noisy, label="noisy"))
            skipped += [(str(n), why) for n, why in problems]
            examples = paired_examples(_first(pairs, max_files), sample_rate=sample_rate,
                                       snr_step=snr_step, skipped=skipped)
            description = (f"paired files in {root} ({layout.describe()}), grouped by input "
                           f"SNR to {snr_step:g} dB")
        else:
            clean = scan_folder(layout.clean, label="clean")
            noise = scan_folder(layout.noise, label="noise")
            skipped += [(str(p), why) for p, why in clean.bad + noise.bad]
            examples = mixed_examples(_first(clean.files, max_files), noise.files,
                                      sample_rate=sample_rate, snrs=snrs, seed=seed,
                                      skipped=skipped)
            description = (f"{len(clean.files[:max_files])} clean files of {layout.clean} mixed "
                           f"with {len(noise.files)} noises of {layout.noise} at {snr_text} dB "
                           f"(seed {seed})")
    if not examples:
        raise DatasetError(f"data={data!r}: no usable test example ({skipped[:3]})")
    logger.info("test set: %d examples, %.1f s at %d Hz; %s", len(examples),
                sum(e.samples for e in examples) / sample_rate, sample_rate, description)
    return TestSet(examples, sample_rate, description, skipped)


def _from_config(cfg: Config, *, sample_rate: int, snrs: Sequence[float], seed: int,
                 max_files: int | None, snr_step: float, skipped: list, split: str = "test",
                 ) -> tuple[list[TestExample], str]:
    from noisenil.data.datasets import resolve_data_dirs

    d = cfg.data
    if split not in ("test", "val"):
        raise ConfigError(f"split={split!r}: choose 'test' or 'val'", key="split")
    if split == "val" and d.val_fraction <= 0:
        raise ConfigError("data.val_fraction=0: no validation split to draw validation clips "
                          "from", key="data.val_fraction")
    if split == "test" and d.test_fraction <= 0:
        raise ConfigError("data.test_fraction=0: the configuration holds no test files out; set "
                          "it above 0 before training, or evaluate on a folder (--data DIR)",
                          key="data.test_fraction")
    dirs = resolve_data_dirs(cfg)
    fractions = dict(val_fraction=d.val_fraction, test_fraction=d.test_fraction,
                     seed=d.split_seed)
    kw = dict(extensions=d.extensions, speaker_patterns=d.speaker_patterns, exclude=d.exclude)
    clean = scan_folder(dirs["clean_dir"], label="data.clean_dir", **kw)
    if d.mode == "paired":
        pairs, _ = match_pairs(clean, scan_folder(dirs["noisy_dir"], label="data.noisy_dir", **kw))
        test = _first(split_by_group(pairs, **fractions)[split], max_files)
        return (paired_examples(test, sample_rate=sample_rate, snr_step=snr_step,
                                skipped=skipped),
                f"the {split} split of {dirs['clean_dir']} + {dirs['noisy_dir']} (paired)")
    noise = scan_folder(dirs["noise_dir"], label="data.noise_dir", extensions=d.extensions,
                        exclude=d.exclude)
    test = _first(split_by_group(clean.files, **fractions)[split], max_files)
    test_noise = split_by_group(noise.files, **fractions)[split] or noise.files
    text = "/".join(f"{s:g}" for s in snrs)
    augment = Augmenter("noise", cfg.augment.noise) if d.augment_test_noise else None
    return (mixed_examples(test, test_noise, sample_rate=sample_rate, snrs=snrs, seed=seed,
                           skipped=skipped, noise_augment=augment),
            f"the {split} split ({len(test)} files) of {dirs['clean_dir']} mixed with "
            f"{len(test_noise)} {split} noises of {dirs['noise_dir']}"
            f"{' (augment.noise applied)' if augment else ''} at {text} dB (seed {seed})")
