"""Denoising speed and memory on files of 1, 10 and 60 minutes: ``noisenil denoise``'s path.

For each model and length, a fresh process streams a 16 kHz mono PCM_16 file (speech-band
noise, written block by block beforehand) through :func:`noisenil.inference.files.denoise_file`
and reports:

- real-time factor: wall seconds per second of audio (lower is faster; 0.02 = 50x real time),
  after a warm-up file (tracing of the compiled predict function is not counted);
- peak resident memory of the process (``ru_maxrss``), and the resident memory just before the
  file is denoised (TensorFlow + model), so the growth is visible;

Models: the pretrained default model (``default``) and every registered backbone at its default
(published) size with untrained weights and the base STFT settings (speed does not depend on the
weights). The backbones run only on the shortest length unless ``--backbone-minutes`` says more:
at their default sizes they are 10-100x slower than the default model.

Usage:
    python bench/denoise.py [--minutes 1 10 60] [--repeats 3] [--models default unet ...]
                            [--backbone-minutes 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import soundfile as sf

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np, soundfile as sf, keras_tuner as kt
    from noisenil.config import Config
    from noisenil.inference.denoiser import Denoiser
    from noisenil.inference.files import denoise_file
    from noisenil.models import get_hypermodel
    from noisenil.pretrained import default_model_path
    name, src, warm, out = sys.argv[1:5]
    if name == "default":
        den = Denoiser.from_file(default_model_path())
    else:
        den = Denoiser(get_hypermodel(name).build(kt.HyperParameters()), Config(), name=name)
    denoise_file(den, warm, out + ".warm.wav", overwrite=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = denoise_file(den, src, out, overwrite=True)
    assert res.ok, res.message
    print(json.dumps({"rtf": res.seconds / res.duration_s, "params": den.params,
                      "rss_before_mb": before,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def write_test_file(path: Path, minutes: float, sr: int = 16000) -> Path:
    """Band-limited noise with a syllable-rate envelope, written one second at a time."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", sr, 1, "PCM_16") as f:
        for s in range(int(minutes * 60)):
            x = np.convolve(rng.standard_normal(sr + 31), np.hanning(32), mode="valid")
            env = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * (s + np.arange(sr) / sr))
            f.write(0.05 * x * env)
    return path


def run(name: str, src: Path, warm: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, name, str(src), str(warm), str(out)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{name} on {src.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    from noisenil.models import list_models

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    p.add_argument("--repeats", type=int, default=3, help="runs of the shortest length")
    p.add_argument("--models", nargs="+", default=["default", *list_models()])
    p.add_argument("--backbone-minutes", type=float, nargs="+", default=None,
                   help="lengths for the backbones (default: the shortest of --minutes)")
    args = p.parse_args(argv)
    shortest = min(args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        warm = write_test_file(tmp / "warm.wav", 2 / 60)
        files = {m: write_test_file(tmp / f"{m:g}min.wav", m) for m in args.minutes}
        print(f"{'model':16s} {'params':>9s} {'minutes':>7s} {'rtf':>7s} {'x real time':>11s} "
              f"{'RSS before':>10s} {'peak RSS':>9s}  (median of runs)")
        for name in args.models:
            lengths = args.minutes if name == "default" else (args.backbone_minutes or [shortest])
            for minutes in lengths:
                n = args.repeats if minutes == shortest else 1
                runs = [run(name, files[minutes], warm, tmp / "out.wav") for _ in range(n)]
                rtf = statistics.median(r["rtf"] for r in runs)
                print(f"{name:16s} {runs[0]['params']:9,d} {minutes:7g} {rtf:7.4f} "
                      f"{1 / rtf:10.0f}x {statistics.median(r['rss_before_mb'] for r in runs):8.0f}"
                      f" MB {statistics.median(r['peak_rss_mb'] for r in runs):6.0f} MB",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
