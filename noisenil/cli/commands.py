"""What each ``noisenil`` subcommand does: :func:`prepare` checks every name and file the
arguments give (configs, data folders, models) without importing TensorFlow; each ``_cmd_*``
then calls one library function and prints where the results are."""

from __future__ import annotations

import argparse
import math
import sys

from noisenil.config import find_config, load_config, shipped_configs
from noisenil.config.shipped import config_dirs, describe_config
from noisenil.errors import NoiseNilError
from noisenil.models.locate import find_models
from noisenil.models.saving import resolve_model

#: Commands that read the training data of a configuration (``--data`` = its train folders).
TRAINING = ("quickstart", "check-data", "train", "tune")
#: Commands that score models on a test set (``--data`` = its test folders).
SCORING = ("evaluate", "compare")


def prepare(args: argparse.Namespace) -> None:
    """Resolve and check what the arguments name, before the backend is imported.

    Sets ``args.config`` to the config file, ``args.cfg`` to the loaded configuration (training
    commands; ``args.test_data`` for scoring ones), ``args.model`` to the model file (evaluate),
    ``args.sources`` (compare), and ``args.backend`` (whether Keras must be imported).

    Raises:
        NoiseNilError: A config that is neither a shipped name nor a file, a bad key or value,
            a ``--data`` folder of no known layout, a data folder or model that does not exist.
    """
    if getattr(args, "config", None):
        args.config = find_config(args.config)
    if args.command in TRAINING:  # noisenil.data only where data is read: not for denoise
        from noisenil.data.layout import check_data_folders, data_overrides

        sets = data_overrides(args.data) if args.data else []
    if args.command == "quickstart":
        default = shipped_configs().get("quickstart.yaml")
        if args.config or default:  # checked here; run_quickstart loads it with its own folders
            args.cfg = load_config(args.config or default, overrides=[*sets, *args.overrides])
    elif args.command in TRAINING:
        args.cfg = load_config(args.config, overrides=[*sets, *args.overrides])
        check_data_folders(args.cfg.data)
        if args.command == "train" and args.cfg.train.init_from:
            resolve_model(args.cfg.train.init_from, key="train.init_from")
    elif args.command in SCORING:
        args.test_data = _test_data(args)
        if args.command == "evaluate":
            args.model = resolve_model(args.model)
        else:
            args.sources = [*args.models, *args.more_models]
            if not args.sources:
                raise NoiseNilError("give at least one MODEL (or --model M) to compare")
            find_models(args.sources)
    elif args.command in ("denoise", "export") and args.model is not None:
        resolve_model(args.model)
    if args.command == "denoise":
        from noisenil.pretrained import shipped_models

        shipped = args.model is None or str(args.model) in shipped_models()
        args.backend = args.runtime == "keras" or not shipped


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars unless ``-q``, and only on a terminal (none in log files and CI logs; the
    Keras side is decided again by :func:`noisenil.training.progress.keras_verbose`)."""
    return not args.quiet and any(getattr(s, "isatty", lambda: False)()
                                  for s in (sys.stdout, sys.stderr) if s is not None)


def _test_data(args: argparse.Namespace):
    """``--data DIR`` (its layout checked), else the test split of ``--config``/``--set``."""
    if args.data:
        from noisenil.data.layout import find_layout

        find_layout(args.data, use="test")
        return args.data
    if args.config or args.overrides:
        return load_config(args.config, overrides=args.overrides)
    raise NoiseNilError("give --data DIR (clean/ + noisy/, clean/ + noise/ or a VoiceBank-DEMAND "
                        "root) or --config NAME (its data section's test split)")


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from noisenil.quickstart import run_quickstart

    res = run_quickstart(data=args.data, out=args.out, config=args.config,
                         overrides=args.overrides, progress=_progress(args))
    print(res.summary)
    print(f"data pipeline: {res.patches_per_second:.0f} patches/s (single process, after warm-up)")
    print(res.findings())
    print(f"results in {res.out_dir}:")
    for name, path in res.files.items():
        print(f"  {name:16s} {path}")
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in res.stage_seconds.items())
    print(f"quickstart took {res.seconds:.0f} s ({stages})")
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from noisenil.data.demo import make_demo_corpus

    corpus = make_demo_corpus(args.folder, seed=args.seed, sample_rate=args.sample_rate,
                              overwrite=args.overwrite)
    print(f"demo corpus ({corpus.n_files} files) in {corpus.root}")
    for label in ("clean_dir", "noise_dir", "paired_clean_dir", "paired_noisy_dir"):
        print(f"  {label:18s} {getattr(corpus, label)}")
    return 0


def _cmd_configs(args: argparse.Namespace) -> int:
    configs = shipped_configs()
    if not configs:
        raise NoiseNilError(f"no shipped config found (looked in "
                            f"{', '.join(map(str, config_dirs()))}); reinstall noisenil")
    print("shipped configs (--config NAME, or extends: NAME in a config of your own):")
    width = max(map(len, configs))
    for name, path in configs.items():
        print(f"  {name:{width}s}  {describe_config(path)}")
    print(f"in {', '.join(sorted({str(p.parent) for p in configs.values()}))}")
    return 0


def _cmd_check_data(args: argparse.Namespace) -> int:
    from noisenil.data.datasets import build_datasets

    bundle = build_datasets(args.cfg, progress=_progress(args), warn=False)  # notes: in summary
    print(bundle.summary())
    x, y = bundle.train[0]
    print(f"first batch: noisy {x.shape} {x.dtype}, clean {y.shape} {y.dtype}, "
          f"feature range [{x.min():.3f}, {x.max():.3f}]")
    return 1 if bundle.bad or bundle.unpaired else 0


def _cmd_train(args: argparse.Namespace) -> int:
    from noisenil.training.trainer import train

    res = train(args.cfg, run_dir=args.run_dir, progress=_progress(args))
    if res.resumed_from:
        print(f"resumed after epoch {res.resumed_from}")
    line = f"{res.epochs_done} epochs; best {res.monitor} {res.best:.3f}"
    if not math.isnan(res.noisy):
        line += (f" (the noisy input scores {res.noisy:.3f} on the same validation data: "
                 f"improvement {res.improvement:+.3f})")
    print(line)
    print(f"model: {res.model_path}")
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from noisenil.tuning.experiment import tune

    res = tune(args.cfg, experiment=args.experiment, progress=_progress(args))
    if res.role == "worker":
        print(f"worker done: the chief writes the results to {res.experiment_dir}")
        return 0
    counts = res.trials.groupby(["model", "status"]).size().unstack(fill_value=0)
    print(f"trials per model and status:\n{counts.to_string()}")
    for name, best in res.best.items():
        print(f"best {name}: {res.objective} {best.score:.3f} (trial {best.trial_id}) "
              f"-> {best.model_path or best.hparams_path}")
    if res.objective in res.baseline:
        print(f"the noisy input scores {res.objective} {res.baseline[res.objective]:.3f} on the "
              f"same validation batches")
    print(f"results in {res.experiment_dir}: trials.csv, summary.md, <model>/best_hparams.yaml")
    return 0


def _print_table(table, cols) -> None:
    cols = [c for c in cols if c in table.columns]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from noisenil.evaluation.evaluator import evaluate

    res = evaluate(args.model, args.test_data, out_dir=args.out, snrs=args.snr, seed=args.seed,
                   max_files=args.max_files, baselines=args.baselines,
                   examples=args.examples, progress=_progress(args))
    _print_table(res.comparison, ("method", "si_sdr", "delta_si_sdr", "pesq", "stoi", "rtf"))
    print(f"results in {res.out_dir}: metrics.csv, summary.csv, comparison.csv, figures/")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from noisenil.evaluation.comparison import compare

    table = compare(args.sources, args.test_data, out_dir=args.out, snrs=args.snr,
                    seed=args.seed, max_files=args.max_files,
                    baselines=args.baselines, examples=args.examples,
                    progress=_progress(args))
    _print_table(table, ("method", "kind", "si_sdr", "delta_si_sdr", "pesq", "stoi", "rtf"))
    print(f"report: {args.out}/report.html (and report.md, comparison.csv)")
    return 0


def _cmd_denoise(args: argparse.Namespace) -> int:
    from noisenil.inference.files import denoise_files

    report = denoise_files(args.inputs, args.output, model=args.model, strength=args.strength,
                           residual=args.residual, overwrite=args.overwrite,
                           progress=_progress(args), runtime=args.runtime)
    print(report.summary())
    for r in report.results:
        if r.ok:
            extra = f" (+ {r.residual.name})" if r.residual else ""
            print(f"  {r.input} -> {r.output}{extra}")
    return report.exit_code


def _cmd_export(args: argparse.Namespace) -> int:
    from noisenil.inference.export import export_model

    path = export_model(args.model, args.out, format=args.format, config=args.config,
                        overwrite=args.overwrite)
    print(f"{args.format} export: {path}")
    return 0


#: Subcommand name -> the function that runs it.
COMMANDS = {
    "quickstart": _cmd_quickstart, "demo-data": _cmd_demo_data, "configs": _cmd_configs,
    "check-data": _cmd_check_data, "train": _cmd_train, "tune": _cmd_tune,
    "evaluate": _cmd_evaluate, "compare": _cmd_compare, "denoise": _cmd_denoise,
    "export": _cmd_export,
}

__all__ = ["COMMANDS", "SCORING", "TRAINING", "prepare"]
