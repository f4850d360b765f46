"""How much of a record's clicks a model removes: the click energy at the click positions.

Every clean file of a config's held-out **test** split (its first ``--seconds``) gets synthetic
clicks from the project's own degradation (:func:`noisenil.data.augment.clicks`, drawn with the
config's ``augment.noise.clicks`` ranges, amplitudes relative to the file's peak, seeded by the
file), and nothing else. The click positions are the samples the clicks changed. For the noisy
input and each method the bench measures, at those positions only, the energy of what differs
from the clean music (``E = sum((y - clean)^2)`` over the click samples), and prints

- ``removed``: ``1 - E(method) / E(noisy)``, the fraction of the click energy taken out (the
  music model's bar is >= 90 %), median and minimum over the files;
- ``click/music``: ``10 log10(E / sum(clean^2))`` at the click positions, in dB, before and after;
- ``SI-SDR``: of the whole excerpt, for how much the method changed the music around the clicks.

``--ideal`` adds the *ideal ratio mask* ``min(|S|/|X|, 1)``, floored at the first model's
``min_gain_db``, applied with the noisy phase through that model's STFT: what the best possible
mask head at the model's time-frequency resolution would remove (it knows the clean music).

Usage:
    python bench/clicks.py MODEL [MODEL ...] --config configs/music_model.yaml
        [--baselines wiener] [--ideal] [--max-files 17] [--seconds 10] [--split test|val]
        [--out bench_clicks.csv]

MODEL is any form ``noisenil denoise --model`` takes (a ``.keras`` file, a run folder such as
``runs/music_model``, a shipped model's name).
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np
import pandas as pd

from noisenil import load_config
from noisenil.data.augment import clicks, draw_clicks
from noisenil.data.augmenter import Augmenter
from noisenil.data.testset import load_test_set
from noisenil.dsp.features import istft, stft
from noisenil.dsp.measures import si_sdr
from noisenil.evaluation.methods import NOISY_INPUT, methods_for
from noisenil.inference.denoiser import Denoiser
from noisenil.models.locate import find_models


def add_clicks(clean: np.ndarray, sr: int, spec: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(clicked, mask)``: ``clean`` with clicks of ``spec`` (the ``augment.noise.clicks`` ranges,
    amplitudes scaled by the file's peak) and the boolean mask of the samples they changed."""
    rng = np.random.default_rng([seed, 78])
    ranges = {k: v for k, v in spec.items() if k != "p"}
    peak = float(np.max(np.abs(clean))) or 1.0
    params = draw_clicks(rng, **ranges)
    params["amplitude"] = [a * peak for a in params["amplitude"]]
    clicked = clicks(clean, sr, rng, **params)
    return clicked.astype(np.float32), clicked != clean


class IdealMask:
    """The ideal ratio mask ``min(|S|/|X|, 1)`` floored at ``min_gain_db``, noisy phase."""

    name = "ideal mask"

    def __init__(self, stft_cfg, min_gain_db: float):
        self.stft_cfg, self.floor = stft_cfg, 10.0 ** (min_gain_db / 20.0)

    def __call__(self, noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
        s, x = stft(clean, self.stft_cfg), stft(noisy, self.stft_cfg)
        gain = np.clip(np.abs(s) / np.maximum(np.abs(x), 1e-12), self.floor, 1.0)
        return istft(gain * x, self.stft_cfg, length=clean.size)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--config", required=True)
    parser.add_argument("--baselines", default="wiener")
    parser.add_argument("--max-files", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ideal", action="store_true",
                        help="add the ideal ratio mask at the first model's STFT and floor")
    parser.add_argument("--split", default="test", choices=["test", "val"],
                        help="held-out split the clean files come from (val: for choosing "
                             "settings without looking at the test split)")
    parser.add_argument("--out", default="bench_clicks.csv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = load_config(args.config)
    spec = Augmenter("noise", cfg.augment.noise).spec["clicks"]
    paths = [p for form in args.models for p in find_models(form)]
    dens = [Denoiser.from_file(p) for p in paths]
    sr = dens[0].sample_rate
    methods = methods_for(zip(dens, paths), args.baselines)
    ideal = IdealMask(dens[0].cfg.stft, dens[0].cfg.model.min_gain_db) if args.ideal else None
    test = load_test_set(cfg, sample_rate=sr, snrs=[20.0], max_files=args.max_files,
                         split=args.split)
    rows = []
    for i, ex in enumerate(test.examples):
        clean = ex.clean[:int(args.seconds * sr)]
        noisy, mask = add_clicks(clean, sr, spec, seed=i)
        music = float(np.sum(clean[mask] ** 2)) or 1e-12
        base = None
        outputs = [(m.name, m.fn(noisy, sr)[:clean.size]) for m in methods]
        if ideal is not None:
            outputs.append((IdealMask.name, ideal(noisy, clean)))
        for name, y in outputs:
            energy = float(np.sum((y[mask] - clean[mask]) ** 2))
            base = energy if base is None else base
            rows.append({"file": ex.name.split("@")[0], "method": name,
                         "click_samples": int(mask.sum()), "removed": 1.0 - energy / base,
                         "click_music_db": 10 * np.log10(max(energy, 1e-20) / music),
                         "si_sdr": si_sdr(clean, y)})
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out, index=False)
    pd.set_option("display.width", 200)
    order = list(dict.fromkeys(frame["method"]))
    stats = frame.groupby("method").agg(
        removed_median=("removed", "median"), removed_min=("removed", "min"),
        click_music_db=("click_music_db", "median"), si_sdr=("si_sdr", "median")).loc[order]
    print(f"{frame.file.nunique()} {args.split} files of {args.config}, first {args.seconds:g} s each, "
          f"clicks of augment.noise.clicks (medians over files; removed vs {NOISY_INPUT})")
    print(stats.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
