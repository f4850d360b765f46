"""The Kaggle notebooks: thin, committed without outputs, and runnable end to end (smoke mode).

The fast tests read the ``.ipynb`` files. The slow test executes 01, 02 and 03 in that order in
one working folder with ``NOISENIL_SMOKE=1`` (the generated demo corpus, tiny sizes) on an
ipykernel running this interpreter, and checks what they produced.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import PROJECT_ROOT

nbformat = pytest.importorskip("nbformat")

FOLDER = PROJECT_ROOT / "kaggle_notebooks"
NAMES = ["01_train.ipynb", "02_tune.ipynb", "03_compare.ipynb"]
MODELS = ["dncnn", "resnet_unet", "two_stage_unet"]
#: The single switch: the first code cell sets SMOKE from the environment variable.
SWITCH = re.compile(r'^SMOKE = os\.environ\.get\("NOISENIL_SMOKE", "0"\) == "1"$', re.M)


def read(name):
    return nbformat.read(FOLDER / name, as_version=4)


def code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_valid_and_has_no_outputs(name):
    raw = json.loads((FOLDER / name).read_text())
    assert raw["nbformat"] == 4
    nb = read(name)
    nbformat.validate(nb)
    for cell in code(nb):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert "widgets" not in nb.metadata and all("widgets" not in c.metadata for c in nb.cells)
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_with_what_it_needs(name):
    first = read(name).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# noisenil ")
    for words in ("GPU T4x2", "/kaggle/input/", "clean_trainset_28spk_wav",
                  "noisy_trainset_28spk_wav", "clean_testset_wav", "noisy_testset_wav",
                  "noise/", "**Time**", "NOISENIL_SMOKE=1", "Not timed on a T4"):
        assert words in first.source, words
    # Smoke-mode times are measured, not left as placeholders.
    assert "??" not in first.source
    assert re.search(r"Smoke mode[^:]*:\s+about \d+ s on a 2-core CPU \(measured", first.source)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_has_one_smoke_switch_and_only_calls_the_package(name):
    cells = code(read(name))
    assert SWITCH.search(cells[0].source), "the first code cell must set SMOKE"
    assert sum(len(re.findall(r"^SMOKE\s*=", c.source, re.M)) for c in cells) == 1
    everything = "\n".join(c.source for c in cells)
    # Thin: no library code in cells.
    assert not re.search(r"^\s*(async\s+)?def\s|^\s*class\s", everything, re.M)
    # Only the public face: `from noisenil import ...`, never a module path.
    assert re.search(r"^from noisenil import", everything, re.M)
    assert not re.search(r"^\s*(from|import) noisenil\.", everything, re.M)
    # Install only in Kaggle mode; smoke mode never installs or downloads.
    install = next(c.source for c in cells if "%pip install" in c.source)
    assert "if not SMOKE:" in install and "NOISENIL_SRC" in install
    assert "noisenil_smoke" in everything and "/kaggle/working" in everything


def test_tune_notebook_uses_mirrored_on_kaggle_and_shows_resume_and_best_trials():
    src = "\n".join(c.source for c in read("02_tune.ipynb").cells)
    assert "tune.strategy=mirrored" in src and "progress=True" in src
    assert "KERASTUNER_TUNER_ID" in src and "CUDA_VISIBLE_DEVICES" in src
    assert "if ONE_WORKER_PER_GPU and not SMOKE:" in src
    assert "tune.max_trials=2" in src and ".style.apply" in src
    assert "/kaggle/input/" in src and "tuning_results" in src


def kernel_spec(tmp_path):
    """A kernelspec that runs ipykernel on this very interpreter (not whatever 'python3' is)."""
    spec = tmp_path / "jupyter" / "kernels" / "noisenil-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "noisenil test", "language": "python"}))
    return tmp_path / "jupyter", "noisenil-test"


def outputs_text(nb):
    parts = []
    for cell in code(nb):
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out and "text/plain" in out.data:
                parts.append(out.data["text/plain"])
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_notebooks_run_in_smoke_mode(tmp_path, monkeypatch, capsys):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    jupyter_path, kernel = kernel_spec(tmp_path)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("NOISENIL_SMOKE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    work = tmp_path / "run"
    work.mkdir()
    seconds, printed = {}, {}
    for name in NAMES:
        nb = read(name)
        start = time.perf_counter()
        nbclient.NotebookClient(nb, kernel_name=kernel, timeout=900,
                                resources={"metadata": {"path": str(work)}}).execute()
        seconds[name] = time.perf_counter() - start
        nbformat.write(nb, tmp_path / f"executed_{name}")  # for a look after a failure
        printed[name] = outputs_text(nb)
    with capsys.disabled():
        print("\nsmoke-mode notebook times: " + ", ".join(
            f"{n} {s:.0f} s" for n, s in seconds.items()) + f", total {sum(seconds.values()):.0f} s")
    smoke = work / "noisenil_smoke"

    # 01: one epoch trained, evaluated against the baselines, a file denoised at its length.
    run = smoke / "runs" / "train_dncnn"
    assert (run / "model.keras").is_file()
    assert len(pd.read_csv(run / "history.csv")) == 1
    summary = pd.read_csv(smoke / "evaluation" / "summary.csv")
    assert {"noisy input", "train_dncnn", "wiener"} <= set(summary["method"])
    assert np.isfinite(summary["si_sdr_mean"]).all()
    noisy = smoke / "demo_data" / "paired" / "noisy" / "spk90_001.wav"
    denoised = smoke / "denoised" / "spk90_001.wav"
    a, b = sf.info(str(noisy)), sf.info(str(denoised))
    assert (b.frames, b.samplerate, b.channels) == (a.frames, a.samplerate, a.channels)
    assert f"input {a.frames} samples at 16000 Hz, output {a.frames} samples" in printed[NAMES[0]]
    assert len(list((smoke / "patches").glob("example*.png"))) == 3

    # 02: three models, one trial each, then the resume to two: six completed, the first kept.
    trials = pd.read_csv(smoke / "tuning_results" / "sweep" / "trials.csv")
    assert sorted(trials["model"]) == sorted(MODELS * 2)
    # The default objective: the waveform metric on validation clips (trials.csv column 4).
    assert trials.columns[3] == "val_delta_si_sdr"
    assert (trials["status"] == "COMPLETED").all() and np.isfinite(trials["val_delta_si_sdr"]).all()
    assert "trials: 3 before, 6 after; finished trials kept unchanged: 3 of 3" in printed[NAMES[1]]
    for model in MODELS:
        assert (smoke / "tuning_results" / "sweep" / model / "best.keras").is_file()

    # 03: every model and baseline scored on the same examples; the winner exported.
    table = pd.read_csv(smoke / "comparison" / "comparison.csv")
    assert sorted(table.loc[table["kind"] == "model", "method"]) == sorted(MODELS + ["train_dncnn"])
    assert (table["kind"] == "baseline").sum() >= 3
    assert np.isfinite(table["delta_si_sdr"]).all()
    assert (smoke / "comparison" / "report.html").stat().st_size > 10_000
    winner = re.search(r"winner: (\w+), mean ΔSI-SDR ([-+]\d+\.\d\d) dB", printed[NAMES[2]])
    assert winner, printed[NAMES[2]][-2000:]
    models = table[table["kind"] == "model"]
    top = models.loc[models["delta_si_sdr"].idxmax()]
    assert winner.group(1) == top["method"]
    assert float(winner.group(2)) == pytest.approx(top["delta_si_sdr"], abs=0.006)
    export = smoke / "export"
    name = winner.group(1)
    assert (export / f"{name}_savedmodel" / "saved_model.pb").is_file()
    assert (export / f"{name}_savedmodel" / "config.yaml").is_file()
    assert (export / f"{name}.tflite").stat().st_size > 1000
    assert (export / f"{name}.config.yaml").is_file()
    if importlib.util.find_spec("tf2onnx"):
        assert (export / f"{name}.onnx").stat().st_size > 1000
