"""Denoising audio files and folders: what ``noisenil denoise`` does.

Every file is streamed from disk in blocks through a :class:`~noisenil.inference.streaming.StreamingDenoiser`
and written block by block, so memory does not grow with a file's length. The output keeps the
input's length, sample rate, channel count, container format and (where the format can write it)
subtype. No gain is applied anywhere; samples that would leave [-1, 1] in an integer format are
limited and the file's result says how many. Each file is written to a temporary name beside its
destination and renamed at the end (:class:`~noisenil.inference.audio_writer.AudioWriter`), so a
failure never leaves a half-written file and ``--overwrite`` can replace the input itself. Every
output folder is checked for writing before the model loads; a folder input that is the output
folder is refused.

Layout: a folder input is searched recursively and its files keep their path relative to it under
the output folder; a file input lands directly in the output folder, or at the output path itself
when one file is given and the output has an audio suffix. ``--residual`` also writes what was
removed, ``<stem>_residual<suffix>`` beside each output (output + residual = input).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from noisenil.config.atomic import check_writable
from noisenil.dsp.levels import active_rms_of, frame_energies, frame_samples
from noisenil.errors import AudioError, ConfigError, NoiseNilError
from noisenil.inference.audio_writer import AudioWriter, output_subtype
from noisenil.inference.denoiser import Denoiser
from noisenil.models.saving import resolve_model
from noisenil.pretrained import shipped_models

logger = logging.getLogger(__name__)

#: Files longer than this (seconds) get a progress bar of their own.
LONG_FILE_S = 60.0


def audio_extensions() -> set[str]:
    """Lower-case suffixes (with the dot) of every format the installed libsndfile reads."""
    exts = {"." + f.lower() for f in sf.available_formats()}
    return exts | {".aif", ".oga", ".opus"}


@dataclass
class FileResult:
    """What happened to one input file.

    Attributes:
        input: The input file.
        output: The denoised file (``None`` if it failed).
        residual: The removed part, if asked for.
        ok: Whether it was written.
        message: Why it failed, or notes (limiting, format fallback).
        duration_s: Its length in seconds (0 if unreadable).
        seconds: Wall time spent on it.
        limited: Samples limited to [-1, 1] in the output (0 = none).
        peak_db: Peak of the output before limiting, dBFS.
    """

    input: Path
    output: Path | None = None
    residual: Path | None = None
    ok: bool = False
    message: str = ""
    duration_s: float = 0.0
    seconds: float = 0.0
    limited: int = 0
    peak_db: float = float("-inf")


@dataclass
class DenoiseReport:
    """The results of one :func:`denoise_files` call.

    Attributes:
        results: One entry per input file, in order.
        model: The model used (path or name).
    """

    results: list[FileResult] = field(default_factory=list)
    model: str = ""

    @property
    def failed(self) -> list[FileResult]:
        """Files that could not be denoised."""
        return [r for r in self.results if not r.ok]

    @property
    def exit_code(self) -> int:
        """0 when every file was written, 1 otherwise (the CLI's exit status)."""
        return 1 if self.failed else 0

    @property
    def realtime_factor(self) -> float:
        """Wall seconds per second of audio over the written files (lower is faster)."""
        done = [r for r in self.results if r.ok]
        audio = sum(r.duration_s for r in done)
        return sum(r.seconds for r in done) / audio if audio > 0 else float("nan")

    def summary(self) -> str:
        """A few lines: counts, speed, every failure and every limited file."""
        ok = len(self.results) - len(self.failed)
        done = [r for r in self.results if r.ok]
        audio, wall = sum(r.duration_s for r in done), sum(r.seconds for r in done)
        # The speed from the real durations; a ratio that would print as 0x (slower than a tenth
        # of real time) is left out, the wall time says it.
        speed = audio / wall if wall > 0 else 0.0
        ratio = (f", {speed:.0f}x real time" if speed >= 10 else
                 f", {speed:.1f}x real time" if speed >= 0.1 else "")
        timing = f" in {wall:.{1 if wall >= 0.1 else 3}f} s{ratio}" if done else ""
        lines = [f"denoised {ok} of {len(self.results)} files ({audio:.1f} s of audio{timing}) "
                 f"with {self.model}"]
        for r in self.results:
            if r.ok and r.limited:
                lines.append(f"  limited {r.limited} samples (peak {r.peak_db:+.1f} dBFS): "
                             f"{r.output}")
        for r in self.failed:
            lines.append(f"  FAILED {r.input}: {r.message}")
        return "\n".join(lines)


# -- planning ------------------------------------------------------------------------------------
def plan_outputs(inputs: Sequence[str | Path], output: str | Path
                 ) -> list[tuple[Path, Path]]:
    """Pair every input file with its output path.

    Args:
        inputs: Files and folders (folders are searched recursively for audio files).
        output: Output folder; or, for a single input file, an output file with an audio suffix.

    Returns:
        ``[(input_file, output_file), ...]`` in a stable order.

    Raises:
        NoiseNilError: An input does not exist, a folder holds no audio, an input folder is the
            output folder, or two inputs would be written to the same output.
    """
    if not inputs:
        raise NoiseNilError("inputs=[]: give at least one file or folder")
    output = Path(output)
    exts = audio_extensions()
    single_file = len(inputs) == 1 and Path(inputs[0]).is_file()
    if single_file and output.suffix.lower() in exts and not output.is_dir():
        return [(Path(inputs[0]), output)]
    pairs: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            out_resolved = output.resolve()
            if item.resolve() == out_resolved:
                raise NoiseNilError(f"input={str(item)!r} and output={str(output)!r} are the "
                                    f"same folder: denoise into another folder (outputs keep "
                                    f"the input's file names)")
            inside = _is_within(out_resolved, item.resolve())  # outputs not read back
            files = sorted(f for f in item.rglob("*")
                           if f.is_file() and f.suffix.lower() in exts
                           and not (inside and _is_within(f.resolve(), out_resolved))
                           and not f.name.startswith("."))
            if not files:
                raise NoiseNilError(f"input={str(item)!r}: no audio files "
                                    f"({', '.join(sorted(exts)[:6])}, ...) in this folder")
            pairs += [(f, output / f.relative_to(item)) for f in files]
        elif item.exists():
            pairs.append((item, output / item.name))
        else:
            raise NoiseNilError(f"input={str(item)!r}: no such file or folder")
    seen: dict[Path, Path] = {}
    for src, dst in pairs:
        key = dst.resolve()
        if key in seen:
            raise NoiseNilError(f"inputs {str(seen[key])!r} and {str(src)!r} would both be "
                                f"written to {str(dst)!r}; denoise them into separate folders")
        seen[key] = src
    return pairs


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def residual_path(output: Path) -> Path:
    """Where ``--residual`` writes what was removed from ``output``'s input."""
    return output.with_name(f"{output.stem}_residual{output.suffix}")


# -- one file -------------------------------------------------------------------------------------
def denoise_file(denoiser, src: str | Path, dest: str | Path, *, strength: float = 1.0,
                 residual: bool = False, overwrite: bool = False, block_seconds: float = 10.0,
                 progress: bool = False) -> FileResult:
    """Denoise one file into ``dest`` (streamed; see the module docstring).

    Args:
        denoiser: A :class:`~noisenil.inference.denoiser.Denoiser`.
        src: Input audio file (any format and rate libsndfile reads, any channel count).
        dest: Output file (same format as ``src``).
        strength: 1 = fully denoised, 0 = the input unchanged; in between, a linear dry/wet mix.
        residual: Also write ``input - output`` to :func:`residual_path` of ``dest``.
        overwrite: Replace existing outputs (and the input itself when ``dest`` is ``src``).
        block_seconds: Seconds read from disk at a time.
        progress: Show a progress bar over the file (for files longer than a minute).

    Returns:
        The :class:`FileResult`; errors of this file are caught and put in it.
    """

    src, dest = Path(src), Path(dest)
    res = FileResult(input=src)
    start = time.perf_counter()
    writers: list[AudioWriter] = []
    try:
        _check_strength(strength)
        targets = [dest] + ([residual_path(dest)] if residual else [])
        for target in targets:
            if target.exists() and not overwrite:
                same = target.resolve() == src.resolve()
                raise NoiseNilError(
                    f"{target}: {'is the input' if same else 'exists'}; pass --overwrite "
                    f"(overwrite=True) to replace it")
        try:
            info = sf.info(str(src))
        except (sf.LibsndfileError, RuntimeError, TypeError) as err:
            raise AudioError(f"unreadable audio ({err})", path=src) from err
        if info.frames <= 0:
            raise AudioError("empty file (0 samples)", path=src)
        res.duration_s = info.frames / info.samplerate
        fmt, subtype, note = output_subtype(info, src)
        stream = denoiser.stream(sample_rate=info.samplerate, channels=info.channels,
                                 level=_file_level(src, info, block_seconds),
                                 frames=info.frames)
        for target in targets:  # one at a time: a failure aborts those already open
            writers.append(AudioWriter(target, info, fmt, subtype))
        blocksize = max(1024, int(block_seconds * info.samplerate))
        dry = np.zeros((0, info.channels), np.float32)
        bar = _file_bar(src, res.duration_s, progress)
        read = 0
        with sf.SoundFile(str(src)) as f:
            for block in f.blocks(blocksize=blocksize, dtype="float32", always_2d=True):
                block = block[:max(0, info.frames - read)]
                read += block.shape[0]
                dry = np.concatenate([dry, block])
                dry = _write_out(stream.process(block), dry, writers, strength)
                if bar is not None:
                    bar.update(block.shape[0] / info.samplerate)
        _write_out(stream.flush(), dry, writers, strength)
        if bar is not None:
            bar.close()
        for w in writers:
            w.commit()
        res.output = dest
        res.residual = targets[1] if residual else None
        res.ok = True
        res.limited = writers[0].limited
        res.peak_db = 20 * np.log10(max(writers[0].peak, 1e-12))
        res.message = note
        if res.limited:
            logger.warning("%s: %d samples limited to full scale (output peak %+.1f dBFS)",
                           dest, res.limited, res.peak_db)
    except (NoiseNilError, RuntimeError, OSError) as err:  # LibsndfileError is a RuntimeError
        for w in writers:
            w.abort()
        res.message = str(err)
        logger.error("%s: %s", src, err)
    res.seconds = time.perf_counter() - start
    return res


def _file_level(src: Path, info, block_seconds: float) -> float | None:
    """A first pass over ``src``: its active RMS (what :meth:`Denoiser.denoise` measures on the
    whole array), or ``None`` if a block holds NaN/Inf (the stream then names the position)."""
    frame = frame_samples(info.samplerate)
    blocksize = max(1, int(block_seconds * info.samplerate) // frame) * frame
    energies = []
    with sf.SoundFile(str(src)) as f:
        for block in f.blocks(blocksize=blocksize, dtype="float32", always_2d=True):
            if not np.all(np.isfinite(block)):
                return None
            energies.append(frame_energies(block.T, info.samplerate))
    return active_rms_of(np.concatenate(energies)) if energies else None


def _check_strength(strength: float) -> None:
    if not 0.0 <= float(strength) <= 1.0:
        raise ConfigError(f"strength={strength}: must be in [0, 1] (1 = fully denoised)",
                          key="strength")


def _write_out(wet: np.ndarray, dry: np.ndarray, writers: list[AudioWriter],
               strength: float) -> np.ndarray:
    """Mix the next ``len(wet)`` output samples with their dry twins and write them.

    Returns:
        The dry samples not yet matched by output (the stream's latency).
    """
    n = wet.shape[0]
    if n == 0:
        return dry
    d = dry[:n]
    out = wet if strength == 1.0 else (d + np.float32(strength) * (wet - d)).astype(np.float32)
    written = writers[0].write(out)
    if len(writers) > 1:
        writers[1].write(d - written)
    return dry[n:]


def _file_bar(src: Path, duration_s: float, progress: bool):
    if not progress or duration_s < LONG_FILE_S:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=round(duration_s, 1), desc=src.name, unit="s", leave=False, position=1,
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")


# -- many files -----------------------------------------------------------------------------------
def denoise_files(inputs: str | Path | Iterable[str | Path], output: str | Path, *,
                  model=None, strength: float = 1.0, residual: bool = False,
                  overwrite: bool = False, block_seconds: float = 10.0,
                  progress: bool = True, runtime: str = "auto") -> DenoiseReport:
    """Denoise files and folders (the Python face of ``noisenil denoise``).

    Args:
        inputs: A file or folder, or several.
        output: Output folder (or file, for a single input file; see :func:`plan_outputs`).
        model: A ``.keras`` path, a :class:`~noisenil.inference.denoiser.Denoiser`, or ``None`` for the
            pretrained default model; a shipped name (``"default"``) works too.
        strength: 1 = fully denoised, 0 = the input unchanged; linear dry/wet mix in between.
        residual: Also write what was removed beside every output (``<stem>_residual``).
        overwrite: Replace existing outputs (and inputs, when the output is the input).
        block_seconds: Seconds read from disk at a time (memory does not depend on file length).
        progress: Progress bars over the files and over each long file.
        runtime: What runs the network (see
            :meth:`~noisenil.inference.denoiser.Denoiser.from_file`).

    Returns:
        A :class:`DenoiseReport`; a bad file (unreadable, empty, NaN) is reported in it and the
        rest are still denoised.

    Raises:
        NoiseNilError: Bad arguments (no inputs, missing input, clashing outputs, strength out of
            range, a model that cannot be loaded).

    Example:
        >>> report = denoise_files("recordings/", "denoised/", strength=0.8)
        >>> print(report.summary())
    """
    _check_strength(strength)
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    pairs = plan_outputs(list(inputs), output)
    for folder in dict.fromkeys(dest.parent for _, dest in pairs):  # before any model loads
        check_writable(folder, what="output")
    if isinstance(model, Denoiser):
        den, label = model, model.name
    else:
        name = "default" if model is None else model
        path = resolve_model(name)
        den = Denoiser.from_file(path, runtime=runtime)
        label = f"the {name} model ({path.name})" if str(name) in shipped_models() else str(path)
    report = DenoiseReport(model=label)
    bar = None
    if progress and len(pairs) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pairs), desc="files", unit="file", position=0)
    for src, dest in pairs:
        report.results.append(denoise_file(den, src, dest, strength=strength, residual=residual,
                                           overwrite=overwrite, block_seconds=block_seconds,
                                           progress=progress))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return report
