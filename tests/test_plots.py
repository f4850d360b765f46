"""Report figures: real matplotlib PNGs of the expected size, not blank; validation errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from noisenil.evaluation.quality import metric_label
from noisenil.evaluation.report import plots, spectrograms
from noisenil.config import StftConfig
from noisenil.errors import ConfigError

SR = 16000
HOP = StftConfig().hop_length
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METHODS = [("dncnn", "model"), ("unet", "model"), ("wiener", "baseline"),
           ("log_mmse", "baseline"), ("noisy input", "input")]


def make_summary() -> pd.DataFrame:
    """2 models, 2 baselines and the noisy input at 0/5/10 dB; PESQ entirely NaN."""
    rows = []
    for k, (method, kind) in enumerate(METHODS):
        gain = {"model": 10.0 - k, "baseline": 4.0 - 0.5 * k, "input": 0.0}[kind]
        for snr in (0.0, 5.0, 10.0):
            rows.append({
                "method": method, "kind": kind, "snr_db": snr, "n": 4,
                "si_sdr_mean": snr + gain, "si_sdr_ci95": 0.8,
                "delta_si_sdr_mean": gain - 0.1 * snr, "delta_si_sdr_ci95": 0.5,
                "spectrogram_mse_mean": 0.05 / (1 + gain), "spectrogram_mse_ci95": 0.004,
                "delta_spectrogram_mse_mean": 0.05 / (1 + gain) - 0.05,
                "delta_spectrogram_mse_ci95": 0.003 if kind != "input" else math.nan,
                "pesq_mean": math.nan, "pesq_ci95": math.nan,
                "delta_pesq_mean": math.nan, "delta_pesq_ci95": math.nan,
            })
    return pd.DataFrame(rows)


def noisy_sine(seconds: float = 0.5, *, seed: int = 0) -> np.ndarray:
    """A 440 Hz tone at -12 dBFS plus white noise at -40 dBFS, float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.25 * np.sin(2 * np.pi * 440.0 * t)
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def read_png(path) -> np.ndarray:
    """RGB pixels of a PNG after checking its signature."""
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_SIGNATURE
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def expected_px(inches: float) -> int:
    return int(round(inches * plots.DPI))


@pytest.mark.parametrize("metric", ["si_sdr", "delta_si_sdr", "delta_spectrogram_mse"])
def test_metric_vs_snr_writes_a_png_of_fixed_size(tmp_path, metric):
    path = plots.metric_vs_snr(make_summary(), metric, tmp_path / "sub" / f"{metric}.png")
    assert path == tmp_path / "sub" / f"{metric}.png"
    pixels = read_png(path)
    w, h = plots.METRIC_FIGSIZE
    assert pixels.shape[:2] == (expected_px(h), expected_px(w))
    assert pixels.var() > 0


def test_metric_vs_snr_without_ci_column_and_a_custom_title(tmp_path):
    summary = make_summary().drop(columns=["si_sdr_ci95"])
    path = plots.metric_vs_snr(summary, "si_sdr", tmp_path / "a.png", title="SI-SDR, no CI")
    assert read_png(path).var() > 0


def test_metric_vs_snr_names_a_missing_metric(tmp_path):
    with pytest.raises(ConfigError, match="stoi") as info:
        plots.metric_vs_snr(make_summary(), "stoi", tmp_path / "stoi.png")
    assert info.value.key == "metric"
    assert not (tmp_path / "stoi.png").exists()


def test_metric_vs_snr_refuses_an_all_nan_metric(tmp_path):
    with pytest.raises(ConfigError, match="pesq"):
        plots.metric_vs_snr(make_summary(), "delta_pesq", tmp_path / "pesq.png")


def test_metric_plots_skips_metrics_without_values(tmp_path):
    summary = make_summary()
    assert plots.plottable_metrics(summary) == ["si_sdr", "delta_si_sdr", "spectrogram_mse",
                                                "delta_spectrogram_mse"]
    written = plots.metric_plots(summary, tmp_path, metrics=["delta_si_sdr", "delta_pesq"])
    assert list(written) == ["delta_si_sdr"]
    assert written["delta_si_sdr"] == tmp_path / "delta_si_sdr_vs_snr.png"
    assert written["delta_si_sdr"].is_file()


def test_metric_labels_carry_unit_direction_and_delta():
    assert metric_label("delta_si_sdr", arrow=True) == "ΔSI-SDR (dB) ↑"
    assert metric_label("spectrogram_mse", arrow=True) == "spectrogram MSE ↓"
    assert metric_label("stoi") == "STOI"


