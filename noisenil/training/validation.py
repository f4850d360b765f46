"""The waveform validation metric: the model through the real inference path, every epoch.

Feature-domain ``val_snr`` does not rank models the way listeners and the evaluation metrics do
(a sweep's best DnCNN by ``val_snr`` scored -33.6 dB SI-SDR improvement on test). So at every
epoch end :class:`WaveformValidation` denoises a fixed set of validation clips with the model as
it stands, through :class:`~noisenil.inference.denoiser.Denoiser` (level gain, chunk plan,
cross-fades, inverse STFT: what users get), and logs

- ``val_si_sdr``: the mean SI-SDR of the outputs against the clean clips, in dB;
- ``val_delta_si_sdr``: the mean improvement over the noisy clips' own SI-SDR, in dB (0 = as
  good as doing nothing), the default ``train.monitor`` and ``tune.objective``.

The clips are the validation split's files (``data.val_fraction``, never the test split) mixed
with validation noises at fixed SNRs (``train.validation_snrs``), cut to
``train.validation_seconds``: the same clips every epoch and every trial, so scores compare.
Its cost is logged each epoch (a few percent of an epoch at the default sizes).
"""

from __future__ import annotations

import functools
import logging
import time

import keras
import numpy as np
import yaml

from noisenil.config import Config
from noisenil.dsp.measures import si_sdr
from noisenil.errors import NoiseNilError
from noisenil.inference.denoiser import Denoiser

logger = logging.getLogger(__name__)

#: Metrics this callback logs.
WAVEFORM_METRICS = ("val_si_sdr", "val_delta_si_sdr")


def waveform_callbacks(cfg: Config, monitor: str, *, has_validation: bool = True,
                       ) -> tuple[list[keras.callbacks.Callback], str]:
    """The waveform validation callback a run needs, and the monitor it can then use.

    With ``train.validation_clips`` > 0 and a validation split, ``[WaveformValidation]`` and
    ``monitor`` unchanged. Without clips, a waveform ``monitor`` falls back to ``val_snr`` (or
    ``snr`` without validation batches) with a warning; a Keras-metric monitor is kept.
    """
    if cfg.train.validation_clips > 0 and has_validation:
        try:
            return [WaveformValidation(cfg, validation_clips(cfg))], monitor
        except NoiseNilError as err:
            why = str(err)
    else:
        why = ("train.validation_clips=0" if cfg.train.validation_clips == 0
               else "no validation data")
    if monitor in WAVEFORM_METRICS:
        fallback = "val_snr" if has_validation else "snr"
        logger.warning("%s needs validation clips (%s): monitoring %s instead", monitor, why,
                       fallback)
        return [], fallback
    return [], monitor


@functools.lru_cache(maxsize=4)
def _clips(data_yaml: str, sample_rate: int, clips: int, seconds: float,
           snrs: tuple[float, ...]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    from noisenil.config import config_from_dict
    from noisenil.data.testset import load_test_set

    cfg = config_from_dict(yaml.safe_load(data_yaml))
    files = max(1, -(-clips // len(snrs)))
    test_set = load_test_set(cfg, sample_rate=sample_rate, snrs=snrs, max_files=files,
                             split="val")
    n = int(seconds * sample_rate)
    out = [(e.noisy[:n].astype(np.float32), e.clean[:n].astype(np.float32))
           for e in test_set.examples[:clips]]
    return tuple(out)


def validation_clips(cfg: Config) -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixed ``(noisy, clean)`` validation clips of a configuration (cached per data
    section), at ``audio.sample_rate``.

    Raises:
        NoiseNilError: No validation split, or no usable clip (the message says which).
    """
    t = cfg.train
    # The data section, and the augment section too: with ``data.augment_test_noise`` the
    # clips' noises go through the run's own ``augment.noise`` group, not the defaults'.
    sections = cfg.to_dict()
    data_yaml = yaml.safe_dump({k: sections[k] for k in ("data", "augment")}, sort_keys=True)
    return list(_clips(data_yaml, cfg.audio.sample_rate, max(1, t.validation_clips),
                       float(t.validation_seconds), tuple(float(s) for s in t.validation_snrs)))


class WaveformValidation(keras.callbacks.Callback):
    """Logs ``val_si_sdr`` and ``val_delta_si_sdr`` at each epoch end (see the module docstring).

    Put it first among the callbacks: checkpoints, schedules, early stopping, the history and
    Keras Tuner read these values from the same logs.

    Args:
        cfg: The run's configuration (its STFT/feature settings drive the inference path).
        clips: ``(noisy, clean)`` pairs at ``audio.sample_rate`` (:func:`validation_clips`).
    """

    def __init__(self, cfg: Config, clips: list[tuple[np.ndarray, np.ndarray]]):
        super().__init__()
        if not clips:
            raise NoiseNilError("waveform validation needs at least one validation clip")
        self.cfg = cfg
        self.clips = clips
        self._noisy_scores = [si_sdr(clean, noisy) for noisy, clean in clips]
        self.seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        den = Denoiser(self.model, self.cfg, name="validation")
        scores = []
        for noisy, clean in self.clips:
            out = den.denoise(noisy)
            scores.append(si_sdr(clean, out) if np.all(np.isfinite(out)) else -100.0)
        self.seconds = time.perf_counter() - start
        if logs is not None:
            logs["val_si_sdr"] = float(np.mean(scores))
            logs["val_delta_si_sdr"] = float(np.mean(scores) - np.mean(self._noisy_scores))
        logger.info("epoch %d: val_si_sdr %.2f dB, val_delta_si_sdr %+.2f dB on %d validation "
                    "clips (%.1f s)", epoch + 1, np.mean(scores),
                    np.mean(scores) - np.mean(self._noisy_scores), len(self.clips), self.seconds)


__all__ = ["WAVEFORM_METRICS", "WaveformValidation", "validation_clips", "waveform_callbacks"]
