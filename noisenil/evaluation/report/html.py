"""The HTML half of a report (see :mod:`noisenil.evaluation.report.writer`): one
self-contained ``report.html``.

PNGs and WAVs are inlined as base64 ``data:`` URIs; CSS and the small script that sorts the
comparison table by any column are inline too, so the file references no other file and no URL.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from noisenil.evaluation.quality import METRIC_INFO, metric_label
from noisenil.evaluation.report.audio import slug
from noisenil.evaluation.report.content import ReportContent
from noisenil.evaluation.report.tables import (BEST_HEADERS, KIND_LEGEND, Column, best_rows,
                                               best_table_rows, finite, format_value,
                                               plot_caption, times_real_time)

_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d8dee4;--head:#f1f3f5;--zebra:#f8f9fb;--best:#dff3e4}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:#fff;line-height:1.45;font-size:15px;
 font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:28px 24px 56px}
h1{font-size:1.65rem;margin:0 0 .6rem}
h2{font-size:1.2rem;margin:2.2rem 0 .7rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
p,li{max-width:80ch}
.muted,figcaption,.hint{color:var(--muted)}
.hint{font-size:.85rem;margin:.4rem 0}
ul.notes{margin:.2rem 0 1rem;padding-left:1.2rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.86rem;margin:.3rem 0}
th,td{padding:5px 9px;border-bottom:1px solid var(--line);white-space:nowrap}
thead th{background:var(--head);font-weight:600;text-align:center;vertical-align:bottom}
thead tr.group th{border-bottom:none;font-size:.8rem}
th.l,td.l{text-align:left}
tbody tr:nth-child(even){background:var(--zebra)}
tbody tr:hover{background:#eef4ff}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:700;background:var(--best)}
td.na{color:#9aa4ae;text-align:center}
th.sort{cursor:pointer;user-select:none}
th.sort:hover{background:#e4e8ec}
th.sort[aria-sort]{background:#e4e8ec}
th.sort[aria-sort=ascending]::after{content:"\\25B2";display:block;font-size:.6rem}
th.sort[aria-sort=descending]::after{content:"\\25BC";display:block;font-size:.6rem}
.sub{display:block;font-size:.74rem;font-weight:400;color:var(--muted)}
thead .unit{display:block;font-size:.72rem;font-weight:400;color:var(--muted)}
table.comparison th{white-space:normal;min-width:4.2em}
.kind{display:inline-block;padding:0 7px;border-radius:9px;font-size:.76rem}
.kind-model{background:#dbeafe}.kind-baseline{background:#fdf0c8}.kind-input{background:#e7e9ec}
dl.legend{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;font-size:.88rem;
 margin:.4rem 0}
dl.legend dt{font-weight:600}dl.legend dd{margin:0}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(500px,1fr));gap:18px 22px}
figure{margin:0}
figure img{display:block;max-width:100%;height:auto;border:1px solid #eceff2;border-radius:4px}
.figs figure img{width:100%}
figcaption{font-size:.85rem;margin-top:.3rem}
figure.wide{margin:0 0 22px}
table.audio td{padding:5px 8px;vertical-align:middle}
table.audio th.ex{white-space:normal;max-width:186px;font-size:.8rem}
table.audio audio{width:170px;height:32px;display:block}
"""

_SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("th[data-col]");
  heads.forEach(function (th) {
    th.addEventListener("click", function () {
      var col = +th.dataset.col, body = table.tBodies[0];
      var cur = th.getAttribute("aria-sort");
      var asc = cur ? cur !== "ascending" : th.dataset.first !== "desc";
      var key = function (row) {
        var cell = row.cells[col];
        if (cell.dataset.v === undefined) { return cell.textContent.trim().toLowerCase(); }
        return cell.dataset.v === "" ? null : parseFloat(cell.dataset.v);
      };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (row) { body.appendChild(row); });
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    });
  });
});
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _html_comparison(table: pd.DataFrame, columns: Sequence[Column]) -> list[str]:
    out = ['<div class="scroll"><table class="sortable comparison" id="comparison">',
           "<thead><tr>",
           '<th class="sort l" data-col="0" data-first="asc">method</th>',
           '<th class="sort l" data-col="1" data-first="asc">kind</th>']
    out += [f'<th class="sort" data-col="{i + 2}" data-first="{c.first_sort}">{_e(c.header)}'
            f'<span class="unit">{_e(c.unit)}</span></th>' for i, c in enumerate(columns)]
    out.append("</tr></thead><tbody>")
    best = {c.key: best_rows(table, c.key) for c in columns if c.is_metric}
    for i, row in table.iterrows():
        kind = str(row["kind"])
        cells = [f'<td class="l">{_e(row["method"])}</td>',
                 f'<td class="l"><span class="kind kind-{_e(slug(kind))}">{_e(kind)}</span></td>']
        for c in columns:
            v = finite(row[c.key])  # the ranked value: sort key and highlight
            if c.is_metric:
                shown = c.score or c.delta
                text = _e(format_value(shown, row[shown]))
                if c.score and c.delta and finite(row[c.delta]) is not None:
                    text += f'<span class="sub">Δ {_e(format_value(c.delta, row[c.delta]))}</span>'
            else:
                text = _e(format_value(c.key, v))
                if c.key == "rtf" and v is not None:
                    text += f'<span class="sub">{_e(times_real_time(v))}</span>'
            if text == "—":
                cells.append('<td class="na" data-v="">—</td>')
                continue
            cls = "num best" if i in best.get(c.key, ()) else "num"
            cells.append(f'<td class="{cls}" data-v="{"" if v is None else repr(v)}">{text}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _html_simple_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str,
                       cls: str = "") -> list[str]:
    out = [f'<div class="scroll"><table class="{cls}"><thead><tr>']
    out += [f'<th class="{"l" if a == "l" else ""}">{_e(h)}</th>'
            for h, a in zip(headers, align, strict=True)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        tds = []
        for cell, a in zip(row, align, strict=True):
            tds.append(f'<td class="{"l" if a == "l" else "num" if a == "r" else ""}">'
                       f"{_e(cell)}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _html_legend(c: ReportContent) -> list[str]:
    out = ["<h2>How to read it</h2>", '<dl class="legend">']
    for kind, text in KIND_LEGEND.items():
        out.append(f'<dt><span class="kind kind-{kind}">{kind}</span></dt><dd>{_e(text)}</dd>')
    for m in c.available:
        info = METRIC_INFO[m]
        direction = "↑ higher is better" if info.higher_is_better else "↓ lower is better"
        unit = f"in {info.unit}, " if info.unit else ""
        out.append(f"<dt>{_e(info.label)}</dt><dd>{_e(unit + direction)}</dd>")
    for m, why in c.missing.items():
        out.append(f"<dt>{_e(METRIC_INFO[m].label)}</dt><dd>{_e(why)}</dd>")
    out += ["<dt>Δ</dt><dd>improvement over the noisy input, same unit and direction as the "
            "metric</dd>",
            "<dt>RTF</dt><dd>real-time factor: processing seconds per second of audio (lower "
            "is faster); N× real time = 1 / RTF</dd>",
            "<dt>speed</dt><dd>128×128 spectrogram patches processed per second</dd>",
            "</dl>"]
    return out


def _html_audio(c: ReportContent) -> list[str]:
    """Players: one column per example, one row per signal (a row per method stays narrow)."""
    kinds = dict(zip(c.table["method"], c.table["kind"], strict=True))
    kinds.update(noisy="input")
    out = ["<h2>Audio examples</h2>",
           '<p class="hint">One column per test example, one row per signal (16-bit WAV, not '
           "resampled).</p>",
           '<div class="scroll"><table class="audio"><thead><tr><th class="l">signal</th>']
    out += [f'<th class="ex">{_e(ex.label)}</th>' for ex in c.audio]
    out.append("</tr></thead><tbody>")
    for n in c.signal_order:
        kind = kinds.get(n, "")
        tag = (f' <span class="kind kind-{_e(slug(kind))}">{_e(kind)}</span>'
               if kind in KIND_LEGEND else "")
        cells = [f'<td class="l">{_e(n)}{tag}</td>']
        for ex, paths in zip(c.audio, c.audio_paths, strict=True):
            if n in paths:
                cells.append(f'<td><audio controls preload="metadata" '
                             f'title="{_e(ex.label)}: {_e(n)}" '
                             f'src="{_data_uri(paths[n], "audio/wav")}"></audio></td>')
            else:
                cells.append('<td class="na">—</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return out


def render_html(c: ReportContent) -> str:
    """The text of ``report.html``: one file, every figure and WAV inlined."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(c.title)}</title>", f"<style>{_CSS}</style></head><body><main>",
           f"<h1>{_e(c.title)}</h1>"]
    if c.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in c.notes)
                   + "</ul>")
    out += ["<h2>Comparison</h2>",
            '<p class="hint">Each metric cell: the mean score and, beneath it, Δ, the mean '
            "improvement over the noisy input. Click a column header to sort (first click: best "
            "first). Bold green: best of the metric among models and baselines.</p>"]
    out += _html_comparison(c.table, c.columns)
    out += [f'<p class="hint"><b>{_e(METRIC_INFO[m].label)}</b>: {_e(why)}</p>'
            for m, why in c.missing.items()]
    out += _html_legend(c)
    if not c.best.empty:
        out.append("<h2>Best model per metric</h2>")
        out += _html_simple_table(BEST_HEADERS, best_table_rows(c.best), "llrlrc",
                                  "best-per-metric")
    if c.headline is not None:
        col, snr_headers, rows = c.headline
        out += [f"<h2>{_e(metric_label(col, arrow=True))} by input SNR</h2>",
                '<p class="hint">Mean ± half-width of the 95 % confidence interval; n = files '
                "per group.</p>"]
        out += _html_simple_table(["method"] + snr_headers, rows, "l" + "r" * len(snr_headers),
                                  "by-snr")
    if c.plots:
        out += ["<h2>Metrics vs input SNR</h2>", '<div class="figs">']
        for key, path in c.plots.items():
            cap = plot_caption(key)
            out.append(f'<figure><img alt="{_e(cap)}" src="{_data_uri(path, "image/png")}">'
                       f"<figcaption>{_e(cap)}</figcaption></figure>")
        out.append("</div>")
    if c.grids:
        out.append("<h2>Spectrograms</h2>")
        out += [f'<figure class="wide"><img alt="{_e(caption)}" '
                f'src="{_data_uri(path, "image/png")}"><figcaption>{_e(caption)}</figcaption>'
                "</figure>" for caption, path in c.grids]
    if c.audio:
        out += _html_audio(c)
    out += [f"<script>{_SORT_SCRIPT}</script>", "</main></body></html>", ""]
    return "\n".join(out)
