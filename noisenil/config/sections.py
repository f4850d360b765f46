"""Configuration sections of the signal and data stages: audio, STFT, features, patches, data and
augmentation. Each dataclass checks its own values (see :mod:`noisenil.config.validate`)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Literal

from noisenil.config.augment_schema import DEFAULT_GROUPS, GROUPS, validate_group
from noisenil.config.validate import fail, number, range_values


@dataclass
class AudioConfig:
    """Audio loading.

    Attributes:
        sample_rate: Rate in Hz every file is resampled to on load (outputs are written back at
            the file's own rate).
        resample_quality: soxr quality: ``"VHQ"``, ``"HQ"``, ``"MQ"``, ``"LQ"`` or ``"QQ"``.
    """

    sample_rate: int = 16000
    resample_quality: Literal["VHQ", "HQ", "MQ", "LQ", "QQ"] = "HQ"

    def __post_init__(self):
        number("audio.sample_rate", self.sample_rate, lo=1000, integer=True, unit=" Hz")


@dataclass
class StftConfig:
    """Short-time Fourier transform settings (``n_fft=254`` gives 128 frequency bins).

    Attributes:
        n_fft: FFT size in samples; the number of bins is ``n_fft // 2 + 1``.
        hop_length: Hop between frames in samples.
        window: Window name understood by ``scipy.signal.get_window``.
    """

    n_fft: int = 254
    hop_length: int = 64
    window: str = "hann"

    def __post_init__(self):
        number("stft.n_fft", self.n_fft, integer=True)
        if self.n_fft < 16 or self.n_fft % 2:
            fail("stft.n_fft", self.n_fft, "must be an even integer >= 16")
        half = self.n_fft // 2
        number("stft.hop_length", self.hop_length, lo=1, hi=half, integer=True,
               hi_label=f"n_fft/2={half}")

    @property
    def n_bins(self) -> int:
        """Number of frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1


@dataclass
class FeatureConfig:
    """The network's input/target representation (see :mod:`noisenil.dsp.features`).

    Attributes:
        representation: ``"magnitude"`` (1 channel; the noisy phase is reused on inversion) or
            ``"complex"`` (2 channels: compressed real and imaginary parts).
        magnitude_scale: ``"db"`` maps dB re full scale linearly onto [0, 1] from ``db_floor``
            to 0 dBFS; ``"power"`` uses ``(|S| / ref) ** power``. Complex always uses power.
        db_floor: Lowest level kept by the dB scale, in dB re a full-scale sinusoid (< 0).
        power: Exponent of the power-law compression, in (0, 1].
    """

    representation: Literal["magnitude", "complex"] = "magnitude"
    magnitude_scale: Literal["db", "power"] = "db"
    db_floor: float = -100.0
    power: float = 0.3

    def __post_init__(self):
        number("features.db_floor", self.db_floor, lo=-200.0, hi=-20.0, hi_open=True, unit=" dB")
        number("features.power", self.power, lo=0.0, hi=1.0, lo_open=True)

    @property
    def channels(self) -> int:
        """Channels of the feature tensor: 1 for magnitude, 2 for complex."""
        return 1 if self.representation == "magnitude" else 2


@dataclass
class PatchConfig:
    """Training patches and inference chunks, in STFT bins (height) and frames (width).

    Attributes:
        height: Patch height in frequency bins (the whole spectrogram when equal to n_bins).
        width: Patch width in frames (128 frames at hop 64 and 16 kHz = 0.51 s).
        chunk_width: Width of full-height inference chunks, in frames.
        chunk_overlap: Cross-faded overlap between inference chunks, in frames.
    """

    height: int = 128
    width: int = 128
    chunk_width: int = 512
    chunk_overlap: int = 64

    def __post_init__(self):
        for name in ("height", "width", "chunk_width"):
            number(f"patches.{name}", getattr(self, name), lo=1, integer=True)
        half = self.chunk_width // 2
        number("patches.chunk_overlap", self.chunk_overlap, lo=0, hi=half, integer=True,
               hi_label=f"chunk_width/2={half}")


@dataclass
class DeclickConfig:
    """Time-domain click removal at the network's rate, before the features
    (:mod:`noisenil.dsp.declick`; the shipped music model turns it on).

    Attributes:
        enabled: Run the declicker in the inference path.
        order: Order of the autoregressive model that detects and fills the clicks.
        threshold: Detection threshold, in robust standard deviations of the model's
            prediction error (higher: fewer, louder clicks found, fewer false alarms).
        max_click_ms: Longest stretch treated as a click, in ms (longer ones are left alone).
    """

    enabled: bool = False
    order: int = 32
    threshold: float = 8.0
    max_click_ms: float = 6.0

    def __post_init__(self):
        number("declick.order", self.order, lo=1, hi=256, integer=True)
        number("declick.threshold", self.threshold, lo=1.0, hi=100.0)
        number("declick.max_click_ms", self.max_click_ms, lo=0.05, hi=50.0, unit=" ms")


@dataclass
class DataConfig:
    """Where training data comes from and how examples are drawn (see :mod:`noisenil.data.datasets`).

    Attributes:
        mode: ``"demo"`` (mixing on the generated demo corpus in ``demo_dir``), ``"mixing"``
            (``clean_dir`` + ``noise_dir`` mixed on the fly) or ``"paired"`` (``clean_dir`` +
            ``noisy_dir`` matched by relative file name).
        clean_dir: Folder of clean recordings (searched recursively), or a list of folders
            (mixing mode), scanned as one.
        noisy_dir: Folder of noisy recordings matching ``clean_dir`` (paired mode).
        noise_dir: Folder of noise recordings (mixing mode), or a list of folders.
        exclude: Glob patterns of file names (relative to the folder, or to the common parent
            of a list of folders; ``*`` crosses ``/``) left out of every scan, e.g.
            ``["*/ravdess/*"]``.
        demo_dir: Where the demo corpus is generated (demo mode).
        extensions: File extensions scanned, lower case with the dot.
        val_fraction: Fraction of files (of speakers, when names carry one) held out for
            validation, split before any mixing or patching.
        test_fraction: Fraction held out for testing, never used in training or validation.
        split_seed: Seed of the file-level split.
        speaker_patterns: Regular expressions tried in order on each file's stem; group 1 is the
            speaker id (or the recording: the last default keeps the pieces ``name_p1``,
            ``name_p2`` of one long recording together). Files matching none form a group of
            their own.
        snr_db: Mixing SNR range in dB, drawn uniformly in dB (log-uniform in amplitude).
        level_db: Level factor beta range in dB applied to mixture and target alike: around
            the inference reference level with ``normalise_level``, else around the file's own.
        normalise_level: Scale every pair so its noisy segment's active RMS is the level the
            inference path scales every input to (:data:`noisenil.dsp.levels.REFERENCE_DBFS`)
            before ``level_db``: training sees the inference path's normalisation.
        narrowband_p: Probability that a wideband pair is band-limited, input and target alike
            (files recorded below ``audio.sample_rate`` always are, at their Nyquist frequency).
        narrowband_hz: Cut-off range of those narrow-band pairs, in Hz (telephone: 3.4-4 kHz).
        noise_crossfade_s: Cross-fade in seconds when looping a short noise.
        trim_silence: Cut silent stretches out of clean files before drawing examples.
        trim_top_db: Threshold in dB below a file's peak under which audio counts as silent.
        pad_short: Zero-pad clean files shorter than one patch; when false they are reported as
            bad files instead.
        batch_size: Patches per batch.
        train_patches: Patches per training epoch (steps = ceil(train_patches / batch_size)).
        val_patches: Patches in the (fixed) validation set.
        augment_validation: Apply the augmentations to validation examples too.
        augment_test_noise: Apply the ``augment.noise`` group to the noise of every waveform
            validation clip and test-split example (seeded by the example, so the set is the
            same on every run), for models whose noise is mostly synthetic (the music model's
            historical-disc degradations); off by default: those sets mix the recorded noises
            as they are.
        seed: Seed of the example draws (each batch's generator is derived from it, the epoch
            and the batch index, so results do not depend on worker scheduling).
        workers: Parallel workers of the Keras ``PyDataset`` (1 = in the training process).
        use_multiprocessing: Workers are processes rather than threads.
        pipeline: ``"pydataset"`` (every backend) or ``"tf.data"`` (TensorFlow only).
    """

    mode: Literal["demo", "mixing", "paired"] = "demo"
    clean_dir: str | list[str] | None = None
    noisy_dir: str | None = None
    noise_dir: str | list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    demo_dir: str = "noisenil_demo"
    extensions: list[str] = field(default_factory=lambda: [".wav", ".flac", ".ogg"])
    val_fraction: float = 0.1
    test_fraction: float = 0.0
    split_seed: int = 1234
    speaker_patterns: list[str] = field(
        default_factory=lambda: [r"^(p\d+)_\d+", r"^(spk\d+)_", r"^\d+_([A-Za-z]+)_\d+$",
                                 r"^(\d+)-\d+-\d+$", r"^(.+)_p\d+$"]
    )
    snr_db: list[float] = field(default_factory=lambda: [2.0, 20.0])
    level_db: list[float] = field(default_factory=lambda: [-6.0, 4.0])
    normalise_level: bool = True
    narrowband_p: float = 0.2
    narrowband_hz: list[float] = field(default_factory=lambda: [3400.0, 4000.0])
    noise_crossfade_s: float = 0.5
    trim_silence: bool = False
    trim_top_db: float = 40.0
    pad_short: bool = True
    batch_size: int = 16
    train_patches: int = 4096
    val_patches: int = 512
    augment_validation: bool = False
    augment_test_noise: bool = False
    seed: int = 0
    workers: int = 1
    use_multiprocessing: bool = False
    pipeline: Literal["pydataset", "tf.data"] = "pydataset"

    def __post_init__(self):
        for name in ("val_fraction", "test_fraction"):
            number(f"data.{name}", getattr(self, name), lo=0.0, hi=1.0, hi_open=True)
        if self.val_fraction + self.test_fraction >= 1.0:
            fail("data.test_fraction", self.test_fraction,
                 f"val_fraction + test_fraction must be < 1 (val_fraction={self.val_fraction})")
        range_values("data.snr_db", self.snr_db, lo=-30.0, hi=60.0)
        range_values("data.level_db", self.level_db, lo=-60.0, hi=20.0)
        number("data.narrowband_p", self.narrowband_p, lo=0.0, hi=1.0)
        range_values("data.narrowband_hz", self.narrowband_hz, lo=500.0, hi=96000.0)
        for i, pattern in enumerate(self.speaker_patterns):
            try:
                if re.compile(pattern).groups < 1:
                    fail(f"data.speaker_patterns[{i}]", pattern, "needs a capturing group")
            except re.error as err:
                fail(f"data.speaker_patterns[{i}]", pattern, f"is not a regular expression ({err})")
        for i, ext in enumerate(self.extensions):
            if not ext.startswith("."):
                fail(f"data.extensions[{i}]", ext, "must start with a dot, e.g. '.wav'")
        for name in ("batch_size", "train_patches", "val_patches", "workers"):
            number(f"data.{name}", getattr(self, name), lo=1, integer=True)
        number("data.noise_crossfade_s", self.noise_crossfade_s, lo=0.0, unit=" seconds")
        number("data.trim_top_db", self.trim_top_db, lo=0.0, lo_open=True, unit=" dB")
        for name in ("clean_dir", "noise_dir"):
            value = getattr(self, name)
            if isinstance(value, list):
                if not value or not all(isinstance(v, str) and v for v in value):
                    fail(f"data.{name}", value, "must be a folder or a list of folders")
                if self.mode == "paired" and name == "clean_dir":
                    fail("data.clean_dir", value, "must be one folder in paired mode (its "
                         "files are matched to data.noisy_dir's by relative name)")
        needs = {"mixing": ("clean_dir", "noise_dir"), "paired": ("clean_dir", "noisy_dir")}
        for name in needs.get(self.mode, ()):
            if not getattr(self, name):
                fail(f"data.{name}", getattr(self, name), f"is required when data.mode={self.mode!r}")



@dataclass
class AugmentConfig:
    """Augmentation groups; each maps an augmentation name to ``{p: ..., <ranges>}``.

    See :mod:`noisenil.config.augment_schema` for the names, their parameters and defaults (and
    :mod:`noisenil.data.augment` for what they do). ``clean`` is applied to the clean signal (so
    the target sees it), ``noise`` to the noise before mixing (synthetic degradations are added
    there), ``mixture`` to the network input only.
    """

    clean: dict = field(default_factory=lambda: _default_group("clean"))
    noise: dict = field(default_factory=lambda: _default_group("noise"))
    mixture: dict = field(default_factory=lambda: _default_group("mixture"))

    def __post_init__(self):
        for group in GROUPS:
            setattr(self, group, validate_group(group, getattr(self, group)))


def _default_group(group: str) -> dict:
    return copy.deepcopy(DEFAULT_GROUPS[group])


