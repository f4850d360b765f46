"""How deep may the mask head cut? The ideal ratio mask at each floor ``model.min_gain_db``.

The mask head's gain per bin lies in ``[g_min, 1]``. A deeper floor lets a perfect network remove
more noise; a shallower one bounds the damage a wrong gain can do to speech and keeps pauses from
being gated to silence. This bench measures the first effect with the best mask there is: the
ideal ratio mask ``|S| / |X|`` (clean over noisy magnitude, capped at 1), clipped at each floor
and applied with the noisy phase through the project's own STFT and inverse, on real speech and
real noise of the config's **validation** split (never its test split) at each input SNR.

Usage:
    python bench/mask_floor.py [--config configs/bakeoff.yaml] [--files 24]
        [--floors -10 -20 -30 -40 -60] [--snr -5 0 5 10 15 20]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from noisenil import load_config
from noisenil.data.testset import load_test_set
from noisenil.dsp.features import istft, stft
from noisenil.dsp.measures import si_sdr


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/bakeoff.yaml")
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--floors", type=float, nargs="+", default=[-10, -20, -30, -40, -60])
    parser.add_argument("--snr", type=float, nargs="+", default=[-5, 0, 5, 10, 15, 20])
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    test = load_test_set(cfg, sample_rate=cfg.audio.sample_rate, snrs=args.snr,
                         max_files=args.files, split="val")
    rows: dict[float, dict[float, list[float]]] = {}
    noisy_scores: dict[float, list[float]] = {}
    for ex in test.examples:
        s, x = stft(ex.clean, cfg.stft), stft(ex.noisy, cfg.stft)
        irm = np.minimum(np.abs(s) / np.maximum(np.abs(x), 1e-12), 1.0)
        noisy_scores.setdefault(ex.snr_db, []).append(si_sdr(ex.clean, ex.noisy))
        for floor in args.floors:
            gain = np.maximum(irm, 10.0 ** (floor / 20.0))
            y = istft(gain * x, cfg.stft, length=ex.clean.size)
            rows.setdefault(floor, {}).setdefault(ex.snr_db, []).append(si_sdr(ex.clean, y))
    snrs = sorted(noisy_scores)
    print(f"{test.description}: {len(test)} examples")
    print("mean SI-SDR (dB) of the ideal ratio mask clipped at each floor, noisy phase")
    print("floor dB  " + "".join(f"{s:>8g}" for s in snrs))
    print("noisy     " + "".join(f"{np.mean(noisy_scores[s]):8.2f}" for s in snrs))
    for floor in args.floors:
        print(f"{floor:<10g}" + "".join(f"{np.mean(rows[floor][s]):8.2f}" for s in snrs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
