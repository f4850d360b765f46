"""A small synthetic demo corpus, generated on the spot, so that ``noisenil quickstart`` needs no
download.

:func:`make_demo_corpus` writes, in a few seconds and byte-identically for a given seed:

* ``clean/`` speech-like clips ``spk01_001.wav`` ... from a source-filter model (glottal pulses
  with intonation, jitter and shimmer through moving formant resonators, fricatives, plosive
  bursts, syllable rhythm and pauses), and music-like clips ``music_001.wav`` ... (melodies of
  slightly inharmonic partials with ADSR envelopes, vibrato and chords);
* ``noise/`` eight noise types (:data:`NOISE_KINDS`);
* ``paired/clean`` and ``paired/noisy``: held-out speakers (``spk90``, ``spk91``) mixed with fresh
  noises at exactly ``paired_snr_db``, under the same file names;
* ``README.txt`` and ``demo.json`` (the parameters and the files made, used to skip regeneration).

Levels: clean clips peak at -3 dBFS, noises have an RMS of -23 dBFS (peak at most -1 dBFS), noisy
mixtures peak at -1 dBFS or below; full scale is 1.0. All files are mono 16-bit PCM WAV. Every
file draws from its own ``np.random.default_rng([seed, kind, index])``; no global random state.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from noisenil.data.demo._dsp import (
    MAX_PEAK_DBFS,
    _K_MUSIC,
    _K_NOISE,
    _K_PAIR_CLEAN,
    _K_PAIR_NOISE,
    _K_SPEECH,
    _db,
)
from noisenil.data.demo.sounds import _music_clip, _noise
from noisenil.data.demo.speech import _speaker_voice, _speech_clip
from noisenil.errors import ConfigError, DatasetError

logger = logging.getLogger(__package__)  # "noisenil.data.demo", as before the split into modules

GENERATOR_VERSION = 1
#: Noise files in order; ``n_noises`` takes the first N, and cycles with new seeds beyond 8.
NOISE_KINDS = ("white", "pink", "brown", "hum", "babble", "fan", "vinyl", "rain")
#: Regular expression whose group 1 is the speaker id of a speech file name.
SPEAKER_PATTERN = r"^(spk\d+)_"
#: Speaker numbers of the paired test set (never used in ``clean/``).
HELD_OUT_SPEAKERS = (90, 91)
_PAIR_NOISES = ("babble", "fan", "rain", "vinyl", "hum", "pink", "brown", "white")
_MANIFEST = "demo.json"


@dataclass(frozen=True)
class DemoCorpus:
    """Where a demo corpus lives.

    Attributes:
        root: The corpus folder.
        clean_dir: Clean speech (``spkNN_MMM.wav``) and music (``music_MMM.wav``) clips.
        noise_dir: One file per noise type (``white.wav``, ``pink.wav``, ...).
        paired_clean_dir: Clean references of the test pairs.
        paired_noisy_dir: Noisy versions, same file names and lengths as ``paired_clean_dir``.
        n_files: Number of WAV files in the corpus.
    """

    root: Path
    clean_dir: Path
    noise_dir: Path
    paired_clean_dir: Path
    paired_noisy_dir: Path
    n_files: int


# --------------------------------------------------------------------------------------------
# Files, manifest and the public entry point


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32767, 32767).astype(np.int16)


def _write(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write float in [-1, 1] or int16 samples as mono 16-bit PCM WAV."""
    data = samples if samples.dtype == np.int16 else _to_int16(samples)
    sf.write(path, data, sample_rate, subtype="PCM_16", format="WAV")


