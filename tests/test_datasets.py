"""Datasets: batch shapes, split disjointness, determinism, achieved SNR, bad files, backends."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from noisenil.config import load_config
from noisenil.data.audio_store import AudioStore
from noisenil.data.datasets import build_datasets
from noisenil.data.sources import MixingSource
from noisenil.errors import DatasetError
from noisenil.dsp.features import segment_samples
from noisenil.data.mixing import snr_db
from noisenil.dsp.levels import REFERENCE_DBFS, active_rms
from noisenil.dsp.measures import band_energy_db
from tests.conftest import PROJECT_ROOT

DEBUG = PROJECT_ROOT / "configs" / "debug.yaml"


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from noisenil.data.demo import make_demo_corpus

    return make_demo_corpus(tmp_path_factory.mktemp("demo"))


def cfg_for(demo, *extra):
    return load_config(DEBUG, overrides=[f"data.demo_dir={demo.root}", *extra])


def test_demo_mode_batches_have_the_contract_shape(demo):
    bundle = build_datasets(cfg_for(demo), progress=False)
    x, y = bundle.train[0]
    assert x.shape == y.shape == (4, 32, 32, 1)
    assert x.dtype == y.dtype == np.float32
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
    assert len(bundle.train) == 4 and len(bundle.val) == 2
    assert bundle.train[3][0].shape[0] == 4
    # Noise was added: the noisy features differ from the clean ones.
    assert np.mean(np.abs(x - y)) > 0.01


def test_full_size_patches_and_complex_features(demo):
    cfg = cfg_for(demo, "patches.height=128", "patches.width=128", "features.representation=complex")
    x, y = build_datasets(cfg, progress=False).train[0]
    assert x.shape == y.shape == (4, 128, 128, 2)


def test_split_is_by_file_and_speaker_for_clean_and_noise(demo):
    bundle = build_datasets(cfg_for(demo, "data.val_fraction=0.25"), progress=False)
    train = {f.path for f in bundle.splits["train"]}
    val = {f.path for f in bundle.splits["val"]}
    assert train and val and not (train & val)
    speakers = {k: {f.group for f in v if f.group.startswith("spk")}
                for k, v in bundle.splits.items()}
    assert not (speakers["train"] & speakers["val"])
    noise = {k: {f.path for f in v} for k, v in bundle.noise_splits.items()}
    assert noise["val"] and not (noise["train"] & noise["val"])
    # The sources draw only from their own split.
    assert {f.path for f in bundle.val.source.clean} == val
    assert {f.path for f in bundle.train.source.noise} == noise["train"]


def test_batches_are_deterministic_per_epoch_and_validation_is_fixed(demo):
    b1, b2 = (build_datasets(cfg_for(demo), progress=False) for _ in range(2))
    np.testing.assert_array_equal(b1.train[1][0], b2.train[1][0])
    first = b1.train[1][0]
    b1.train.on_epoch_end()
    assert not np.allclose(b1.train[1][0], first)
    v0 = b1.val[0][0]
    b1.val.on_epoch_end()
    np.testing.assert_array_equal(b1.val[0][0], v0)


def test_mixing_hits_the_drawn_snr_in_the_waveform(demo):
    cfg = cfg_for(demo, "data.snr_db=[7.5, 7.5]", "data.level_db=[0, 0]")
    bundle = build_datasets(cfg, progress=False)
    src = bundle.train.source
    plain = MixingSource(src.clean, src.noise, src.store, cfg, length=src.length, augment=False)
    rng = np.random.default_rng(0)
    hits = []
    for _ in range(30):
        noisy, clean = plain.draw(rng)
        hits.append(snr_db(clean, noisy - clean))
    # Segments that fall in a pause are mixed against the file's speech level instead
    # (lower segment SNR); every other segment is at 7.5 dB exactly.
    hits = np.array(hits)
    assert np.sum(np.abs(hits - 7.5) < 0.1) >= 20
    assert np.all(hits < 7.6)


def test_paired_mode(demo):
    cfg = load_config(DEBUG, overrides=[
        "data.mode=paired", f"data.clean_dir={demo.paired_clean_dir}",
        f"data.noisy_dir={demo.paired_noisy_dir}", "data.val_fraction=0.2"])
    bundle = build_datasets(cfg, progress=False)
    x, y = bundle.train[0]
    assert x.shape == (4, 32, 32, 1) and not np.allclose(x, y)
    assert bundle.val is not None and not bundle.unpaired


def test_bad_files_are_reported_and_skipped(demo, tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    for f in sorted(demo.clean_dir.glob("spk01_*.wav"))[:3]:
        (clean / f.name).write_bytes(f.read_bytes())
    sf.write(str(clean / "silent.wav"), np.zeros(16000, np.float32), 16000)
    sf.write(str(clean / "nan.wav"), np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    (clean / "broken.wav").write_bytes(b"not audio")
    cfg = load_config(DEBUG, overrides=["data.mode=mixing", f"data.clean_dir={clean}",
                                        f"data.noise_dir={demo.noise_dir}",
                                        "data.val_fraction=0"])
    bundle = build_datasets(cfg, progress=False)
    bad = {p.name: why for p, why in bundle.bad}
    assert set(bad) == {"silent.wav", "nan.wav", "broken.wav"}
    assert "silent" in bad["silent.wav"] and "NaN" in bad["nan.wav"]
    assert "unreadable" in bad["broken.wav"]
    assert len(bundle.splits["train"]) == 3 and bundle.train[0][0].shape[0] == 4
    assert "3 bad files" in bundle.summary()


def test_short_files_padded_or_rejected(demo, tmp_path):
    store = AudioStore(16000, min_samples=segment_samples(32, load_config(DEBUG).stft))
    short = tmp_path / "short.wav"
    sf.write(str(short), 0.1 * np.ones(500, np.float32), 16000)
    with pytest.raises(Exception, match="too short for one patch"):
        store.get(short)
    assert AudioStore(16000).get(short)[0].shape == (500,)


def test_missing_folder_names_the_key(tmp_path):
    cfg = load_config(DEBUG, overrides=["data.mode=mixing", f"data.clean_dir={tmp_path}/nope",
                                        f"data.noise_dir={tmp_path}"])
    with pytest.raises(DatasetError, match="data.clean_dir=.*folder not found"):
        build_datasets(cfg, progress=False)


@pytest.mark.parametrize("processes", [False, True])
def test_workers_give_the_same_batches_in_order(demo, processes):
    """An identity model's predictions over 2 workers are the direct batches, in order."""
    import keras

    if processes and keras.backend.backend() == "jax":
        pytest.skip("forking worker processes can deadlock with JAX (threads are tested)")
    cfg = cfg_for(demo, "data.workers=2", f"data.use_multiprocessing={str(processes).lower()}")
    ds = build_datasets(cfg, progress=False).train
    direct = np.concatenate([ds.batch(i, epoch=0)[0] for i in range(len(ds))])
    identity = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Identity()])
    np.testing.assert_array_equal(identity.predict(ds, verbose=0), direct)


