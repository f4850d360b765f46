"""Would an int8 network reach issue 14's 100x? Static int8 quantization of a shipped ONNX model.

The network is ~75 % of the time ``noisenil denoise`` spends on a 10-minute file, most of it in
convolutions, so int8 kernels are the one way to a faster network without retraining. This bench
quantizes a shipped model's ``.onnx`` export with onnxruntime's static quantization (QDQ, int8
weights per output channel, uint8 activations per tensor) calibrated on the chunks the real
inference path feeds the network (level-normalised features, the chunk plan's widths) on
mixtures of the config's **validation** split, and compares it with the float network on the
**test** split through the one inference path (the scoring core of ``noisenil compare``):

- ΔSI-SDR by input SNR, the clean condition and the telephone band (means), as
  ``bench/conditions.py`` prints them;
- the worst files: SI-SDR lost against the float model, and the SI-SDR of the int8 output
  against the float output (how far from the same network it is);
- microseconds per frame of each network on one chunk (median of ``--repeats``; compare the two
  within one run, as the machine's load moves both).

Options are the choices measured (README, "Speed"): ``--ops`` the operator types quantized
(``all`` or a comma list such as ``Conv``), ``--quantize-head`` also the nodes after the last
convolution (the mask head's sigmoid, power and product with the input), ``--calibrate``
``MinMax`` or ``Percentile`` (99.999 %), ``--calibration-files`` clean validation files, each
mixed at every ``--snr``.

    python bench/onnx_int8.py                                   # MinMax, 24 files, head float
    python bench/onnx_int8.py --calibration-files 8 --calibrate Percentile --max-files 12
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditions import clean_condition, narrowband_condition, table  # noqa: E402


class _Recorder:
    """A network that keeps a copy of every chunk it is given, one ``(1, F, T, C)`` array each."""

    def __init__(self, network, keep: list):
        self.network, self.keep = network, keep

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.keep.extend(np.array(batch[i:i + 1], np.float32) for i in range(batch.shape[0]))
        return self.network(batch)


def calibration_chunks(den, signals, sample_rate: int) -> list[np.ndarray]:
    """The network inputs the one inference path makes of ``signals``."""
    from noisenil.inference.denoiser import Denoiser

    chunks: list[np.ndarray] = []
    recorder = Denoiser(_Recorder(den.predict, chunks), den.cfg, name="calibration",
                        batch_size=den.batch_size, max_gain_db=den.max_gain_db)
    for signal in signals:
        recorder.denoise(signal, sample_rate)
    return chunks


def quantize(src: Path, dst: Path, chunks: list[np.ndarray], *, ops: list[str] | None,
             quantize_head: bool, method: str) -> Path:
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method != "MinMax":  # histograms need one shape: the full-width chunks only
        width = max(c.shape[2] for c in chunks)
        chunks = [c for c in chunks if c.shape[2] == width]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._chunks = iter(chunks)

        def get_next(self):
            chunk = next(self._chunks, None)
            return None if chunk is None else {"features": chunk}

    pre = dst.with_name("pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    nodes = onnx.load(str(pre)).graph.node
    last_conv = max(i for i, n in enumerate(nodes) if n.op_type == "Conv")
    head = [n.name for n in nodes[last_conv + 1:]]
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=ops, nodes_to_exclude=None if quantize_head else head,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=getattr(CalibrationMethod, method),
                    extra_options={"CalibMaxIntermediateOutputs": 16,
                                   "CalibPercentile": 99.999})
    return dst


def _us_per_frame(network, shape: tuple[int, int, int, int], repeats: int) -> float:
    """Median microseconds per frame of ``network`` on one random chunk of ``shape``."""
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    network(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        network(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / shape[2] * 1e6


def _print_worst(scores, float_name: str, int8_name: str) -> None:
    """The files int8 loses most SI-SDR on, and how far its output is from the float one."""
    from noisenil.evaluation.quality import si_sdr

    by_method = scores.metrics.set_index(["method", "file"])["si_sdr"]
    worst = []
    for i, ex in enumerate(scores.test_set.examples):
        out = scores.outputs[i]
        lost = by_method[float_name, ex.name] - by_method[int8_name, ex.name]
        worst.append((lost, si_sdr(out[float_name], out[int8_name]), ex.name, ex.noise))
    worst.sort(reverse=True)
    print("\nworst files: SI-SDR lost by int8 (dB); int8 output vs float output (dB)")
    for lost, agree, name, noise in worst[:3]:
        print(f"  {lost:+.2f}  {agree:5.1f}  {name} + {noise}")
    print(f"  median agreement {statistics.median(w[1] for w in worst):.1f} dB")


def main(argv: list[str] | None = None) -> int:
    from noisenil import load_config
    from noisenil.data.testset import load_test_set
    from noisenil.evaluation.methods import input_method, model_method
    from noisenil.evaluation.scoring import run_methods
    from noisenil.inference.denoiser import Denoiser
    from noisenil.inference.onnx_network import OnnxNetwork

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a shipped model's name")
    parser.add_argument("--config", default="configs/speech_model.yaml",
                        help="data splits: calibration on val, scores on test")
    parser.add_argument("--ops", default="all", help="operator types quantized, or 'all'")
    parser.add_argument("--quantize-head", action="store_true",
                        help="quantize the nodes after the last convolution too")
    parser.add_argument("--calibrate", default="MinMax", choices=["MinMax", "Percentile"])
    parser.add_argument("--calibration-files", type=int, default=24)
    parser.add_argument("--max-files", type=int, default=30)
    parser.add_argument("--snr", type=float, nargs="+", default=[-5, 0, 5, 10, 15, 20])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--metrics", default="si_sdr", help="comma list: si_sdr,pesq,stoi")
    parser.add_argument("--conditions", default="snr,clean,narrowband")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    cfg = load_config(args.config)
    fp32 = Denoiser.from_file(args.model, runtime="onnx", name=f"{args.model} float32")
    calib = load_test_set(cfg, sample_rate=fp32.sample_rate, snrs=args.snr, split="val",
                          max_files=args.calibration_files)
    chunks = calibration_chunks(fp32, (ex.noisy for ex in calib.examples), calib.sample_rate)
    with tempfile.TemporaryDirectory() as tmp:
        path = quantize(fp32.model.path, Path(tmp) / "int8.onnx", chunks,
                        ops=None if args.ops == "all" else args.ops.split(","),
                        quantize_head=args.quantize_head, method=args.calibrate)
        int8 = Denoiser(OnnxNetwork(path), fp32.cfg, name=f"{args.model} int8")
    test = load_test_set(cfg, sample_rate=fp32.sample_rate, snrs=args.snr,
                         max_files=args.max_files)
    print(f"int8 ({args.ops}{', head too' if args.quantize_head else ', head float'}, "
          f"{args.calibrate}) calibrated on {len(chunks)} chunks from {len(calib)} validation "
          f"mixtures; test: {test.description}, {len(test)} examples")
    methods = [input_method(), model_method(fp32), model_method(int8)]
    sets = {"snr": test, "clean": clean_condition(test),
            "narrowband": narrowband_condition(test, {0.0, 10.0})}
    for name in args.conditions.split(","):
        # The snr condition keeps every output: the worst files below are read from it.
        res = run_methods(sets[name], methods, None, metrics=args.metrics.split(","),
                          examples=len(sets[name]) if name == "snr" else 0, progress=False)
        for column in ["si_sdr" if name == "clean" else "delta_si_sdr",
                       *(m for m in ("pesq", "stoi") if m in args.metrics)]:
            print(f"\n{name}: {column} (mean)")
            print(table(res.summary, column).round(3).to_string())
        if name == "snr":
            _print_worst(res.scores, fp32.name, int8.name)
    shape = max(chunks, key=lambda c: c.shape[2]).shape  # a full chunk as inference feeds it
    speed = {d.name: _us_per_frame(d.model, shape, args.repeats) for d in (fp32, int8)}
    print("\nnetwork, one chunk: " + ", ".join(f"{k} {v:.1f} µs/frame" for k, v in speed.items())
          + f" (int8 {speed[fp32.name] / speed[int8.name]:.2f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
