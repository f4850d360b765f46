"""Does the sweep's objective rank models the way the held-out test split does?

Runs (or continues) the sweep of ``--config`` (which must keep every trial's weights:
``tune.keep_trial_weights: true``, as ``configs/rank_sweep.yaml``), rebuilds every completed
trial's model at the checkpoint the tuner kept (its best epoch by the objective), scores them all
with the one scoring core of ``noisenil compare`` on the config's *test* split (never trained or
validated on), and prints, for each validation metric the tuner could have maximised, its
Spearman rank correlation with the test SI-SDR gain over the trials:

- ``val_delta_si_sdr`` (the default objective: the waveform metric through the inference path);
- ``val_si_sdr``;
- ``val_snr`` (the old feature-domain objective), ``-val_loss``;

each read from the trial's history at the kept checkpoint's epoch. The per-trial table goes to
``<experiment>/objective_rank.csv``.

``--rescore SNRS/CLIPS/SECONDS`` (e.g. ``-5,0,5,10,15,20/96/2``) also scores every kept
checkpoint with the waveform objective at other settings (``train.validation_snrs``,
``validation_clips``, ``validation_seconds``: the same clip drawing and the same callback the
tuner runs) and prints each one's Spearman correlation: how an objective of that size would
have ranked these same models.

Usage:
    python bench/objective_rank.py --config configs/rank_sweep.yaml [--max-files 36]
        [--snr -5 0 5 10 15 20] [--rescore 0,5,10,15/32/4 -5,0,5,10,15,20/96/2 ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import keras
import keras_tuner as kt
import pandas as pd
from scipy.stats import spearmanr

from noisenil import compare, load_config, tune
from noisenil.models.saving import load_model, save_model
from noisenil.training.validation import WaveformValidation, validation_clips
from noisenil.tuning.experiment import plan_experiment
from noisenil.tuning.records import collect_trials

VALIDATION_METRICS = ("val_delta_si_sdr", "val_si_sdr", "val_snr", "val_loss")


def trial_models(cfg, root: Path, out: Path) -> pd.DataFrame:
    """Every completed trial as a ``.keras`` file in ``out``, with its validation metrics at
    the kept epoch."""
    hypermodels = plan_experiment(cfg)
    trials = collect_trials(root)
    rows = []
    for _, t in trials[trials["status"] == "COMPLETED"].iterrows():
        trial_dir = root / "tuner" / t["model"] / f"trial_{t['trial_id']}"
        weights = sorted(trial_dir.glob("checkpoint*.h5"))
        if not weights:
            logging.warning("%s: no weights kept (tune.keep_trial_weights?)", trial_dir)
            continue
        trial = kt.engine.trial.Trial.load(str(trial_dir / "trial.json"))
        keras.backend.clear_session()
        model = hypermodels[t["model"]].build(trial.hyperparameters)
        model.load_weights(weights[0])
        path = out / f"{t['model']}_{t['trial_id']}.keras"
        save_model(model, path, cfg)
        history = pd.read_csv(trial_dir / "history.csv")
        at = history.iloc[int(t["best_epoch"]) - 1]
        row = {"trial": path.stem, "model": t["model"], "objective": t["objective"],
               "best_epoch": int(t["best_epoch"]), "path": path}
        row.update({m: float(at[m]) for m in VALIDATION_METRICS if m in at})
        rows.append(row)
    return pd.DataFrame(rows)


def objective_setting(spec: str) -> tuple[list[float], int, float]:
    """``"-5,0,5/96/2"`` as ``([-5.0, 0.0, 5.0], 96, 2.0)``."""
    try:
        snrs, clips, seconds = spec.split("/")
        return [float(v) for v in snrs.split(",")], int(clips), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rescore {spec!r}: expected SNRS/CLIPS/SECONDS, "
                                         f"e.g. -5,0,5,10,15,20/96/2") from None


def rescore(cfg, paths, setting) -> list[float]:
    """The waveform objective (``val_delta_si_sdr``) of each model file at ``setting``."""
    snrs, clips, seconds = setting
    variant = replace(cfg, train=replace(cfg.train, validation_snrs=snrs, validation_clips=clips,
                                         validation_seconds=seconds))
    callback = WaveformValidation(variant, validation_clips(variant))
    scores = []
    for path in paths:
        callback.set_model(load_model(path))
        logs: dict = {}
        callback.on_epoch_end(0, logs)
        scores.append(logs["val_delta_si_sdr"])
    return scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/rank_sweep.yaml")
    parser.add_argument("--max-files", type=int, default=36)
    parser.add_argument("--snr", type=float, nargs="+", default=[-5, 0, 5, 10, 15, 20])
    parser.add_argument("--rescore", type=objective_setting, nargs="*", default=[],
                        metavar="SNRS/CLIPS/SECONDS")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = load_config(args.config)
    if not cfg.tune.keep_trial_weights:
        parser.error(f"{args.config}: set tune.keep_trial_weights: true to score every trial")
    result = tune(cfg, progress=False)
    root = Path(result.experiment_dir)
    with tempfile.TemporaryDirectory() as tmp:
        table = trial_models(cfg, root, Path(tmp))
        scored = compare([str(p) for p in table["path"]], cfg, out_dir=Path(tmp) / "cmp",
                         baselines=None, snrs=args.snr, max_files=args.max_files,
                         metrics=["si_sdr"], examples=0, progress=False)
        rescored = {}
        for setting in args.rescore:
            snrs, clips, seconds = setting
            name = f"objective {','.join(f'{v:g}' for v in snrs)}/{clips}/{seconds:g}"
            rescored[name] = rescore(cfg, list(table["path"]), setting)
    test = {Path(str(src)).stem: v for src, v in zip(scored["source"], scored["delta_si_sdr"])}
    table["test_delta_si_sdr"] = [test[name] for name in table["trial"]]
    for name, scores in rescored.items():
        table[name] = scores
    table = table.drop(columns="path").sort_values("test_delta_si_sdr", ascending=False)
    table.to_csv(root / "objective_rank.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{len(table)} trials; test split: {args.max_files} files x SNRs {args.snr} dB")
    for metric in VALIDATION_METRICS:
        if metric in table:
            sign = -1.0 if metric == "val_loss" else 1.0
            rho = spearmanr(sign * table[metric], table["test_delta_si_sdr"]).statistic
            print(f"Spearman({'-' if sign < 0 else ''}{metric}, test delta SI-SDR) = {rho:+.3f}")
    for name in rescored:
        rho = spearmanr(table[name], table["test_delta_si_sdr"]).statistic
        print(f"Spearman({name} dB/clips/s, test delta SI-SDR) = {rho:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
