"""Configuration: validated dataclasses loaded from YAML, overlays, and ``key=value`` overrides.

A configuration is data. ``configs/base.yaml`` documents every key (and equals the defaults
below, a test keeps them in step); other files extend it with ``extends: base.yaml`` and change
only what they need; any key can be overridden from the command line with ``--set key=value``
(the value is parsed as YAML, so ``--set data.snr_db=[0,10]`` works). Unknown keys and bad values
raise :class:`~noisenil.errors.ConfigError` naming the dotted key and the value.

Example:
    >>> cfg = load_config("configs/debug.yaml", overrides=["data.batch_size=4"])
    >>> cfg.data.batch_size
    4
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from noisenil.errors import ConfigError

def _fail(key: str, value: Any, why: str) -> typing.NoReturn:
    raise ConfigError(f"{key}={value!r}: {why}", key=key)


def _check_range(key: str, value: list[float], *, lo: float | None = None, hi: float | None = None):
    if len(value) != 2 or value[0] > value[1]:
        _fail(key, value, "must be a [low, high] pair with low <= high")
    if lo is not None and value[0] < lo:
        _fail(key, value, f"low must be >= {lo}")
    if hi is not None and value[1] > hi:
        _fail(key, value, f"high must be <= {hi}")


def metric_direction(metric: str, mode: str = "auto") -> str:
    """``max`` or ``min`` for ``metric``: ``mode`` itself unless ``auto``, which means ``max`` for
    SNR/SSIM-like metrics (``snr``, ``val_ssim``, ...) and ``min`` for losses."""
    if mode != "auto":
        return mode
    return "max" if any(k in metric for k in ("snr", "ssim")) else "min"


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
        if self.sample_rate < 1000:
            _fail("audio.sample_rate", self.sample_rate, "must be at least 1000 Hz")


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
        if self.n_fft < 16 or self.n_fft % 2:
            _fail("stft.n_fft", self.n_fft, "must be an even integer >= 16")
        if not 0 < self.hop_length <= self.n_fft // 2:
            _fail("stft.hop_length", self.hop_length, f"must be in [1, n_fft/2={self.n_fft // 2}]")

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
        if not -200.0 <= self.db_floor < -20.0:
            _fail("features.db_floor", self.db_floor, "must be in [-200, -20) dB")
        if not 0.0 < self.power <= 1.0:
            _fail("features.power", self.power, "must be in (0, 1]")

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
        hop: Hop between training patches cut from one spectrogram, in frames.
        chunk_width: Width of full-height inference chunks, in frames.
        chunk_overlap: Cross-faded overlap between inference chunks, in frames.
    """

    height: int = 128
    width: int = 128
    hop: int = 64
    chunk_width: int = 512
    chunk_overlap: int = 64

    def __post_init__(self):
        for name in ("height", "width", "hop", "chunk_width"):
            if getattr(self, name) < 1:
                _fail(f"patches.{name}", getattr(self, name), "must be a positive integer")
        if not 0 <= self.chunk_overlap <= self.chunk_width // 2:
            _fail("patches.chunk_overlap", self.chunk_overlap, "must be in [0, chunk_width/2]")


