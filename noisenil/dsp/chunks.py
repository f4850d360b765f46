"""The inference chunk plan: how a spectrogram of any length is cut into network calls.

The network runs on **full-height chunks** of ``width`` frames that overlap by ``overlap``
frames. Overlaps are cross-faded with a raised-sine (Hann) ramp and normalised by the summed
weights, so any-length input is rebuilt with no seams and no lost tail, and an identity "model"
gives back its input exactly. :class:`ChunkPlan` is the one place that decides widths, starts and
weights; the inference path (:class:`~noisenil.inference.streaming.StreamingDenoiser`, which
:meth:`~noisenil.inference.denoiser.Denoiser.denoise` runs on a whole array as one block) only
follows it.

(Training patches are cut elsewhere: :class:`~noisenil.data.datasets.PatchDataset` draws
segments whose ``center=False`` STFT is exactly one ``height x width`` patch.)

Arrays are ``(..., freq, frames, channels)``, the layout Keras models take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from noisenil.config import PatchConfig
from noisenil.errors import ConfigError


def crossfade_weights(width: int, overlap: int) -> np.ndarray:
    """Chunk weights: 1 in the middle, raised-sine ramps of ``overlap`` frames at both ends.

    Strictly positive (the ramps never reach 0), so normalising by the summed weights is always
    defined. Two overlapping ramps sum to exactly 1 (sin^2 + cos^2).

    Returns:
        ``(width,)`` float64.
    """
    w = np.ones(width)
    if overlap > 0:
        ramp = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        w[:overlap] = ramp
        w[width - overlap:] = ramp[::-1]
    return w


def chunk_starts(n_frames: int, width: int, overlap: int) -> list[int]:
    """Starts of the inference chunks covering ``n_frames`` frames (the last may run past)."""
    if not 0 <= overlap < width:
        raise ConfigError(f"patches.chunk_overlap={overlap} must be in [0, chunk_width={width})",
                          key="patches.chunk_overlap")
    step = width - overlap
    n = max(1, int(np.ceil(max(n_frames - overlap, 1) / step)))
    return [i * step for i in range(n)]


def pad_to_multiple(spec: np.ndarray, multiple: int, *, axis: int) -> tuple[np.ndarray, int]:
    """Zero-pad ``axis`` up to a multiple of ``multiple`` (what a network's depth needs).

    Returns:
        ``(padded, original_size)`` so the caller can crop back.
    """
    size = spec.shape[axis]
    target = -(-size // multiple) * multiple
    if target == size:
        return spec, size
    pad = [(0, 0)] * spec.ndim
    pad[axis] = (0, target - size)
    return np.pad(spec, pad), size


@dataclass(frozen=True)
class ChunkPlan:
    """Where the network runs over a spectrogram of ``n_frames`` frames.

    Attributes:
        n_frames: Frames of the spectrogram.
        width: Frames per chunk: ``patches.chunk_width``, or for short inputs the smallest
            multiple of ``patches.width`` (what every model is trained on) that covers them.
        overlap: Frames shared by neighbouring chunks (at most half a chunk).
        starts: First frame of each chunk; the last chunk may run past ``n_frames`` (it is
            zero-padded).
        weights: ``(width,)`` cross-fade weights (:func:`crossfade_weights`).
        height: Frequency bins are zero-padded to a multiple of this (``patches.height``).
        patch_width: ``patches.width``, for counting work in patch equivalents.
    """

    n_frames: int
    width: int
    overlap: int
    starts: tuple[int, ...]
    weights: np.ndarray
    height: int
    patch_width: int

    @classmethod
    def for_frames(cls, n_frames: int, patches: PatchConfig) -> ChunkPlan:
        """The plan for ``n_frames`` frames under the ``patches`` settings."""
        if n_frames < 1:
            raise ConfigError(f"n_frames={n_frames}: a chunk plan needs at least one frame")
        width = min(patches.chunk_width, -(-n_frames // patches.width) * patches.width)
        overlap = min(patches.chunk_overlap, width // 2)
        return cls(n_frames=n_frames, width=width, overlap=overlap,
                   starts=tuple(chunk_starts(n_frames, width, overlap)),
                   weights=crossfade_weights(width, overlap), height=patches.height,
                   patch_width=patches.width)

    def end_of(self, i: int) -> int:
        """Frames chunk ``i`` needs before it can run (its last real frame + 1)."""
        return min(self.starts[i] + self.width, self.n_frames)

    def final_before(self, i: int) -> int:
        """Frames that are final once chunks ``0..i`` have run (no later chunk touches them)."""
        return self.starts[i + 1] if i + 1 < len(self.starts) else self.n_frames

    def patches(self, n_bins: int, batch: int = 1) -> float:
        """Patch equivalents one chunk call of ``batch`` signals over ``n_bins`` bins costs
        (frequency padding included: it is work done)."""
        padded = -(-n_bins // self.height) * self.height
        return batch * (padded / self.height) * (self.width / self.patch_width)
