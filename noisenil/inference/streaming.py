"""The one inference path: a signal fed in blocks, denoised in memory that does not grow with
its length.

:class:`StreamingDenoiser` is the only code that turns audio into denoised audio:
:meth:`Denoiser.denoise <noisenil.inference.denoiser.Denoiser.denoise>` feeds it a whole array
as one block, ``noisenil denoise`` feeds it ``soundfile.blocks`` of a file of any length. It holds
about one inference chunk (``patches.chunk_width`` frames, 4 s at the defaults) per channel:

0. scale by the level gain ``g`` (:mod:`noisenil.dsp.levels`): the input's active RMS, given up
   front (``level=``; :meth:`Denoiser.denoise` and ``noisenil denoise`` measure the whole input
   first) or measured on the first :data:`LOOKAHEAD_S` seconds (the stream's look-ahead: no
   output before them), brought to the reference level; ``1/g`` is applied to the output, so
   ``denoise(a * x) = a * denoise(x)``. Silence and near-silence pass through unchanged;
1. resample each block to the network's rate (a streaming soxr resampler: bit-identical to the
   one-shot one); with ``declick.enabled``, remove clicks in the time domain
   (:class:`~noisenil.dsp.declick.Declicker`, a look-ahead of about 30 ms);
2. cut STFT frames as soon as their samples are in (``center=False`` on the buffered samples
   gives the frames of the whole-signal ``center=True`` STFT at the same positions; the
   ``n_fft // 2`` zeros of the centre padding are added at both ends, and ``ceil(n_fft / hop) -
   1`` frames more at the end, so that the last samples are covered by as many frames as any
   other: with only the centre padding, a length just short of a whole hop left its last samples
   under the tail of one window, and the inverse STFT's division by the tiny summed window
   turned any change the network made there into a spike);
3. run the full-height chunks of the :class:`~noisenil.dsp.chunks.ChunkPlan` through the
   network as soon as their frames are in (up to ``batch_size`` chunks per call, all channels
   together) and cross-fade them into the previous ones;
4. frames no later chunk touches are final: bound them (+``max_gain_db`` over the noisy input),
   invert the features with the noisy phase, and hand them to the one inverse STFT
   (:class:`~noisenil.dsp.features.OverlapAdd`);
5. resample back and cut the output to exactly the input's length.

Blocks of any size give the same output up to float rounding (tests/test_streaming.py).
"""

from __future__ import annotations

import time

import numpy as np
import soxr

from noisenil.dsp.chunks import ChunkPlan, pad_to_multiple
from noisenil.dsp.features import OverlapAdd, n_frames as count_frames, stft
from noisenil.dsp.levels import active_rms, normalising_gain
from noisenil.errors import AudioError

#: Seconds a stream given no ``level`` buffers to measure it (its look-ahead).
LOOKAHEAD_S = 10.0


def resampled_length(n: int, orig_sr: int, target_sr: int) -> int:
    """Samples soxr makes of ``n`` samples resampled from ``orig_sr`` to ``target_sr`` Hz."""
    return n if orig_sr == target_sr else int(round(n * target_sr / orig_sr))


