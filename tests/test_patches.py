"""Patch identity, frequency tiling, and seamless chunked overlap-add of any length."""

from __future__ import annotations

import numpy as np
import pytest

from noisenil.errors import AudioError, ConfigError
from noisenil.dsp.chunks import (assemble_patches, chunk_starts, crossfade_weights,
                              extract_patches, overlap_add, pad_to_multiple, split_chunks)


@pytest.mark.parametrize("shape, height, width, hop", [
    ((128, 128, 1), 128, 128, 64), ((128, 300, 1), 128, 128, 64), ((128, 1001, 2), 128, 128, 37),
    ((257, 500, 1), 128, 128, 128), ((128, 129, 1), 64, 32, 32),
])
def test_unpatch_of_patch_is_identity(shape, height, width, hop, rng):
    spec = rng.random(shape, dtype=np.float32)
    patches, pos = extract_patches(spec, height=height, width=width, hop=hop)
    assert patches.shape[1:] == (height, width, shape[2])
    assert max(t for _, t in pos) == shape[1] - width  # the tail is covered
    np.testing.assert_array_equal(assemble_patches(patches, pos, shape), spec)


def test_patch_count_and_positions():
    patches, pos = extract_patches(np.zeros((128, 300, 1)), hop=64)
    assert [t for _, t in pos] == [0, 64, 128, 172]
    assert patches.shape == (4, 128, 128, 1)


def test_too_short_and_bad_sizes_raise():
    with pytest.raises(AudioError, match="too short for one patch"):
        extract_patches(np.zeros((128, 100, 1)), name="x.wav")
    with pytest.raises(ConfigError, match="patches.height"):
        extract_patches(np.zeros((64, 200, 1)))
    with pytest.raises(ConfigError, match=r"\(freq, frames, channels\)"):
        extract_patches(np.zeros((128, 200)))


@pytest.mark.parametrize("n_frames", [1, 63, 64, 200, 512, 513, 1000, 4097])
@pytest.mark.parametrize("width, overlap", [(512, 64), (128, 32), (64, 0)])
def test_overlap_add_of_identity_is_exact_for_any_length(n_frames, width, overlap, rng):
    spec = rng.standard_normal((128, n_frames, 2)).astype(np.float32)
    chunks, starts = split_chunks(spec, width=width, overlap=overlap)
    assert chunks.shape[1:] == (128, width, 2)
    assert starts[-1] + width >= n_frames
    out = overlap_add(chunks, starts, n_frames, overlap=overlap)
    assert out.shape == spec.shape
    np.testing.assert_allclose(out, spec, rtol=1e-6, atol=1e-6)


def test_crossfade_is_positive_and_sums_to_one_in_overlaps():
    w = crossfade_weights(128, 32)
    assert w.min() > 0 and w.max() == 1.0
    np.testing.assert_allclose(w[-32:] + w[:32], 1.0, atol=1e-12)


def test_overlap_add_has_no_seams():
    """Chunks that each hold a slightly different constant blend smoothly across overlaps."""
    n = 1000
    chunks, starts = split_chunks(np.zeros((4, n, 1), np.float32), width=256, overlap=64)
    chunks += np.arange(len(starts), dtype=np.float32)[:, None, None, None] * 0.01
    out = overlap_add(chunks, starts, n, overlap=64)[0, :, 0]
    assert np.max(np.abs(np.diff(out))) < 0.01 / 64 * 2  # a ramp, not a step
    assert chunk_starts(n, 256, 64) == starts


def test_pad_to_multiple_and_crop():
    spec = np.ones((128, 37, 1))
    padded, size = pad_to_multiple(spec, 16, axis=1)
    assert padded.shape == (128, 48, 1) and size == 37
    assert padded[:, size:].sum() == 0
    same, _ = pad_to_multiple(spec, 1, axis=1)
    assert same is spec
