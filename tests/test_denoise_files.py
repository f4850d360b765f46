"""``noisenil denoise`` / ``denoise_files``: files and folders in any rate, channel count and
format come back the same length, rate, channels and subtype; strength, residual, overwrite,
limiting, bad files, and the pretrained default model."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest
import soundfile as sf

from noisenil.cli import main
from noisenil.config import load_config
from noisenil.inference.files import denoise_file, denoise_files, plan_outputs, residual_path
from noisenil.inference.denoiser import Denoiser
from noisenil.models.saving import save_model
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.models import get_hypermodel


def identity() -> Denoiser:
    inp = keras.Input((None, None, 1))
    return Denoiser(keras.Model(inp, keras.layers.Identity()(inp), name="identity"),
                    load_config())


def tiny_unet() -> Denoiser:
    keras.utils.set_random_seed(0)
    hm = get_hypermodel("unet", base_filters=4, depth=2, dropout=0.0, head="residual")
    return Denoiser(hm.build(kt.HyperParameters()), load_config(), name="tiny")


def tone(sr: int, seconds: float, channels: int, level: float = 0.3) -> np.ndarray:
    """``(samples, channels)`` sines below 3 kHz (they survive the 16 kHz network rate)."""
    t = np.arange(int(sr * seconds)) / sr
    cols = [level * np.sin(2 * np.pi * (220 + 110 * c) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * t))
            for c in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)


def write(path, x, sr, subtype="PCM_16", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, subtype=subtype, format=fmt)
    return path


@pytest.mark.parametrize("sr", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_length_rate_channels_and_subtype_are_kept(sr, channels, tmp_path):
    src = write(tmp_path / "in" / "a.wav", tone(sr, 0.77, channels), sr, "PCM_24")
    res = denoise_file(tiny_unet(), src, tmp_path / "out" / "a.wav")
    assert res.ok, res.message
    info, before = sf.info(str(res.output)), sf.info(str(src))
    assert (info.frames, info.samplerate, info.channels, info.subtype, info.format) == (
        before.frames, before.samplerate, before.channels, "PCM_24", "WAV")


@pytest.mark.parametrize("suffix,fmt,subtype", [(".flac", "FLAC", "PCM_16"),
                                                (".ogg", "OGG", "VORBIS"),
                                                (".wav", "WAV", "FLOAT")])
def test_other_containers_keep_their_format(suffix, fmt, subtype, tmp_path):
    src = write(tmp_path / f"a{suffix}", tone(22050, 1.0, 2), 22050, subtype, fmt)
    res = denoise_file(tiny_unet(), src, tmp_path / "out" / f"a{suffix}")
    assert res.ok, res.message
    info = sf.info(str(res.output))
    assert (info.format, info.subtype, info.channels, info.samplerate) == (fmt, subtype, 2, 22050)
    assert info.frames == sf.info(str(src)).frames


def test_a_clean_signal_keeps_its_level_through_the_pipeline(tmp_path):
    """No gain anywhere: an identity network gives the input back within 0.01 dB (44.1 kHz
    stereo, so both resamplers are in the path)."""
    x = tone(44100, 3.0, 2)
    src = write(tmp_path / "a.wav", x, 44100, "FLOAT")
    res = denoise_file(identity(), src, tmp_path / "out.wav")
    y, _ = sf.read(str(res.output), dtype="float32")
    level = 20 * np.log10(np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean(x ** 2)))
    assert abs(level) < 0.01
    assert np.max(np.abs(y - x)) < 0.01


def test_strength_zero_returns_the_input_and_half_is_the_midpoint(tmp_path):
    src = write(tmp_path / "a.wav", tone(16000, 2.0, 1) + 0.05 * np.random.default_rng(0)
                .standard_normal((32000, 1)).astype(np.float32), 16000)
    den = tiny_unet()
    x, _ = sf.read(str(src), dtype="int16")
    dry = denoise_file(den, src, tmp_path / "s0.wav", strength=0.0)
    assert np.array_equal(sf.read(str(dry.output), dtype="int16")[0], x)  # bit for bit
    wet = denoise_file(den, src, tmp_path / "s1.wav", strength=1.0)
    half = denoise_file(den, src, tmp_path / "s05.wav", strength=0.5)
    xs, w, h = (sf.read(str(p), dtype="float32")[0]
                for p in (src, wet.output, half.output))
    assert np.max(np.abs(w - xs)) > 0.01  # the network did change it
    assert np.max(np.abs(h - 0.5 * (xs + w))) < 2 / 32768  # within PCM_16 rounding


def test_residual_plus_output_is_the_input(tmp_path):
    rng = np.random.default_rng(1)
    x = tone(48000, 1.5, 2) + 0.05 * rng.standard_normal((72000, 2)).astype(np.float32)
    src = write(tmp_path / "a.wav", x, 48000)
    res = denoise_file(tiny_unet(), src, tmp_path / "out" / "a.wav", residual=True)
    assert res.residual == residual_path(res.output) == tmp_path / "out" / "a_residual.wav"
    y, r = (sf.read(str(p), dtype="float32")[0] for p in (res.output, res.residual))
    xs = sf.read(str(src), dtype="float32")[0]
    assert np.max(np.abs(y + r - xs)) <= 2 / 32768
    assert np.sqrt(np.mean(r ** 2)) > 1e-3  # something was removed


def test_existing_outputs_and_the_input_itself_are_not_overwritten(tmp_path):
    src = write(tmp_path / "a.wav", tone(16000, 0.5, 1), 16000)
    before = src.read_bytes()
    dest = write(tmp_path / "out" / "a.wav", tone(16000, 0.1, 1), 16000)
    kept = dest.read_bytes()
    den = tiny_unet()
    res = denoise_file(den, src, dest)
    assert not res.ok and "exists; pass --overwrite" in res.message
    assert dest.read_bytes() == kept
    res = denoise_file(den, src, src)
    assert not res.ok and "is the input" in res.message and src.read_bytes() == before
    res = denoise_file(den, src, src, overwrite=True)  # in place, via a temporary file
    assert res.ok and src.read_bytes() != before
    assert sf.info(str(src)).frames == 8000
    assert not list(tmp_path.glob(".*.part"))


def test_a_folder_keeps_its_layout_and_bad_files_are_reported_not_fatal(tmp_path, capsys):
    inp = tmp_path / "in"
    write(inp / "a.wav", tone(16000, 0.6, 1), 16000)
    write(inp / "sub" / "deep" / "b.flac", tone(44100, 0.6, 2), 44100)
    (inp / "notes.txt").write_text("not audio: ignored")
    (inp / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    write(inp / "empty.wav", np.zeros((0, 1), np.float32), 16000)
    nan = tone(16000, 0.5, 1, level=0.1).astype(np.float32)
    nan[1234] = np.nan
    write(inp / "nan.wav", nan, 16000, "FLOAT")
    model = tmp_path / "tiny.keras"
    save_model(tiny_unet().model, model, load_config())

    code = main(["-q", "denoise", str(inp), "-o", str(tmp_path / "out"), "--model", str(model)])
    out = capsys.readouterr().out
    assert code == 1
    assert (tmp_path / "out" / "a.wav").is_file()
    assert sf.info(str(tmp_path / "out" / "sub" / "deep" / "b.flac")).channels == 2
    assert "denoised 2 of 5 files" in out
    for name, why in [("broken.wav", "unreadable"), ("empty.wav", "empty"),
                      ("nan.wav", "NaN or Inf samples (first at 0.08 s)")]:
        assert f"FAILED {inp / name}" in out and why in out
        assert not (tmp_path / "out" / name).exists()
    assert not list((tmp_path / "out").rglob("*.part"))

    report = denoise_files([inp / "a.wav"], tmp_path / "single.wav", model=model,
                           progress=False)
    assert report.exit_code == 0 and (tmp_path / "single.wav").is_file()


def test_samples_beyond_full_scale_are_limited_and_reported(tmp_path):
    """A network that adds 6 dB everywhere (the Denoiser's cap) pushes a 0.9 peak to 1.8."""
    inp = keras.Input((None, None, 1))
    louder = keras.Model(inp, keras.layers.Rescaling(1.0, offset=0.06)(inp))
    den = Denoiser(louder, load_config())
    src = write(tmp_path / "a.wav", tone(16000, 1.0, 1, level=0.9), 16000)
    res = denoise_file(den, src, tmp_path / "out.wav")
    assert res.ok and res.limited > 1000 and res.peak_db > 4.0
    y, _ = sf.read(str(res.output), dtype="float32")
    assert np.max(np.abs(y)) <= 1.0
    report = denoise_files(src, tmp_path / "again", model=den, progress=False)
    assert "limited" in report.summary() and "dBFS" in report.summary()
    # A float file stores the louder signal as it is: nothing to limit.
    fsrc = write(tmp_path / "f.wav", tone(16000, 1.0, 1, level=0.9), 16000, "FLOAT")
    res = denoise_file(den, fsrc, tmp_path / "fout.wav")
    assert res.limited == 0 and np.max(np.abs(sf.read(str(res.output))[0])) > 1.5


def test_bad_arguments_name_the_parameter(tmp_path):
    src = write(tmp_path / "a.wav", tone(16000, 0.3, 1), 16000)
    with pytest.raises(ConfigError, match=r"strength=1.5: must be in \[0, 1\]"):
        denoise_files(src, tmp_path / "o", model=identity(), strength=1.5)
    with pytest.raises(NoiseNilError, match="no such file or folder"):
        plan_outputs([tmp_path / "missing.wav"], tmp_path / "o")
    (tmp_path / "d1").mkdir()
    with pytest.raises(NoiseNilError, match="no audio files"):
        plan_outputs([tmp_path / "d1"], tmp_path / "o")
    write(tmp_path / "d2" / "a.wav", tone(16000, 0.3, 1), 16000)
    with pytest.raises(NoiseNilError, match="would both be written to"):
        plan_outputs([src, tmp_path / "d2"], tmp_path / "o")


def test_an_output_folder_inside_the_input_folder_is_not_read_back(tmp_path):
    write(tmp_path / "a.wav", tone(16000, 0.3, 1), 16000)
    write(tmp_path / "den" / "a.wav", tone(16000, 0.3, 1), 16000)  # an earlier run's output
    pairs = plan_outputs([tmp_path], tmp_path / "den")
    assert pairs == [(tmp_path / "a.wav", tmp_path / "den" / "a.wav")]


def test_an_input_folder_that_is_the_output_folder_is_refused_for_that_reason(tmp_path):
    rec = tmp_path / "rec"
    for name in ("a.wav", "b.wav", "sub/c.wav", "d.wav"):
        write(rec / name, tone(16000, 0.3, 1), 16000)
    with pytest.raises(NoiseNilError, match=r"input='.*rec' and output='.*rec' are the same "
                                            r"folder"):
        plan_outputs([rec], rec)
    with pytest.raises(NoiseNilError, match="are the same folder"):
        plan_outputs([rec], tmp_path / "rec" / ".." / "rec")
    # An input folder inside the output folder is fine: its files are not outputs.
    pairs = plan_outputs([rec], tmp_path)
    assert [dst for _, dst in pairs] == [tmp_path / n for n in ("a.wav", "b.wav", "d.wav",
                                                                "sub/c.wav")]


def test_the_pretrained_default_model_ships_small_with_its_config_and_reduces_noise(tmp_path):
    """``--model`` omitted: the packaged model loads with its embedded configuration, is a few
    MB (at most 10), and raises the SNR of a noisy tone (its held-out speech results are in its
    model card)."""
    from noisenil.pretrained import default_model_path, model_card_path

    path = default_model_path()
    assert path.stat().st_size <= 10e6 and model_card_path().is_file()
    den = Denoiser.from_file(path)
    assert den.config_source == "embedded" and den.sample_rate == 16000
    rng = np.random.default_rng(0)
    clean = tone(16000, 3.0, 1)[:, 0]
    noisy = clean + 0.1 * rng.standard_normal(clean.shape).astype(np.float32)
    out = den.denoise(noisy)

    def snr(x):
        return 10 * np.log10(np.sum(clean ** 2) / np.sum((x - clean) ** 2))

    assert snr(out) > snr(noisy) + 3.0
