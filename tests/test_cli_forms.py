"""First contact with the command line: the same --data / --model / --config forms on every
command, the single-speaker warning, numbers a user can judge, a quiet start-up, help texts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT
from noisenil.cli import build_parser, main
from noisenil.cli.commands import prepare
from noisenil.data.layout import find_layout
from noisenil.errors import NoiseNilError
from noisenil.models.locate import find_models
from noisenil.models.saving import resolve_model
from noisenil.pretrained import default_model_path, shipped_models

CONFIGS = PROJECT_ROOT / "configs"
#: "0x real time" (or "0.0x"), not the end of "10x" or "7.0x".
ZERO_SPEED = re.compile(r"(?<![\d.])0(\.0)?x real time")


def prepared(argv: list[str]):
    """The arguments as the CLI has them once :func:`prepare` checked them (no TensorFlow)."""
    args = build_parser().parse_args(argv)
    prepare(args)
    return args


# --------------------------------------------------------------------------------- --data DIR

@pytest.fixture(scope="module")
def layouts(demo_dir, tmp_path_factory):
    """The three --data layouts: paired, clean + noise, a VoiceBank-DEMAND root."""
    paired = Path(demo_dir) / "paired"
    vb = tmp_path_factory.mktemp("voicebank")
    for kind in ("clean", "noisy"):
        for split in ("trainset_28spk", "testset"):
            (vb / f"{kind}_{split}_wav").symlink_to(paired / kind)
    return {"paired": (paired, "paired", "clean", "clean"),
            "mixing": (Path(demo_dir), "mixing", "clean", "clean"),
            "voicebank": (vb, "paired", "clean_trainset_28spk_wav", "clean_testset_wav")}


DATA_COMMANDS = {
    "check-data": [], "train": [], "tune": [], "quickstart": [],
    "evaluate": ["--model", "default"], "compare": ["default"],
}


@pytest.mark.parametrize("layout", ["paired", "mixing", "voicebank"])
@pytest.mark.parametrize("command", list(DATA_COMMANDS))
def test_every_command_takes_the_same_data_forms(command, layout, layouts):
    root, mode, train_clean, test_clean = layouts[layout]
    args = prepared([command, *DATA_COMMANDS[command], "--data", str(root),
                     "--config", "debug.yaml"])
    if command in ("evaluate", "compare"):  # scored: the test folders
        assert args.test_data == str(root)
        assert find_layout(args.test_data, use="test").clean.name == test_clean
    else:  # trained on: the train folders, as data.* settings
        assert args.cfg.data.mode == mode and Path(args.cfg.data.clean_dir).name == train_clean


@pytest.mark.parametrize("command", list(DATA_COMMANDS))
def test_a_folder_of_no_known_layout_is_one_line_naming_it(command, tmp_path, capsys):
    (tmp_path / "stuff").mkdir()
    assert main([command, *DATA_COMMANDS[command], "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"data='{tmp_path}'" in err[0] and "['stuff']" in err[0]


def test_check_data_runs_on_a_voicebank_root(layouts, capsys):
    root = layouts["voicebank"][0]
    assert main(["-q", "check-data", "--data", str(root), "--config", "debug.yaml"]) == 0
    printed = capsys.readouterr().out
    assert "pairs: train" in printed and "first batch: noisy (4, 32, 32, 1)" in printed


# --------------------------------------------------------------------------------- --model M

@pytest.fixture(scope="module")
def model_forms(tmp_path_factory):
    """A shipped name, a .keras file, a run folder and a tuning experiment, with the files
    each stands for (the experiment's best: dncnn, by trials.csv)."""
    root = tmp_path_factory.mktemp("models")
    shutil.copy(default_model_path(), root / "my.keras")
    (root / "run").mkdir()
    shutil.copy(default_model_path(), root / "run" / "model.keras")
    exp = root / "exp"
    for name in ("dncnn", "unet"):
        (exp / name).mkdir(parents=True)
        shutil.copy(default_model_path(), exp / name / "best.keras")
    (exp / "trials.csv").write_text("model,trial_id,status,val_snr\n"
                                    "unet,0,COMPLETED,1.5\ndncnn,0,COMPLETED,2.5\n"
                                    "unet,1,FAILED,\n")
    (exp / "experiment.json").write_text(json.dumps({"objective": "val_snr",
                                                     "direction": "max"}))
    return {"default": ("default", default_model_path()),
            "file": (str(root / "my.keras"), root / "my.keras"),
            "run": (str(root / "run"), root / "run" / "model.keras"),
            "experiment": (str(exp), exp / "dncnn" / "best.keras")}


def model_argv(command: str, model: str, tmp_path: Path, demo_dir: str) -> list[str]:
    return {"evaluate": ["evaluate", "--model", model, "--data", demo_dir],
            "compare": ["compare", "--model", model, "--data", demo_dir],
            "denoise": ["denoise", str(tmp_path), "-o", str(tmp_path / "out"), "--model", model],
            "export": ["export", "--model", model],
            "train": ["train", "--config", "debug.yaml", "--set", f"train.init_from={model}"],
            }[command]


@pytest.mark.parametrize("form", ["default", "file", "run", "experiment"])
@pytest.mark.parametrize("command", ["evaluate", "compare", "denoise", "export", "train"])
def test_every_command_takes_the_same_model_forms(command, form, model_forms, tmp_path,
                                                  demo_dir):
    value, expected = model_forms[form]
    args = prepared(model_argv(command, value, tmp_path, demo_dir))
    if command == "evaluate":
        assert args.model == expected
    elif command == "compare":  # every model of an experiment, each family's best
        wanted = ([expected.parent.parent / n / "best.keras" for n in ("dncnn", "unet")]
                  if form == "experiment" else [expected])
        assert find_models(args.sources) == wanted
    assert resolve_model(value) == expected
    if command == "denoise":  # only the shipped models run without TensorFlow
        assert args.backend == (form != "default")


@pytest.mark.parametrize("command", ["evaluate", "compare", "denoise", "export"])
def test_a_folder_holding_no_model_is_one_line_naming_it(command, tmp_path, demo_dir, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(model_argv(command, str(empty), tmp_path, demo_dir)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and (f"model='{empty}'" in err[0] or f"models='{empty}'" in err[0])
    assert "neither model.keras (a noisenil train run) nor <model>/best.keras" in err[0]


def test_the_best_model_of_an_experiment_follows_its_objective(model_forms):
    exp = Path(model_forms["experiment"][0])
    record = exp / "experiment.json"
    saved = record.read_text()
    try:
        record.write_text(json.dumps({"objective": "val_snr", "direction": "min"}))
        assert resolve_model(exp) == exp / "unet" / "best.keras"
    finally:
        record.write_text(saved)
    assert resolve_model(exp / "unet") == exp / "unet" / "best.keras"  # one family's folder


def test_a_folder_of_runs_is_every_run_for_compare_and_asks_for_one_otherwise(tmp_path):
    for name in ("a", "b"):  # run folders: their checkpoints beside the final model.keras
        (tmp_path / name).mkdir()
        shutil.copy(default_model_path(), tmp_path / name / "best.keras")
        shutil.copy(default_model_path(), tmp_path / name / "model.keras")
    assert find_models(tmp_path) == [tmp_path / n / "model.keras" for n in ("a", "b")]
    with pytest.raises(NoiseNilError, match=r"several models \(a, b\) and no trials.csv"):
        resolve_model(tmp_path)


def test_evaluate_and_denoise_run_on_an_experiment_and_a_run_folder(model_forms, demo_dir,
                                                                  tmp_path, capsys):
    assert main(["-q", "evaluate", "--model", model_forms["experiment"][0], "--data",
                 str(Path(demo_dir) / "paired"), "--max-files", "1", "--baselines", "wiener",
                 "--examples", "0", "--out", str(tmp_path / "ev")]) == 0
    printed = capsys.readouterr().out
    assert "dncnn" in printed and "wiener" in printed  # the experiment's best, by its name
    noisy = next((Path(demo_dir) / "paired" / "noisy").glob("*.wav"))
    assert main(["-q", "denoise", str(noisy), "-o", str(tmp_path / "out"),
                 "--model", model_forms["run"][0]]) == 0
    summary = capsys.readouterr().out
    assert "denoised 1 of 1 files" in summary and not ZERO_SPEED.search(summary)


def test_evaluate_runs_the_classical_baselines_unless_told_not_to():
    assert build_parser().parse_args(["evaluate", "--model", "m"]).baselines == "all"
    assert build_parser().parse_args(["compare", "m"]).baselines == "all"
    import inspect

    from noisenil.evaluation.evaluator import evaluate

    assert inspect.signature(evaluate).parameters["baselines"].default == "all"


# ----------------------------------------------------------------------------- --config NAME

CONFIG_COMMANDS = {
    "check-data": [], "train": [], "tune": [], "quickstart": [],
    "evaluate": ["--model", "default"], "compare": ["default"], "export": ["--model", "default"],
}


@pytest.mark.parametrize("form", ["debug.yaml", "debug", "path", "extends"])
@pytest.mark.parametrize("command", list(CONFIG_COMMANDS))
def test_every_command_takes_the_same_config_forms(command, form, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: shipped names are found wherever it is run
    if form != "extends":  # a file of a shipped config's name in the working directory: the
        (tmp_path / "debug.yaml").write_text("data: {batch_size: 99}\n")  # shipped one wins
    (tmp_path / "mine.yaml").write_text("extends: debug.yaml\ndata: {batch_size: 3}\n")
    value = {"debug.yaml": "debug.yaml", "debug": "debug", "extends": "mine.yaml",
             "path": str(CONFIGS / "debug.yaml")}[form]
    args = prepared([command, *CONFIG_COMMANDS[command], "--config", value])
    expected = tmp_path / "mine.yaml" if form == "extends" else CONFIGS / "debug.yaml"
    assert Path(args.config).resolve() == expected.resolve()
    from noisenil.config import load_config

    cfg = load_config(args.config)
    assert cfg.patches.width == 32 and cfg.data.batch_size == (3 if form == "extends" else 4)


def test_an_unknown_config_lists_the_shipped_names(capsys):
    assert main(["check-data", "--config", "debgu.yaml"]) == 2
    err = capsys.readouterr().err
    assert "config='debgu.yaml': file not found, and not a shipped config's name" in err
    assert "debug.yaml" in err and "quickstart.yaml" in err


def test_noisenil_configs_lists_every_shipped_config(capsys):
    assert main(["configs"]) == 0
    printed = capsys.readouterr().out
    for path in CONFIGS.glob("*.yaml"):
        assert f"  {path.name} " in printed
    assert "Tiny sizes for tests and smoke runs" in printed and str(CONFIGS) in printed


# --------------------------------------------------------------- a split the data cannot serve

@pytest.fixture()
def one_speaker(demo_dir, tmp_path):
    """A paired folder of one speaker (3 pairs): no validation split by speaker."""
    root = tmp_path / "one_speaker"
    for kind in ("clean", "noisy"):
        (root / kind).mkdir(parents=True)
        for f in sorted((Path(demo_dir) / "paired" / kind).glob("spk90_*.wav")):
            shutil.copy(f, root / kind / f.name)
    return root


def test_check_data_train_and_tune_say_when_no_validation_split_can_be_made(
        one_speaker, tmp_path, capsys, caplog):
    debug = ["--config", "debug.yaml", "--set", "train.tensorboard=false"]
    hint = "data.speaker_patterns=[]"
    assert main(["-q", "check-data", "--data", str(one_speaker), *debug]) == 0
    printed = capsys.readouterr().out
    assert "note: 3 files from 1 speaker" in printed and hint in printed
    assert main(["-q", "tune", "--data", str(one_speaker), *debug,
                 "--set", f"tune.results_dir={tmp_path / 'tuning'}"]) == 2
    err = capsys.readouterr().err
    assert "needs validation data" in err and hint in err  # refused before any trial
    caplog.clear()
    assert main(["-q", "train", "--data", str(one_speaker), *debug, "--set", "train.epochs=1",
                 "--run-dir", str(tmp_path / "run")]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("too few to hold out a validation split" in w and hint in w for w in warned)
    assert "1 epochs; best snr" in capsys.readouterr().out


# ----------------------------------------------------------------- numbers a user can judge

def test_train_prints_its_best_score_beside_the_noisy_input(demo_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["-q", "train", "--data", demo_dir, "--config", "debug.yaml", "--set",
                 "train.epochs=1", "--set", "train.tensorboard=false", "--run-dir", str(run)]) == 0
    printed = capsys.readouterr().out
    state = json.loads((run / "state.json").read_text())
    monitor, best = state["monitor"], state["best"]
    noisy = json.loads((run / "noisy_input.json").read_text())
    assert {"val_loss", "val_snr"} <= set(noisy) and monitor in noisy
    assert (f"1 epochs; best {monitor} {best:.3f} (the noisy input scores "
            f"{noisy[monitor]:.3f} on the same validation data: improvement "
            f"{best - noisy[monitor]:+.3f})") in printed


def test_the_denoise_summary_never_says_0x_real_time():
    from noisenil.inference.files import DenoiseReport, FileResult

    def summary(duration, seconds):
        result = FileResult(Path("a.wav"), ok=True, duration_s=duration, seconds=seconds)
        return DenoiseReport([result], model="m").summary()

    assert "(0.5 s of audio in 2.0 s, 0.2x real time)" in summary(0.5, 2.0)
    assert "(0.5 s of audio in 0.010 s, 50x real time)" in summary(0.5, 0.01)
    for duration, seconds in ((0.1, 5.0), (0.5, 0.0), (0.01, 3.0)):
        assert not ZERO_SPEED.search(summary(duration, seconds))


# ------------------------------------------------------------------------ a quiet terminal

_PROBE = ("import json, sys\n"
          "from noisenil.cli import main\n"
          "rc = main(sys.argv[1:])\n"
          "print(json.dumps({'rc': rc, 'tensorflow': 'tensorflow' in sys.modules}))\n")


@pytest.mark.parametrize("argv", [
    ["train", "--config", "nope.yaml"],
    ["quickstart", "--config", "nope.yaml"],
    ["tune", "--config", "debug.yaml", "--set", "data.batch_size=-1"],
    ["check-data", "--data", "nowhere"],
    ["evaluate", "--model", "nope.keras", "--data", "nowhere"],
    ["compare", "runs/nope", "--config", "debug.yaml"],
    ["denoise", "in.wav", "-o", "out", "--model", "nope.keras"],
], ids=lambda a: a[0])
def test_a_failing_command_prints_one_line_at_once_without_tensorflow(argv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=60)
    seconds = time.perf_counter() - start
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 2, "tensorflow": False}
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"noisenil {argv[0]}: error: "), lines
    assert seconds < 2.0


def test_the_backend_starts_without_its_log_lines(demo_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-m", "noisenil.cli", "-q", "check-data", "--config",
                           "debug.yaml", "--set", f"data.demo_dir={demo_dir}"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    noise = [line for line in proc.stderr.splitlines()
             if line[:1] in "IWEF" and line[1:5].isdigit() or "absl" in line
             or "oneDNN" in line or "cuInit" in line or "cuda" in line.lower()]
    assert noise == []
    assert "first batch" in proc.stdout


def test_verbose_leaves_the_backend_logs_alone(monkeypatch):
    import logging

    from noisenil.cli.terminal import quiet_backend

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    before = logging.getLogger("absl").level
    quiet_backend(verbose=True)
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert logging.getLogger("absl").level == before
    args = build_parser().parse_args(["train", "-v", "-q"])  # after the subcommand too
    assert args.verbose and args.quiet
    assert not build_parser().parse_args(["train"]).verbose


@pytest.mark.parametrize("progress, tty, notebook, verbose", [
    (False, True, False, 0), (True, True, False, 2), (True, False, False, 0),
    (True, False, True, 1),
])
def test_keras_progress_follows_the_terminal(progress, tty, notebook, verbose, monkeypatch):
    import io

    from noisenil.training.progress import keras_verbose

    class Out(io.StringIO):
        def isatty(self):
            return tty

    monkeypatch.setattr(sys, "stdout", Out())
    if notebook:
        monkeypatch.setitem(sys.modules, "ipykernel", object())
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert keras_verbose(progress) == verbose


# ---------------------------------------------------------------------------- help that reads

def _subparsers(parser):
    import argparse

    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_help_has_no_markup_and_describes_every_option():
    parser = build_parser()
    assert "`" not in parser.format_help()
    undescribed = []
    for name, sub in [("noisenil", parser), *_subparsers(parser).items()]:
        assert "`" not in sub.format_help(), name
        for action in sub._actions:
            if not action.help or action.help == "==SUPPRESS==":
                undescribed.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert undescribed == []
    text = " ".join(_subparsers(parser)["evaluate"].format_help().split())
    for form in (f"a shipped model's name ({', '.join(shipped_models())})", "a .keras file",
                 "a noisenil train run folder", "a tuning experiment folder (its best model)"):
        assert form in text


def test_denoise_help_lists_the_shipped_models_and_an_unknown_name_lists_the_choices(tmp_path,
                                                                                     capsys):
    import numpy as np
    import soundfile as sf

    names = ", ".join(shipped_models())
    text = " ".join(_subparsers(build_parser())["denoise"].format_help().split())
    assert "--model M" in text and f"a shipped model's name ({names})" in text
    assert "default" in shipped_models()
    assert all(p.is_file() for p in shipped_models().values())
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    assert main(["-q", "denoise", str(wav), "-o", str(tmp_path / "out"), "--model", "musik"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("model='musik': no such file or folder (nor a shipped model's "
                              f"name: {names})") in err[0]


def test_the_folder_check_takes_a_list_of_folders_and_names_the_missing_one(tmp_path):
    """data.clean_dir / noise_dir may be lists (configs/speech_model.yaml): each is checked."""
    from noisenil.config import load_config
    from noisenil.data.layout import check_data_folders
    from noisenil.errors import DatasetError

    for name in ("a", "b", "n"):
        (tmp_path / name).mkdir()
    cfg = load_config("debug.yaml", overrides=[
        "data.mode=mixing", f"data.clean_dir=[{tmp_path / 'a'}, {tmp_path / 'b'}]",
        f"data.noise_dir={tmp_path / 'n'}"])
    check_data_folders(cfg.data)  # no error: every folder exists
    missing = tmp_path / "gone"
    cfg = load_config("debug.yaml", overrides=[
        "data.mode=mixing", f"data.clean_dir=[{tmp_path / 'a'}, {missing}]",
        f"data.noise_dir={tmp_path / 'n'}"])
    with pytest.raises(DatasetError, match=r"data\.clean_dir='.*gone': folder not found"):
        check_data_folders(cfg.data)
