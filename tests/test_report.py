"""Reports: best-per-metric ranking, number formats, report.md and a self-contained report.html
(parsed with the standard library), and a headless-browser rendering when chromium is installed."""

from __future__ import annotations

import base64
import io
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from noisenil.evaluation.report import plots, spectrograms
from noisenil.errors import ConfigError
from noisenil.evaluation.report.audio import AudioExample
from noisenil.evaluation.report.tables import best_per_metric, format_value
from noisenil.evaluation.report.writer import write_report

SR = 16000
NAN = math.nan
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSTALL_HINT = 'pip install "noisenil[eval]"'

# Constructed so that the answers are known:
# - delta_si_sdr (higher is better): best model unet, best baseline log_mmse, models win;
# - delta_stoi: best model dncnn (+0.05) but the baseline wiener (+0.08) is better;
# - delta_spectrogram_mse (LOWER is better): best model dncnn (-0.030), best baseline wiener
#   (-0.025); ranking it the wrong way round would pick log_mmse / unet;
# - pesq: every value NaN (the eval extra missing where the numbers were made).
COMPARISON = pd.DataFrame({
    "method": ["dncnn", "unet", "wiener", "log_mmse", "noisy input"],
    "kind": ["model", "model", "baseline", "baseline", "input"],
    "params": [37985, 32_600_000, NAN, NAN, NAN],
    "size_mb": [0.16, 124.6, NAN, NAN, NAN],
    "patches_per_s": [812.0, 40.5, 350.0, 290.0, NAN],
    "rtf": [0.0123, 0.21, 0.004, 0.006, NAN],
    "si_sdr": [12.0, 14.0, 9.0, 10.0, 5.0],
    "delta_si_sdr": [7.0, 9.0, 4.0, 5.0, 0.0],
    "stoi": [0.90, 0.89, 0.93, 0.86, 0.85],
    "delta_stoi": [0.05, 0.04, 0.08, 0.01, 0.0],
    "spectrogram_mse": [0.020, 0.030, 0.025, 0.040, 0.050],
    "delta_spectrogram_mse": [-0.030, -0.020, -0.025, -0.010, 0.0],
    "pesq": [NAN] * 5,
    "delta_pesq": [NAN] * 5,
})


def make_summary() -> pd.DataFrame:
    rows = []
    for _, r in COMPARISON.iterrows():
        for snr in (0.0, 5.0, 10.0):
            row = {"method": r["method"], "kind": r["kind"], "snr_db": snr, "n": 3}
            for m in ("si_sdr", "stoi", "spectrogram_mse", "pesq"):
                for col in (m, f"delta_{m}"):
                    row[f"{col}_mean"] = r[col] + (0.1 * snr if col == "si_sdr" else 0.0)
                    row[f"{col}_ci95"] = NAN if math.isnan(r[col]) else 0.5
            rows.append(row)
    return pd.DataFrame(rows)


def tone(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 330.0 * t) + 0.05 * rng.standard_normal(t.size)) \
        .astype(np.float32)


def make_audio() -> list[AudioExample]:
    out = []
    for k, (label, seconds) in enumerate([("ex_a @ 0 dB", 0.5), ("ex/b @ 5 dB", 0.25)]):
        clean = tone(seconds, k)
        noisy = clean + 0.1 * np.random.default_rng(10 + k).standard_normal(clean.size)
        signals = {"clean": clean, "noisy": noisy.astype(np.float32)}
        signals |= {m: (0.5 * (clean + noisy)).astype(np.float32)
                    for m in ("dncnn", "unet", "wiener", "log_mmse")}
        out.append(AudioExample(label, SR, signals))
    return out


