"""Overhead of ``noisenil train`` over a bare ``model.fit`` of the same network on the same batches.

Both sides train the same registered model (default: the seed-004 U-Net at its published size)
for ``--epochs`` epochs on the same in-memory batches of demo-corpus patches (drawn once, so
the data pipeline is out of the comparison), validating on the same batches every epoch:

- **bare**: ``hypermodel.build(hp)`` then ``model.fit(train, validation_data=val, epochs=E)``;
- **noisenil**: :func:`noisenil.training.trainer.train` with ``data=(train, val)``: the run folder, the
  resolved config, the best-model checkpoint, ``last.keras`` + ``state.json`` after every epoch,
  the learning-rate schedule, early stopping, CSV and TensorBoard logs, and the final copy.

Each side is timed from build to return (so tracing is in both), ``--repeats`` times,
alternating; the figures are the median (min-max) steps/s and the ratio of the medians.

Usage:
    python bench/train_overhead.py [--model unet] [--epochs 3] [--steps 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from noisenil.config import load_config
from noisenil.data.datasets import build_datasets
from noisenil.models import hypermodel_from_config
from noisenil.training.trainer import train


class MemoryBatches(keras.utils.PyDataset):
    """Fixed ``(noisy, clean)`` batches held in memory."""

    def __init__(self, batches: list[tuple[np.ndarray, np.ndarray]]):
        super().__init__()
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        return self.batches[index]


def bare_fit(cfg, train_data, val_data, epochs: int) -> float:
    keras.utils.set_random_seed(cfg.train.seed)
    start = time.perf_counter()
    model = hypermodel_from_config(cfg).build(kt.HyperParameters())
    model.fit(train_data, validation_data=val_data, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def package_fit(cfg, train_data, val_data, run_dir: Path) -> float:
    start = time.perf_counter()
    res = train(cfg, run_dir=run_dir, progress=False, data=(train_data, val_data))
    assert res.epochs_done == cfg.train.epochs, res
    return time.perf_counter() - start


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} ({min(values):.3f}-{max(values):.3f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="unet", help="registered model at its default size")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=12, help="training batches per epoch")
    ap.add_argument("--val-steps", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(overrides=[
            f"data.demo_dir={tmp}/demo", f"model.name={args.model}",
            f"data.batch_size={args.batch}", f"data.train_patches={args.steps * args.batch}",
            f"data.val_patches={args.val_steps * args.batch}", f"train.epochs={args.epochs}",
            "train.early_stopping_patience=0"])
        bundle = build_datasets(cfg, progress=False)
        train_data = MemoryBatches([bundle.train[i] for i in range(len(bundle.train))])
        val_data = MemoryBatches([bundle.val[i] for i in range(len(bundle.val))])
        steps = args.epochs * len(train_data)
        print(f"keras {keras.__version__}, backend {keras.backend.backend()}; {args.model} "
              f"({hypermodel_from_config(cfg).build(kt.HyperParameters()).count_params():,} "
              f"params), batch {args.batch} of {cfg.patches.height}x{cfg.patches.width}, "
              f"{len(train_data)} + {len(val_data)} val batches x {args.epochs} epochs; "
              f"median (min-max) of {args.repeats} alternating runs, build to return")
        bare, package = [], []
        for repeat in range(args.repeats):
            keras.backend.clear_session()
            bare.append(steps / bare_fit(cfg, train_data, val_data, args.epochs))
            keras.backend.clear_session()
            package.append(steps / package_fit(cfg, train_data, val_data,
                                               Path(tmp) / f"run{repeat}"))
        ratio = statistics.median(bare) / statistics.median(package)
        print(f"{'bare model.fit':16s} steps/s {fmt(bare)}")
        print(f"{'noisenil train':16s} steps/s {fmt(package)}")
        print(f"overhead (bare / noisenil steps/s): {ratio:.3f}x")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
