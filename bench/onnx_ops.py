"""Where an ONNX network's time goes: onnxruntime's per-operator profile, by operator type.

Runs the network on ``--repeats`` chunks of ``--width`` frames with onnxruntime's profiler on and
prints each operator type's share of the kernel time, then the median milliseconds per chunk and
microseconds per frame. The shipped models' ``.onnx`` files are found by name.

    python bench/onnx_ops.py                      # the shipped default speech model
    python bench/onnx_ops.py --model music --width 512
    python bench/onnx_ops.py --model my_export.onnx --channels 2
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _onnx_path(model: str) -> Path:
    from noisenil.pretrained import shipped_models

    shipped = shipped_models()
    return shipped[model].with_suffix(".onnx") if model in shipped else Path(model)


def main(argv: list[str] | None = None) -> int:
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="shipped name or .onnx file")
    parser.add_argument("--width", type=int, default=512, help="frames per chunk")
    parser.add_argument("--height", type=int, default=128, help="frequency rows")
    parser.add_argument("--channels", type=int, default=1, help="feature channels")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs")
    parser.add_argument("--top", type=int, default=12, help="operator types listed")
    args = parser.parse_args(argv)
    path = _onnx_path(args.model)
    x = np.random.default_rng(0).random((1, args.height, args.width, args.channels),
                                        dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "profile")
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x}
        session.run(None, feed)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            session.run(None, feed)
            times.append(time.perf_counter() - start)
        events = json.loads(Path(session.end_profiling()).read_text())
    by_type: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            by_type[event["args"]["op_name"]] += event["dur"]
    total = sum(by_type.values())
    ms = 1e3 * statistics.median(times)
    print(f"{path}: {args.repeats} runs of (1, {args.height}, {args.width}, {args.channels}), "
          f"{os.cpu_count()} CPUs (timings include the profiler's overhead)")
    print(f"median {ms:.1f} ms per chunk = {1e3 * ms / args.width:.1f} us per frame")
    print(f"{'operator':>16} {'share of kernel time':>21}")
    for op, dur in by_type.most_common(args.top):
        print(f"{op:>16} {100.0 * dur / total:20.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
