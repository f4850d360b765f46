"""The augmentation registry and the :class:`Augmenter` that applies one group of it.

:data:`AUGMENTATIONS` pairs each entry of the schema (:data:`noisenil.config.augment_schema.SCHEMA`:
name, parameters, ranges, allowed groups, defaults) with its ``draw_<name>`` and ``<name>`` signal
functions from :mod:`noisenil.data.augment`, in the schema's order, which is the order of
application. :class:`Augmenter` runs a validated group spec (``clean``, ``noise`` or ``mixture``;
see :func:`~noisenil.config.augment_schema.validate_group`): each listed augmentation, in registry
order, with its probability ``p``, drawing concrete parameters from the configured ranges first.
A spec lists the augmentations to run (unlisted ones are off);
:data:`~noisenil.config.augment_schema.DEFAULT_GROUPS` lists them all.

Conventions are those of :mod:`noisenil.data.augment`: 1-D float32 mono audio at ``sr`` Hz,
nominally in [-1, 1]; the result is a new float32 array of the input's length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from noisenil.config.augment_schema import (
    SCHEMA,
    AugmentationSchema,
    check_sample_rate,
    validate_group,
)
from noisenil.data import augment
from noisenil.data.augment import _audio
from noisenil.errors import AudioError


@dataclass(frozen=True)
class Augmentation(AugmentationSchema):
    """A registered augmentation: its schema (name, parameters, groups) plus apply and draw."""

    apply: Callable[..., np.ndarray]
    draw: Callable[..., dict]


_FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], Callable[..., dict]]] = {
    "volume": (augment.volume, augment.draw_volume),
    "time_shift": (augment.time_shift, augment.draw_time_shift),
    "reverb": (augment.reverb, augment.draw_reverb),
    "colored_noise": (augment.colored_noise, augment.draw_colored_noise),
    "hiss": (augment.hiss, augment.draw_hiss),
    "clicks": (augment.clicks, augment.draw_clicks),
    "thumps": (augment.thumps, augment.draw_thumps),
    "rumble": (augment.rumble, augment.draw_rumble),
    "periodicity": (augment.periodicity, augment.draw_periodicity),
    "lowpass": (augment.lowpass, augment.draw_lowpass),
    "clipping": (augment.clipping, augment.draw_clipping),
}

#: Registered augmentations, in the schema's (application) order.
AUGMENTATIONS: dict[str, Augmentation] = {
    name: Augmentation(**{f.name: getattr(schema, f.name) for f in dataclasses.fields(schema)},
                       apply=_FUNCTIONS[name][0], draw=_FUNCTIONS[name][1])
    for name, schema in SCHEMA.items()
}


class Augmenter:
    """Applies a validated group spec: each augmentation with probability ``p``, in registry order.

    Args:
        group: ``"clean"``, ``"noise"`` or ``"mixture"``.
        spec: The group's spec (see :func:`validate_group`); ``None`` for ``DEFAULT_GROUPS[group]``.

    Attributes:
        spec: The validated spec.
        last_params: ``(name, concrete params)`` of each augmentation applied by the last call.
    """

    def __init__(self, group: str, spec: Mapping | None = None):
        self.group = group
        self.spec = validate_group(group, spec)
        self.last_params: list[tuple[str, dict]] = []
        self._checked_sr: set[float] = set()

    @property
    def enabled(self) -> bool:
        """Whether any augmentation has ``p`` > 0."""
        return any(entry["p"] > 0 for entry in self.spec.values())

    def _check_sr(self, sr: float) -> None:
        if sr not in self._checked_sr:
            check_sample_rate(self.group, self.spec, sr)
            self._checked_sr.add(sr)

    def __call__(self, x, sr: float, rng: np.random.Generator) -> np.ndarray:
        """Augments ``x`` (1-D, sample rate ``sr`` Hz); returns a new float32 array of its length.

        Raises:
            AudioError: ``x`` is not 1-D or holds NaN/Inf.
            ConfigError: a frequency range reaches ``sr / 2``.
        """
        y = source = _audio(x)
        if not np.isfinite(y).all():
            raise AudioError("audio contains NaN or Inf")
        self._check_sr(sr)
        self.last_params = []
        for name, entry in self.spec.items():
            p = entry["p"]
            if y.size == 0 or p <= 0 or (p < 1 and rng.random() >= p):
                continue
            aug = AUGMENTATIONS[name]
            params = aug.draw(rng, **{k: v for k, v in entry.items() if k != "p"})
            y = aug.apply(y, sr, rng, **params)
            self.last_params.append((name, params))
        return y.copy() if y is source else y
