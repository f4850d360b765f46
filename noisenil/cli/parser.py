"""The argument parser of ``noisenil``: every subcommand and option, each with its help.

The same thing has the same option everywhere (see :data:`SHARED_FORMS`): ``--data DIR`` on
``check-data``, ``train``, ``tune``, ``evaluate``, ``compare`` and ``quickstart``; ``--model``
on ``evaluate``, ``compare``, ``denoise`` and ``export``; ``--config NAME`` and ``--set
KEY=VALUE`` wherever a configuration is read; ``-q``/``-v`` before or after the subcommand.
"""

from __future__ import annotations

import argparse
import textwrap

from noisenil import __version__
from noisenil.config.shipped import shipped_configs
from noisenil.models.locate import MODEL_FORMS

#: What ``--data`` accepts (the layouts of :func:`noisenil.data.layout.find_layout`).
DATA_FORMS = ("clean/ + noisy/ (paired), clean/ + noise/ (mixed at an SNR), or a "
              "VoiceBank-DEMAND root")
#: The options every command spells the same way, for the top-level help and the README.
SHARED_FORMS = {
    "--data DIR": f"{DATA_FORMS}: its train folders when training (check-data, train, tune, "
                  f"quickstart), its test folders when scoring (evaluate, compare)",
    "--model M": MODEL_FORMS,
    "--config NAME": "a shipped config's name (noisenil configs lists them) or a YAML file",
    "--set KEY=VALUE": "override any config key, e.g. --set data.batch_size=8 (repeatable)",
    "-q / -v": "no progress bars / the backend's logs and debug messages",
}


def _config_help(default: str = "") -> str:
    names = ", ".join(shipped_configs()) or "none installed"
    return (f"a shipped config's name ({names}; see noisenil configs) or a YAML file, which "
            f"may 'extends:' another{default}")


def _add_config_args(p: argparse.ArgumentParser, default: str = "") -> None:
    p.add_argument("--config", metavar="NAME", help=_config_help(default))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set data.batch_size=8 (repeatable)")


def _add_train_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR",
                   help=f"training data: {DATA_FORMS} (its train folders); sets data.mode and "
                        f"the data folders on top of --config, before --set")


def _add_test_set_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR",
                   help=f"test folder: {DATA_FORMS} (its test folders); default: the test "
                        f"split of --config")
    _add_config_args(p, default="; without --data, its data section's test split is scored")
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0, 15.0],
                   metavar="DB", help="input SNRs of mixed test sets (default 0 5 10 15)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mixtures (default 0)")
    p.add_argument("--max-files", type=int, metavar="N",
                   help="use at most N clean files, spread evenly over them by name")
    p.add_argument("--baselines", default="all",
                   help="classical baselines scored beside the models: all (default), none, or "
                        "a comma list such as wiener,log_mmse")
    p.add_argument("--examples", type=int, default=3, metavar="N",
                   help="examples shown as spectrograms (and audio) (default 3)")


def _verbosity(root: bool) -> argparse.ArgumentParser:
    """-v/-q, accepted before and after the subcommand (after: SUPPRESS keeps the first)."""
    p = argparse.ArgumentParser(add_help=False)
    default = False if root else argparse.SUPPRESS
    p.add_argument("-v", "--verbose", action="store_true", default=default,
                   help="show the backend's start-up logs and noisenil's debug messages")
    p.add_argument("-q", "--quiet", action="store_true", default=default,
                   help="no progress bars")
    return p