def test_spectrogram_db_is_relative_to_full_scale():
    cfg = StftConfig()
    k = 20  # a bin centre: the STFT peak of a full-scale tone is the reference, 0 dB
    t = np.arange(SR // 2) / SR
    tone = np.sin(2 * np.pi * k * SR / cfg.n_fft * t)
    spec = spectrograms.spectrogram_db(tone)
    assert spec.shape == (cfg.n_bins, 1 + tone.size // cfg.hop_length)
    assert spec.dtype == np.float32
    assert spec[k, 10:-10].max() == pytest.approx(0.0, abs=0.1)
    silence = spectrograms.spectrogram_db(np.zeros(1000))
    assert silence.max() == pytest.approx(spectrograms.DB_FLOOR)


def test_spectrogram_panels_share_one_scale_and_have_the_expected_size(tmp_path):
    noisy = noisy_sine()
    clean = 0.25 * np.sin(2 * np.pi * 440.0 * np.arange(noisy.size) / SR)
    panels = {"noisy": spectrograms.spectrogram_db(noisy),
              "denoised": spectrograms.spectrogram_db(clean),
              "clean": spectrograms.spectrogram_db(clean),
              "removed": spectrograms.spectrogram_db(noisy - clean)}
    path = spectrograms.spectrogram_panels(panels, sample_rate=SR, hop=HOP,
                                           path=tmp_path / "panels.png", title="one example")
    pixels = read_png(path)
    assert pixels.shape[:2] == (expected_px(3.3), expected_px(0.6 + 3.1 * 4))
    assert pixels.var() > 0


def test_spectrogram_grid_rows_by_columns_with_a_missing_cell(tmp_path):
    a, b = noisy_sine(seed=2), noisy_sine(0.4, seed=3)
    rows = [("ex1 @ 0 dB", {"noisy": spectrograms.spectrogram_db(a),
                            "dncnn": spectrograms.spectrogram_db(a * 0.5),
                            "clean": spectrograms.spectrogram_db(a * 0.2)}),
            ("ex2 @ 5 dB", {"noisy": spectrograms.spectrogram_db(b),
                            "clean": spectrograms.spectrogram_db(b)})]
    path = spectrograms.spectrogram_grid(rows, sample_rate=SR, hop=HOP,
                                         path=tmp_path / "grid.png")
    pixels = read_png(path)
    col_w = min(2.3, max(1.5, (spectrograms.GRID_WIDTH - 1.6) / 3))
    height, width = pixels.shape[:2]
    assert abs(height - (0.55 + 1.6 * 2) * plots.DPI) <= 1
    assert abs(width - (1.6 + col_w * 3) * plots.DPI) <= 1
    assert pixels.var() > 0


@pytest.mark.parametrize("kwargs, key", [
    ({"panels": {"x": np.zeros(10)}}, "panels"),
    ({"panels": {}}, "panels"),
    ({"hop": 0}, "hop"),
    ({"sample_rate": 16000.0}, "sample_rate"),
    ({"dynamic_range_db": 0.0}, "dynamic_range_db"),
])
def test_spectrogram_panels_validate(tmp_path, kwargs, key):
    args = {"panels": {"x": np.zeros((5, 6))}, "sample_rate": SR, "hop": HOP,
            "path": tmp_path / "x.png"} | kwargs
    with pytest.raises(ConfigError) as info:
        spectrograms.spectrogram_panels(**args)
    assert info.value.key == key


def test_spectrogram_grid_refuses_no_rows(tmp_path):
    with pytest.raises(ConfigError, match="rows"):
        spectrograms.spectrogram_grid([], sample_rate=SR, hop=HOP, path=tmp_path / "g.png")


def few_examples(n: int, ci: float, snrs=(-0.0, 5.0)) -> pd.DataFrame:
    """A model and the noisy input, ``n`` examples per SNR group (the first group "-0 dB")."""
    rows = []
    for method, kind, mse in (("unet", "model", 0.01), ("noisy input", "input", 0.03)):
        for snr in snrs:
            rows.append({"method": method, "kind": kind, "snr_db": snr, "n": n,
                         "spectrogram_mse_mean": mse, "spectrogram_mse_ci95": ci})
    return pd.DataFrame(rows)


def drawn_axes(summary, metric, tmp_path, monkeypatch):
    """The axes :func:`plots.metric_vs_snr` drew (its figure caught on the way to the PNG)."""
    caught = {}
    save = plots.save_png

    def keep(fig, path, **kw):
        caught["fig"] = fig
        return save(fig, path, **kw)

    monkeypatch.setattr(plots, "save_png", keep)
    plots.metric_vs_snr(summary, metric, tmp_path / f"{metric}.png")
    return caught["fig"].axes[0]


def test_one_or_two_examples_show_points_not_bands_and_no_minus_zero(tmp_path, monkeypatch):
    ax = drawn_axes(few_examples(2, ci=0.4), "spectrogram_mse", tmp_path, monkeypatch)
    assert len(ax.collections) == 0  # t = 12.7 at n = 2: no band
    assert ax.get_ylim()[0] >= 0.0  # an MSE axis never goes below zero
    assert any(line.get_marker() == "o" and line.get_color() == plots._INPUT_COLOR
               for line in ax.lines)  # the noisy input's points, as it has no band
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "5"]


def test_bands_are_clipped_to_the_metric_range(tmp_path, monkeypatch):
    ax = drawn_axes(few_examples(4, ci=0.4), "spectrogram_mse", tmp_path, monkeypatch)
    assert len(ax.collections) == 2  # one band per method
    lows = [p.get_paths()[0].vertices[:, 1].min() for p in ax.collections]
    assert min(lows) == 0.0 and ax.get_ylim()[0] >= 0.0
    # An improvement has no fixed range: its band is not clipped.
    delta = few_examples(4, ci=0.4).rename(columns=lambda c: c.replace("spectrogram",
                                                                       "delta_spectrogram"))
    ax = drawn_axes(delta, "delta_spectrogram_mse", tmp_path, monkeypatch)
    assert min(p.get_paths()[0].vertices[:, 1].min() for p in ax.collections) < 0.0
