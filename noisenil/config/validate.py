"""The one validation vocabulary: checks that raise ``ConfigError("key=value: why", key=key)``.

Every configuration value in noisenil is checked with these functions: the section dataclasses
(:mod:`noisenil.config.sections`, :mod:`noisenil.config.runs`), the YAML loader's type checks
(:mod:`noisenil.config.loading`) and the augmentation schema
(:mod:`noisenil.config.augment_schema`). A message names the dotted key, shows the value as the
user wrote it and says what is wrong, e.g. ``data.snr_db=[20.0, 2.0]: low must be <= high ...``.

Two shapes of number are told apart:

* :func:`number` checks one setting (``data.batch_size``, ``features.power``, an augmentation's
  ``p``): ``must be a number in [0, 1)``, ``must be a positive integer``, ...
* :func:`range_values` checks the numbers of a ``[low, high]`` range (``data.snr_db``, the
  augmentation ranges), or one value checked the same way: ``values must lie in [lo, hi]``,
  ``low must be <= high``, ``values must be > 0 (drawn log-uniformly)``.

Nothing here imports numpy; numpy scalars are accepted as numbers all the same.
"""

from __future__ import annotations

import math
import numbers
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from noisenil.errors import ConfigError

_UNSET = object()


def fmt(value: Any) -> str:
    """``value`` as it appears in a message: lists and tuples as ``[a, b]``, strings quoted,
    numpy scalars as plain numbers."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def fail(key: str, value: Any, why: str) -> typing.NoReturn:
    """Raise ``ConfigError(f"{key}={value}: {why}", key=key)``."""
    raise ConfigError(f"{key}={fmt(value)}: {why}", key=key)


def unknown(key: str, name: Any, valid: Iterable[str], *, what: str = "key", scope: str = "",
            value: Any = _UNSET, why: str | None = None) -> typing.NoReturn:
    """Raise for a name that is not one of ``valid``:
    ``key[=value]: unknown <what> 'name'; valid<scope>: a, b`` (``why`` replaces the part before
    the semicolon)."""
    shown = key if value is _UNSET else f"{key}={fmt(value)}"
    why = f"unknown {what} {name!r}" if why is None else why
    raise ConfigError(f"{shown}: {why}; valid{scope}: {', '.join(valid)}", key=key)


def is_number(value: Any) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bound(value: float, label: str | None) -> str:
    return label if label is not None else f"{value:g}"


def number(key: str, value: Any, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False, integer: bool = False, unit: str = "",
           lo_label: str | None = None, hi_label: str | None = None) -> Any:
    """Check one numeric setting and return it unchanged.

    Args:
        key: Dotted name of the setting.
        value: The value to check: a finite real number (an integral one with ``integer``).
        lo: Lowest allowed value (excluded with ``lo_open``), or ``None``.
        hi: Highest allowed value (excluded with ``hi_open``), or ``None``.
        integer: The value must be integral.
        unit: Appended to the allowed interval in the message (``" dB"``).
        lo_label: Shown instead of ``lo`` in the message; ``hi_label`` likewise
            (``"n_fft/2=127"``).

    Raises:
        ConfigError: ``must be finite``, or else one phrase for the whole requirement, whatever
            failed: ``must be a number in [lo, hi)``, ``must be an integer >= 2``, ``must be a
            positive integer``, ``must be a number``.
    """
    noun = "an integer" if integer else "a number"
    if integer and lo == 1 and hi is None and not lo_open:
        must = "must be a positive integer"
    elif lo is not None and hi is not None:
        must = (f"must be {noun} in {'(' if lo_open else '['}{_bound(lo, lo_label)}, "
                f"{_bound(hi, hi_label)}{')' if hi_open else ']'}{unit}")
    elif lo is not None:
        must = f"must be {noun} {'>' if lo_open else '>='} {_bound(lo, lo_label)}{unit}"
    elif hi is not None:
        must = f"must be {noun} {'<' if hi_open else '<='} {_bound(hi, hi_label)}{unit}"
    else:
        must = f"must be {noun}"
    if not is_number(value):
        fail(key, value, must)
    if not math.isfinite(value):
        fail(key, value, "must be finite")
    too_low = lo is not None and (value <= lo if lo_open else value < lo)
    too_high = hi is not None and (value >= hi if hi_open else value > hi)
    if too_low or too_high or (integer and not float(value).is_integer()):
        fail(key, value, must)
    return value

def range_values(key: str, value: Any, *, pair: bool = True, lo: float = -math.inf,
                 hi: float = math.inf, log: bool = False, integer: bool = False) -> Any:
    """Check a ``[low, high]`` range (or, with ``pair=False``, one value checked like one).

    Returns:
        ``[low, high]`` as floats (ints with ``integer``), or the single value as a float.

    Raises:
        ConfigError: not a ``[low, high]`` list of two numbers (not a number), not finite, not
            integers, ``low > high``, not > 0 when drawn log-uniformly (``log``), or outside
            ``[lo, hi]``.
    """
    if not pair:
        if not is_number(value):
            fail(key, value, "must be a number")
        values = [value]
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_number, value)):
        values = list(value)
    else:
        fail(key, value, "must be a [low, high] list of two numbers")
    values = [float(v) for v in values]
    if not all(map(math.isfinite, values)):
        fail(key, value, "must be finite")
    if integer:
        if not all(v.is_integer() for v in values):
            fail(key, value, "must be integers")
        values = [int(v) for v in values]
    if pair and values[0] > values[1]:
        fail(key, value, "low must be <= high (a range is [low, high] with low <= high)")
    if log and min(values) <= 0:
        fail(key, value, "values must be > 0 (drawn log-uniformly)")
    if not all(lo <= v <= hi for v in values):
        fail(key, value, f"values must lie in [{lo:g}, {hi:g}]")
    return values if pair else values[0]


def choice(key: str, value: Any, options: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``options`` (``must be one of ['a', 'b']``); return it."""
    options = list(options)
    if value not in options:
        fail(key, value, f"must be one of {options}")
    return value


def subset(key: str, value: Any, options: Iterable[str]) -> list[str]:
    """Check a non-empty list of strings drawn from ``options``; return it as a list."""
    options = tuple(options)
    ok = isinstance(value, (list, tuple)) and value
    if not (ok and all(isinstance(v, str) and v in options for v in value)):
        fail(key, value, f"must be a non-empty list of {', '.join(options)}")
    return [str(v) for v in value]


def mapping(key: str, value: Any, of: str | None = None) -> Mapping:
    """Check that ``value`` is a mapping (``must be a mapping [of <of>]``); return it."""
    if not isinstance(value, Mapping):
        fail(key, value, "must be a mapping" + (f" of {of}" if of else ""))
    return value
