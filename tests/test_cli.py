"""The noisenil console script: quickstart end to end, demo-data, check-data, errors."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys

import numpy as np
import soundfile as sf

from noisenil.cli import main
from noisenil.config import load_config


def test_console_script_is_installed():
    exe = shutil.which("noisenil") or shutil.which("noisenil", path=str(
        __import__("pathlib").Path(sys.executable).parent))
    assert exe, "the noisenil console script is not on PATH (pip install the package)"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("noisenil ")


def test_quickstart_runs_the_pipeline_on_demo_data(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["-q", "quickstart", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "patches/s" in printed and str(out) in printed
    cfg = load_config(out / "config.yaml")
    assert cfg.data.mode == "demo" and cfg.data.demo_dir == str(out / "demo_data")
    with open(out / "split.csv") as fh:
        rows = list(csv.DictReader(fh))
    train = {r["path"] for r in rows if r["split"] == "train"}
    val = {r["path"] for r in rows if r["split"] == "val"}
    assert train and val and not train & val
    assert (out / "patches.png").stat().st_size > 10_000
    for i in range(3):
        noisy, sr = sf.read(out / "examples" / f"example{i}_noisy.wav")
        clean, _ = sf.read(out / "examples" / f"example{i}_clean.wav")
        assert sr == 16000 and noisy.shape == clean.shape == (3 * 16000,)
        assert np.max(np.abs(noisy)) <= 1.0 and not np.allclose(noisy, clean, atol=1e-3)


def test_quickstart_on_user_paired_folders_and_bad_folder(tmp_path, capsys):
    from noisenil.demo import make_demo_corpus

    corpus = make_demo_corpus(tmp_path / "demo")
    out = tmp_path / "qs"
    assert main(["-q", "quickstart", "--data", str(corpus.root / "paired"), "--out", str(out),
                 "--config", "configs/debug.yaml", "--set", "data.val_fraction=0.2"]) == 0
    assert load_config(out / "config.yaml").data.mode == "paired"
    assert main(["-q", "quickstart", "--data", str(tmp_path), "--out", str(out)]) == 2
    assert "expected a 'clean/' subfolder" in capsys.readouterr().err


def test_bad_config_value_exits_2_naming_the_key(tmp_path, capsys):
    assert main(["-q", "check-data", "--set", "data.batch_size=-1"]) == 2
    assert "data.batch_size=-1" in capsys.readouterr().err


def test_demo_data_and_check_data_report_bad_files(tmp_path, capsys):
    assert main(["demo-data", str(tmp_path / "d")]) == 0
    sf.write(str(tmp_path / "d" / "clean" / "zz_silent.wav"), np.zeros(8000, np.float32), 16000)
    code = main(["-q", "check-data", "--config", "configs/debug.yaml",
                 "--set", f"data.demo_dir={tmp_path / 'd'}"])
    printed = capsys.readouterr().out
    assert code == 1 and "zz_silent.wav: silent" in printed
    assert "first batch: noisy (4, 32, 32, 1)" in printed
