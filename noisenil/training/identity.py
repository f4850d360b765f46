"""The noisy input's own validation scores: what a model has to beat.

:func:`identity_scores` compiles an identity "model" (features out = features in) with the
configured loss and metrics and evaluates it on the validation batches, so ``train`` can print
its best score beside the noisy input's and ``tune`` can record it in ``experiment.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from noisenil.config import Config


def identity_scores(cfg: Config, val_data: Any, *, steps: int | None = None,
                    clips: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> dict[str, float]:
    """Validation loss and metrics of the noisy input itself (an identity "model").

    Args:
        cfg: The configuration (``model.loss``, ``model.metrics``, ``features``).
        val_data: Validation ``(noisy, clean)`` batches.
        steps: Batches to evaluate (needed for endless ``tf.data`` streams).
        clips: The waveform validation clips, ``(noisy, clean)`` pairs
            (:func:`~noisenil.training.validation.validation_clips`), if the run scores them:
            adds ``val_si_sdr`` (the noisy clips' own mean SI-SDR, dB) and
            ``val_delta_si_sdr`` (0: the noisy input does not improve on itself).

    Returns:
        ``{"val_loss": ..., "val_<metric>": ...}``.
    """
    from noisenil.models.compile import METRICS
    from noisenil.models.heads import feature_scale
    from noisenil.models.losses import get_loss

    inputs = keras.Input((None, None, cfg.features.channels))
    model = keras.Model(inputs, keras.layers.Identity()(inputs), name="noisy_input")
    loss = get_loss(cfg.model.loss, channels=cfg.features.channels,
                    feature_scale=feature_scale(cfg.features))
    model.compile(loss=loss, metrics=[METRICS[m]() for m in cfg.model.metrics])
    scores = model.evaluate(val_data, steps=steps, verbose=0, return_dict=True)
    out = {f"val_{k}": float(v) for k, v in scores.items()}
    if clips:
        from noisenil.dsp.measures import si_sdr

        out["val_si_sdr"] = float(np.mean([si_sdr(clean, noisy) for noisy, clean in clips]))
        out["val_delta_si_sdr"] = 0.0
    return out


__all__ = ["identity_scores"]
