"""``evaluate`` and ``compare``: per-file metrics with improvements over the input, per-SNR means
with 95% confidence intervals, speed, figures, and the report of a tiny tuning experiment."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

import keras
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import PROJECT_ROOT
from noisenil.cli import main
from noisenil.evaluation.comparison import budget_note, compare, find_models
from noisenil.config import load_config
from noisenil.inference.denoiser import Denoiser
from noisenil.models.saving import save_model
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.evaluation.evaluator import evaluate
from noisenil.evaluation.methods import Method, baseline_methods, input_method, model_method
from noisenil.evaluation.scoring import example_indices, score_methods, summarize
from noisenil.data.testset import load_test_set
from noisenil.tuning.experiment import tune

DEBUG = str(PROJECT_ROOT / "configs" / "debug.yaml")


def identity_denoiser(name="identity") -> Denoiser:
    inp = keras.Input((None, None, 1))
    return Denoiser(keras.Model(inp, keras.layers.Identity()(inp)), load_config(), name=name)


@pytest.fixture(scope="module")
def small_set(demo_dir):
    return load_test_set(demo_dir, snrs=(0.0, 10.0), max_files=2)


def test_improvements_are_measured_against_the_noisy_input(small_set):
    ident = model_method(identity_denoiser())
    # An oracle that knows the clean signal of the example being scored.
    clean_of = {id(e.noisy): e.clean for e in small_set.examples}
    def orc_fn(x, sr):
        clean = clean_of.get(id(x), x)  # the warm-up call gets a slice: pass it through
        return clean + 0.1 * (x - clean)

    orc = Method("oracle", "baseline", orc_fn)
    scores = score_methods(small_set, [input_method(), ident, orc], metrics=["snr", "si_sdr"],
                           keep=[0], progress=False)
    df = scores.metrics
    assert len(df) == 3 * len(small_set)
    noisy = df[df.method == "noisy input"]
    assert np.allclose(noisy.delta_snr, 0.0) and np.allclose(noisy.snr, noisy.input_snr,
                                                              atol=0.01)
    assert np.allclose(df[df.method == "identity"].delta_si_sdr, 0.0, atol=1e-3)
    assert np.allclose(df[df.method == "oracle"].delta_snr, 20.0, atol=0.01)  # noise / 10
    assert df[df.method == "oracle"].delta_spectrogram_mse.max() < 0
    assert df[df.method == "oracle"].delta_spectrogram_ssim.min() > 0
    assert set(scores.outputs) == {0} and set(scores.outputs[0]) == {"noisy input", "identity",
                                                                      "oracle"}
    with pytest.raises(ConfigError, match=r"duplicate names \['identity'\]"):
        score_methods(small_set, [ident, ident], progress=False)


def test_summary_means_and_student_t_confidence_intervals():
    df = pd.DataFrame(dict(method="m", kind="model", file=list("abcd"), snr_db=[0, 0, 0, 5],
                           si_sdr=[1.0, 2.0, 3.0, 7.0], delta_si_sdr=[0.5, 0.5, 0.5, 1.0]))
    s = summarize(df).set_index("snr_db")
    assert s.loc[0, "n"] == 3 and s.loc[0, "si_sdr_mean"] == pytest.approx(2.0)
    # sd 1, t(0.975, 2) = 4.3027 -> 4.3027 / sqrt(3)
    assert s.loc[0, "si_sdr_ci95"] == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5)
    assert s.loc[0, "delta_si_sdr_ci95"] == pytest.approx(0.0)
    assert s.loc[5, "n"] == 1 and np.isnan(s.loc[5, "si_sdr_ci95"])


def test_examples_for_figures_spread_over_the_snr_groups(small_set):
    picked = example_indices(small_set, 3)
    assert [small_set.examples[i].snr_db for i in picked] == [0.0, 10.0, 0.0]
    assert len(example_indices(small_set, 100)) == len(small_set)


def test_evaluate_writes_metrics_summary_and_figures(demo_dir, tmp_path):
    model_path = save_model(identity_denoiser().model, tmp_path / "ident.keras", load_config())
    res = evaluate(model_path, demo_dir, out_dir=tmp_path / "ev", snrs=(0.0, 10.0), max_files=2,
                   baselines=["wiener"], metrics=["snr", "si_sdr"], examples=2, progress=False)
    out = tmp_path / "ev"
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 3 * 4 and set(metrics.method) == {"noisy input", "ident", "wiener"}
    for col in ("file", "snr_db", "input_snr", "si_sdr", "noisy_si_sdr", "delta_si_sdr",
                "spectrogram_ssim", "delta_spectrogram_mse"):
        assert col in metrics.columns
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 3 * 2 and (summary.n == 2).all()
    assert {"si_sdr_mean", "si_sdr_ci95", "delta_si_sdr_mean"} <= set(summary.columns)
    comp = res.comparison.set_index("method")
    assert comp.loc["ident", "params"] == 0 and comp.loc["ident", "size_mb"] > 0
    assert comp.loc["ident", "source"] == str(model_path) and comp.loc["wiener", "source"] == ""
    assert comp.loc["ident", "rtf"] > 0 and comp.loc["ident", "patches_per_s"] > 0
    assert np.isnan(comp.loc["noisy input", "rtf"])
    assert len(res.figures) == 2 and all(p.suffix == ".png" and p.stat().st_size > 10_000
                                         for p in res.figures)


def test_find_models_reads_experiments_runs_and_files(tmp_path):
    exp = tmp_path / "exp"
    for name in ("unet", "dncnn"):
        (exp / name).mkdir(parents=True)
        identity_denoiser().model.save(exp / name / "best.keras")
    assert [p.parent.name for p in find_models(exp)] == ["dncnn", "unet"]
    (tmp_path / "run").mkdir()
    identity_denoiser().model.save(tmp_path / "run" / "model.keras")
    assert find_models([tmp_path / "run", exp / "unet" / "best.keras"])[0].name == "model.keras"
    (tmp_path / "run" / "state.json").write_text('{"epochs_done": 7}')
    run_model = tmp_path / "run" / "model.keras"
    assert "run: 0 parameters; a training run of 7 epochs of 256 steps of 16 patches of " \
           "128x128" in budget_note(Denoiser.from_file(run_model), run_model)
    (tmp_path / "empty" / "dncnn").mkdir(parents=True)
    (tmp_path / "empty" / "dncnn" / "best_hparams.yaml").write_text("{}")
    with pytest.raises(NoiseNilError, match="rerun `noisenil tune`"):
        find_models(tmp_path / "empty")
    with pytest.raises(NoiseNilError, match=r"models='.*missing': no such file or folder"):
        find_models(tmp_path / "missing")


def test_unknown_baseline_names_the_choices():
    with pytest.raises(ConfigError, match="'boll'"):
        baseline_methods(["boll"])


# --- compare on a tiny tuning experiment ------------------------------------------------------

class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def tiny_experiment(demo_dir, tmp_path_factory):
    results = tmp_path_factory.mktemp("tuning")
    cfg = load_config(DEBUG, overrides=[f"data.demo_dir={demo_dir}", f"tune.results_dir={results}",
                                        "train.tensorboard=false", "tune.models=[dncnn, unet]",
                                        "tune.max_trials=1"])
    tune(cfg, progress=False)
    return results / "debug"


def test_compare_reports_a_tuning_experiment_with_baselines(tiny_experiment, demo_dir, tmp_path):
    out = tmp_path / "cmp"
    table = compare(tiny_experiment, demo_dir, out_dir=out, snrs=(0.0, 10.0), max_files=2,
                    metrics=["snr", "si_sdr", "segmental_snr"], examples=2, progress=False)
    methods = ["noisy input", "dncnn", "unet", "spectral_subtraction", "wiener", "log_mmse"]
    assert list(table.method)[:len(methods)] == methods
    for col in ("kind", "params", "size_mb", "patches_per_s", "rtf", "si_sdr", "delta_si_sdr",
                "spectrogram_mse", "spectrogram_ssim"):
        assert col in table.columns
    models = table[table.kind == "model"]
    expected = [str(tiny_experiment / name / "best.keras") for name in ("dncnn", "unet")]
    assert list(models.source) == expected  # which file each row is
    assert (table[table.kind != "model"].source == "").all()
    assert (models.params > 0).all() and (models.rtf > 0).all()
    assert (models.patches_per_s > 0).all()
    for name in ("comparison.csv", "metrics.csv", "summary.csv", "report.md", "report.html"):
        assert (out / name).is_file(), name
    saved = pd.read_csv(out / "comparison.csv", keep_default_na=False)
    assert saved.shape == table.shape and list(saved.source) == list(table.source)
    assert len(list((out / "plots").glob("*_vs_snr.png"))) >= 4

    parser = _Collector()
    parser.feed((out / "report.html").read_text())
    images = [a["src"] for t, a in parser.tags if t == "img"]
    assert len(images) >= 5
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    sources = [a["src"] for t, a in parser.tags if t in ("audio", "source") and "src" in a]
    assert len(sources) >= 2 * len(methods)  # 2 examples x (clean, noisy, models, baselines)
    data, sr = sf.read(io.BytesIO(base64.b64decode(sources[0].split(",", 1)[1])))
    assert sr == 16000 and len(data) > 0
    headers = [t for t, _ in parser.tags].count("th")
    assert headers >= 10
    text = " ".join(parser.text)
    for name in methods:
        assert name in text
    assert "http://" not in (out / "report.html").read_text()
    assert "dncnn: " in (out / "report.md").read_text()
    assert "the best trial of a tuning experiment: at most 1 epochs of 4 steps of 4 patches of " \
           "32x32" in (out / "report.md").read_text()


def test_compare_and_evaluate_from_the_command_line(tiny_experiment, demo_dir, tmp_path, capsys):
    assert main(["-q", "compare", str(tiny_experiment), "--data", demo_dir, "--out",
                 str(tmp_path / "c"), "--snr", "5", "--max-files", "1", "--baselines", "wiener",
                 "--examples", "1"]) == 0
    printed = capsys.readouterr().out
    assert "dncnn" in printed and "wiener" in printed and "report.html" in printed
    assert main(["-q", "evaluate", "--model", str(tiny_experiment / "unet" / "best.keras"),
                 "--data", demo_dir, "--out", str(tmp_path / "e"), "--snr", "5",
                 "--max-files", "1", "--examples", "1"]) == 0
    assert (tmp_path / "e" / "summary.csv").is_file()
    assert main(["evaluate", "--model", str(tiny_experiment / "unet" / "best.keras")]) == 2
    assert "give --data DIR" in capsys.readouterr().err
