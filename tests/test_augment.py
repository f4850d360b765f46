"""Tests of noisenil.data.augment and noisenil.data.augmenter: a generic contract for every
registered augmentation, one property test per augmentation with known concrete parameters, spec
validation (the schema in noisenil.config.augment_schema, and its agreement with the functions),
the Augmenter and a speed bound."""

from __future__ import annotations

import copy
import inspect
import math
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.signal

from noisenil.config.augment_schema import DEFAULT_GROUPS, GROUPS, SCHEMA, validate_group
from noisenil.data import augment
from noisenil.data.augmenter import AUGMENTATIONS, Augmenter
from noisenil.errors import AudioError, ConfigError

SR = 16000
NAMES = list(AUGMENTATIONS)


def _noise(seconds: float, level: float = 0.1, seed: int = 1) -> np.ndarray:
    gen = np.random.default_rng(seed)
    return (level * gen.standard_normal(int(seconds * SR))).astype(np.float32)


def _ranges(name: str) -> dict:
    return {k: v for k, v in AUGMENTATIONS[name].defaults.items() if k != "p"}


def _apply_default(name: str, x: np.ndarray, seed: int) -> np.ndarray:
    gen = np.random.default_rng(seed)
    aug = AUGMENTATIONS[name]
    return aug.apply(x, SR, gen, **aug.draw(gen, **_ranges(name)))


def _db(a: float, b: float) -> float:
    return 10 * math.log10(a / b)


