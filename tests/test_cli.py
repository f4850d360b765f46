"""The noisenil console script: quickstart end to end (demo data and user folders), demo-data,
check-data, errors."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import PROJECT_ROOT
from noisenil.evaluation.baselines import available_baselines
from noisenil.cli import main
from noisenil.config import load_config
from noisenil.errors import NoiseNilError


def test_console_script_is_installed():
    exe = shutil.which("noisenil") or shutil.which("noisenil", path=str(
        Path(sys.executable).parent))
    assert exe, "the noisenil console script is not on PATH (pip install the package)"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("noisenil ")


#: Tiny sweep sizes on top of configs/quickstart.yaml: one 1-epoch trial of 4 batches per model.
TINY = ["--set", "tune.max_trials=1", "--set", "tune.epochs=1", "--set", "data.batch_size=4",
        "--set", "data.train_patches=16", "--set", "data.val_patches=8"]
MODELS = ["dncnn", "resnet_unet", "two_stage_unet"]


def check_sweep_report_and_denoised(out, printed):
    """What every quickstart writes: trials of the three families, the report, the example."""
    trials = pd.read_csv(out / "tuning_results" / "quickstart" / "trials.csv")
    assert sorted(trials["model"]) == MODELS and (trials["status"] == "COMPLETED").all()
    objective = "val_delta_si_sdr"  # the default: the waveform metric on validation clips
    assert trials.columns[3] == objective and np.isfinite(trials[objective]).all()
    best = trials.loc[trials[objective].idxmax(), "model"]
    assert f"best model of the sweep: {best} ({objective} " in printed
    assert f"{out / 'tuning_results' / 'quickstart' / best / 'best.keras'}" in printed

    html = (out / "comparison" / "report.html").read_text()
    baselines = available_baselines()
    assert len(baselines) >= 3 and all(name in html for name in baselines + MODELS)
    table = pd.read_csv(out / "comparison" / "comparison.csv")
    assert sorted(table.loc[table["kind"] == "model", "method"]) == MODELS
    assert sorted(table.loc[table["kind"] == "baseline", "method"]) == sorted(baselines)
    top = table[table["kind"] == "baseline"].sort_values("delta_si_sdr").iloc[-1]
    model_delta = table.loc[table["method"] == best, "delta_si_sdr"].iloc[0]
    assert (f"{best} ΔSI-SDR {model_delta:+.2f} dB, best classical baseline {top['method']} "
            f"{top['delta_si_sdr']:+.2f} dB") in printed
    assert "tiny sizes for a smoke run" in printed

    noisy = next((out / "denoised").glob("*_noisy.wav"))
    denoised = noisy.with_name(noisy.name.replace("_noisy", "_denoised"))
    a, b = sf.info(str(noisy)), sf.info(str(denoised))
    assert (b.frames, b.samplerate, b.channels) == (a.frames, a.samplerate, a.channels)
    assert b.frames > 16000
    x, _ = sf.read(str(noisy))
    y, _ = sf.read(str(denoised))
    assert np.isfinite(y).all() and not np.allclose(x, y, atol=1e-3)

    seconds = re.search(r"quickstart took (\d+) s \(data \d+ s, sweep \d+ s, comparison \d+ s, "
                        r"denoise \d+ s\)", printed)
    assert seconds and int(seconds.group(1)) > 0
    listed = dict(re.findall(r"^  (\S+) +(/\S+)$", printed, flags=re.MULTILINE))
    for key in ("config", "split", "patches_png", "trials", "best_model", "report_html",
                "report_md", "noisy_example", "denoised"):
        assert key in listed and Path(listed[key]).is_file(), key
    assert listed["denoised"] == str(denoised) and listed["noisy_example"] == str(noisy)
    return noisy


@pytest.mark.slow  # ~1 min: run by .ci/run
def test_quickstart_runs_the_main_job_on_demo_data(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["-q", "quickstart", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "patches/s" in printed and str(out) in printed
    cfg = load_config(out / "config.yaml")
    assert cfg.data.mode == "demo" and cfg.data.demo_dir == str(out / "demo_data")
    assert cfg.tune.results_dir == str(out / "tuning_results") and cfg.tune.epochs == 1
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

    noisy = check_sweep_report_and_denoised(out, printed)
    # The demo corpus is compared on its held-out speakers (paired/), never trained on.
    assert "comparison on 6 held-out examples" in printed
    assert "paired files in" in (out / "comparison" / "report.md").read_text()
    source = out / "demo_data" / "paired" / "noisy" / "spk90_001.wav"
    assert noisy.name == "spk90_001_noisy.wav" and noisy.read_bytes() == source.read_bytes()
    assert not {r["path"] for r in rows} & {str(p) for p in source.parent.parent.rglob("*.wav")}


@pytest.mark.slow  # ~85 s on 2 cores; .ci/run runs it after the default suite
def test_quickstart_on_user_paired_folders(tmp_path, capsys):
    from noisenil.data.demo import make_demo_corpus

    corpus = make_demo_corpus(tmp_path / "demo")
    paired = corpus.root / "paired"  # 6 pairs of 2 speakers (spk90, spk91)
    out = tmp_path / "qs"
    # Two speakers cannot give a training, a validation and a test split: refused before the
    # sweep, with the way out.
    assert main(["-q", "quickstart", "--data", str(paired), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "6 files from 2 speakers" in err and "data.speaker_patterns=[]" in err
    assert not (out / "tuning_results").exists()

    assert main(["-q", "quickstart", "--data", str(paired), "--out", str(out), *TINY,
                 "--set", "data.speaker_patterns=[]"]) == 0
    printed = capsys.readouterr().out
    cfg = load_config(out / "config.yaml")
    assert cfg.data.mode == "paired" and cfg.data.noisy_dir == str(paired / "noisy")
    assert load_config(out / "tuning_results" / "quickstart" / "config.yaml").data == cfg.data
    with open(out / "split.csv") as fh:
        rows = list(csv.DictReader(fh))
    test = sorted(r["name"] for r in rows if r["split"] == "test")
    assert test and {r["split"] for r in rows} == {"train", "val", "test"}
    # The comparison scores the held-out test split, and the denoised example comes from it.
    assert f"comparison on {len(test)} held-out example" in printed
    assert "the test split of" in (out / "comparison" / "report.md").read_text()
    noisy = check_sweep_report_and_denoised(out, printed)
    stem = Path(test[0]).stem
    assert noisy.name == f"{stem}_noisy.wav"
    assert noisy.read_bytes() == (paired / "noisy" / test[0]).read_bytes()


def test_quickstart_refuses_a_folder_without_clean_and_a_config_without_test_split(tmp_path,
                                                                                  capsys):
    assert main(["-q", "quickstart", "--data", str(tmp_path), "--out", str(tmp_path / "q")]) == 2
    assert "expected sub-folders clean/ + noisy/ (paired) or clean/ + noise/" in \
        capsys.readouterr().err
    (tmp_path / "clean").mkdir()
    (tmp_path / "noise").mkdir()
    assert main(["-q", "quickstart", "--data", str(tmp_path), "--out", str(tmp_path / "q"),
                 "--set", "data.test_fraction=0"]) == 2
    assert "data.test_fraction=0" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()


def test_quickstart_mixes_a_held_out_noisy_example_for_clean_and_noise_folders(demo_dir,
                                                                              tmp_path):
    from noisenil.quickstart import _noisy_example, data_overrides, default_config_path

    cfg = load_config(default_config_path(), overrides=data_overrides(demo_dir))
    assert cfg.data.mode == "mixing" and cfg.data.test_fraction > 0
    path = _noisy_example(cfg, cfg, None, tmp_path / "denoised", snr=0.0, seed=0)
    assert path.parent == tmp_path / "denoised" and path.name.endswith("_0dB_noisy.wav")
    info = sf.info(str(path))
    assert (info.samplerate, info.channels) == (16000, 1) and info.frames > 16000


def test_quickstart_config_is_found_in_a_checkout_and_as_installed(tmp_path, monkeypatch):
    from noisenil import quickstart
    from noisenil.config import shipped

    assert quickstart.default_config_path() == PROJECT_ROOT / "configs" / "quickstart.yaml"
    cfg = load_config(quickstart.default_config_path())
    assert cfg.tune.models == MODELS and cfg.model.hparams == {}
    assert cfg.tune.hparams["resnet_unet"]["weights"] is None  # never downloads weights
    # Installed (pip install .): setup.cfg's data_files put it under <prefix>/share.
    shared = tmp_path / "share" / "noisenil" / "configs"
    shared.mkdir(parents=True)
    for name in ("base.yaml", "quickstart.yaml"):
        shutil.copy(PROJECT_ROOT / "configs" / name, shared / name)
    monkeypatch.setattr(shipped, "__file__", str(tmp_path / "site-packages" / "noisenil" /
                                                  "config" / "shipped.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert quickstart.default_config_path() == shared / "quickstart.yaml"
    assert load_config(shared / "quickstart.yaml") == cfg
    shutil.rmtree(shared)
    with pytest.raises(NoiseNilError, match="quickstart.yaml is missing"):
        quickstart.default_config_path()


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
