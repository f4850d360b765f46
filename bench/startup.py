"""Whole-process speed of ``noisenil denoise``: wall time and peak RSS, start-up included.

Writes a 4-second and a 10-minute noise-like file (16 kHz, or ``--sample-rate``), then runs
``noisenil -q denoise`` on each as a fresh process, ``--repeats`` times per runtime, alternating
runtimes so that both see the same machine load, and prints the medians (and ranges). The
4-second file measures start-up (imports, model load, first call); the 10-minute one throughput
(x real time).

    python bench/startup.py --repeats 3                 # shipped model: onnx vs keras runtime
    python bench/startup.py --model runs/music_model --sample-rate 44100 --runtimes keras
    python -X importtime -c "from noisenil.cli import main; main(['-q', 'denoise', 'in.wav', '-o', 'out'])"
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

LENGTHS = {"4 s": 4.0, "10 min": 600.0}


def _run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per file and runtime")
    parser.add_argument("--runtimes", nargs="+", default=["auto", "keras"],
                        help="values of noisenil denoise --runtime to compare")
    parser.add_argument("--model", default=None, help="model (default: the shipped default)")
    parser.add_argument("--sample-rate", type=int, default=16000,
                        help="rate of the test files in Hz (the model resamples to its own)")
    args = parser.parse_args(argv)
    exe = shutil.which("noisenil") or f"{sys.executable} -m noisenil.cli"
    tmp = Path(tempfile.mkdtemp(prefix="noisenil_startup_"))
    rng = np.random.default_rng(0)
    print(f"noisenil denoise --model {args.model or 'default'}, whole process, "
          f"{args.sample_rate} Hz files, {os.cpu_count()} CPUs, median of {args.repeats}")
    print(f"{'file':>7} {'runtime':>8} {'wall s':>8} {'range':>13} {'x real time':>12} "
          f"{'peak RSS MiB':>13}")
    try:
        for label, seconds in LENGTHS.items():
            path = tmp / f"in_{int(seconds)}.wav"
            sf.write(path, (0.05 * rng.standard_normal(int(seconds * args.sample_rate)))
                     .astype(np.float32), args.sample_rate)
            runs: dict[str, list[tuple[float, float]]] = {r: [] for r in args.runtimes}
            for _ in range(args.repeats):
                for runtime in args.runtimes:
                    cmd = [*exe.split(), "-q", "denoise", str(path), "-o", str(tmp / "out"),
                           "--overwrite", "--runtime", runtime]
                    if args.model:
                        cmd += ["--model", args.model]
                    runs[runtime].append(_run(cmd))
            for runtime, res in runs.items():
                walls = [w for w, _ in res]
                wall = statistics.median(walls)
                rss = statistics.median(r for _, r in res)
                print(f"{label:>7} {runtime:>8} {wall:8.2f} {min(walls):6.2f}-{max(walls):<6.2f} "
                      f"{seconds / wall:12.1f} {rss:13.0f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
