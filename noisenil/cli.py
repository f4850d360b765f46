"""The ``noisenil`` command line: thin subcommands over the Python API.

Each subcommand parses its arguments, calls one library function, and prints where the results
are. Errors of the :class:`~noisenil.errors.NoiseNilError` family are reported in one line on
stderr with exit code 2; ``--verbose`` shows debug logs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from noisenil import __version__
from noisenil.errors import NoiseNilError

logger = logging.getLogger("noisenil")


def _add_config_args(p: argparse.ArgumentParser, default: str = "") -> None:
    p.add_argument("--config", help=f"YAML config file (may 'extends:' another){default}")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set data.batch_size=8 (repeatable)")


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from noisenil.quickstart import run_quickstart

    res = run_quickstart(data=args.data, out=args.out, config=args.config,
                         overrides=args.overrides, progress=not args.quiet)
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


def _cmd_check_data(args: argparse.Namespace) -> int:
    from noisenil.config import load_config
    from noisenil.data.datasets import build_datasets

    cfg = load_config(args.config, overrides=args.overrides)
    bundle = build_datasets(cfg, progress=not args.quiet)
    print(bundle.summary())
    x, y = bundle.train[0]
    print(f"first batch: noisy {x.shape} {x.dtype}, clean {y.shape} {y.dtype}, "
          f"feature range [{x.min():.3f}, {x.max():.3f}]")
    return 1 if bundle.bad or bundle.unpaired else 0


def _cmd_train(args: argparse.Namespace) -> int:
    from noisenil.training.trainer import train

    res = train(args.config, overrides=args.overrides, run_dir=args.run_dir,
                progress=not args.quiet)
    if res.resumed_from:
        print(f"resumed after epoch {res.resumed_from}")
    print(f"{res.epochs_done} epochs; best {res.monitor} {res.best:.3f}")
    print(f"model: {res.model_path}")
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from noisenil.tuning.experiment import tune

    res = tune(args.config, overrides=args.overrides, experiment=args.experiment,
               progress=not args.quiet)
    if res.role == "worker":
        print(f"worker done: the chief writes the results to {res.experiment_dir}")
        return 0
    counts = res.trials.groupby(["model", "status"]).size().unstack(fill_value=0)
    print(f"trials per model and status:\n{counts.to_string()}")
    for name, best in res.best.items():
        print(f"best {name}: {res.objective} {best.score:.3f} (trial {best.trial_id}) "
              f"-> {best.model_path or best.hparams_path}")
    print(f"results in {res.experiment_dir}: trials.csv, summary.md, <model>/best_hparams.yaml")
    return 0


def _data_source(args: argparse.Namespace):
    """--data DIR, else the test split of --config/--set (None when neither is given)."""
    if args.data:
        return args.data
    if args.config or args.overrides:
        from noisenil.config import load_config

        return load_config(args.config, overrides=args.overrides)
    raise NoiseNilError("give --data DIR (clean/ + noisy/ or clean/ + noise/) or --config FILE "
                        "(its data section's test split)")


def _baselines(text: str) -> str | list[str] | None:
    return text if text in ("all", "none") else [b for b in text.split(",") if b]


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from noisenil.evaluation.evaluator import evaluate

    res = evaluate(args.model, _data_source(args), out_dir=args.out, snrs=args.snr,
                   seed=args.seed, max_files=args.max_files, baselines=_baselines(args.baselines),
                   examples=args.examples, progress=not args.quiet)
    cols = [c for c in ("method", "si_sdr", "delta_si_sdr", "pesq", "stoi", "rtf")
            if c in res.comparison.columns]
    print(res.comparison[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"results in {res.out_dir}: metrics.csv, summary.csv, comparison.csv, figures/")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from noisenil.evaluation.comparison import compare

    table = compare(args.models, _data_source(args), out_dir=args.out, snrs=args.snr,
                    seed=args.seed, max_files=args.max_files,
                    baselines=_baselines(args.baselines), examples=args.examples,
                    progress=not args.quiet)
    cols = [c for c in ("method", "kind", "si_sdr", "delta_si_sdr", "pesq", "stoi", "rtf")
            if c in table.columns]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"report: {args.out}/report.html (and report.md, comparison.csv)")
    return 0


def _cmd_denoise(args: argparse.Namespace) -> int:
    from noisenil.inference.files import denoise_files

    report = denoise_files(args.inputs, args.output, model=args.model, strength=args.strength,
                           residual=args.residual, overwrite=args.overwrite,
                           progress=not args.quiet, runtime=args.runtime)
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


def _add_test_set_args(p: argparse.ArgumentParser, baselines: str) -> None:
    p.add_argument("--data", help="test folder: clean/ + noisy/ (paired) or clean/ + noise/ "
                                  "(mixed at --snr); default: the test split of --config")
    p.add_argument("--config", help="config whose data section's test split is used "
                                    "(without --data)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of --config (repeatable)")
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0, 15.0],
                   metavar="DB", help="input SNRs of mixed test sets (default 0 5 10 15)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mixtures")
    p.add_argument("--max-files", type=int, help="use at most N clean files")
    p.add_argument("--baselines", default=baselines,
                   help=f"classical baselines: all, none, or a comma list (default {baselines})")
    p.add_argument("--examples", type=int, default=3, help="example figures (and audio)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and tests)."""
    parser = argparse.ArgumentParser(prog="noisenil", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"noisenil {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("quickstart", help="run the main job on the demo data (or --data DIR): "
                                          "data pipeline, a tiny three-backbone sweep, the "
                                          "comparison report, a denoised example")
    p.add_argument("--data", help="folder with clean/ and noisy/ (paired) or noise/ (mixing)")
    p.add_argument("--out", default="noisenil_quickstart", help="results folder")
    _add_config_args(p, default="; default configs/quickstart.yaml")
    p.set_defaults(func=_cmd_quickstart)

    p = sub.add_parser("train", help="train one model with fixed hyperparameters "
                                     "(rerun on the same run folder to resume)")
    _add_config_args(p)
    p.add_argument("--run-dir", help="run folder (default: train.run_dir)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("tune", help="Keras Tuner sweep over tune.models into "
                                    "tune.results_dir/tune.experiment (rerun to resume)")
    _add_config_args(p)
    p.add_argument("--experiment", help="experiment name (default: tune.experiment)")
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("evaluate", help="score one model on a test set: metrics.csv, "
                                        "summary.csv (per-SNR means, 95%% CI), figures")
    p.add_argument("--model", required=True, help="a .keras model")
    p.add_argument("--out", default="evaluation", help="results folder")
    _add_test_set_args(p, baselines="none")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("compare", help="score models (a tuning experiment, run folders or "
                                       ".keras files) and classical baselines; report.html")
    p.add_argument("models", nargs="+", help="tuning experiment folder, run folders, .keras files")
    p.add_argument("--out", default="comparison", help="report folder")
    _add_test_set_args(p, baselines="all")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("denoise", help="denoise files or folders (recursively) with a .keras "
                                       "model or the pretrained default; exit 1 if a file failed")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders")
    p.add_argument("-o", "--output", required=True,
                   help="output folder (layout of input folders kept), or a file for one input")
    p.add_argument("--model", help="a .keras model or a shipped model's name (default: "
                                   "'default', the pretrained default model)")
    p.add_argument("--runtime", choices=["auto", "keras", "onnx"], default="auto",
                   help="what runs the network: auto (default) = the shipped models' ONNX "
                        "export with onnxruntime, no TensorFlow import; other models by Keras")
    p.add_argument("--strength", type=float, default=1.0,
                   help="0..1: dry/wet mix, 1 = fully denoised (default 1)")
    p.add_argument("--residual", action="store_true",
                   help="also write what was removed, <stem>_residual beside each output")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (and the input, if it is the output)")
    p.set_defaults(func=_cmd_denoise)

    p = sub.add_parser("export", help="export a .keras model for deployment: a TensorFlow "
                                      "SavedModel, TFLite or ONNX, with its config beside it")
    p.add_argument("--model", required=True, help="a .keras model")
    p.add_argument("--format", default="savedmodel", choices=["savedmodel", "tflite", "onnx"],
                   help="savedmodel (folder), tflite or onnx (onnx needs noisenil[export]); "
                        "default savedmodel")
    p.add_argument("--out", help="destination folder (savedmodel) or file; default beside the "
                                 "model: <stem>_savedmodel/, <stem>.tflite, <stem>.onnx")
    p.add_argument("--config", help="YAML config overriding the one stored with the model")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("demo-data", help="generate the synthetic demo corpus")
    p.add_argument("folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--overwrite", action="store_true", help="replace a different demo corpus")
    p.set_defaults(func=_cmd_demo_data)

    p = sub.add_parser("check-data", help="scan, split and load the configured data; "
                                          "list bad and unpaired files (exit 1 if any)")
    _add_config_args(p)
    p.set_defaults(func=_cmd_check_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``noisenil`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except NoiseNilError as err:
        # Written directly: logging may be configured elsewhere (notebooks, pytest).
        print(f"noisenil {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
