"""The chunk plan (noisenil.dsp.chunks) and the one inference path it drives."""

import numpy as np
import pytest

from noisenil.config import load_config
from noisenil.dsp.chunks import ChunkPlan, chunk_starts, crossfade_weights, pad_to_multiple
from noisenil.inference.denoiser import Denoiser


@pytest.mark.parametrize("n_frames", [1, 63, 64, 200, 512, 513, 1000, 4097])
@pytest.mark.parametrize("width, overlap", [(512, 64), (256, 128), (128, 0)])
def test_the_plan_covers_every_frame_with_positive_weights(n_frames, width, overlap):
    patches = load_config(overrides=[f"patches.chunk_width={width}",
                                     f"patches.chunk_overlap={overlap}"]).patches
    plan = ChunkPlan.for_frames(n_frames, patches)
    assert plan.width % patches.width == 0 and plan.width <= max(width, patches.width)
    assert plan.starts[0] == 0 and plan.starts[-1] + plan.width >= n_frames
    assert 0 <= plan.overlap <= plan.width // 2
    cover = np.zeros(plan.starts[-1] + plan.width)
    for s in plan.starts:
        cover[s:s + plan.width] += plan.weights
    # Weights never vanish (the sum normalises the cross-fade) and add up to 1 wherever two
    # chunks meet, i.e. everywhere but the plan's two outer ramps.
    assert cover[:n_frames].min() > 0 and cover.max() < 1.0 + 1e-12
    inner = cover[plan.overlap:plan.starts[-1] + plan.width - plan.overlap]
    np.testing.assert_allclose(inner, 1.0, atol=1e-12)
    # Each chunk can run once its frames are in; frames before the next start are then final.
    assert [plan.end_of(i) for i in range(len(plan.starts))] == sorted(
        min(s + plan.width, n_frames) for s in plan.starts)
    assert plan.final_before(len(plan.starts) - 1) == n_frames


def test_short_inputs_get_the_narrowest_patch_multiple():
    patches = load_config().patches
    assert ChunkPlan.for_frames(10, patches).width == patches.width
    assert ChunkPlan.for_frames(patches.width + 1, patches).width == 2 * patches.width
    assert ChunkPlan.for_frames(10_000, patches).width == patches.chunk_width
    # 751 frames at width 512, overlap 64: starts 0 and 448; 128 bins = 1 patch high.
    plan = ChunkPlan.for_frames(751, patches)
    assert plan.starts == (0, 448) and plan.patches(128) == pytest.approx(4.0)
    assert plan.patches(129, batch=2) == pytest.approx(16.0)  # padded to 256 bins


def test_crossfade_is_positive_and_sums_to_one_in_overlaps():
    w = crossfade_weights(128, 32)
    assert w.min() > 0 and w.max() == 1.0
    np.testing.assert_allclose(w[-32:] + w[:32], 1.0, atol=1e-12)
    with pytest.raises(Exception, match="patches.chunk_overlap=128"):
        chunk_starts(1000, 128, 128)


@pytest.mark.parametrize("seconds", [0.01, 0.5, 1.0, 2.999, 7.3])
def test_an_identity_network_gives_the_input_back_at_any_length(seconds, rng):
    """A plain callable as the network, through the one inference path: chunks, cross-fades and
    the inverse STFT leave no seams and lose no tail."""
    cfg = load_config(overrides=["patches.chunk_width=256", "patches.chunk_overlap=64"])
    den = Denoiser(lambda batch: batch, cfg, name="identity")
    x = (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)
    y = den.denoise(x)
    assert y.shape == x.shape and den.params == 0
    assert np.max(np.abs(y - x)) < 1e-5


def test_chunks_holding_different_constants_blend_without_seams():
    """A network that adds a constant per call: across overlaps the output ramps, never steps."""
    cfg = load_config(overrides=["patches.chunk_width=256", "patches.chunk_overlap=64"])
    calls = []

    def stepping(batch):
        calls.append(len(calls))
        return np.full_like(batch, 0.5 + 0.01 * len(calls))

    den = Denoiser(stepping, cfg, batch_size=1, max_gain_db=None)
    x = np.full(64 * 999, 0.1, np.float32)
    feats, _ = den.features.analyze(x)
    den.denoise(x)
    assert len(calls) == len(ChunkPlan.for_frames(feats.shape[1], cfg.patches).starts) == 5


def test_pad_to_multiple_and_crop():
    spec = np.ones((128, 37, 1))
    padded, size = pad_to_multiple(spec, 16, axis=1)
    assert padded.shape == (128, 48, 1) and size == 37
    assert padded[:, size:].sum() == 0
    same, _ = pad_to_multiple(spec, 1, axis=1)
    assert same is spec
