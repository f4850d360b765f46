"""Models and classical baselines at every level of noise, including none, and on telephone band.

Scores models (any form ``noisenil compare`` takes) beside the noisy input and the classical
baselines with the one scoring core of ``noisenil compare`` (:func:`run_methods`, every model
through the inference path) on the config's held-out **test** split, in three conditions:

- ``snr``: clean speech mixed with real noise at each input SNR (``--snr``, default −5…20 dB);
- ``clean``: the clean speech itself as input, which must come out as it went in (SI-SDR of
  the output against the input, dB);
- ``narrowband``: the ``snr`` mixtures at ``--narrowband-snr`` passed through 8 kHz and back
  (clean and noisy alike: speech and noise band-limited to 4 kHz, as a telephone call).

Prints one table per metric (mean over the files; ΔSI-SDR for the noisy conditions, the output's
SI-SDR for ``clean``; PESQ and STOI of the outputs) and writes ``<out>/<condition>/`` with the
``metrics.csv``/``summary.csv``/``comparison.csv`` of ``noisenil compare``.

With ``--by-root`` the tables are printed once per top folder of the examples' names as well
(``train/`` and ``dev/`` for a config that draws on both of ``../shared/audio``'s corpora).

Usage:
    python bench/conditions.py MODEL [MODEL ...] --config configs/bakeoff.yaml [--max-files 30]
        [--snr -5 0 5 10 15 20] [--narrowband-snr 0 10] [--baselines wiener,log_mmse]
        [--metrics si_sdr,pesq,stoi] [--conditions snr,clean,narrowband] [--by-root]
        [--out bench_conditions]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from noisenil import load_config
from noisenil.data.testset import TestSet, load_test_set
from noisenil.dsp.audio_io import resample
from noisenil.evaluation.comparison import unique_names
from noisenil.evaluation.methods import methods_for
from noisenil.evaluation.scoring import run_methods, summarize
from noisenil.inference.denoiser import Denoiser
from noisenil.models.locate import find_models

CLEAN = float("inf")


def clean_condition(test: TestSet) -> TestSet:
    """One example per clean file: the clean signal in, itself as the reference."""
    seen, out = set(), []
    for ex in test.examples:
        base = ex.name.split("@")[0]
        if base not in seen:
            seen.add(base)
            out.append(dataclasses.replace(ex, name=f"{base}@clean", noisy=ex.clean.copy(),
                                           snr_db=CLEAN, input_snr=CLEAN, noise=""))
    return TestSet(out, test.sample_rate, f"{test.description}; clean input")


def narrowband_condition(test: TestSet, snrs) -> TestSet:
    """The mixtures at ``snrs`` with clean and noisy both passed through 8 kHz and back."""
    sr, out = test.sample_rate, []

    def band(x):
        return resample(resample(x, sr, 8000), 8000, sr)[:x.size].astype(np.float32)

    for ex in test.examples:
        if ex.snr_db in snrs:
            out.append(dataclasses.replace(ex, name=f"{ex.name}@8k", clean=band(ex.clean),
                                           noisy=band(ex.noisy)))
    return TestSet(out, sr, f"{test.description}; through 8 kHz (telephone band)")


def table(summary: pd.DataFrame, column: str) -> pd.DataFrame:
    frame = summary.pivot(index="snr_db", columns="method", values=f"{column}_mean")
    frame.index = ["clean" if np.isinf(v) else f"{v:g} dB" for v in frame.index]
    methods = list(dict.fromkeys(summary["method"]))
    return frame[[m for m in methods if m in frame.columns]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--config", required=True)
    parser.add_argument("--max-files", type=int, default=30)
    parser.add_argument("--snr", type=float, nargs="+", default=[-5, 0, 5, 10, 15, 20])
    parser.add_argument("--narrowband-snr", type=float, nargs="+", default=[0, 10])
    parser.add_argument("--baselines", default="wiener,log_mmse")
    parser.add_argument("--conditions", default="snr,clean,narrowband")
    parser.add_argument("--metrics", default="si_sdr,pesq,stoi",
                        help="comma list (PESQ and STOI are speech measures: drop them for music)")
    parser.add_argument("--by-root", action="store_true",
                        help="also print the tables per top folder of the names (train/, dev/)")
    parser.add_argument("--out", default="bench_conditions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cfg = load_config(args.config)
    metrics = args.metrics.split(",")
    paths = find_models(args.models)
    dens = [Denoiser.from_file(p) for p in paths]  # each with its own (embedded) config
    unique_names(dens, paths)
    methods = methods_for(zip(dens, paths), args.baselines)
    test = load_test_set(cfg, sample_rate=dens[0].sample_rate, snrs=args.snr,
                         max_files=args.max_files)
    sets = {"snr": test, "clean": clean_condition(test),
            "narrowband": narrowband_condition(test, set(args.narrowband_snr))}
    pd.set_option("display.width", 200)
    for name in args.conditions.split(","):
        cond = sets[name]
        res = run_methods(cond, methods, Path(args.out) / name, features=dens[0].features,
                          metrics=metrics, examples=0, progress=False)
        print(f"\n## {name}: {cond.description}; {len(cond)} examples")
        parts = {"": res.summary}
        if args.by_root:
            root = res.scores.metrics["file"].str.split("/").str[0]
            parts.update({f" [{r}/: {int((root == r).sum() / len(methods))} examples]":
                          summarize(res.scores.metrics[root == r]) for r in sorted(set(root))})
        for label, summary in parts.items():
            if name == "clean":
                print(f"\nSI-SDR of the output against the clean input (dB){label}")
                print(table(summary, "si_sdr").round(2).to_string())
                continue
            for column in ("delta_si_sdr", *(m for m in ("pesq", "stoi") if m in metrics)):
                print(f"\n{column} (mean){label}")
                print(table(summary, column).round(3 if column == "stoi" else 2).to_string())
        speed = res.comparison.set_index("method")["rtf"]
        print("\nreal-time factor (processing s / audio s): "
              + ", ".join(f"{m} {v:.4f}" for m, v in speed.items() if np.isfinite(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
