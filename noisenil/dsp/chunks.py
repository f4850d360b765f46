"""Cutting spectrogram features into patches and putting them back together.

Two jobs, one module:

- **Training patches** (:func:`extract_patches` / :func:`assemble_patches`): ``height x width``
  windows (128 x 128 by default). Along time they start every ``hop`` frames, and one more patch is
  aligned to the end so the tail is always covered. Along frequency the patch is the whole height
  when ``height`` equals the number of bins, otherwise tiles at multiples of ``height`` plus one
  aligned to the top. ``assemble_patches(extract_patches(S)) == S`` exactly.
- **Inference chunks** (:func:`split_chunks` / :func:`overlap_add`): full-height chunks of
  ``width`` frames overlapping by ``overlap`` frames. Overlaps are cross-faded with a raised-sine
  (Hann) ramp and normalised by the summed weights, so any-length input is rebuilt with no seams
  and no lost tail, and an identity "model" gives back the input exactly.

Arrays are ``(freq, frames, channels)``; batches of patches are ``(n, height, width, channels)``,
the layout Keras models take.
"""

from __future__ import annotations

import numpy as np

from noisenil.errors import AudioError, ConfigError


def _starts(total: int, size: int, hop: int) -> list[int]:
    """Window starts every ``hop`` plus one aligned to the end (``total >= size``)."""
    starts = list(range(0, total - size + 1, hop))
    if starts[-1] != total - size:
        starts.append(total - size)
    return starts


def _check_3d(spec: np.ndarray, name: str = "spectrogram") -> np.ndarray:
    spec = np.asarray(spec)
    if spec.ndim != 3:
        raise ConfigError(f"{name} must be (freq, frames, channels), got shape {spec.shape}")
    return spec


def extract_patches(spec: np.ndarray, *, height: int = 128, width: int = 128, hop: int = 64,
                    name: str = "spectrogram") -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Cut training patches from one spectrogram.

    Args:
        spec: Features ``(freq, frames, channels)``.
        height: Patch height in bins (<= freq).
        width: Patch width in frames.
        hop: Frames between consecutive patch starts.
        name: What to call ``spec`` in error messages (e.g. its file name).

    Returns:
        ``(patches, positions)``: ``(n, height, width, channels)`` and each patch's
        ``(freq_start, frame_start)``.

    Raises:
        AudioError: The spectrogram has fewer than ``width`` frames (too short for one patch).
        ConfigError: Bad sizes.
    """
    spec = _check_3d(spec, name)
    n_freq, n_time, _ = spec.shape
    if height < 1 or width < 1 or hop < 1:
        raise ConfigError(f"height={height}, width={width}, hop={hop} must be positive integers")
    if height > n_freq:
        raise ConfigError(f"patches.height={height} exceeds the {n_freq} bins of {name}",
                          key="patches.height")
    if n_time < width:
        raise AudioError(f"{name}: too short for one patch ({n_time} frames < width {width})")
    positions = [(f, t) for f in _starts(n_freq, height, height)
                 for t in _starts(n_time, width, hop)]
    patches = np.stack([spec[f:f + height, t:t + width] for f, t in positions])
    return patches, positions


def assemble_patches(patches: np.ndarray, positions: list[tuple[int, int]],
                     shape: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`extract_patches`: average the patches back into a ``shape`` array.

    Where patches overlap their values are averaged, so patches cut from one spectrogram give it
    back exactly.

    Raises:
        ConfigError: The patches leave part of ``shape`` uncovered.
    """
    out = np.zeros(shape, dtype=np.float64)
    count = np.zeros(shape[:2] + (1,), dtype=np.float64)
    _, height, width, _ = patches.shape
    for patch, (f, t) in zip(patches, positions):
        out[f:f + height, t:t + width] += patch
        count[f:f + height, t:t + width] += 1.0
    if np.any(count == 0):
        raise ConfigError("patches do not cover the whole spectrogram")
    return (out / count).astype(patches.dtype)


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


def split_chunks(spec: np.ndarray, *, width: int = 512, overlap: int = 64,
                 ) -> tuple[np.ndarray, list[int]]:
    """Cut full-height inference chunks; the last chunk is zero-padded to ``width``.

    Args:
        spec: ``(freq, frames, channels)``.
        width: Chunk width in frames.
        overlap: Frames shared by neighbouring chunks.

    Returns:
        ``(chunks, starts)``: ``(n, freq, width, channels)`` and each chunk's first frame.
    """
    spec = _check_3d(spec)
    n_freq, n_time, n_ch = spec.shape
    starts = chunk_starts(n_time, width, overlap)
    chunks = np.zeros((len(starts), n_freq, width, n_ch), dtype=spec.dtype)
    for i, t in enumerate(starts):
        piece = spec[:, t:t + width]
        chunks[i, :, :piece.shape[1]] = piece
    return chunks, starts


def overlap_add(chunks: np.ndarray, starts: list[int], n_frames: int, *,
                overlap: int = 64) -> np.ndarray:
    """Rebuild ``(freq, n_frames, channels)`` from (processed) chunks by weighted overlap-add.

    Args:
        chunks: ``(n, freq, width, channels)``, e.g. a model's output on :func:`split_chunks`.
        starts: Each chunk's first frame.
        n_frames: Frames of the original spectrogram (padding beyond it is dropped).
        overlap: The overlap used by :func:`split_chunks`.
    """
    n, n_freq, width, n_ch = chunks.shape
    total = max(starts[-1] + width, n_frames)
    acc = np.zeros((n_freq, total, n_ch), dtype=np.float64)
    norm = np.zeros((total,), dtype=np.float64)
    w = crossfade_weights(width, overlap)
    for chunk, t in zip(chunks, starts):
        acc[:, t:t + width] += chunk * w[None, :, None]
        norm[t:t + width] += w
    return (acc[:, :n_frames] / norm[None, :n_frames, None]).astype(chunks.dtype)


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
