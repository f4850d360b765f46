"""The augmentation schema: names, parameters, ranges, allowed groups, defaults and validation.

This is what the ``augment`` section of a configuration may hold. The signal functions (one
``<name>`` and one ``draw_<name>`` per entry of :data:`SCHEMA`) live in
:mod:`noisenil.data.augment`; the registry built from this schema and the ``Augmenter`` that runs
them live in :mod:`noisenil.data.augmenter` (a test keeps schema and functions in step). Keeping the schema here lets :mod:`noisenil.config` validate a
configuration without importing any signal-processing code (no numpy, no scipy).

Groups: ``clean`` is applied to the clean signal (so the target sees it), ``noise`` to the noise
before mixing (synthetic degradations are added there), ``mixture`` to the network input only.
Allowed groups (``AugmentationSchema.groups``): ``volume`` everywhere; ``time_shift`` and
``reverb`` in ``clean`` and ``noise`` only (shifting the mixture would misalign input and target,
reverberating it would turn the task into dereverberation); ``lowpass`` everywhere (in
``mixture`` it asks the model for bandwidth extension, so it is off by default); the additive
degradations (``colored_noise``, ``hiss``, ``clicks``, ``thumps``, ``rumble``, ``periodicity``) in
``noise`` and ``mixture``; ``clipping`` in ``mixture`` only.

A group's spec maps augmentation names to ``{p: ..., <parameters>}``; the listed augmentations run
(unlisted ones are off), :data:`DEFAULT_GROUPS` lists them all.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from noisenil.config.validate import fail, mapping, number, range_values, subset, unknown

GROUPS = ("clean", "noise", "mixture")
COLORS = ("white", "pink", "brown")
#: File suffixes of impulse responses read from a ``reverb.ir_dir`` folder.
IR_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff")


def list_ir_files(ir_dir: str) -> tuple[str, ...]:
    """The impulse-response files under ``ir_dir`` (recursively, sorted); ``()`` if not a folder."""
    folder = Path(ir_dir)
    if not folder.is_dir():
        return ()
    return tuple(sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IR_SUFFIXES))


@dataclass(frozen=True)
class Param:
    """Schema of one spec parameter.

    ``kind`` is ``"range"`` (``[low, high]`` numbers), ``"int_range"``, ``"value"`` (one number),
    ``"choices"`` (a non-empty list drawn from ``choices``) or ``"path"`` (a folder or ``None``).
    Numbers must lie in ``[lo, hi]``; ``log`` ranges are drawn log-uniformly and must be > 0;
    ``nyquist`` frequencies must stay below ``sr / 2`` (checked when the sample rate is known, see
    :func:`check_sample_rate`).
    """

    default: Any
    kind: str = "range"
    lo: float = -math.inf
    hi: float = math.inf
    log: bool = False
    nyquist: bool = False
    choices: tuple[str, ...] = ()

    def check(self, key: str, value: Any) -> Any:
        """``value`` validated and normalised (floats, ints for ``int_range``, ``str`` paths).

        Raises:
            ConfigError: naming ``key`` and ``value``.
        """
        if self.kind == "path":
            if value is None:
                return None
            if not isinstance(value, (str, PathLike)):
                fail(key, value, "must be a folder path or null")
            if not list_ir_files(str(value)):
                fail(key, value, f"is not a folder holding audio files ({', '.join(IR_SUFFIXES)})")
            return str(value)
        if self.kind == "choices":
            return subset(key, value, self.choices)
        return range_values(key, value, pair=self.kind != "value", lo=self.lo, hi=self.hi,
                            log=self.log, integer=self.kind == "int_range")


@dataclass(frozen=True)
class AugmentationSchema:
    """One augmentation as a configuration sees it: name, parameter schema, allowed groups."""

    name: str
    params: Mapping[str, Param]
    groups: tuple[str, ...]
    description: str

    @property
    def defaults(self) -> dict:
        """The full default spec (``p`` = 0; the group defaults in ``DEFAULT_GROUPS`` set ``p``)."""
        return {"p": 0.0, **{name: copy.deepcopy(par.default) for name, par in self.params.items()}}


_ALL, _CN, _NM = GROUPS, ("clean", "noise"), ("noise", "mixture")
_LEVEL = {"lo": -200.0, "hi": 0.0}
_FRACTION = {"lo": 0.0, "hi": 1.0}
_AMPLITUDE = {"lo": 0.0, "hi": 1.0, "log": True}

#: Every augmentation, in application order: gain, shift and room; additive noises and events; the
#: disc modulation (which then also modulates them); the channel (band limit, clipping).
SCHEMA: dict[str, AugmentationSchema] = {a.name: a for a in (
    AugmentationSchema("volume", {"gain_db": Param([-6.0, 6.0])}, _ALL,
                       "gain change, uniform in dB"),
    AugmentationSchema("time_shift", {"max_fraction": Param(0.5, "value", **_FRACTION)}, _CN,
                       "circular shift by up to max_fraction of the length, either direction"),
    AugmentationSchema("reverb",
                       {"rt60_s": Param([0.1, 0.6], lo=0.0, hi=10.0, log=True),
                        "predelay_ms": Param([0.0, 20.0], lo=0.0, hi=1000.0),
                        "wet": Param([0.3, 1.0], **_FRACTION), "ir_dir": Param(None, "path")}, _CN,
                       "synthetic (or measured, from ir_dir) room reverb, loudness preserved"),
    AugmentationSchema("colored_noise",
                       {"snr_db": Param([0.0, 30.0], lo=-100.0, hi=200.0),
                        "colors": Param(list(COLORS), "choices", choices=COLORS),
                        "floor_db": Param(-50.0, "value", **_LEVEL)}, _NM,
                       "white/pink/brown noise at an SNR relative to the signal"),
    AugmentationSchema("hiss", {"level_db": Param([-60.0, -30.0], **_LEVEL)}, _NM,
                       "high-frequency surface hiss at an absolute dBFS level"),
    AugmentationSchema("clicks",
                       {"rate_hz": Param([0.5, 8.0], lo=0.0, hi=1000.0, log=True),
                        "width_ms": Param([0.1, 2.0], lo=0.0, hi=100.0, log=True),
                        "amplitude": Param([0.05, 0.8], **_AMPLITUDE)}, _NM,
                       "impulsive clicks, Poisson in time"),
    AugmentationSchema("thumps",
                       {"rate_hz": Param([0.05, 0.5], lo=0.0, hi=100.0, log=True),
                        "freq_hz": Param([15.0, 80.0], lo=0.0, log=True, nyquist=True),
                        "decay_ms": Param([30.0, 200.0], lo=0.0, hi=10000.0, log=True),
                        "amplitude": Param([0.05, 0.5], **_AMPLITUDE)}, _NM,
                       "low-frequency damped-sinusoid thumps, Poisson in time"),
    AugmentationSchema("rumble",
                       {"cutoff_hz": Param([20.0, 60.0], lo=0.0, log=True, nyquist=True),
                        "level_db": Param([-50.0, -25.0], **_LEVEL)}, _NM,
                       "low-passed turntable rumble at an absolute dBFS level"),
    AugmentationSchema("periodicity",
                       {"period_s": Param([0.75, 0.79], lo=0.0, hi=60.0, log=True),
                        "depth": Param([0.1, 0.5], **_FRACTION),
                        "click_amplitude": Param([0.0, 0.2], **_FRACTION)}, _NM,
                       "78-rpm once-per-revolution amplitude modulation and click"),
    AugmentationSchema("lowpass",
                       {"cutoff_hz": Param([2000.0, 7000.0], lo=0.0, log=True, nyquist=True),
                        "order": Param([4, 8], "int_range", lo=1, hi=16)}, _ALL,
                       "zero-phase Butterworth low-pass (band limit)"),
    AugmentationSchema("clipping", {"threshold": Param([0.3, 0.9], lo=0.01, hi=1.0)}, ("mixture",),
                       "hard clipping at a fraction of the peak"),
)}

_GROUP_P = {
    "clean": {"time_shift": 0.5, "reverb": 0.2, "lowpass": 0.1},
    "noise": {"lowpass": 0.2, "reverb": 0.2, "colored_noise": 0.3, "hiss": 0.1, "clicks": 0.1,
              "thumps": 0.05, "rumble": 0.05, "periodicity": 0.0},
    "mixture": {"clipping": 0.1},
}

#: Default spec of every group: all augmentations allowed there, in schema order, with full
#: parameters (``p`` = 0 where it is off by default).
DEFAULT_GROUPS: dict[str, dict[str, dict]] = {
    group: {name: {**aug.defaults, "p": _GROUP_P[group].get(name, 0.0)}
            for name, aug in SCHEMA.items() if group in aug.groups}
    for group in GROUPS
}


def validate_group(group: str, spec: Mapping | None = None) -> dict[str, dict]:
    """Validates one group's spec and fills defaults.

    Only the augmentations listed in ``spec`` are returned (in schema order); a listed one with
    missing parameters (or ``None`` as its value) gets the group defaults for them. ``None`` as
    ``spec`` means ``DEFAULT_GROUPS[group]``.

    Raises:
        ConfigError: unknown group, augmentation or parameter, augmentation not allowed in the
            group, ``p`` outside [0, 1], malformed ranges or values out of their domain. The
            error's ``key`` is ``augment.<group>.<name>[.<param>]``.
    """
    if group not in DEFAULT_GROUPS:
        unknown(f"augment.{group}", group, GROUPS, what="group")
    defaults = DEFAULT_GROUPS[group]
    spec = defaults if spec is None else spec
    mapping(f"augment.{group}", spec, "augmentation names to parameters")
    resolved = {}
    for name, entry in spec.items():
        key = f"augment.{group}.{name}"
        if name not in defaults:
            why = f"{name!r} is not allowed in group {group!r}" if name in SCHEMA else None
            unknown(key, name, defaults, what="augmentation", scope=f" for {group!r}", why=why)
        entry = mapping(key, {} if entry is None else entry, "parameters")
        out = copy.deepcopy(defaults[name])
        for pname, value in entry.items():
            pkey = f"{key}.{pname}"
            if pname == "p":
                out["p"] = float(number(pkey, value, lo=0.0, hi=1.0))
            elif pname in SCHEMA[name].params:
                out[pname] = SCHEMA[name].params[pname].check(pkey, value)
            else:
                unknown(pkey, pname, defaults[name], what="parameter")
        resolved[name] = out
    return {name: resolved[name] for name in SCHEMA if name in resolved}


def check_sample_rate(group: str, spec: Mapping[str, dict], sr: float) -> None:
    """Check a validated group spec against the sample rate ``sr`` (Hz): every enabled frequency
    range (``nyquist`` parameters) must stay below ``sr / 2``.

    Raises:
        ConfigError: ``sr`` is not a positive number, or a range reaches ``sr / 2`` (keyed
            ``augment.<group>.<name>.<param>``).
    """
    number("sr", sr, lo=0.0, lo_open=True, unit=" Hz")
    for name, entry in spec.items():
        for pname, par in SCHEMA[name].params.items():
            if par.nyquist and entry["p"] > 0 and entry[pname][1] >= sr / 2:
                fail(f"augment.{group}.{name}.{pname}", entry[pname],
                     f"high must be below the Nyquist frequency sr/2 = {sr / 2:g} Hz")

