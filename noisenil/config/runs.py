"""Configuration sections of a run: the model, one training run and a tuning sweep."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from noisenil.config.validate import fail, mapping, number


def metric_direction(metric: str, mode: str = "auto") -> str:
    """``max`` or ``min`` for ``metric``: ``mode`` itself unless ``auto``, which means ``max`` for
    SNR/SDR/SSIM-like metrics (``snr``, ``val_si_sdr``, ``val_ssim``, PESQ, STOI) and ``min`` for losses."""
    if mode != "auto":
        return mode
    return "max" if any(k in metric for k in ("snr", "sdr", "ssim", "pesq", "stoi")) else "min"


@dataclass
class ModelConfig:
    """The network to build (see :mod:`noisenil.models`).

    Attributes:
        name: A registered model family: ``unet`` (seed-004 baseline, the fastest on CPU),
            ``dncnn``, ``resnet_unet`` or ``two_stage_unet``. Checked against the registry when a
            model is built (:func:`noisenil.models.hypermodel_from_config`), before any training.
        loss: ``spectral_sdr`` (default: negative SDR of the linear-amplitude spectrogram, the
            waveform-aware loss, :class:`noisenil.models.losses.SpectralSDR`), or on the
            features ``log_cosh`` (seed 002), ``l1`` (seed 001) or ``mse``; the two-stage model
            sums it over both stages.
        hparams: Hyperparameters pinned to a value (e.g. ``{depth: 12}``) and builder options
            (``resnet_unet``: ``backbone``, ``weights``); the others take the family's defaults.
            Used by ``train``; ``tune`` pins per model with ``tune.hparams`` instead.
        metrics: Metrics every model reports (``snr``, ``ssim``); ``val_<metric>`` can be a
            monitor or a tuning objective.
        head: The output head every family shares (:mod:`noisenil.models.heads`): ``mask``
            (default: a gain per bin in ``[g_min, 1]``, a bounded complex ratio mask on the
            complex representation), ``residual`` (noisy minus predicted noise) or ``mapping``
            (the seeds' published heads, unbounded).
        min_gain_db: The mask head's floor ``20 log10(g_min)``, in dB: the most any bin is
            attenuated.
    """

    name: str = "unet"
    loss: Literal["log_cosh", "l1", "mse", "spectral_sdr"] = "spectral_sdr"
    hparams: dict = field(default_factory=dict)
    metrics: list[str] = field(default_factory=lambda: ["snr"])
    head: Literal["mask", "residual", "mapping"] = "mask"
    min_gain_db: float = -30.0

    def __post_init__(self):
        number("model.min_gain_db", self.min_gain_db, lo=-120.0, hi=0.0, hi_open=True)
        if not self.metrics:
            fail("model.metrics", self.metrics, "must name at least one metric, e.g. [snr]")


@dataclass
class TrainConfig:
    """One training run (``noisenil train``; the tuner reuses the schedule and callbacks).

    Attributes:
        run_dir: Folder of the run: checkpoints, logs, the resolved config, the final model.
            Rerunning on the same folder resumes from its last completed epoch.
        epochs: Epochs in total (a resumed run continues up to this number).
        max_minutes: A time budget: the run stops after the epoch at which its time (epochs
            and their validation, summed over resumptions) reaches this many minutes (0: no
            budget, ``epochs`` alone decides). Equal budgets make families comparable.
        budget_clock: What :attr:`max_minutes` counts: ``wall`` (elapsed time) or ``cpu`` (the
            training process's CPU time over all its threads: on a shared machine other jobs
            do not eat into it).
        monitor: Metric that selects the best checkpoint, drives early stopping and the plateau
            schedule: ``val_delta_si_sdr`` (default: the SI-SDR improvement on fixed validation
            clips run through the inference path, see :mod:`noisenil.training.validation`),
            ``val_si_sdr``, or a Keras metric (``val_snr``: feature-domain SNR; without a
            validation set the training twin, ``snr``).
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
        run_eagerly: Run the training and validation steps eagerly (Keras'
            ``Model.run_eagerly``) instead of tracing them into graphs (TensorFlow) or compiling
            them (JAX). Slower per step at real sizes, but at tiny sizes tracing costs more
            than the training itself (the debug sweep of three families: 45 s traced, 20 s
            eager); also for stepping through a model in a debugger. The results are the same
            up to float rounding.
        init_from: A ``.keras`` model whose weights a fresh run starts from (fine-tuning, e.g.
            the pretrained default model on your own recordings: ``default``) instead of a random
            initialisation. The ``model`` section must build the same architecture and the
            model's STFT/feature settings must match this config's; the optimizer starts afresh
            at the configured learning rate. Ignored when the run resumes.
        validation_clips: Validation clips of the waveform metric (0: none; then the monitor
            must be a Keras metric such as ``val_snr``), drawn from the validation split: each
            of ``ceil(clips / len(validation_snrs))`` files mixed at every SNR. The default, 96
            clips (16 files), is what ranked a sweep's trials as the test split does (README,
            "Does the objective rank models right?"); 32 clips (8 files) did not.
        validation_seconds: Length of each clip, in s.
        validation_snrs: Input SNRs the clips are mixed at, in dB. The default is the range the
            README's results report (−5…20 dB): an objective that leaves out 20 dB crowns
            models that damage clean-ish input.
    """

    run_dir: str = "runs/train"
    epochs: int = 50
    max_minutes: float = 0.0
    budget_clock: Literal["wall", "cpu"] = "wall"
    monitor: str = "val_delta_si_sdr"
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
    run_eagerly: bool = False
    init_from: str | None = None
    validation_clips: int = 96
    validation_seconds: float = 2.0
    validation_snrs: list[float] = field(
        default_factory=lambda: [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0])

    def __post_init__(self):
        number("train.validation_clips", self.validation_clips, lo=0, integer=True)
        number("train.max_minutes", self.max_minutes, lo=0.0, unit=" minutes")
        number("train.validation_seconds", self.validation_seconds, lo=0.5, hi=60.0)
        if not self.validation_snrs:
            fail("train.validation_snrs", self.validation_snrs, "give at least one input SNR")
        for snr in self.validation_snrs:
            number("train.validation_snrs", snr, lo=-30.0, hi=60.0)
        for name in ("epochs", "lr_step_epochs", "plateau_patience"):
            number(f"train.{name}", getattr(self, name), lo=1, integer=True)
        number("train.early_stopping_patience", self.early_stopping_patience, lo=0, integer=True)
        for name in ("lr_step_factor", "plateau_factor"):
            number(f"train.{name}", getattr(self, name), lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        number("train.min_learning_rate", self.min_learning_rate, lo=0.0)
        if not self.run_dir:
            fail("train.run_dir", self.run_dir, "must name a folder")

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
        objective: Metric to optimise: ``val_delta_si_sdr`` (default; the waveform metric of
            :mod:`noisenil.training.validation`, clips from ``train.validation_*``),
            ``val_si_sdr``, or a Keras metric as Keras logs it: ``val_snr``, ``val_loss``,
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
        worker_lease_s: Distributed mode: seconds without a word from a worker (each sends a
            heartbeat every fifth of this while it trains) after which the chief gives up on it
            and requeues its trial for the other workers.
        keep_trial_weights: Keep every trial's weights in ``tuner/<model>/trial_<id>/``
            (default: only those the results and a resumed search need), e.g. to score every
            trial on the test split (``bench/objective_rank.py``).
    """

    experiment: str = "sweep"
    results_dir: str = "tuning_results"
    models: list[str] = field(default_factory=lambda: ["dncnn", "resnet_unet", "two_stage_unet"])
    algorithm: Literal["random", "hyperband", "bayesian"] = "random"
    max_trials: int = 10
    epochs: int = 10
    hyperband_factor: int = 3
    executions_per_trial: int = 1
    objective: str = "val_delta_si_sdr"
    direction: Literal["auto", "max", "min"] = "auto"
    seed: int = 0
    strategy: Literal["none", "mirrored"] = "none"
    hparams: dict = field(default_factory=dict)
    space: dict = field(default_factory=dict)
    max_consecutive_failures: int = 5
    worker_lease_s: float = 300.0
    keep_trial_weights: bool = False

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.experiment or ""):
            fail("tune.experiment", self.experiment,
                 "must be a folder name (letters, digits, '.', '_', '-')")
        if not self.models:
            fail("tune.models", self.models, "must list at least one model")
        if len(set(self.models)) != len(self.models):
            fail("tune.models", self.models, "lists a model twice")
        for name in ("max_trials", "epochs", "executions_per_trial", "max_consecutive_failures"):
            number(f"tune.{name}", getattr(self, name), lo=1, integer=True)
        number("tune.hyperband_factor", self.hyperband_factor, lo=2, integer=True)
        number("tune.worker_lease_s", self.worker_lease_s, lo=0.0, lo_open=True, unit=" s")
        for section in ("hparams", "space"):
            for model, values in getattr(self, section).items():
                mapping(f"tune.{section}.{model}", values, "hyperparameter names to values")

    @property
    def mode(self) -> str:
        """``max`` or ``min`` for :attr:`objective`."""
        return metric_direction(self.objective, self.direction)