class _Resampler:
    """A streaming soxr resampler for ``(samples, channels)`` blocks (identity at equal rates)."""

    def __init__(self, orig_sr: int, target_sr: int, channels: int, quality: str):
        self._stream = (None if orig_sr == target_sr else
                        soxr.ResampleStream(orig_sr, target_sr, channels, dtype="float32",
                                            quality=quality))

    def __call__(self, block: np.ndarray, *, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return block
        return self._stream.resample_chunk(np.ascontiguousarray(block), last=last)


class StreamingDenoiser:
    """Denoise one signal block by block in bounded memory (see the module docstring).

    Args:
        denoiser: The network and its feature settings
            (:class:`~noisenil.inference.denoiser.Denoiser`).
        sample_rate: Rate of the blocks, in Hz (any; resampled to the network's and back).
        channels: Channels of the blocks (each denoised on its own, all in one network batch).
        frames: Total samples per channel of the signal. Needed up front: the chunk plan (the
            chunk width and the last chunk) depends on it, and the output is cut to exactly
            this length.
        level: The signal's active RMS (:func:`~noisenil.dsp.levels.active_rms`, linear), if
            known; ``None`` measures it on the first :data:`LOOKAHEAD_S` seconds.

    Example:
        >>> stream = StreamingDenoiser(den, sample_rate=44100, channels=2, frames=info.frames)
        >>> for block in soundfile.blocks(path, blocksize=65536, always_2d=True):
        ...     out.write(stream.process(block))
        >>> out.write(stream.flush())
    """

    def __init__(self, denoiser, *, sample_rate: int, channels: int, frames: int,
                 level: float | None = None):
        if frames < 1:
            raise AudioError(f"frames={frames}: a signal needs at least one sample")
        if channels < 1:
            raise AudioError(f"channels={channels}: must be >= 1")
        self.den = denoiser
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.frames = int(frames)
        cfg = denoiser.cfg
        self._stft = cfg.stft
        self._hop = cfg.stft.hop_length
        self._n_fft = cfg.stft.n_fft
        self._half = cfg.stft.n_fft // 2
        msr = denoiser.sample_rate
        quality = cfg.audio.resample_quality
        self._to_model = _Resampler(self.sample_rate, msr, channels, quality)
        self._from_model = _Resampler(msr, self.sample_rate, channels, quality)
        self._m_total = resampled_length(self.frames, self.sample_rate, msr)
        d = cfg.declick
        self._declick = None
        if d.enabled:  # imported here: scipy.signal costs a speech model's start-up 0.3 s
            from noisenil.dsp.declick import Declicker

            self._declick = Declicker.from_config(msr, channels, d)
        self._m_seen = 0
        # Frames past the centre-padded end, so the last samples get full window coverage.
        self._tail = -(-self._n_fft // self._hop) - 1
        self._n_frames = count_frames(self._m_total, cfg.stft, center=True) + self._tail
        self.plan = ChunkPlan.for_frames(self._n_frames, cfg.patches)
        self._next_chunk = 0

        # Samples at the network's rate (padded index: centre padding of n_fft//2 zeros first).
        self._samples = np.zeros((channels, self._half), dtype=np.float32)
        self._samples_start = 0      # padded index of self._samples[:, 0]
        self._frames_done = 0        # STFT frames computed so far
        # Frames computed but not yet final: features, noisy spectrogram, cross-fade sums.
        n_bins = self._n_fft // 2 + 1
        c = denoiser.features.channels
        self._feats = np.zeros((channels, n_bins, 0, c), dtype=np.float32)
        self._spec = np.zeros((channels, n_bins, 0), dtype=np.complex64)
        self._acc = np.zeros((channels, n_bins, 0, c), dtype=np.float64)
        self._norm = np.zeros((0,), dtype=np.float64)
        self._f0 = 0                 # frame index of the buffers' first column
        self._istft = OverlapAdd(cfg.stft, lead=(channels,), length=self._m_total)
        self._in_seen = 0            # input samples taken
        self._lookahead = min(self.frames, max(1, int(LOOKAHEAD_S * self.sample_rate)))
        self._pending = np.zeros((0, channels), dtype=np.float32)  # input before the level
        self._decided = level is not None
        #: The level gain applied before the network (``None``: passed through unchanged).
        self.gain = normalising_gain(level) if level is not None else None
        self._out_seen = 0           # output samples at the input rate handed out
        self._flushed = False

    # -- public API ------------------------------------------------------------------------------
    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed the next block; return whatever output became final.

        Args:
            block: ``(samples, channels)`` (or ``(samples,)`` for one channel) float in [-1, 1].

        Returns:
            ``(samples_out, channels)`` float32: the next stretch of the output (may be empty).

        Raises:
            AudioError: Wrong channel count, or NaN/Inf samples.
        """
        if self._flushed:
            raise AudioError("process() after flush(): make a new StreamingDenoiser")
        x = np.asarray(block, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise AudioError(f"block of shape {x.shape}: expected (samples, {self.channels})")
        finite = np.isfinite(x).all(axis=1)
        if not finite.all():
            first = self._in_seen + int(np.argmax(~finite))
            raise AudioError(f"NaN or Inf samples (first at {first / self.sample_rate:.2f} s)")
        self._in_seen += x.shape[0]
        start = time.perf_counter()
        if self._decided:
            out = self._feed(x, last=False)
        else:
            self._pending = np.concatenate([self._pending, x])
            out = np.zeros((0, self.channels), np.float32)
            if self._pending.shape[0] >= self._lookahead:
                out = self._decide_and_feed(last=False)
        self._account(start, x.shape[0])
        return out

    def flush(self) -> np.ndarray:
        """End of the signal: return the rest of the output (the total is exactly ``frames``)."""
        if self._flushed:
            return np.zeros((0, self.channels), dtype=np.float32)
        start = time.perf_counter()
        head = (self._decide_and_feed(last=False) if not self._decided  # counted already
                else np.zeros((0, self.channels), np.float32))
        tail = self._feed(np.zeros((0, self.channels), np.float32), last=True)
        self._flushed = True
        missing = self.frames - self._out_seen - tail.shape[0]
        if missing > 0:  # soxr may come up a sample short at the very end
            tail = np.concatenate([tail, np.zeros((missing, self.channels), np.float32)])
        tail = tail[:max(0, self.frames - self._out_seen)]
        self._out_seen += tail.shape[0]
        self._account(start, 0)
        return np.concatenate([head, tail])

    def _decide_and_feed(self, *, last: bool) -> np.ndarray:
        """Measure the level on the look-ahead buffer, then denoise that buffer."""
        self.gain = normalising_gain(active_rms(self._pending.T, self.sample_rate))
        self._decided = True
        pending, self._pending = self._pending, np.zeros((0, self.channels), np.float32)
        return self._feed(pending, last=last)

    def _feed(self, x: np.ndarray, *, last: bool) -> np.ndarray:
        """Input-rate samples through the gain, the pipeline and the inverse gain."""
        if self.gain is None:  # silence: passed through exactly
            if last:
                return np.zeros((0, self.channels), np.float32)
            out = x[:max(0, self.frames - self._out_seen)]
            self._out_seen += out.shape[0]
            return out.astype(np.float32, copy=True)
        g = np.float32(self.gain)
        out = self._run(self._to_model(x * g, last=last), last=last)
        return (out / g).astype(np.float32)

    def run(self, audio: np.ndarray) -> np.ndarray:
        """The whole signal ``(samples, channels)`` as one block: ``process`` then ``flush``."""
        return np.concatenate([self.process(audio), self.flush()])

    # -- the pipeline ----------------------------------------------------------------------------
    def _account(self, start: float, n_in: int) -> None:
        t = self.den.throughput
        t.seconds += time.perf_counter() - start
        t.audio_seconds += self.channels * n_in / self.sample_rate

    def _run(self, m: np.ndarray, *, last: bool) -> np.ndarray:
        """Model-rate samples ``(n, channels)`` in; input-rate output ``(k, channels)`` out."""
        m = m[:max(0, self._m_total - self._m_seen)]  # soxr may give a sample more at the end
        self._m_seen += m.shape[0]
        if last and self._m_seen < self._m_total:
            m = np.concatenate([m, np.zeros((self._m_total - self._m_seen, self.channels),
                                            np.float32)])
            self._m_seen = self._m_total
        if self._declick is not None:  # delays the samples; all of them are out at ``last``
            m = self._declick(m, last=last)
        self._samples = np.concatenate([self._samples, m.T], axis=1)
        if last:  # the centre padding at the end, and the tail frames' samples
            pad = self._half + self._tail * self._hop
            self._samples = np.concatenate(
                [self._samples, np.zeros((self.channels, pad), np.float32)], axis=1)
        self._analyze()
        plan = self.plan
        ready = self._next_chunk
        while ready < len(plan.starts) and (last or self._frames_done >= plan.end_of(ready)):
            ready += 1
        pulled = []  # pulled group by group: a long block must not grow the buffers to its length
        for first in range(self._next_chunk, ready, self.den.batch_size):
            group = range(first, min(first + self.den.batch_size, ready))
            self._denoise_chunks(group)
            self._emit_frames(plan.final_before(group[-1]))
            pulled.append(self._istft.pull())
        self._next_chunk = ready
        pulled.append(self._istft.pull(last=last))
        y = np.concatenate(pulled, axis=-1)
        out = self._from_model(y.T.astype(np.float32), last=last)
        if not last:
            out = out[:max(0, self.frames - self._out_seen)]
            self._out_seen += out.shape[0]
        return out

    def _analyze(self) -> None:
        """Compute every STFT frame whose samples are all buffered."""
        end = self._samples_start + self._samples.shape[1]  # padded index past the buffer
        available = 0 if end < self._n_fft else 1 + (end - self._n_fft) // self._hop
        t1 = min(available, self._n_frames)
        t0 = self._frames_done
        if t1 <= t0:
            return
        a = t0 * self._hop - self._samples_start
        b = (t1 - 1) * self._hop + self._n_fft - self._samples_start
        spec = stft(self._samples[:, a:b], self._stft, center=False)  # (C, F, t1 - t0)
        feats = self.den.features.encode(spec)
        self._spec = np.concatenate([self._spec, spec], axis=2)
        self._feats = np.concatenate([self._feats, feats], axis=2)
        grow = t1 - t0
        self._acc = np.concatenate(
            [self._acc, np.zeros(self._acc.shape[:2] + (grow,) + self._acc.shape[3:])], axis=2)
        self._norm = np.concatenate([self._norm, np.zeros(grow)])
        self._frames_done = t1
        # Samples before frame t1's start are needed by no later frame.
        keep_from = t1 * self._hop - self._samples_start
        self._samples = self._samples[:, keep_from:]
        self._samples_start += keep_from

    def _denoise_chunks(self, chunks: range) -> None:
        """Run the chunks ``chunks`` (all channels, one network call) and cross-fade them in."""
        plan, width = self.plan, self.plan.width
        pieces = [self._feats[:, :, plan.starts[i] - self._f0:][:, :, :width] for i in chunks]
        batch = np.zeros((len(pieces) * self.channels,) + self._feats.shape[1:2] + (width,)
                         + self._feats.shape[3:], np.float32)
        for j, piece in enumerate(pieces):
            batch[j * self.channels:(j + 1) * self.channels, :, :piece.shape[2]] = piece
        batch, n_bins = pad_to_multiple(batch, plan.height, axis=1)
        out = self.den.predict(batch)[:, :n_bins]
        for j, (i, piece) in enumerate(zip(chunks, pieces)):
            a, n = plan.starts[i] - self._f0, piece.shape[2]
            w = plan.weights[:n]
            self._acc[:, :, a:a + n] += (out[j * self.channels:(j + 1) * self.channels, :, :n]
                                         * w[None, None, :, None])
            self._norm[a:a + n] += w
        self.den.throughput.patches += plan.patches(n_bins, len(batch))

    def _emit_frames(self, t_end: int) -> None:
        """Frames before ``t_end`` are final: bound and invert them, into the inverse STFT."""
        k = t_end - self._f0
        if k <= 0:
            return
        feats = (self._acc[:, :, :k] / self._norm[None, None, :k, None]).astype(np.float32)
        spec = self._spec[:, :, :k]
        bounded = np.stack([self.den.bound_features(f, s) for f, s in zip(feats, spec)])
        self._istft.push(self.den.features.decode(bounded, phase_from=spec))  # (C, F, k)
        self._feats = self._feats[:, :, k:]
        self._spec = self._spec[:, :, k:]
        self._acc = self._acc[:, :, k:]
        self._norm = self._norm[k:]
        self._f0 += k
