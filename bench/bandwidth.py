"""What a model's sample rate costs music before any denoising: the band it cannot give back.

A model at 22.05 kHz returns nothing above 11.025 kHz; one at 16 kHz nothing above 8 kHz. For
every clean file of a config's held-out **test** split, read at ``--full-rate`` (44.1 kHz), this
bench passes the file through each ``--rates`` rate and back (the resampler of the inference
path, :func:`noisenil.dsp.audio_io.resample`) and prints, per rate, the median and worst SI-SDR
of that round trip against the original (the ceiling of any model at that rate, dB) and the
share of the file's energy above the rate's Nyquist frequency (dB re the whole file).

Usage:
    python bench/bandwidth.py --config configs/music_model.yaml [--rates 16000 22050 32000]
        [--full-rate 44100] [--max-files 17]
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from noisenil import load_config
from noisenil.data.testset import load_test_set
from noisenil.dsp.audio_io import resample
from noisenil.dsp.measures import band_energy_db, si_sdr


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--rates", type=int, nargs="+", default=[16000, 22050, 32000])
    parser.add_argument("--full-rate", type=int, default=44100)
    parser.add_argument("--max-files", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    test = load_test_set(load_config(args.config), sample_rate=args.full_rate, snrs=[20.0],
                         max_files=args.max_files)
    print(f"{len(test.examples)} test files of {args.config} at {args.full_rate} Hz; round trip "
          f"through each rate (SI-SDR vs the original, dB) and the energy above its Nyquist")
    for rate in args.rates:
        ceiling, above = [], []
        for ex in test.examples:
            x = ex.clean
            back = resample(resample(x, args.full_rate, rate), rate, args.full_rate)[:x.size]
            back = np.pad(back, (0, x.size - back.size))  # the round trip may lose a sample
            ceiling.append(si_sdr(x, back))
            above.append(band_energy_db(x, args.full_rate, rate / 2)
                         - band_energy_db(x, args.full_rate))
        print(f"{rate:6d} Hz: SI-SDR ceiling median {np.median(ceiling):6.1f} dB, worst "
              f"{np.min(ceiling):6.1f} dB; energy above {rate / 2000:.2f} kHz median "
              f"{np.median(above):6.1f} dB, most {np.max(above):6.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
