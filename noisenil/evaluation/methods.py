"""Methods: the ways of denoising that an evaluation scores side by side.

A *method* is anything that maps a noisy signal to a denoised one: a trained network
(:class:`~noisenil.inference.denoiser.Denoiser`), a classical baseline
(:mod:`noisenil.evaluation.baselines`), or the noisy input itself (the reference every
improvement ``delta_<metric>`` is measured against). :func:`methods_for` gives the line-up
``evaluate`` and ``compare`` score: the input, the models, then the baselines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noisenil.evaluation.baselines import available_baselines, get_baseline
from noisenil.inference.denoiser import Denoiser, Throughput

#: Name of the method that passes the noisy input through unchanged.
NOISY_INPUT = "noisy input"


@dataclass
class Method:
    """A way of denoising, scored like any other.

    Attributes:
        name: Label in tables (unique within one evaluation).
        kind: ``"model"``, ``"baseline"`` or ``"input"``.
        fn: ``fn(noisy (samples,), sample_rate) -> denoised (samples,)``.
        denoiser: The :class:`Denoiser` behind a model (size and patch counts come from it).
        size_mb: Size of the model file in MB, if known.
        source: The model file it was loaded from (``""`` for baselines, the input, or a model
            given in memory), so a comparison table says which file each row is.
        timing: Wall time and audio duration over the test set (filled by
            :func:`noisenil.evaluation.scoring.score_methods`; its ``rtf`` is the method's
            real-time factor).
    """

    name: str
    kind: str
    fn: Callable[[np.ndarray, int], np.ndarray]
    denoiser: Denoiser | None = None
    size_mb: float = float("nan")
    source: str = ""
    timing: Throughput = field(default_factory=Throughput)

    @property
    def params(self) -> float:
        """Parameter count of a model, NaN otherwise."""
        return float(self.denoiser.params) if self.denoiser is not None else float("nan")


def input_method() -> Method:
    """The noisy input passed through (scores the starting point)."""
    return Method(NOISY_INPUT, "input", lambda x, sr: x)


def model_method(denoiser: Denoiser, *, source: str | Path | None = None) -> Method:
    """A trained network as a method; ``source``, the file it came from, gives its size."""
    size_mb = Path(source).stat().st_size / 1e6 if source else float("nan")
    return Method(denoiser.name, "model", denoiser.denoise, denoiser=denoiser, size_mb=size_mb,
                  source=str(source or ""))


def baseline_methods(names: str | Sequence[str] | None) -> list[Method]:
    """Classical baselines by name; ``"all"`` is every available one, ``None``/``"none"`` none;
    a string is a comma list (``"wiener,log_mmse"``, as ``--baselines`` takes it).

    Raises:
        ConfigError: An unknown baseline, naming it and the choices.
    """
    if names is None or names == "none":
        return []
    if names == "all":
        chosen = available_baselines()
    elif isinstance(names, str):
        chosen = [b for b in names.split(",") if b]
    else:
        chosen = list(names)
    out = []
    for name in chosen:
        fn = get_baseline(name)
        out.append(Method(name, "baseline",
                          lambda x, sr, fn=fn: fn(x, sample_rate=sr)))
    return out


def methods_for(models: Iterable[tuple[Denoiser, str | Path | None]],
                baselines: str | Sequence[str] | None) -> list[Method]:
    """The noisy input, each ``(denoiser, model file or None)`` as a model, then the baselines
    (named as for :func:`baseline_methods`)."""
    return [input_method(), *(model_method(d, source=p) for d, p in models),
            *baseline_methods(baselines)]