@dataclass
class DataConfig:
    """Where training data comes from and how examples are drawn (see :mod:`noisenil.data.datasets`).

    Attributes:
        mode: ``"demo"`` (mixing on the generated demo corpus in ``demo_dir``), ``"mixing"``
            (``clean_dir`` + ``noise_dir`` mixed on the fly) or ``"paired"`` (``clean_dir`` +
            ``noisy_dir`` matched by relative file name).
        clean_dir: Folder of clean recordings (searched recursively).
        noisy_dir: Folder of noisy recordings matching ``clean_dir`` (paired mode).
        noise_dir: Folder of noise recordings (mixing mode).
        demo_dir: Where the demo corpus is generated (demo mode).
        extensions: File extensions scanned, lower case with the dot.
        val_fraction: Fraction of files (of speakers, when names carry one) held out for
            validation, split before any mixing or patching.
        test_fraction: Fraction held out for testing, never used in training or validation.
        split_seed: Seed of the file-level split.
        speaker_patterns: Regular expressions tried in order on each file's stem; group 1 is the
            speaker id. Files matching none form a group of their own.
        snr_db: Mixing SNR range in dB, drawn uniformly in dB (log-uniform in amplitude).
        level_db: Level factor beta range in dB applied to mixture and target alike.
        noise_crossfade_s: Cross-fade in seconds when looping a short noise.
        trim_silence: Cut silent stretches out of clean files before drawing examples.
        trim_top_db: Threshold in dB below a file's peak under which audio counts as silent.
        pad_short: Zero-pad clean files shorter than one patch; when false they are reported as
            bad files instead.
        batch_size: Patches per batch.
        train_patches: Patches per training epoch (steps = ceil(train_patches / batch_size)).
        val_patches: Patches in the (fixed) validation set.
        augment_validation: Apply the augmentations to validation examples too.
        seed: Seed of the example draws (each batch's generator is derived from it, the epoch
            and the batch index, so results do not depend on worker scheduling).
        workers: Parallel workers of the Keras ``PyDataset`` (1 = in the training process).
        use_multiprocessing: Workers are processes rather than threads.
        pipeline: ``"pydataset"`` (every backend) or ``"tf.data"`` (TensorFlow only).
    """

    mode: Literal["demo", "mixing", "paired"] = "demo"
    clean_dir: str | None = None
    noisy_dir: str | None = None
    noise_dir: str | None = None
    demo_dir: str = "noisenil_demo"
    extensions: list[str] = field(default_factory=lambda: [".wav", ".flac", ".ogg"])
    val_fraction: float = 0.1
    test_fraction: float = 0.0
    split_seed: int = 1234
    speaker_patterns: list[str] = field(
        default_factory=lambda: [r"^(p\d+)_\d+", r"^(spk\d+)_", r"^\d+_([A-Za-z]+)_\d+$",
                                 r"^(\d+)-\d+-\d+$"]
    )
    snr_db: list[float] = field(default_factory=lambda: [2.0, 20.0])
    level_db: list[float] = field(default_factory=lambda: [-6.0, 4.0])
    noise_crossfade_s: float = 0.5
    trim_silence: bool = False
    trim_top_db: float = 40.0
    pad_short: bool = True
    batch_size: int = 16
    train_patches: int = 4096
    val_patches: int = 512
    augment_validation: bool = False
    seed: int = 0
    workers: int = 1
    use_multiprocessing: bool = False
    pipeline: Literal["pydataset", "tf.data"] = "pydataset"

    def __post_init__(self):
        import re

        for name in ("val_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                _fail(f"data.{name}", getattr(self, name), "must be in [0, 1)")
        if self.val_fraction + self.test_fraction >= 1.0:
            _fail("data.test_fraction", self.test_fraction,
                  f"val_fraction + test_fraction must be < 1 (val_fraction={self.val_fraction})")
        _check_range("data.snr_db", self.snr_db, lo=-30.0, hi=60.0)
        _check_range("data.level_db", self.level_db, lo=-60.0, hi=20.0)
        for i, pattern in enumerate(self.speaker_patterns):
            try:
                if re.compile(pattern).groups < 1:
                    _fail(f"data.speaker_patterns[{i}]", pattern, "needs a capturing group")
            except re.error as err:
                _fail(f"data.speaker_patterns[{i}]", pattern, f"is not a regular expression ({err})")
        for i, ext in enumerate(self.extensions):
            if not ext.startswith("."):
                _fail(f"data.extensions[{i}]", ext, "must start with a dot, e.g. '.wav'")
        for name in ("batch_size", "train_patches", "val_patches", "workers"):
            if getattr(self, name) < 1:
                _fail(f"data.{name}", getattr(self, name), "must be a positive integer")
        if self.noise_crossfade_s < 0:
            _fail("data.noise_crossfade_s", self.noise_crossfade_s, "must be >= 0 seconds")
        if self.trim_top_db <= 0:
            _fail("data.trim_top_db", self.trim_top_db, "must be > 0 dB")
        needs = {"mixing": ("clean_dir", "noise_dir"), "paired": ("clean_dir", "noisy_dir")}
        for name in needs.get(self.mode, ()):
            if not getattr(self, name):
                _fail(f"data.{name}", getattr(self, name), f"is required when data.mode={self.mode!r}")


@dataclass
class ModelConfig:
    """The network to build (see :mod:`noisenil.models`).

    Attributes:
        name: A registered model family: ``unet`` (seed-004 baseline, the fastest on CPU),
            ``dncnn``, ``resnet_unet`` or ``two_stage_unet``. Checked against the registry when a
            model is built (:func:`noisenil.models.hypermodel_from_config`), before any training.
        loss: ``log_cosh`` (default), ``l1`` or ``mse``; the two-stage model sums it over both
            stages.
        hparams: Hyperparameters pinned to a value (e.g. ``{depth: 12}``) and builder options
            (``resnet_unet``: ``backbone``, ``weights``); the others take the family's defaults.
            Used by ``train``; ``tune`` pins per model with ``tune.hparams`` instead.
        metrics: Metrics every model reports (``snr``, ``ssim``); ``val_<metric>`` can be a
            monitor or a tuning objective.
    """

    name: str = "unet"
    loss: Literal["log_cosh", "l1", "mse"] = "log_cosh"
    hparams: dict = field(default_factory=dict)
    metrics: list[str] = field(default_factory=lambda: ["snr"])

    def __post_init__(self):
        if not self.metrics:
            _fail("model.metrics", self.metrics, "must name at least one metric, e.g. [snr]")


@dataclass
class TrainConfig:
    """One training run (``noisenil train``; the tuner reuses the schedule and callbacks).

    Attributes:
        run_dir: Folder of the run: checkpoints, logs, the resolved config, the final model.
            Rerunning on the same folder resumes from its last completed epoch.
        epochs: Epochs in total (a resumed run continues up to this number).
        monitor: Metric that selects the best checkpoint, drives early stopping and the plateau
            schedule (``val_snr``; without a validation set its training twin, ``snr``).
        monitor_mode: ``max``, ``min``, or ``auto`` (``max`` for SNR/SSIM, else ``min``).
        early_stopping_patience: Epochs without improvement before stopping (0: never).
        lr_schedule: ``plateau`` (divide by ``1/plateau_factor`` after ``plateau_patience``
            epochs without improvement), ``step`` (seed 001: multiply by ``lr_step_factor``
            every ``lr_step_epochs``), or ``constant``.
        lr_step_epochs: Epochs between steps of the ``step`` schedule.
        lr_step_factor: Factor of each step (seed 001: 0.1).
        plateau_patience: Epochs without improvement before the ``plateau`` schedule acts.
        plateau_factor: Factor applied to the learning rate on a plateau.
        min_learning_rate: Floor of the ``plateau`` schedule.
        strategy: ``none`` or ``mirrored`` (``tf.distribute.MirroredStrategy`` over every local
            GPU, TensorFlow only; the global batch is ``data.batch_size`` x replicas).
        precision: ``float32`` or ``mixed_float16`` (T4 GPUs; 8-11x slower on CPU).
        seed: Seed of weight initialisation and dropout (``keras.utils.set_random_seed``).
        tensorboard: Write TensorBoard logs under ``run_dir/logs``.
        init_from: A ``.keras`` model whose weights a fresh run starts from (fine-tuning, e.g.
            the pretrained default model on your own recordings: ``default``) instead of a random
            initialisation. The ``model`` section must build the same architecture and the
            model's STFT/feature settings must match this config's; the optimizer starts afresh
            at the configured learning rate. Ignored when the run resumes.
    """

    run_dir: str = "runs/train"
    epochs: int = 50
    monitor: str = "val_snr"
    monitor_mode: Literal["auto", "max", "min"] = "auto"
    early_stopping_patience: int = 10
    lr_schedule: Literal["plateau", "step", "constant"] = "plateau"
    lr_step_epochs: int = 20
    lr_step_factor: float = 0.1
    plateau_patience: int = 3
    plateau_factor: float = 0.5
    min_learning_rate: float = 1e-6
    strategy: Literal["none", "mirrored"] = "none"
    precision: Literal["float32", "mixed_float16"] = "float32"
    seed: int = 0
    tensorboard: bool = True
    init_from: str | None = None

    def __post_init__(self):
        for name in ("epochs", "lr_step_epochs", "plateau_patience"):
            if getattr(self, name) < 1:
                _fail(f"train.{name}", getattr(self, name), "must be a positive integer")
        if self.early_stopping_patience < 0:
            _fail("train.early_stopping_patience", self.early_stopping_patience, "must be >= 0")
        for name in ("lr_step_factor", "plateau_factor"):
            if not 0.0 < getattr(self, name) < 1.0:
                _fail(f"train.{name}", getattr(self, name), "must be in (0, 1)")
        if not self.run_dir:
            _fail("train.run_dir", self.run_dir, "must name a folder")

    @property
    def mode(self) -> str:
        """``max`` or ``min`` for :attr:`monitor`."""
        return metric_direction(self.monitor, self.monitor_mode)


@dataclass
class TuneConfig:
    """A Keras Tuner sweep over one or several model families (``noisenil tune``).

    Every family in :attr:`models` is searched with the same data, algorithm, budget and
    objective, so their results are comparable. The training schedule of each trial (learning
    rate schedule, early stopping, precision) comes from the ``train`` section.

    Attributes:
        experiment: Name of the experiment; results go to ``results_dir/experiment/`` and a
            rerun with the same name resumes the sweep.
        results_dir: Root folder of the experiments.
        models: The registered families to search, in order.
        algorithm: ``random`` (RandomSearch), ``hyperband`` or ``bayesian``
            (BayesianOptimization, Gaussian process).
        max_trials: Trials per model (``random``, ``bayesian``); ``hyperband`` sizes its brackets
            from :attr:`epochs` and :attr:`hyperband_factor` instead.
        epochs: Epochs per trial (``hyperband``: the most epochs a trial can reach).
        hyperband_factor: Hyperband's reduction factor (keeps 1/factor of the trials per round).
        executions_per_trial: Trainings per trial (different initialisations, objective averaged).
        objective: Metric to optimise, as Keras logs it: ``val_snr`` (default), ``val_loss``,
            ``val_ssim`` (with ``ssim`` in ``model.metrics``), or a training twin without
            ``val_``.
        direction: ``max``, ``min``, or ``auto`` (``max`` for SNR/SSIM, else ``min``).
        seed: Seed of the search algorithm and of each trial's initialisation.
        strategy: ``none`` or ``mirrored`` (``tf.distribute.MirroredStrategy`` over every
            local GPU, TensorFlow only; the global batch is ``data.batch_size`` x replicas).
        hparams: Per model, hyperparameters pinned to a value and builder options, e.g.
            ``{dncnn: {depth: 8}, resnet_unet: {backbone: resnet50}}``.
        space: Per model, narrower or different ranges for searched hyperparameters: a list of
            values (a choice) or ``{min, max, step, sampling}`` for numeric ones, e.g.
            ``{dncnn: {filters: [16, 32], depth: {min: 4, max: 8}}}``.
        max_consecutive_failures: A model's search stops after this many failed trials in a row
            (a systematic problem, not an unlucky hyperparameter); the experiment goes on with
            the next model.
    """

    experiment: str = "sweep"
    results_dir: str = "tuning_results"
    models: list[str] = field(default_factory=lambda: ["dncnn", "resnet_unet", "two_stage_unet"])
    algorithm: Literal["random", "hyperband", "bayesian"] = "random"
    max_trials: int = 10
    epochs: int = 10
    hyperband_factor: int = 3
    executions_per_trial: int = 1
    objective: str = "val_snr"
    direction: Literal["auto", "max", "min"] = "auto"
    seed: int = 0
    strategy: Literal["none", "mirrored"] = "none"
    hparams: dict = field(default_factory=dict)
    space: dict = field(default_factory=dict)
    max_consecutive_failures: int = 5

    def __post_init__(self):
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.experiment or ""):
            _fail("tune.experiment", self.experiment,
                  "must be a folder name (letters, digits, '.', '_', '-')")
        if not self.models:
            _fail("tune.models", self.models, "must list at least one model")
        if len(set(self.models)) != len(self.models):
            _fail("tune.models", self.models, "lists a model twice")
        for name in ("max_trials", "epochs", "executions_per_trial", "max_consecutive_failures"):
            if getattr(self, name) < 1:
                _fail(f"tune.{name}", getattr(self, name), "must be a positive integer")
        if self.hyperband_factor < 2:
            _fail("tune.hyperband_factor", self.hyperband_factor, "must be >= 2")
        for section in ("hparams", "space"):
            for model, values in getattr(self, section).items():
                if not isinstance(values, Mapping):
                    _fail(f"tune.{section}.{model}", values,
                          "must map hyperparameter names to values")

    @property
    def mode(self) -> str:
        """``max`` or ``min`` for :attr:`objective`."""
        return metric_direction(self.objective, self.direction)


