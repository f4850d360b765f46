"""Model sizes and speeds: parameters, FLOPs per 128x128 patch, train and inference patches/s.

For every registered model at its default (published) size, on this machine's backend:

- parameters;
- FLOPs per 128x128x1 patch, estimated by counting multiply-adds (x2) of every convolution from
  its real output shape (other layers are negligible next to them);
- training and inference throughput at batch 16 in steady state (after warm-up steps), as the
  median (min-max) of ``--repeats`` timed runs of ``--steps`` steps each.

Usage:
    python bench/models.py [--models unet dncnn] [--steps 3] [--repeats 3] [--batch 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import keras
import keras_tuner as kt
import numpy as np

from noisenil.models import get_hypermodel, list_models

CONV_TYPES = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)


def _conv_macs(layer, out_h: int, out_w: int) -> float:
    kh, kw, a, b = layer.kernel.shape
    if isinstance(layer, keras.layers.Conv2DTranspose):
        # kernel (kh, kw, out, in): every input position spreads kh*kw*out MACs per in-channel
        return kh * kw * a * b * (out_h // layer.strides[0]) * (out_w // layer.strides[1])
    return kh * kw * a * b * out_h * out_w


def conv_flops(model: keras.Model, patch: np.ndarray) -> float:
    """FLOPs (2 x multiply-adds) of the model's 2-D convolutions on one patch.

    Top-level convolutions are sized from their real outputs; nested models (the ResNet encoder)
    are counted recursively on the input they receive; convolutions inside custom layers (the
    SAM's stride-1 "same" convolutions) at the resolution of that layer's first output.
    """
    probes, tensors = [], []
    for layer in model.layers:
        if isinstance(layer, CONV_TYPES):
            probes.append(("conv", layer))
            tensors.append(layer.output)
        elif isinstance(layer, keras.Model):
            probes.append(("model", layer))
            tensors.append(layer._inbound_nodes[0].input_tensors[0])  # what the encoder receives
        elif any(isinstance(sub, CONV_TYPES) for sub in layer._flatten_layers(include_self=False)):
            probes.append(("custom", layer))
            out = layer.output
            tensors.append(out[0] if isinstance(out, (list, tuple)) else out)
    outs = keras.Model(model.inputs, tensors).predict(patch, verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    total = 0.0
    for (kind, layer), out in zip(probes, outs):
        if kind == "conv":
            total += 2.0 * _conv_macs(layer, out.shape[1], out.shape[2])
        elif kind == "model":
            total += conv_flops(layer, out)
        else:
            total += sum(2.0 * _conv_macs(sub, out.shape[1], out.shape[2])
                         for sub in layer._flatten_layers(include_self=False)
                         if isinstance(sub, CONV_TYPES))
    return total


def rate(fn, patches: int, steps: int, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        out.append(patches * steps / (time.perf_counter() - t0))
    return out


def fmt(rates: list[float]) -> str:
    return f"{statistics.median(rates):7.1f} ({min(rates):.1f}-{max(rates):.1f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=list_models())
    ap.add_argument("--steps", type=int, default=3, help="steps per timed run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 128, 128, 1), dtype=np.float32)
    y = x * 0.5
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}; batch {args.batch}, "
          f"128x128x1; median (min-max) of {args.repeats} runs x {args.steps} steps")
    print(f"{'model':16s} {'params':>10s} {'GFLOP/patch':>12s} {'train patches/s':>22s} "
          f"{'infer patches/s':>22s}")
    for name in args.models:
        model = get_hypermodel(name).build(kt.HyperParameters())
        gflop = conv_flops(model, x[:1]) / 1e9
        model.train_on_batch(x, y)  # warm-up: tracing / compilation
        model.train_on_batch(x, y)
        train = rate(lambda: model.train_on_batch(x, y), args.batch, args.steps, args.repeats)
        model.predict_on_batch(x)  # warm-up
        infer = rate(lambda: model.predict_on_batch(x), args.batch, args.steps, args.repeats)
        print(f"{name:16s} {model.count_params():10,d} {gflop:12.2f} {fmt(train):>22s} "
              f"{fmt(infer):>22s}", flush=True)
        keras.backend.clear_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