def test_tf_data_gives_the_same_batches_epoch_after_epoch(demo):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.data needs the TensorFlow backend")
    bundle = build_datasets(cfg_for(demo, "data.pipeline=tf.data"), progress=False)
    ds = bundle.train
    train, val = bundle.inputs()
    stream = iter(train)
    for epoch in range(2):
        for i in range(len(ds)):
            x, y = next(stream)
            np.testing.assert_array_equal(x.numpy(), ds.batch(i, epoch=epoch)[0])
    vstream = iter(val)
    v = [next(vstream)[0].numpy() for _ in range(2 * len(bundle.val))]
    np.testing.assert_array_equal(v[0], v[len(bundle.val)])  # validation repeats itself


def test_a_keras_model_trains_on_the_pydataset(demo):
    """The batches feed keras.Model.fit (threads as workers) and the loss is finite."""
    import keras

    bundle = build_datasets(cfg_for(demo, "data.workers=2"), progress=False)
    model = keras.Sequential([keras.Input((None, None, 1)),
                              keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                              keras.layers.Conv2D(1, 3, padding="same")])
    model.compile(optimizer="adam", loss="log_cosh")
    hist = model.fit(bundle.train, validation_data=bundle.val, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2 and np.all(np.isfinite(hist.history["val_loss"]))


def test_real_fixtures_mix_at_every_rate(audio_dir):
    """Clean speech at 8/16/48 kHz and mono + stereo noises at 16/44.1 kHz all feed batches."""
    cfg = load_config(DEBUG, overrides=[
        "data.mode=mixing", f"data.clean_dir={audio_dir / 'fixtures' / 'speech'}",
        f"data.noise_dir={audio_dir / 'fixtures' / 'noise'}", "data.val_fraction=0"])
    bundle = build_datasets(cfg, progress=False)
    assert not bundle.bad
    rates = {f.info.sample_rate for f in bundle.splits["train"] + bundle.noise_splits["train"]}
    channels = {f.info.channels for f in bundle.noise_splits["train"]}
    assert {8000, 16000, 48000} <= rates and channels == {1, 2}
    for i in range(len(bundle.train)):
        x, y = bundle.train[i]
        assert x.shape == (4, 32, 32, 1) and np.all(np.isfinite(x))


def test_paired_files_shorter_than_a_segment_are_padded(tmp_path):
    """A pair shorter than one training segment is zero-padded, both sides alike."""
    rng = np.random.default_rng(0)
    for d in ("clean", "noisy"):
        (tmp_path / d).mkdir()
    for i in range(3):
        clean = (0.1 * rng.standard_normal(900)).astype(np.float32)  # < 1 segment (2238 samples)
        sf.write(str(tmp_path / "clean" / f"p1_00{i}.wav"), clean, 16000, subtype="FLOAT")
        sf.write(str(tmp_path / "noisy" / f"p1_00{i}.wav"), clean + 0.05, 16000, subtype="FLOAT")
    cfg = load_config(DEBUG, overrides=["data.mode=paired", f"data.clean_dir={tmp_path / 'clean'}",
                                        f"data.noisy_dir={tmp_path / 'noisy'}",
                                        "data.val_fraction=0", "data.level_db=[0, 0]",
                                        "data.normalise_level=false"])
    bundle = build_datasets(cfg, progress=False)
    noisy, clean = bundle.train.source.draw(np.random.default_rng(1))
    assert noisy.shape == clean.shape == (segment_samples(32, cfg.stft),)
    support = clean != 0
    assert 890 <= support.sum() <= 900  # the 900 clean samples, zero padding around them
    np.testing.assert_allclose(noisy[support] - clean[support], 0.05, atol=1e-6)
    assert np.all(noisy[~support] == 0)
    assert bundle.train[0][0].shape == (4, 32, 32, 1)


def level_dbfs(x, sr=16000):
    return 20 * np.log10(active_rms(x, sr))


@pytest.mark.parametrize("normalise", [True, False])
def test_training_pairs_sit_at_the_level_inference_scales_to(demo, normalise):
    """data.normalise_level: the noisy segment at the inference reference (-24 dBFS active
    RMS) plus beta, the target scaled alike; without it, at the files' own levels."""
    cfg = cfg_for(demo, "data.level_db=[0, 0]", "data.snr_db=[5, 5]",
                  f"data.normalise_level={str(normalise).lower()}")
    src = build_datasets(cfg, progress=False).train.source
    plain = MixingSource(src.clean, src.noise, src.store, cfg, length=src.length, augment=False)
    rng = np.random.default_rng(0)
    pairs = [plain.draw(rng) for _ in range(12)]
    levels = np.array([level_dbfs(noisy) for noisy, _ in pairs])
    if normalise:
        np.testing.assert_allclose(levels, REFERENCE_DBFS, atol=0.05)
    else:
        assert np.ptp(levels) > 3.0  # the demo files' own levels differ
    for noisy, clean in pairs:  # the target gets the noisy segment's gain
        assert snr_db(clean, noisy - clean) == pytest.approx(5.0, abs=0.1) or \
            snr_db(clean, noisy - clean) < 5.0  # (a pause is mixed at the file's level)


def energy_above(x, hz, sr=16000):
    """Share of ``x``'s energy above ``hz``, in dB."""
    return band_energy_db(x, sr, hz) - band_energy_db(x, sr)


def fixture_source(audio_dir, rates, *extra):
    cfg = load_config(DEBUG, overrides=[
        "data.mode=mixing", f"data.clean_dir={audio_dir / 'fixtures' / 'speech'}",
        f"data.noise_dir={audio_dir / 'fixtures' / 'noise'}", "data.val_fraction=0",
        "data.snr_db=[0, 0]", *extra])
    src = build_datasets(cfg, progress=False).train.source
    clean = [f for f in src.clean if f.info.sample_rate in rates]
    assert clean, rates
    return MixingSource(clean, src.noise, src.store, cfg, length=8192, augment=False)


def test_band_limited_recordings_train_only_the_narrow_band_condition(audio_dir):
    """8 kHz speech (nothing above 4 kHz) is never paired with wideband noise: input and target
    are band-limited alike, so the network is not taught that a wideband input's top octave is
    noise; wideband speech keeps its noise's top octave unless drawn narrow-band."""
    rng = np.random.default_rng(0)
    narrow = fixture_source(audio_dir, {8000}, "data.narrowband_p=0")
    for _ in range(8):
        noisy, clean = narrow.draw(rng)
        assert energy_above(noisy, 4500) < -35 and energy_above(clean, 4500) < -35
    wide = fixture_source(audio_dir, {16000, 48000}, "data.narrowband_p=0")
    assert np.median([energy_above(wide.draw(rng)[0], 4500) for _ in range(8)]) > -25
    drawn = fixture_source(audio_dir, {16000, 48000}, "data.narrowband_p=1",
                           "data.narrowband_hz=[3400, 3400]")
    for _ in range(4):
        noisy, clean = drawn.draw(rng)
        assert energy_above(noisy, 4500) < -35 and energy_above(clean, 4500) < -35
