"""Data-pipeline throughput: patches per second from mixing + augmentation + STFT + patching.

Runs on the real development corpus (``../shared/audio/dev``: speech + noise, resampled to 16 kHz
on load) with the default configuration (128x128 magnitude patches, batch 16, default
augmentations), and prints, as the median (min-max) of ``--repeats`` runs:

- single process: ``PatchDataset.batch`` called in a loop;
- PyDataset workers: the same dataset consumed by ``keras.Model.predict`` of an identity model,
  with ``workers`` processes (Keras' own enqueuer, as ``fit`` uses it);
- tf.data: :func:`noisenil.data.patch_dataset.to_tf_dataset` with parallel ``numpy_function`` calls
  (TensorFlow backend only).

Usage:
    python bench/pipeline.py [--batches 40] [--repeats 3] [--workers 2] [--audio DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def _timed(fn, n_patches: int, repeats: int) -> list[float]:
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        rates.append(n_patches / (time.perf_counter() - t0))
    return rates


def _fmt(rates: list[float]) -> str:
    return f"{statistics.median(rates):7.0f} patches/s  (min {min(rates):.0f}, max {max(rates):.0f})"


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[1]
    default_audio = os.environ.get("NOISENIL_AUDIO_DIR", str(here.parent / "shared" / "audio"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio", default=default_audio, help="folder holding dev/speech and dev/noise")
    ap.add_argument("--batches", type=int, default=40, help="batches per timed run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    dev = Path(args.audio) / "dev"
    if not (dev / "speech").is_dir():
        print(f"real audio not found under {dev}: set NOISENIL_AUDIO_DIR or --audio")
        return 1

    import keras
    import numpy as np

    from noisenil.config import load_config
    from noisenil.data.datasets import build_datasets
    from noisenil.data.patch_dataset import to_tf_dataset

    cfg = load_config(overrides=["data.mode=mixing", f"data.clean_dir={dev / 'speech'}",
                                 f"data.noise_dir={dev / 'noise'}",
                                 f"data.train_patches={args.batches * 16}", *args.overrides])
    t0 = time.perf_counter()
    bundle = build_datasets(cfg, progress=False)
    load_s = time.perf_counter() - t0
    ds = bundle.train
    n = len(ds) * cfg.data.batch_size
    print(f"noisenil data pipeline on {dev} ({os.cpu_count()} CPUs, keras {keras.__version__}, "
          f"backend {keras.backend.backend()})")
    print(bundle.summary())
    print(f"scan + split + load/resample: {load_s:.1f} s")
    print(f"{len(ds)} batches x {cfg.data.batch_size} patches {ds.element_shape}, "
          f"{args.repeats} runs each:")

    ds.batch(0)  # warm-up: filter designs, FFT plans
    single = _timed(lambda: [ds.batch(i, epoch=e) for e, i in enumerate(range(len(ds)))],
                    n, args.repeats)
    print(f"  single process        {_fmt(single)}")

    ds.workers, ds.use_multiprocessing = args.workers, True
    identity = keras.Sequential([keras.Input(ds.element_shape), keras.layers.Identity()])
    workers = _timed(lambda: identity.predict(ds, verbose=0), n, args.repeats)
    print(f"  PyDataset {args.workers} processes  {_fmt(workers)}")

    if keras.backend.backend() == "tensorflow":
        stream = to_tf_dataset(ds, repeat=False)
        tfdata = _timed(lambda: [None for _ in stream], n, args.repeats)
        print(f"  tf.data parallel      {_fmt(tfdata)}")
    best = max(statistics.median(single), statistics.median(workers))
    print(f"best median {best:.0f} patches/s = {best / 30:.1f}x the ~30 patches/s a seed-004 "
          f"U-Net trains at on this CPU (DESIGN.md); target >= 5x")
    return 0 if np.isfinite(best) else 1


if __name__ == "__main__":
    sys.exit(main())