def _band_energy(y: np.ndarray, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(np.asarray(y, dtype=np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


# ----------------------------------------------------------------------------- generic contract
SIGNALS = {
    "noise": lambda: _noise(3.0),
    "zeros": lambda: np.zeros(SR, dtype=np.float32),
    "short": lambda: _noise(100 / SR),
    "float64": lambda: _noise(1.0).astype(np.float64),
}


@pytest.mark.parametrize("signal", list(SIGNALS))
@pytest.mark.parametrize("name", NAMES)
def test_contract(name, signal):
    x = SIGNALS[signal]()
    before = x.copy()
    y = _apply_default(name, x, seed=3)
    assert y.shape == x.shape
    assert y.dtype == np.float32
    assert np.isfinite(y).all()
    np.testing.assert_array_equal(x, before)  # input not modified
    assert not np.shares_memory(x, y)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_given_seed(name):
    x = _noise(1.0)
    np.testing.assert_array_equal(_apply_default(name, x, 7), _apply_default(name, x, 7))
    assert not np.array_equal(_apply_default(name, x, 7), _apply_default(name, x, 8))


@pytest.mark.parametrize("name", NAMES)
def test_draws_lie_in_ranges(name):
    ranges = _ranges(name)
    gen = np.random.default_rng(0)
    for _ in range(200):
        for key, value in AUGMENTATIONS[name].draw(gen, **ranges).items():
            bounds = ranges.get(key)
            if isinstance(bounds, list) and len(bounds) == 2 and not isinstance(value, list):
                assert bounds[0] <= value <= bounds[1], (key, value, bounds)


@pytest.mark.parametrize("group", GROUPS)
def test_defaults_validate_and_cover_group(group):
    assert validate_group(group, DEFAULT_GROUPS[group]) == DEFAULT_GROUPS[group]
    assert validate_group(group, None) == DEFAULT_GROUPS[group]
    assert list(DEFAULT_GROUPS[group]) == [n for n, a in AUGMENTATIONS.items() if group in a.groups]


def test_default_probabilities():
    p = {g: {n: s["p"] for n, s in DEFAULT_GROUPS[g].items() if s["p"] > 0} for g in GROUPS}
    assert p == {
        "clean": {"time_shift": 0.5, "reverb": 0.2, "lowpass": 0.1},
        "noise": {"reverb": 0.2, "colored_noise": 0.3, "hiss": 0.1, "clicks": 0.1,
                  "thumps": 0.05, "rumble": 0.05, "lowpass": 0.2},
        "mixture": {"clipping": 0.1},
    }
    assert DEFAULT_GROUPS["clean"]["reverb"]["rt60_s"] == [0.1, 0.6]
    assert "clipping" not in DEFAULT_GROUPS["noise"]
    assert "time_shift" not in DEFAULT_GROUPS["mixture"]


def test_schema_and_functions_agree():
    """Each schema entry has its apply and draw functions, the draw function takes exactly the
    schema's parameters, and every ``draw_<name>`` function has a schema entry."""
    assert list(AUGMENTATIONS) == list(SCHEMA)
    drawn = {n.removeprefix("draw_") for n in dir(augment)
             if n.startswith("draw_") and callable(getattr(augment, n))}
    assert drawn == set(SCHEMA)
    for name, schema in SCHEMA.items():
        aug = AUGMENTATIONS[name]
        assert aug.apply is getattr(augment, name) and aug.draw is getattr(augment, f"draw_{name}")
        assert (aug.params, aug.groups, aug.description) == (
            schema.params, schema.groups, schema.description)
        keywords = [p.name for p in inspect.signature(aug.draw).parameters.values()
                    if p.kind is p.KEYWORD_ONLY]
        assert sorted(keywords) == sorted(schema.params), name


def test_config_validates_augment_without_signal_code():
    """noisenil.config holds the schema: importing it and validating a section loads neither this
    module nor numpy/scipy."""
    code = ("import sys; from noisenil.config import load_config; "
            "load_config(overrides=['augment.noise.clicks.p=1']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'scipy')"
            " or m.startswith('noisenil.data')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ property tests
@pytest.mark.parametrize("gain_db", [-6.0, 0.0, 3.7])
def test_volume_changes_level_by_gain(rng, gain_db):
    x = _noise(1.0)
    y = augment.volume(x, SR, rng, gain_db=gain_db)
    assert _db(np.mean(y.astype(float) ** 2), np.mean(x.astype(float) ** 2)) == pytest.approx(
        gain_db, abs=1e-4)


@pytest.mark.parametrize("fraction", [-0.5, -0.1, 0.0, 0.37])
def test_time_shift_is_a_roll(rng, fraction):
    x = _noise(1.0)
    y = augment.time_shift(x, SR, rng, fraction=fraction)
    np.testing.assert_array_equal(y, np.roll(x, round(fraction * len(x))))
    np.testing.assert_array_equal(np.sort(y), np.sort(x))


def _schroeder_rt60(ir: np.ndarray) -> float:
    edc = np.cumsum((ir.astype(np.float64) ** 2)[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db <= -5) & (edc_db >= -25)
    slope = np.polyfit(np.flatnonzero(fit) / SR, edc_db[fit], 1)[0]  # dB per second
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [0.1, 0.3, 0.6, 1.2])
def test_synthetic_ir_has_requested_rt60(rng, rt60):
    ir = augment.synthetic_ir(rt60, SR, rng, predelay_ms=10.0)
    assert np.all(ir[:160] == 0) and ir[160] != 0
    assert np.sum(ir.astype(float) ** 2) == pytest.approx(1.0, rel=1e-4)
    assert _schroeder_rt60(ir) == pytest.approx(rt60, rel=0.15)


@pytest.mark.parametrize("wet", [0.3, 1.0])
def test_reverb_keeps_length_and_loudness(rng, wet):
    x = _noise(2.0) * np.hanning(2 * SR).astype(np.float32)
    y = augment.reverb(x, SR, rng, wet=wet, rt60_s=0.5, predelay_ms=5.0)
    assert len(y) == len(x)
    assert _db(np.mean(y.astype(float) ** 2), np.mean(x.astype(float) ** 2)) == pytest.approx(
        0.0, abs=0.01)
    assert np.corrcoef(x, y)[0, 1] < 0.99  # it did something


def test_reverb_from_ir_folder(tmp_path, rng):
    soundfile = pytest.importorskip("soundfile")
    ir = augment.synthetic_ir(0.3, 8000, rng)
    ir[0] = 2 * np.abs(ir).max()  # direct path first: the loader starts the IR at its peak
    soundfile.write(tmp_path / "room.wav", np.stack([ir, ir], axis=1), 8000)  # stereo, 8 kHz
    spec = validate_group("clean", {"reverb": {"p": 1, "ir_dir": str(tmp_path)}})
    aug = Augmenter("clean", spec)
    x = _noise(1.0)
    y = aug(x, SR, rng)
    name, params = aug.last_params[0]
    assert name == "reverb" and params["ir_path"] == str(tmp_path / "room.wav")
    assert len(y) == len(x) and np.isfinite(y).all() and not np.array_equal(x, y)
    loaded = augment.load_ir(str(tmp_path / "room.wav"), SR)
    assert abs(len(loaded) - 2 * len(ir)) <= 4  # resampled 8 kHz -> 16 kHz
    with pytest.raises(ConfigError, match=r"augment\.noise\.reverb\.ir_dir=.*not a folder"):
        validate_group("noise", {"reverb": {"ir_dir": str(tmp_path / "missing")}})


@pytest.mark.parametrize("order", [4, 8])
@pytest.mark.parametrize("cutoff", [2000.0, 3000.0, 5000.0])
def test_lowpass_attenuation(rng, cutoff, order):
    x = _noise(4.0)
    y = augment.lowpass(x, SR, rng, cutoff_hz=cutoff, order=order)
    stop = _db(_band_energy(y, 1.5 * cutoff, SR / 2), _band_energy(x, 1.5 * cutoff, SR / 2))
    passband = _db(_band_energy(y, 0, 0.5 * cutoff), _band_energy(x, 0, 0.5 * cutoff))
    assert stop <= -30.0
    assert abs(passband) <= 1.0


@pytest.mark.parametrize("threshold", [0.3, 0.75])
def test_clipping_bounds_and_leaves_small_samples(rng, threshold):
    x = _noise(1.0) * 5
    y = augment.clipping(x, SR, rng, threshold=threshold)
    limit = threshold * np.abs(x).max()
    assert np.abs(y).max() <= limit + 1e-6
    small = np.abs(x) <= limit
    np.testing.assert_array_equal(y[small], x[small])
    assert np.allclose(np.abs(y[~small]), limit, atol=1e-6) and (~small).sum() > 0


@pytest.mark.parametrize("color,slope", [("white", 0.0), ("pink", -3.01), ("brown", -6.02)])
def test_colored_noise_snr_and_slope(rng, color, slope):
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(4 * SR) / SR)).astype(np.float32)
    y = augment.colored_noise(x, SR, rng, snr_db=12.5, color=color)
    added = y.astype(np.float64) - x
    assert _db(np.mean(x.astype(float) ** 2), np.mean(added**2)) == pytest.approx(12.5, abs=0.1)
    freqs, psd = scipy.signal.welch(added, SR, nperseg=2048)
    band = (freqs >= 100) & (freqs <= 4000)
    measured = np.polyfit(np.log2(freqs[band]), 10 * np.log10(psd[band]), 1)[0]  # dB per octave
    assert measured == pytest.approx(slope, abs=1.5)


def test_colored_noise_on_silence_uses_floor(rng):
    y = augment.colored_noise(np.zeros(SR, np.float32), SR, rng, snr_db=10, color="pink",
                              floor_db=-40.0)
    assert 10 * math.log10(np.mean(y.astype(float) ** 2)) == pytest.approx(-40.0, abs=0.1)


def test_hiss_level_and_tilt(rng):
    x = _noise(3.0, level=0.05)
    y = augment.hiss(x, SR, rng, level_db=-35.0)
    added = y.astype(np.float64) - x
    assert 10 * math.log10(np.mean(added**2)) == pytest.approx(-35.0, abs=0.5)
    assert _db(_band_energy(added, 4000, SR / 2), _band_energy(added, 0, 500)) >= 20.0


def test_clicks_are_local_with_bounded_peaks(rng):
    x = _noise(10.0)
    width_ms, amplitude = [0.1, 2.0], [0.2, 0.6]
    y = augment.clicks(x, SR, rng, rate_hz=4.0, width_ms=width_ms, amplitude=amplitude)
    runs = _runs(y != x)
    max_width = math.ceil(width_ms[1] * SR / 1000)
    assert 15 <= len(runs) <= 70  # Poisson(40)
    assert all(stop - start <= max_width for start, stop in runs)  # the rest is unchanged
    z = augment.clicks(np.zeros(10 * SR, np.float32), SR, rng, rate_hz=4.0, width_ms=[0.1, 0.5],
                       amplitude=amplitude)
    peaks = [np.abs(z[a:b]).max() for a, b in _runs(z != 0)]
    assert min(peaks) >= amplitude[0] - 1e-6 and max(peaks) <= amplitude[1] + 1e-6


def test_click_count_matches_rate(rng):
    rate, seconds = 4.0, 120
    z = augment.clicks(np.zeros(seconds * SR, np.float32), SR, rng, rate_hz=rate,
                       width_ms=[0.1, 0.3], amplitude=[0.1, 0.5])
    expected = rate * seconds
    assert abs(len(_runs(z != 0)) - expected) <= 4 * math.sqrt(expected)


def test_thumps_are_low_frequency(rng):
    z = augment.thumps(np.zeros(20 * SR, np.float32), SR, rng, rate_hz=0.5, freq_hz=[15, 80],
                       decay_ms=[30, 200], amplitude=[0.05, 0.5])
    assert np.abs(z).max() > 0.01
    assert _band_energy(z, 0, 200) >= 0.9 * _band_energy(z, 0, SR / 2)


@pytest.mark.parametrize("cutoff", [20.0, 60.0])
def test_rumble_band_and_level(rng, cutoff):
    z = augment.rumble(np.zeros(10 * SR, np.float32), SR, rng, cutoff_hz=cutoff, level_db=-40.0)
    assert 10 * math.log10(np.mean(z.astype(float) ** 2)) == pytest.approx(-40.0, abs=1.0)
    assert _band_energy(z, 0, 120) >= 0.9 * _band_energy(z, 0, SR / 2)


@pytest.mark.parametrize("period,click", [(0.77, 0.0), (0.75, 0.2), (0.79, 0.0)])
def test_periodicity_envelope_period(rng, period, click):
    x = _noise(8.0)
    y = augment.periodicity(x, SR, rng, period_s=period, depth=0.4, phase=0.3,
                            click_amplitude=click)
    hop = SR // 100  # 10 ms frames
    env = np.sqrt(np.mean(y[: len(y) // hop * hop].astype(float).reshape(-1, hop) ** 2, axis=1))
    env -= env.mean()
    acf = np.correlate(env, env, mode="full")[len(env) - 1 :]
    lags = np.arange(50, 120)  # 0.5 .. 1.2 s
    found = lags[np.argmax(acf[lags])] * hop / SR
    assert found == pytest.approx(period, rel=0.02)


# ---------------------------------------------------------------------------- validation, errors
def test_validate_fills_defaults_of_listed_only():
    spec = validate_group("noise", {"clicks": {"p": 1, "rate_hz": [1, 2]}, "hiss": None})
    assert list(spec) == ["hiss", "clicks"]  # registry order, unlisted ones absent
    assert spec["clicks"] == {**DEFAULT_GROUPS["noise"]["clicks"], "p": 1.0, "rate_hz": [1.0, 2.0]}
    assert spec["hiss"] == DEFAULT_GROUPS["noise"]["hiss"]


def test_validate_does_not_alias_defaults():
    before = copy.deepcopy(DEFAULT_GROUPS)
    validate_group("noise", None)["clicks"]["rate_hz"][0] = 99
    assert DEFAULT_GROUPS == before


@pytest.mark.parametrize("group,spec,key,pattern", [
    ("noise", {"foo": {}}, "augment.noise.foo", r"augment\.noise\.foo: unknown augmentation 'foo'"
     r".*valid for 'noise': volume, time_shift, reverb, colored_noise, .*clicks"),
    ("clean", {"clipping": {"p": 1}}, "augment.clean.clipping",
     r"'clipping' is not allowed in group 'clean'.*valid for 'clean': volume, time_shift"),
    ("noise", {"clicks": {"rate_hz": [5, 1]}}, "augment.noise.clicks.rate_hz",
     r"augment\.noise\.clicks\.rate_hz=\[5, 1\]: low must be <= high"),
    ("noise", {"clicks": {"p": 1.5}}, "augment.noise.clicks.p",
     r"augment\.noise\.clicks\.p=1\.5: must be a number in \[0, 1\]"),
    ("noise", {"clicks": {"rate_hz": 3}}, "augment.noise.clicks.rate_hz",
     r"rate_hz=3: must be a \[low, high\] list of two numbers"),
    ("noise", {"clicks": {"rate_hz": [1, 2, 3]}}, "augment.noise.clicks.rate_hz",
     r"rate_hz=\[1, 2, 3\]: must be a \[low, high\]"),
    ("noise", {"clicks": {"rate_hz": [-1, 2]}}, "augment.noise.clicks.rate_hz",
     r"rate_hz=\[-1, 2\]: values must be > 0"),
    ("noise", {"clicks": {"rte_hz": [1, 2]}}, "augment.noise.clicks.rte_hz",
     r"unknown parameter 'rte_hz'; valid: p, rate_hz, width_ms, amplitude"),
    ("mixture", {"clipping": {"threshold": [0.5, 1.5]}}, "augment.mixture.clipping.threshold",
     r"threshold=\[0\.5, 1\.5\]: values must lie in \[0\.01, 1\]"),
    ("noise", {"lowpass": {"order": [4, 6.5]}}, "augment.noise.lowpass.order",
     r"order=\[4, 6\.5\]: must be integers"),
    ("noise", {"colored_noise": {"colors": ["red"]}}, "augment.noise.colored_noise.colors",
     r"colors=\['red'\]: must be a non-empty list of white, pink, brown"),
    ("noise", {"time_shift": {"max_fraction": 2}}, "augment.noise.time_shift.max_fraction",
     r"max_fraction=2: values must lie in \[0, 1\]"),
    ("noise", {"clicks": 0.5}, "augment.noise.clicks", r"clicks=0\.5: must be a mapping"),
    ("stereo", {}, "augment.stereo", r"unknown group 'stereo'; valid: clean, noise, mixture"),
])
def test_validation_errors(group, spec, key, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        Augmenter(group, spec)
    assert info.value.key == key


def test_cutoff_above_nyquist_fails_at_apply_time(rng):
    aug = Augmenter("noise", {"lowpass": {"p": 1.0, "cutoff_hz": [2000, 7000]}})
    aug(_noise(0.1), SR, rng)  # fine at 16 kHz
    with pytest.raises(ConfigError, match=r"augment\.noise\.lowpass\.cutoff_hz=\[2000\.0, 7000\.0\]"
                       r": high must be below the Nyquist frequency sr/2 = 4000 Hz") as info:
        aug(_noise(0.1), 8000, rng)
    assert info.value.key == "augment.noise.lowpass.cutoff_hz"


def test_augmenter_rejects_bad_audio(rng):
    aug = Augmenter("mixture", None)
    with pytest.raises(AudioError, match="NaN"):
        aug(np.array([0.0, np.nan], np.float32), SR, rng)
    with pytest.raises(AudioError, match="1-D"):
        aug(np.zeros((2, 10), np.float32), SR, rng)


# ------------------------------------------------------------------------------------- Augmenter
def test_augmenter_enabled_and_off(rng):
    assert not Augmenter("noise", {}).enabled
    assert not Augmenter("mixture", {"clipping": {"p": 0}}).enabled
    assert Augmenter("mixture", None).enabled
    off = Augmenter("noise", {"clicks": {"p": 0}})
    x = _noise(0.5)
    y = off(x, SR, rng)
    np.testing.assert_array_equal(y, x)
    assert y is not x and off.last_params == []


def test_augmenter_applies_all_in_registry_order(rng):
    spec = {name: {"p": 1.0} for name in DEFAULT_GROUPS["noise"]}
    aug = Augmenter("noise", spec)
    x = _noise(1.0)
    y = aug(x, SR, rng)
    assert [name for name, _ in aug.last_params] == list(DEFAULT_GROUPS["noise"])
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    again = Augmenter("noise", spec)(x, SR, np.random.default_rng(20261121))
    np.testing.assert_array_equal(y, again)


def test_augmenter_probability(rng):
    aug = Augmenter("noise", {"volume": {"p": 0.3}})
    x = _noise(0.01)
    hits = 0
    for _ in range(2000):
        aug(x, SR, rng)
        hits += len(aug.last_params)
    assert hits / 2000 == pytest.approx(0.3, abs=0.04)


def test_noise_group_speed(rng):
    aug = Augmenter("noise", {name: {"p": 1.0} for name in DEFAULT_GROUPS["noise"]})
    x = _noise(8382 / SR)
    aug(x, SR, rng)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        aug(x, SR, rng)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.020