class Page(HTMLParser):
    """Collects tables (header texts, body rows of cell texts and classes), images, audio
    sources, every attribute value, the script text and the visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.imgs, self.audio, self.attrs, self.scripts = [], [], [], [], []
        self.text = []
        self._table = self._cell = self._row = None
        self._section = None
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs += [v for _, v in attrs if v]
        if tag == "table":
            self._table = {"attrs": a, "head": [], "rows": []}
            self.tables.append(self._table)
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr" and self._table is not None and self._section == "tbody":
            self._row = []
            self._table["rows"].append(self._row)
        elif tag in ("td", "th") and self._table is not None:
            self._cell = {"text": "", "class": a.get("class", ""), "v": a.get("data-v")}
            if self._section == "thead":
                self._table["head"].append(self._cell)
            elif self._row is not None:
                self._row.append(self._cell)
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag in ("audio", "source") and a.get("src"):
            self.audio.append(a["src"])
        elif tag == "script":
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell["text"] += data


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    summary = make_summary()
    figs = plots.metric_plots(summary, out / "figures", metrics=["delta_si_sdr",
                                                                 "delta_spectrogram_mse"])
    audio = make_audio()
    grid_rows = [(ex.label, {n: spectrograms.spectrogram_db(ex.signals[n])
                             for n in ("noisy", "dncnn", "clean")}) for ex in audio]
    grid = spectrograms.spectrogram_grid(grid_rows, sample_rate=SR, hop=64,
                                         path=out / "figures" / "grid.png")
    md, html_path = write_report(out, title="Test <report> & co", comparison=COMPARISON,
                                 summary=summary, metric_plots=figs,
                                 grids=[("noisy / dncnn / clean", grid)], audio=audio,
                                 notes=["data: synthetic tones", "budget: none"])
    page = Page()
    page.feed(html_path.read_text(encoding="utf-8"))
    return {"out": out, "md": md, "html": html_path, "page": page, "audio": audio,
            "figs": figs}


def table(page: Page, cls: str) -> dict:
    found = [t for t in page.tables if cls in t["attrs"].get("class", "").split()]
    assert len(found) == 1, f"expected one table of class {cls}"
    return found[0]


# --- best per metric, formats -----------------------------------------------------------------

def test_best_per_metric_follows_each_metrics_direction():
    best = best_per_metric(COMPARISON).set_index("metric")
    assert list(best.index) == ["si_sdr", "stoi", "spectrogram_mse"]  # pesq: no values
    assert best.loc["si_sdr", ["best", "value", "best_baseline", "baseline_value"]].tolist() \
        == ["unet", 9.0, "log_mmse", 5.0]
    assert best.loc["si_sdr", "beats_baselines"] is True
    assert best.loc["stoi", ["best", "best_baseline"]].tolist() == ["dncnn", "wiener"]
    assert best.loc["stoi", "beats_baselines"] is False
    mse = best.loc["spectrogram_mse"]
    assert (mse["column"], mse["best"], mse["best_baseline"]) == \
        ("delta_spectrogram_mse", "dncnn", "wiener")
    assert mse["value"] == pytest.approx(-0.030)
    assert mse["beats_baselines"] is True


def test_best_per_metric_ranks_scores_when_there_is_no_delta():
    scores = COMPARISON.drop(columns=[c for c in COMPARISON if c.startswith("delta_")])
    best = best_per_metric(scores).set_index("metric")
    assert best.loc["spectrogram_mse", ["column", "best", "best_baseline"]].tolist() == \
        ["spectrogram_mse", "dncnn", "wiener"]
    assert best.loc["stoi", "best"] == "dncnn"


def test_best_per_metric_without_baselines_and_other_kinds():
    models = COMPARISON[COMPARISON["kind"] != "baseline"]
    best = best_per_metric(models).set_index("metric")
    assert best.loc["si_sdr", "best_baseline"] is None
    assert best.loc["si_sdr", "beats_baselines"] is None
    assert best_per_metric(COMPARISON, kinds=("baseline",)).iloc[0]["best"] == "log_mmse"
    with pytest.raises(ConfigError, match="kind"):
        best_per_metric(COMPARISON.drop(columns=["kind"]))


@pytest.mark.parametrize("column, value, text", [
    ("si_sdr", 12.3456, "12.35"),
    ("delta_si_sdr", -1.5, "−1.50"),
    ("delta_snr", 3.0, "+3.00"),
    ("pesq", 2.71828, "2.718"),
    ("stoi", 0.9, "0.900"),
    ("spectrogram_ssim", 0.51234, "0.512"),
    ("spectrogram_mse", 0.0236, "0.02360"),
    ("spectrogram_mse", 1.23456e-5, "1.235e−05"),
    ("params", 37985, "37,985"),
    ("params", 32_600_000, "32.6 M"),
    ("size_mb", 0.1612, "0.16"),
    ("rtf", 0.0123456, "0.0123"),
    ("rtf", 0.047, "0.0470"),
    ("rtf", NAN, "—"),
    ("stoi", None, "—"),
])
def test_format_value(column, value, text):
    assert format_value(column, value) == text


def test_audio_example_validates():
    with pytest.raises(ConfigError, match="noisy"):
        AudioExample("x", SR, {"noisy": np.zeros((2, 10))})
    with pytest.raises(ConfigError, match="sample_rate"):
        AudioExample("x", 0, {"noisy": np.zeros(10)})


# --- report.html ------------------------------------------------------------------------------

def test_html_comparison_table_sorted_with_metric_and_cost_columns(report):
    comp = table(report["page"], "comparison")
    head = [c["text"] for c in comp["head"]]
    assert head[:2] == ["method", "kind"]
    for label in ("SI-SDR", "STOI", "spectrogram MSE", "params", "RTF"):
        assert any(h.startswith(label) for h in head), (label, head)
    assert not any("PESQ" in h for h in head)  # all NaN: said not available instead
    rows = comp["rows"]
    assert len(rows) == len(COMPARISON)
    assert all(len(r) == len(head) for r in rows)
    # best first by the first metric's improvement (delta_si_sdr)
    assert [r[0]["text"] for r in rows] == ["unet", "dncnn", "log_mmse", "wiener",
                                            "noisy input"]
    si = next(i for i, h in enumerate(head) if h.startswith("SI-SDR"))
    mse = next(i for i, h in enumerate(head) if h.startswith("spectrogram MSE"))
    assert "best" in rows[0][si]["class"] and "best" not in rows[1][si]["class"]
    assert rows[0][si]["text"].startswith("14.00") and "Δ +9.00" in rows[0][si]["text"]
    assert "best" in rows[1][mse]["class"]  # dncnn: the lowest MSE
    assert float(rows[1][mse]["v"]) == pytest.approx(-0.03)
    params = head.index("params")
    assert rows[0][params]["text"] == "32.6 M" and rows[1][params]["text"] == "37,985"
    assert rows[4][params]["v"] == "" and rows[4][params]["text"] == "—"
    rtf = next(i for i, h in enumerate(head) if h.startswith("RTF"))
    assert "81× real time" in rows[1][rtf]["text"]


def test_html_is_self_contained(report):
    page, text = report["page"], report["html"].read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    for value in page.attrs:
        assert not value.startswith(("file:", "/", "..")), value
    assert "<link" not in text and "<script src" not in text
    assert len(page.imgs) == len(report["figs"]) + 1
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_SIGNATURE


def test_html_audio_players_hold_the_right_wavs(report):
    page, audio = report["page"], report["audio"]
    assert len(page.audio) == sum(len(ex.signals) for ex in audio)
    lengths = {ex.signals["clean"].size for ex in audio}
    for src in page.audio:
        assert src.startswith("data:audio/wav;base64,")
        raw = base64.b64decode(src.split(",", 1)[1])
        assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
        info = sf.info(io.BytesIO(raw))
        assert (info.samplerate, info.subtype) == (SR, "PCM_16")
        assert info.frames in lengths
    players = table(page, "audio")
    assert [c["text"] for c in players["head"]] == ["signal"] + [ex.label for ex in audio]
    names = [r[0]["text"].split()[0] for r in players["rows"]]
    assert names[:2] == ["clean", "noisy"]  # then the methods, best first
    assert names[2:] == ["unet", "dncnn", "log_mmse", "wiener"]


def test_html_sort_script_best_table_legend_and_missing_metric(report):
    page = report["page"]
    script = "".join(page.scripts)
    assert "table.sortable" in script and "addEventListener" in script
    assert "sortable" in table(page, "comparison")["attrs"]["class"]
    best = {r[0]["text"]: [c["text"] for c in r[1:]]
            for r in table(page, "best-per-metric")["rows"]}
    assert best["ΔSI-SDR (dB) ↑"][0] == "unet"
    assert best["ΔSTOI ↑"][0] == "dncnn" and best["ΔSTOI ↑"][-1] == "no"
    assert best["Δspectrogram MSE ↓"][:4] == ["dncnn", "−0.03000", "wiener", "−0.02500"]
    text = " ".join("".join(page.text).split())
    assert f"PESQ: not available ({INSTALL_HINT})" in text
    assert "Test <report> & co" in text  # escaped in the file, the same text once parsed
    assert "<report>" not in report["html"].read_text(encoding="utf-8")
    for words in ("higher is better", "lower is better", "improvement over the noisy input",
                  "data: synthetic tones"):
        assert words in text


def test_html_per_snr_table(report):
    by_snr = table(report["page"], "by-snr")
    assert [c["text"] for c in by_snr["head"]] == ["method", "0 dB (n=3)", "5 dB (n=3)",
                                                  "10 dB (n=3)"]
    assert [c["text"] for c in by_snr["rows"][0]] == ["unet", "+9.00 ± 0.50", "+9.00 ± 0.50",
                                                     "+9.00 ± 0.50"]


# --- report.md and audio files ----------------------------------------------------------------

def test_markdown_tables_links_and_audio_files(report):
    out, md = report["out"], report["md"].read_text(encoding="utf-8")
    assert md.startswith("# Test <report> & co")
    assert "| method | kind | SI-SDR (dB ↑) |" in md
    assert "| unet | model | **14.00 (+9.00)** |" in md
    assert f"PESQ: {'not available'} ({INSTALL_HINT})" in md
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(images) == len(report["figs"]) + 1
    wavs = re.findall(r"\[▶ wav\]\(([^)]+)\)", md)
    assert len(wavs) == sum(len(ex.signals) for ex in report["audio"])
    for link in images + wavs:
        assert not Path(link).is_absolute() and (out / link).is_file(), link
    ex = report["audio"][1]  # "ex/b @ 5 dB": the slash must not make a sub-folder
    data, rate = sf.read(out / "audio" / "ex_b_5_dB" / "clean.wav")
    assert rate == SR and data.shape == ex.signals["clean"].shape
    assert np.max(np.abs(data - ex.signals["clean"])) < 1e-4  # 16-bit quantisation
    assert sf.info(out / "audio" / "ex_a_0_dB" / "noisy.wav").subtype == "PCM_16"


def test_write_report_validates_and_clips(tmp_path, caplog):
    with pytest.raises(ConfigError, match="missing.png"):
        write_report(tmp_path, title="t", comparison=COMPARISON,
                     metric_plots={"si_sdr": tmp_path / "missing.png"})
    with pytest.raises(ConfigError, match="method"):
        write_report(tmp_path, title="t", comparison=COMPARISON.drop(columns=["method"]))
    loud = AudioExample("loud", SR, {"noisy": np.full(800, 1.5, dtype=np.float32)})
    md, html_path = write_report(tmp_path, title="t", comparison=COMPARISON, audio=[loud])
    assert "clipped" in caplog.text
    data, _ = sf.read(tmp_path / "audio" / "loud" / "noisy.wav")
    assert data.max() == pytest.approx(1.0, abs=1e-4)
    assert md.is_file() and html_path.is_file()


# --- a real browser ---------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium(report, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--screenshot={shot}", "--window-size=1280,2400",
                    report["html"].resolve().as_uri()],
                   check=True, timeout=90, capture_output=True)
    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.var() > 100  # text, tables and figures, not a blank page
    assert (pixels < 128).mean() > 0.005  # some dark ink



def _orders_after_clicks(html_file: Path, out: Path, clicks: list[int]) -> list[list[str]]:
    """Method order of the comparison table after each header click, as chromium runs it."""
    script = ("var th = document.querySelectorAll('#comparison th[data-col]'), out = [];"
              f"{clicks}.forEach(function (i) {{ th[i].click(); out.push("
              "Array.prototype.map.call(document.querySelector('#comparison').tBodies[0].rows,"
              " function (r) { return r.cells[0].textContent; }).join('|')); });"
              "document.body.insertAdjacentHTML('beforeend', '<pre id=\"orders\">' + "
              "out.join('\\n') + '</pre>');")
    copy = out / "clicked.html"
    copy.write_text(html_file.read_text(encoding="utf-8").replace(
        "</main></body>", f"</main><script>{script}</script></body>"), encoding="utf-8")
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", copy.resolve().as_uri()],
                         check=True, timeout=90, capture_output=True, text=True).stdout
    found = re.findall(r'<pre id="orders">(.*?)</pre>', dom, re.S)  # the script's text too
    assert len(found) == 2, "the injected script did not run"
    return [line.split("|") for line in found[-1].splitlines()]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_sort_script_in_headless_chromium(report, tmp_path):
    head = [c["text"] for c in table(report["page"], "comparison")["head"]]
    mse = next(i for i, h in enumerate(head) if h.startswith("spectrogram MSE"))
    params = head.index("params")
    by_mse, by_params, by_params_desc, by_name = _orders_after_clicks(
        report["html"], tmp_path, [mse, params, params, 0])
    # first click: best first, which for the MSE is the lowest (most negative) improvement
    assert by_mse == ["dncnn", "wiener", "unet", "log_mmse", "noisy input"]
    # numeric, not text, order (37,985 < 32.6 M); NaN last in both directions
    assert by_params[:2] == ["dncnn", "unet"]
    assert by_params_desc[:2] == ["unet", "dncnn"]
    assert by_name == ["dncnn", "log_mmse", "noisy input", "unet", "wiener"]


def test_a_group_just_below_0_db_is_headed_0_db():
    from noisenil.evaluation.report.tables import headline_summary

    summary = pd.DataFrame({"method": ["unet", "unet"], "kind": ["model", "model"],
                            "snr_db": [-0.0, 5.0], "n": [2, 2], "si_sdr_mean": [3.0, 8.0],
                            "si_sdr_ci95": [1.0, 1.0]})
    _, headers, _ = headline_summary(summary, ["unet"], ["si_sdr"])
    assert headers == ["0 dB (n=2)", "5 dB (n=2)"]