def _epilog() -> str:
    width = max(len(k) for k in SHARED_FORMS)
    lines = ["the same names on every command:"]
    for form, text in SHARED_FORMS.items():
        lines += textwrap.wrap(text, 88, initial_indent=f"  {form:{width}s}  ",
                               subsequent_indent=" " * (width + 4), break_on_hyphens=False)
    lines += ["", "Errors are one line on stderr with exit code 2. Each command's --help lists "
                  "its options."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="noisenil", parents=[_verbosity(root=True)], epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="noisenil: learned spectrogram denoising of speech and music. Each "
                    "subcommand is a thin wrapper over the Python API.")
    parser.add_argument("--version", action="version", version=f"noisenil {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands",
                                help="one of these (noisenil COMMAND --help lists its options)")
    common = [_verbosity(root=False)]

    def add(name: str, help: str, backend: bool = True) -> argparse.ArgumentParser:
        text = help.replace("%%", "%")
        p = sub.add_parser(name, help=help, description=text[0].upper() + text[1:] + ".",
                           parents=common)
        p.set_defaults(backend=backend)
        return p

    p = add("quickstart", "run the main job on the demo data (or --data DIR): data pipeline, a "
                          "tiny three-backbone sweep, the comparison report, a denoised example")
    _add_train_data(p)
    p.add_argument("--out", default="noisenil_quickstart", metavar="DIR",
                   help="results folder (default noisenil_quickstart); rerun to continue")
    _add_config_args(p, default="; default quickstart.yaml")

    p = add("demo-data", "generate the synthetic demo corpus (clean/, noise/, paired/)",
            backend=False)
    p.add_argument("folder", help="where to write it (created)")
    p.add_argument("--seed", type=int, default=0, help="seed of the corpus (default 0)")
    p.add_argument("--sample-rate", type=int, default=16000, metavar="HZ",
                   help="sample rate of the files (default 16000)")
    p.add_argument("--overwrite", action="store_true", help="replace a different demo corpus")

    p = add("configs", "list the shipped configs, by the names --config and extends: accept",
            backend=False)

    p = add("check-data", "scan, split and load the data; list bad and unpaired files "
                          "(exit 1 if any)")
    _add_train_data(p)
    _add_config_args(p)

    p = add("train", "train one model with fixed hyperparameters (rerun on the same run "
                     "folder to resume)")
    _add_train_data(p)
    _add_config_args(p)
    p.add_argument("--run-dir", metavar="DIR", help="run folder (default: train.run_dir)")

    p = add("tune", "Keras Tuner sweep over tune.models into tune.results_dir/tune.experiment "
                    "(rerun to resume)")
    _add_train_data(p)
    _add_config_args(p)
    p.add_argument("--experiment", metavar="NAME",
                   help="experiment name (default: tune.experiment)")

    p = add("evaluate", "score one model on a test set with the classical baselines: "
                        "metrics.csv, summary.csv (per-SNR means, 95%% CI), figures")
    p.add_argument("--model", required=True, metavar="M", help=f"the model: {MODEL_FORMS}")
    p.add_argument("--out", default="evaluation", metavar="DIR",
                   help="results folder (default evaluation)")
    _add_test_set_args(p)

    p = add("compare", "score models and the classical baselines on identical inputs: "
                       "report.html, report.md, comparison.csv")
    every = MODEL_FORMS.replace("(its best model)", "(the best model of each family)")
    p.add_argument("models", nargs="*", metavar="MODEL", help=f"models to compare: {every}")
    p.add_argument("--model", dest="more_models", action="append", default=[], metavar="M",
                   help="one more model, in any form MODEL takes (repeatable)")
    p.add_argument("--out", default="comparison", metavar="DIR",
                   help="report folder (default comparison)")
    _add_test_set_args(p)

    p = add("denoise", "denoise files or folders (recursively); exit 1 if a file failed")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder (layout of input folders kept), or a file for one input")
    p.add_argument("--model", metavar="M",
                   help=f"the model: {MODEL_FORMS}; default: default, the pretrained model")
    p.add_argument("--runtime", choices=["auto", "keras", "onnx"], default="auto",
                   help="what runs the network: auto (default) = the shipped models' ONNX "
                        "export with onnxruntime, no TensorFlow import; other models by Keras")
    p.add_argument("--strength", type=float, default=1.0,
                   help="0..1: dry/wet mix, 1 = fully denoised (default 1)")
    p.add_argument("--residual", action="store_true",
                   help="also write what was removed, <stem>_residual beside each output")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (and the input, if it is the output)")

    p = add("export", "export a model for deployment: a TensorFlow SavedModel, TFLite or ONNX, "
                      "with its config beside it")
    p.add_argument("--model", required=True, metavar="M", help=f"the model: {MODEL_FORMS}")
    p.add_argument("--format", default="savedmodel", choices=["savedmodel", "tflite", "onnx"],
                   help="savedmodel (folder), tflite or onnx (onnx needs noisenil[export]); "
                        "default savedmodel")
    p.add_argument("--out", metavar="PATH",
                   help="destination folder (savedmodel) or file; default beside the model: "
                        "<stem>_savedmodel/, <stem>.tflite, <stem>.onnx")
    p.add_argument("--config", metavar="NAME",
                   help="config overriding the one stored with the model: a shipped config's "
                        "name or a YAML file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export")
    return parser


__all__ = ["DATA_FORMS", "SHARED_FORMS", "build_parser"]