def _mix_at_snr(clean: np.ndarray, noise: np.ndarray,
                snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """16-bit ``(clean, noisy)`` with ``noisy - clean`` at exactly ``snr_db`` below ``clean``.

    Both are scaled by one factor when the mixture would peak above -1 dBFS.
    """
    gain = math.sqrt(np.sum(clean**2) / (np.sum(noise**2) * 10 ** (snr_db / 10)))
    peak = np.max(np.abs(clean + gain * noise))
    if peak > _db(MAX_PEAK_DBFS):
        clean = clean * (_db(MAX_PEAK_DBFS) / peak)
    clean_q = _to_int16(clean).astype(np.float64)
    gain = math.sqrt(np.sum(clean_q**2) / (np.sum(noise**2) * 10 ** (snr_db / 10)))
    noisy_q = np.clip(np.round(clean_q + gain * noise), -32767, 32767)
    return clean_q.astype(np.int16), noisy_q.astype(np.int16)


def _validate(params: dict) -> None:
    seed = params["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be a non-negative integer", key="seed")
    sr = params["sample_rate"]
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 8000 <= sr <= 96000:
        raise ConfigError(f"sample_rate={sr!r} must be an integer in 8000..96000 Hz",
                          key="sample_rate")
    limits = {"n_speakers": (1, min(HELD_OUT_SPEAKERS) - 1), "clips_per_speaker": (1, 999),
              "n_music": (0, 999), "n_noises": (0, 999), "n_paired": (0, 999)}
    for key, (low, high) in limits.items():
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not low <= value <= high:
            raise ConfigError(f"{key}={value!r} must be an integer in {low}..{high}", key=key)
    for key in ("clip_seconds", "noise_seconds"):
        value = params[key]
        if not isinstance(value, (int, float)) or not 0.5 <= value <= 600:
            raise ConfigError(f"{key}={value!r} must be a number of seconds in 0.5..600", key=key)
    snr = params["paired_snr_db"]
    if not isinstance(snr, (int, float)) or not -30 <= snr <= 60:
        raise ConfigError(f"paired_snr_db={snr!r} must be a number in -30..60 dB",
                          key="paired_snr_db")


def _layout(p: dict) -> dict[str, list[str]]:
    """Relative paths of the WAV files, grouped by folder."""
    noises = [kind if i < len(NOISE_KINDS) else f"{kind}_{i // len(NOISE_KINDS) + 1}"
              for i, kind in ((i, NOISE_KINDS[i % len(NOISE_KINDS)]) for i in range(p["n_noises"]))]
    paired = [f"spk{HELD_OUT_SPEAKERS[i % 2]:02d}_{i // 2 + 1:03d}.wav"
              for i in range(p["n_paired"])]
    return {
        "speech": [f"clean/spk{s:02d}_{c:03d}.wav" for s in range(1, p["n_speakers"] + 1)
                   for c in range(1, p["clips_per_speaker"] + 1)],
        "music": [f"clean/music_{m:03d}.wav" for m in range(1, p["n_music"] + 1)],
        "noise": [f"noise/{name}.wav" for name in noises],
        "paired": [f"paired/{side}/{name}" for name in paired for side in ("clean", "noisy")],
    }


def _corpus(root: Path, n_files: int) -> DemoCorpus:
    return DemoCorpus(root=root, clean_dir=root / "clean", noise_dir=root / "noise",
                      paired_clean_dir=root / "paired" / "clean",
                      paired_noisy_dir=root / "paired" / "noisy", n_files=n_files)


def _read_manifest(root: Path) -> dict | None:
    path = root / _MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        if not all(isinstance(manifest.get(key), dict) for key in ("params", "files")):
            raise ValueError("missing 'params' or 'files'")
    except (ValueError, OSError, AttributeError) as exc:
        raise DatasetError(f"{path} is not a noisenil demo manifest ({exc}); remove it or choose "
                           f"another folder") from exc
    return manifest


def _readme(p: dict, layout: dict[str, list[str]], pair_noises: list[str]) -> str:
    lines = [
        "noisenil demo corpus",
        "====================",
        "",
        "Synthetic audio generated by noisenil.data.demo.make_demo_corpus (no real recordings, no",
        "download). Regenerate it byte-identically with the parameters in demo.json.",
        "",
        f"seed: {p['seed']}    sample rate: {p['sample_rate']} Hz    mono 16-bit PCM WAV",
        "",
        f"clean/        {len(layout['speech'])} speech-like clips of {p['clip_seconds']} s from "
        f"{p['n_speakers']} synthetic speakers (spkNN_MMM.wav)",
        f"              and {len(layout['music'])} music-like clips (music_MMM.wav); peak -3 dBFS",
        f"noise/        {len(layout['noise'])} noises of {p['noise_seconds']} s at -23 dBFS RMS: "
        + ", ".join(Path(f).stem for f in layout["noise"]),
        f"paired/       {p['n_paired']} held-out test pairs (speakers "
        f"{', '.join(f'spk{s}' for s in HELD_OUT_SPEAKERS)}), clean/ and noisy/ with the same",
        f"              names; noisy = clean + noise at exactly {p['paired_snr_db']} dB SNR",
    ]
    for name, kind in zip(layout["paired"][::2], pair_noises):
        lines.append(f"                {Path(name).name}: {kind}")
    return "\n".join(lines) + "\n"


def make_demo_corpus(
    root: str | Path,
    *,
    seed: int = 0,
    sample_rate: int = 16000,
    n_speakers: int = 4,
    clips_per_speaker: int = 6,
    clip_seconds: float = 3.0,
    n_music: int = 4,
    n_noises: int = 8,
    noise_seconds: float = 8.0,
    n_paired: int = 6,
    paired_snr_db: float = 5.0,
    overwrite: bool = False,
) -> DemoCorpus:
    """Generate (or reuse) the synthetic demo corpus in ``root``.

    The same parameters always give byte-identical files. When ``root/demo.json`` records a
    complete corpus made with the same parameters, it is returned without writing anything.

    Args:
        root: Folder to write into; created if missing. Other files in it are left alone.
        seed: Non-negative integer seed of every generator.
        sample_rate: Rate of all files in Hz (8000..96000).
        n_speakers: Training speakers ``spk01``.. in ``clean/`` (1..89; 90+ are held out).
        clips_per_speaker: Speech clips per speaker.
        clip_seconds: Length of every clean, music and paired clip in seconds.
        n_music: Music-like clips in ``clean/``.
        n_noises: Noise files, the first N of :data:`NOISE_KINDS`; beyond 8 the kinds repeat
            with new seeds (``white_2.wav``, ...).
        noise_seconds: Length of every noise file in seconds.
        n_paired: Test pairs in ``paired/clean`` and ``paired/noisy``.
        paired_snr_db: SNR of the noisy pairs in dB (power of clean over power of noisy - clean).
        overwrite: Replace a demo corpus made here with other parameters (only the files it
            listed in ``demo.json`` are deleted). A corpus with the same parameters is kept
            either way; a missing or resized file of it triggers regeneration.

    Returns:
        The corpus folders and its WAV file count.

    Raises:
        ConfigError: A parameter is out of range.
        DatasetError: ``root`` holds a demo corpus made with other parameters and
            ``overwrite`` is False, holds foreign files at the corpus's file names, or is a file.
    """
    params = {"seed": seed, "sample_rate": sample_rate, "n_speakers": n_speakers,
              "clips_per_speaker": clips_per_speaker, "clip_seconds": clip_seconds,
              "n_music": n_music, "n_noises": n_noises, "noise_seconds": noise_seconds,
              "n_paired": n_paired, "paired_snr_db": paired_snr_db}
    _validate(params)
    params = {k: float(v) if k in ("clip_seconds", "noise_seconds", "paired_snr_db") else int(v)
              for k, v in params.items()}
    params["generator_version"] = GENERATOR_VERSION
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"demo corpus root {root} exists and is not a folder")
    layout = _layout(params)
    wavs = [f for group in layout.values() for f in group]
    planned = wavs + ["README.txt", _MANIFEST]

    manifest = _read_manifest(root)
    owned: set[str] = set()
    if manifest is not None:
        owned = set(manifest["files"]) | {"README.txt", _MANIFEST}
        if manifest["params"] == params and manifest.get("complete") and all(
            (root / f).is_file() and (root / f).stat().st_size == size
            for f, size in manifest["files"].items()
        ):
            logger.info("demo corpus in %s is up to date (seed=%d)", root, seed)
            return _corpus(root, len(wavs))
        if manifest["params"] != params and manifest.get("complete") and not overwrite:
            diff = {k: (manifest["params"].get(k), v) for k, v in params.items()
                    if manifest["params"].get(k) != v}
            raise DatasetError(
                f"{root} already holds a demo corpus made with other parameters "
                f"(old, new: {diff}); pass overwrite=True or choose another folder")
    for rel in planned:
        if (root / rel).exists() and rel not in owned:
            raise DatasetError(f"{root / rel} exists and was not made by make_demo_corpus; "
                               f"choose another folder for the demo corpus")
    for rel in sorted(owned - set(planned)):
        (root / rel).unlink(missing_ok=True)

    start = time.perf_counter()
    for sub in ("clean", "noise", "paired/clean", "paired/noisy"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / _MANIFEST).write_text(json.dumps({"params": params, "complete": False,
                                              "files": {f: 0 for f in wavs}}, indent=1))
    sr, n_clip = params["sample_rate"], int(round(params["clip_seconds"] * params["sample_rate"]))

    k = params["clips_per_speaker"]
    for i, rel in enumerate(layout["speech"]):
        speaker, clip = i // k + 1, i % k + 1
        rng = np.random.default_rng([seed, _K_SPEECH, speaker * 1000 + clip])
        _write(root / rel, _speech_clip(rng, _speaker_voice(seed, speaker), n_clip, sr), sr)
    for i, rel in enumerate(layout["music"]):
        _write(root / rel, _music_clip(np.random.default_rng([seed, _K_MUSIC, i]), n_clip, sr), sr)
    n_noise = int(round(params["noise_seconds"] * sr))
    for i, rel in enumerate(layout["noise"]):
        kind = NOISE_KINDS[i % len(NOISE_KINDS)]
        noise = _noise(kind, np.random.default_rng([seed, _K_NOISE, i]), n_noise, sr)
        _write(root / rel, noise, sr)
    pair_noises = []
    for i, rel in enumerate(layout["paired"][::2]):
        voice = _speaker_voice(seed, HELD_OUT_SPEAKERS[i % 2])
        clean = _speech_clip(np.random.default_rng([seed, _K_PAIR_CLEAN, i]), voice, n_clip, sr)
        kind = _PAIR_NOISES[i % len(_PAIR_NOISES)]
        noise = _noise(kind, np.random.default_rng([seed, _K_PAIR_NOISE, i]), n_clip, sr)
        clean_q, noisy_q = _mix_at_snr(clean, noise, params["paired_snr_db"])
        _write(root / rel, clean_q, sr)
        _write(root / rel.replace("/clean/", "/noisy/"), noisy_q, sr)
        pair_noises.append(kind)

    (root / "README.txt").write_text(_readme(params, layout, pair_noises))
    manifest = {"params": params, "complete": True,
                "files": {f: (root / f).stat().st_size for f in wavs},
                "pairs": [{"file": Path(f).name, "noise": kind, "snr_db": params["paired_snr_db"]}
                          for f, kind in zip(layout["paired"][::2], pair_noises)]}
    (root / _MANIFEST).write_text(json.dumps(manifest, indent=1))
    logger.info("wrote demo corpus of %d files to %s in %.2f s", len(wavs), root,
                time.perf_counter() - start)
    return _corpus(root, len(wavs))
