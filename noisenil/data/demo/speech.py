"""Speech-like clips for the demo corpus: a source-filter model.

Glottal pulses with intonation, jitter and shimmer go through moving formant resonators, with
fricatives, plosive bursts, syllable rhythm and pauses; voices are made per speaker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from noisenil.data.demo._dsp import (
    CLEAN_PEAK_DBFS,
    _K_VOICE,
    _ROOM_TONE_DBFS,
    _band_sos,
    _db,
    _normalize_peak,
    _rms,
    _smooth,
)


# --------------------------------------------------------------------------------------------
# Speech: a source-filter model driven by a block-rate (5 ms) phonetic plan

# F1..F4 in Hz for an adult male vocal tract; scaled per speaker by the formant factor.
_VOWELS = {
    "a": (730, 1090, 2440, 3400),
    "i": (270, 2290, 3010, 3600),
    "u": (300, 870, 2240, 3300),
    "e": (530, 1840, 2480, 3500),
    "o": (570, 840, 2410, 3300),
    "@": (500, 1500, 2500, 3400),
}
_DIPHTHONGS = {"a": "i", "o": "u", "e": "i"}
_BANDWIDTHS = np.array([70.0, 95.0, 140.0, 200.0])  # Hz
_SONORANTS = {"m": (280, 1000, 2200, 3300), "n": (280, 1500, 2500, 3400),
              "l": (360, 1300, 2700, 3500)}  # voiced consonants: formant targets (Hz)
# Noise bands (Hz) for fricatives and plosive bursts, and their level re the vowel RMS.
_BANDS = {"s": (3800, 7600, 0.22), "sh": (2000, 5000, 0.28), "f": (1200, 7500, 0.07),
          "p": (300, 1500, 0.35), "t": (2500, 6500, 0.3), "k": (1200, 3200, 0.35)}
_BAND_INDEX = {name: i for i, name in enumerate(_BANDS)}
_ONSETS = ("s", "sh", "f", "h", "p", "t", "k", "m", "n", "l", "z", "")
_ONSET_P = np.array([10, 5, 4, 5, 7, 9, 8, 8, 9, 8, 3, 24], float) / 100.0
_CODAS = ("n", "m", "s", "t", "k", "l")


@dataclass(frozen=True)
class _Voice:
    f0: float  # median fundamental, Hz
    formant_scale: float  # vocal-tract length factor (>1: shorter tract, higher formants)
    rate: float  # syllables per second
    jitter: float  # relative period-to-period f0 perturbation
    shimmer: float  # relative period-to-period amplitude perturbation
    breath: float  # aspiration noise mixed into voicing
    open_quotient: float  # open phase of the Rosenberg pulse, fraction of a period
    accent_st: float  # typical pitch-accent height, semitones


def _make_voice(rng: np.random.Generator, position: float | None = None) -> _Voice:
    """A speaker; ``position`` in [0, 1) places f0 in 95-230 Hz (random when ``None``)."""
    pos = rng.uniform() if position is None else position
    f0 = 95.0 * (230.0 / 95.0) ** pos
    scale = float(np.clip(0.86 + 0.27 * pos + rng.normal(0.0, 0.02), 0.85, 1.15))
    return _Voice(f0=f0, formant_scale=scale, rate=rng.uniform(3.9, 5.2),
                  jitter=rng.uniform(0.004, 0.012), shimmer=rng.uniform(0.02, 0.06),
                  breath=rng.uniform(0.02, 0.06) + 0.05 * pos,
                  open_quotient=rng.uniform(0.35, 0.45) + 0.1 * pos,
                  accent_st=rng.uniform(2.5, 5.0))


def _speaker_voice(seed: int, number: int) -> _Voice:
    """Speaker ``spk{number:02d}``: odd numbers get low voices (f0 95-135 Hz), even numbers high
    ones (165-230 Hz), spread within each group by the golden-ratio sequence."""
    rng = np.random.default_rng([seed, _K_VOICE, number])
    spread = ((number - 1) // 2 * 0.6180339887 + 0.3 + rng.uniform(-0.05, 0.05)) % 1.0
    return _make_voice(rng, (0.0 if number % 2 else 0.62) + 0.38 * spread)


class _Plan:
    """Block-rate targets of one utterance (a block is 5 ms)."""

    def __init__(self, n_blocks: int):
        self.n = n_blocks
        self.voice = np.zeros(n_blocks)
        self.asp = np.zeros(n_blocks)
        self.bands = np.zeros((len(_BANDS), n_blocks))
        self.formants = np.full((n_blocks, 4), np.nan)
        self.accents: list[tuple[float, float, float]] = []  # (center, width, semitones)
        self.phrases: list[tuple[int, int, bool]] = []  # (start, end, rising)


def _plan_utterance(rng, v: _Voice, n_blocks: int, hop_s: float, pause_scale: float) -> _Plan:
    """Words of 1-3 syllables in phrases separated by pauses, consonants around vowels."""
    plan = _Plan(n_blocks + int(round(1.0 / hop_s)))  # margin: the last word may overrun

    def blk(seconds: float) -> int:
        return max(1, int(round(seconds / hop_s)))

    tempo = 4.5 / v.rate  # >1 for slow speakers: stretch segment durations
    tail = blk(0.08)
    pos = blk(rng.uniform(0.1, 0.25) * max(pause_scale, 0.4))
    scale = np.array(v.formant_scale)

    def consonant(c: str, pos: int) -> int:
        if c in ("s", "sh", "f", "z"):
            d = blk(rng.uniform(0.07, 0.12) * tempo)
            band = "s" if c == "z" else c
            plan.bands[_BAND_INDEX[band], pos:pos + d] = _BANDS[band][2] * (0.5 if c == "z" else 1)
            if c == "z":
                plan.voice[pos:pos + d] = 0.25
                plan.formants[pos:pos + d] = np.array(_SONORANTS["n"]) * scale
            return pos + d
        if c == "h":
            d = blk(rng.uniform(0.05, 0.08) * tempo)
            plan.asp[pos:pos + d] = 0.5
            return pos + d
        if c in ("p", "t", "k"):
            pos += blk(rng.uniform(0.03, 0.06) * tempo)  # closure: silence
            d = blk(rng.uniform(0.008, 0.015))
            plan.bands[_BAND_INDEX[c], pos:pos + d] = _BANDS[c][2] * rng.uniform(0.7, 1.3)
            pos += d
            d = blk(rng.uniform(0.02, 0.05))
            plan.asp[pos:pos + d] = 0.35  # aspiration into the next vowel
            return pos + d
        d = blk(rng.uniform(0.04, 0.07) * tempo)  # sonorant
        plan.voice[pos:pos + d] = 0.6 if c == "l" else 0.35
        plan.formants[pos:pos + d] = np.array(_SONORANTS[c]) * scale
        return pos + d

    def syllable(pos: int, stressed: bool, final: bool) -> int:
        start = pos
        onset = _ONSETS[rng.choice(len(_ONSETS), p=_ONSET_P)]
        if onset:
            pos = consonant(onset, pos)
        vowel = "@" if (not stressed and rng.uniform() < 0.35) else "aieou"[rng.integers(5)]
        dur = (1.0 / v.rate) * rng.uniform(0.75, 1.25) * (1.3 if stressed else 1.0)
        dur *= 1.35 if final else 1.0
        d = max(blk(0.05), blk(dur) - (pos - start))
        amp = 1.0 if stressed else rng.uniform(0.55, 0.8)
        plan.voice[pos:pos + d] = amp * signal.windows.tukey(d + 2, 0.6)[1:-1] ** 0.7
        target = np.array(_VOWELS[vowel]) * scale * (1 + rng.normal(0.0, 0.04, 4))
        plan.formants[pos:pos + d] = target
        if vowel in _DIPHTHONGS and rng.uniform() < 0.2:
            plan.formants[pos + d // 2:pos + d] = np.array(_VOWELS[_DIPHTHONGS[vowel]]) * scale
        if stressed and rng.uniform() < 0.7:  # pitch accent peaking in the vowel
            plan.accents.append((pos + d * rng.uniform(0.3, 0.6), max(d / 4, 3),
                                 v.accent_st * rng.uniform(0.5, 1.2)))
        pos += d
        if rng.uniform() < 0.3:
            pos = consonant(_CODAS[rng.integers(len(_CODAS))], pos)
        return pos

    while pos < n_blocks - tail:
        phrase_start, n_words, words_done = pos, int(rng.integers(2, 6)), 0
        for w in range(n_words):
            n_syl = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
            if pos + blk((n_syl + 0.6) / v.rate) > n_blocks - tail:
                n_syl = 1
                if pos + blk(1.6 / v.rate) > n_blocks - tail:
                    break
            stress = int(rng.integers(n_syl))
            for s in range(n_syl):
                pos = syllable(pos, s == stress, w == n_words - 1 and s == n_syl - 1)
            words_done += 1
            if rng.uniform() < 0.35 * pause_scale:
                pos += blk(rng.uniform(0.03, 0.09))  # gap between words
        if words_done == 0:
            break
        plan.phrases.append((phrase_start, pos, bool(rng.uniform() < 0.2)))
        pos += blk(rng.uniform(0.2, 0.45) * pause_scale)
    end = n_blocks - tail // 2  # a word that overran is cut 40 ms before the end, not at it
    plan.voice[end:], plan.asp[end:], plan.bands[:, end:] = 0.0, 0.0, 0.0
    return plan


def _synthesize_speech(rng: np.random.Generator, v: _Voice, n: int, sample_rate: int,
                       pause_scale: float = 1.0) -> np.ndarray:
    """One utterance of ``n`` samples, unnormalized float64 (vowel RMS about 1)."""
    hop = max(1, int(round(0.005 * sample_rate)))
    nb = -(-n // hop)
    plan = _plan_utterance(rng, v, nb, hop / sample_rate, pause_scale)
    b = np.arange(nb)

    # Intonation (semitones re the speaker's f0): declination per phrase, accents, drift.
    st = _smooth(rng.normal(0.0, 1.0, nb), 40) * 2.0
    for start, end, rising in plan.phrases:
        seg = slice(start, min(end, nb))
        ramp = np.linspace(2.0, -3.0, max(end - start, 1))[: seg.stop - seg.start]
        if rising:
            ramp = ramp + 5.0 * np.clip(np.linspace(-2.5, 1.0, ramp.size), 0, None)
        st[seg] += ramp
    for center, width, height in plan.accents:
        st += height * np.exp(-0.5 * ((b - center) / width) ** 2)
    f0_blocks = v.f0 * 2.0 ** (_smooth(st, 5) / 12.0) * (1 + v.jitter * rng.standard_normal(nb))

    # Glottal source: Rosenberg pulses, differentiated (lip radiation), shimmer per period.
    f0 = np.repeat(f0_blocks, hop)[:n]
    phase = np.cumsum(f0) / sample_rate + rng.uniform()
    frac, period = phase % 1.0, phase.astype(np.int64)
    tp, tn = v.open_quotient * 0.7, v.open_quotient * 0.3
    pulse = np.where(frac < tp, 0.5 * (1 - np.cos(np.pi * frac / tp)),
                     np.where(frac < tp + tn, np.cos(0.5 * np.pi * (frac - tp) / tn), 0.0))
    pulse *= 1 + v.shimmer * rng.standard_normal(int(period[-1]) + 2)[period]
    source = np.diff(pulse, prepend=pulse[0])
    source /= _rms(source) + 1e-12

    # Block-rate envelopes -> sample rate (linear interpolation between block centres).
    centres = (b + 0.5) * hop
    t = np.arange(n)
    voice = np.interp(t, centres, _smooth(plan.voice[:nb], 3))
    asp = np.interp(t, centres, _smooth(plan.asp[:nb], 2) + v.breath * _smooth(plan.voice[:nb], 3))
    excitation = source * voice + rng.standard_normal(n) * asp

    # Formants: fill gaps (unvoiced, silence) from neighbours, glide over ~35 ms.
    form = plan.formants[:nb].copy()
    known = ~np.isnan(form[:, 0])
    if not known.any():
        form[:] = np.array(_VOWELS["@"]) * v.formant_scale
    else:
        for k in range(4):
            form[:, k] = np.interp(b, b[known], form[known, k])
    form = np.minimum(_smooth(form.T, 7).T, 0.45 * sample_rate)

    # Cascade of 4 Klatt resonators as one 8th-order filter per block, state carried over.
    r = np.exp(-np.pi * _BANDWIDTHS * v.formant_scale / sample_rate)  # (4,)
    bb = 2 * r * np.cos(2 * np.pi * form / sample_rate)  # (nb, 4)
    cc = np.broadcast_to(-(r**2), bb.shape)
    den = np.ones((nb, 1))
    for k in range(4):
        quad = np.stack([np.ones(nb), -bb[:, k], -cc[:, k]], axis=1)
        new = np.zeros((nb, den.shape[1] + 2))
        for j in range(3):
            new[:, j:j + den.shape[1]] += quad[:, j:j + 1] * den
        den = new
    gain = np.prod(1 - bb - cc, axis=1)  # unity gain at 0 Hz
    tract = np.empty(n)
    zi = np.zeros(8)
    for i in range(nb):
        s = slice(i * hop, min((i + 1) * hop, n))
        tract[s], zi = signal.lfilter(gain[i:i + 1], den[i], excitation[s], zi=zi)
    loud = voice > 0.5
    tract /= (_rms(tract[loud]) if loud.any() else _rms(tract)) + 1e-12
    # Energy above F4: the all-pole cascade falls too fast, so add the high-passed excitation.
    bright = signal.sosfilt(_band_sos(3500.0, sample_rate, sample_rate, order=2, kind="highpass"),
                            excitation)
    tract += 0.1 * bright / ((_rms(bright[loud]) if loud.any() else _rms(bright)) + 1e-12)

    # Fricatives and bursts: band-passed noise gated by their envelopes, outside the tract.
    bands = _smooth(plan.bands[:, :nb], 2)
    for k, (low, high, _) in enumerate(_BANDS.values()):
        if bands[k].any():
            noise = signal.sosfilt(_band_sos(low, high, sample_rate), rng.standard_normal(n))
            tract += noise / (_rms(noise) + 1e-12) * np.interp(t, centres, bands[k])
    return tract


def _speech_clip(rng: np.random.Generator, v: _Voice, n: int, sample_rate: int) -> np.ndarray:
    """A clean clip at -3 dBFS peak over a -78 dBFS white floor (pauses are not digital zero)."""
    x = _normalize_peak(_synthesize_speech(rng, v, n, sample_rate), CLEAN_PEAK_DBFS)
    return x + _db(_ROOM_TONE_DBFS) * rng.standard_normal(n)
