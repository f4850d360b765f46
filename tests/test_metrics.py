"""The SNR training metric: known values, silent patches, accumulation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from noisenil.models.metrics import SNR


def value(metric) -> float:
    return float(keras.ops.convert_to_numpy(metric.result()))


def test_snr_known_value_and_accumulation(rng):
    y = rng.standard_normal((4, 16, 16, 1)).astype(np.float32)
    err = rng.standard_normal(y.shape).astype(np.float32)
    err *= np.sqrt(np.sum(y ** 2) / np.sum(err ** 2) / 10 ** (12.5 / 10))  # exactly 12.5 dB
    m = SNR()
    m.update_state(y, y + err)
    assert value(m) == pytest.approx(12.5, abs=1e-3)
    m.update_state(y, y + err)  # the same batch again: same ratio
    assert value(m) == pytest.approx(12.5, abs=1e-3)
    m.reset_state()
    m.update_state(y, y)
    assert value(m) > 90


def test_snr_is_finite_on_silent_patches(rng):
    m = SNR()
    silent = np.zeros((2, 8, 8, 1), np.float32)
    m.update_state(silent, silent)
    assert np.isfinite(value(m))
    m.update_state(silent, silent + 0.1)
    m.update_state(np.ones_like(silent), np.ones_like(silent))
    assert np.isfinite(value(m)) and value(m) > 0
    assert SNR.from_config(m.get_config()).name == "snr"


def test_ssim_matches_scikit_image_and_is_one_for_identical_patches(rng):
    from skimage.metrics import structural_similarity

    from noisenil.models.metrics import SSIM

    y = rng.random((3, 32, 40, 1)).astype(np.float32)
    p = np.clip(y + 0.4 * rng.standard_normal(y.shape), 0, 1).astype(np.float32)
    m = SSIM()
    m.update_state(y, y)
    assert value(m) == pytest.approx(1.0, abs=1e-5)
    m.reset_state()
    m.update_state(y[:2], p[:2])
    m.update_state(y[2:], p[2:])  # accumulates over batches: the mean over all 3 patches
    expected = np.mean([structural_similarity(y[i, ..., 0], p[i, ..., 0], data_range=1.0,
                                              gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False) for i in range(3)])
    assert 0.1 < expected < 0.9
    assert value(m) == pytest.approx(expected, abs=1e-4)
    assert SSIM.from_config(m.get_config()).data_range == 1.0