@dataclass
class AugmentConfig:
    """Augmentation groups; each maps an augmentation name to ``{p: ..., <ranges>}``.

    See :mod:`noisenil.data.augment` for the names, their parameters and defaults. ``clean`` is applied
    to the clean signal (so the target sees it), ``noise`` to the noise before mixing (synthetic
    degradations are added there), ``mixture`` to the network input only.
    """

    clean: dict = field(default_factory=lambda: _default_group("clean"))
    noise: dict = field(default_factory=lambda: _default_group("noise"))
    mixture: dict = field(default_factory=lambda: _default_group("mixture"))

    def __post_init__(self):
        from noisenil.data import augment

        for group in ("clean", "noise", "mixture"):
            setattr(self, group, augment.validate_group(group, getattr(self, group)))


def _default_group(group: str) -> dict:
    from noisenil.data import augment

    return copy.deepcopy(augment.DEFAULT_GROUPS[group])


@dataclass
class Config:
    """The whole configuration. Sections are documented on their own classes."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    stft: StftConfig = field(default_factory=StftConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    patches: PatchConfig = field(default_factory=PatchConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):
        if self.patches.height > self.stft.n_bins:
            _fail("patches.height", self.patches.height,
                  f"exceeds the {self.stft.n_bins} frequency bins of stft.n_fft={self.stft.n_fft}")

    def to_dict(self) -> dict:
        """A plain nested dict (YAML-safe) of every key."""
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- loading


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the type ``hint``; return it (ints widened to float)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key)
    if origin is Literal:
        if value not in args:
            _fail(key, value, f"must be one of {list(args)}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            _fail(key, value, "must be a list")
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is dict or origin is dict:
        if not isinstance(value, Mapping):
            _fail(key, value, "must be a mapping")
        return copy.deepcopy(dict(value))
    if hint is bool:
        if not isinstance(value, bool):
            _fail(key, value, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(key, value, "must be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(key, value, "must be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            _fail(key, value, "must be a string")
        return value
    raise TypeError(f"unsupported config type {hint!r} for {key}")  # a bug in this module


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        _fail(prefix or "config", data, "must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if name not in names:
            _fail(key, value, f"unknown key; valid keys here are {names}")
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, key)
        else:
            kwargs[name] = _coerce(hint, value, key)
    return cls(**kwargs)


def _merge(base: dict, update: Mapping) -> dict:
    """Deep-merge ``update`` into a copy of ``base`` (mappings merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def read_yaml(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a config file, resolving its ``extends:`` chain (relative to the file).

    Raises:
        ConfigError: The file is missing, not YAML, not a mapping, or extends itself.
    """
    path = Path(path).resolve()
    if path in _seen:
        _fail("extends", str(path), "forms a cycle")
    if not path.is_file():
        _fail("config", str(path), "file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        _fail("config", str(path), f"is not valid YAML ({err})")
    if not isinstance(data, Mapping):
        _fail("config", str(path), "must hold a mapping of keys to values")
    parents = data.pop("extends", None) or []
    merged: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _merge(merged, read_yaml(path.parent / parent, _seen + (path,)))
    return _merge(merged, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into its key path and YAML-parsed value."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        _fail("--set", text, "must look like key.subkey=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        _fail(key, raw, f"is not a YAML value ({err})")
    return key.split("."), value


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Return a copy of ``data`` with every ``key=value`` override set (nested keys created)."""
    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                _fail(".".join(path[: i + 1]), child, f"is not a section, cannot set {text!r}")
            node = child
        node[path[-1]] = value
    return out


def config_from_dict(data: Mapping) -> Config:
    """Validate a nested dict (missing keys take their defaults) into a :class:`Config`."""
    return _build(Config, _merge(Config().to_dict(), data), "")


def load_config(path: str | Path | None = None, *, overrides: Iterable[str] = ()) -> Config:
    """Load and validate a configuration.

    Args:
        path: A YAML file (may ``extends:`` others), or ``None`` for the built-in defaults
            (identical to ``configs/base.yaml``).
        overrides: ``"key.subkey=value"`` strings applied last; values are parsed as YAML.

    Returns:
        The validated :class:`Config`.

    Raises:
        ConfigError: Unknown key or bad value, naming the dotted key and the value.
    """
    data = read_yaml(path) if path is not None else {}
    return config_from_dict(apply_overrides(data, overrides))


def save_config(cfg: Config, path: str | Path) -> Path:
    """Write the resolved configuration as YAML (so a result can be reproduced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    return path
