"""Models and classical baselines on real noisy/clean pairs, file by file.

Every pair under ``<audio>/fixtures/paired`` (VoiceBank-DEMAND's ``clean/`` + ``noisy/`` twins,
PESQ's babble pair, DeepFilterNet's 48 kHz pair: a ``clean*`` and a ``noisy*`` file in one
folder) is denoised at its own rate by each model (through the one inference path,
:meth:`Denoiser.denoise`) and each baseline, and scored against its clean twin. Prints, per file,
SI-SDR, PESQ and STOI of the noisy input and each method's gain over it (ΔSI-SDR, ΔPESQ), and
writes the table to ``--out`` as CSV. PESQ is wide-band at 16 kHz (other rates resampled by
:func:`~noisenil.evaluation.perceptual.pesq_score`).

Usage:
    python bench/paired.py MODEL [MODEL ...] [--baselines wiener,log_mmse] [--out paired.csv]
        [--audio ../shared/audio]

MODEL is any form ``noisenil denoise --model`` takes (``default``, a ``.keras`` file, a run folder).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import pandas as pd

from noisenil.dsp.audio_io import load_audio
from noisenil.evaluation.methods import NOISY_INPUT, methods_for
from noisenil.evaluation.quality import audio_scores
from noisenil.inference.denoiser import Denoiser
from noisenil.models.locate import find_models


def pairs(root: Path) -> list[tuple[str, Path, Path]]:
    """``(name, clean, noisy)`` for every real pair below ``root``, sorted by name."""
    out = []
    for clean_dir in sorted(root.rglob("clean")):
        if clean_dir.is_dir() and (clean_dir.parent / "noisy").is_dir():
            for clean in sorted(clean_dir.glob("*.wav")):
                noisy = clean_dir.parent / "noisy" / clean.name
                if noisy.is_file():
                    out.append((f"{clean_dir.parent.name}/{clean.stem}", clean, noisy))
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        cleans, noisies = sorted(folder.glob("clean*.wav")), sorted(folder.glob("noisy*.wav"))
        if len(cleans) == 1 and len(noisies) == 1:
            out.append((folder.name, cleans[0], noisies[0]))
    return sorted(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--baselines", default="wiener,log_mmse")
    parser.add_argument("--out", default="bench_paired.csv")
    here = Path(__file__).resolve().parents[1]
    parser.add_argument("--audio", default=os.environ.get("NOISENIL_AUDIO_DIR",
                                                          str(here.parent / "shared" / "audio")),
                        help="the real-audio folder (holding fixtures/paired)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    root = Path(args.audio) / "fixtures" / "paired"
    found = pairs(root)
    if not found:
        print(f"no real pairs under {root}", file=sys.stderr)
        return 2
    # The noisy input first (its scores are what the gains are over), then models, baselines.
    methods = methods_for([(Denoiser.from_file(path), path) for form in args.models
                           for path in find_models(form)], args.baselines)
    rows = []
    for name, clean_path, noisy_path in found:
        clean, sr = load_audio(clean_path)
        noisy, _ = load_audio(noisy_path, sample_rate=sr)
        n = min(clean.size, noisy.size)
        clean, noisy = clean[:n], noisy[:n]
        base = None
        for m in methods:  # PESQ resamples other rates to 16 kHz wide-band itself
            s = audio_scores(clean, m.fn(noisy, sr)[:n], sample_rate=sr,
                             metrics=["si_sdr", "pesq", "stoi"])
            base = base or s
            rows.append({"pair": name, "sample_rate": sr, "seconds": n / sr, "method": m.name,
                         **s, "delta_si_sdr": s["si_sdr"] - base["si_sdr"],
                         "delta_pesq": s["pesq"] - base["pesq"]})
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out, index=False)
    pd.set_option("display.width", 200)
    for column in ("delta_si_sdr", "delta_pesq", "stoi"):
        print(f"\n{column} (noisy: {'SI-SDR/PESQ of the input' if column != 'stoi' else 'STOI'})")
        table = frame.pivot(index="pair", columns="method", values=column)
        print(table[list(dict.fromkeys(frame["method"]))].round(3).to_string())
    noisy = frame[frame.method == NOISY_INPUT].set_index("pair")
    print("\nnoisy input: " + ", ".join(f"{p} SI-SDR {r.si_sdr:.2f} dB PESQ {r.pesq:.2f}"
                                        for p, r in noisy.iterrows()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
