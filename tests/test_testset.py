"""Test sets: folder layouts, fixed-SNR mixtures that are reproducible, paired grouping, the test
split of a config, and errors that name the folder or key."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisenil.config import load_config
from noisenil.errors import ConfigError, DatasetError
from noisenil.data.manifest import scan_folder, split_by_group
from noisenil.data.mixing import snr_db
from noisenil.data.testset import load_test_set


def test_clean_plus_noise_is_mixed_at_every_snr_exactly(demo_dir):
    ts = load_test_set(demo_dir, snrs=(0.0, 5.0, 10.0), max_files=3)
    assert len(ts) == 9 and ts.sample_rate == 16000
    assert [e.snr_db for e in ts.examples] == [0.0, 5.0, 10.0] * 3
    for e in ts.examples:
        assert e.clean.shape == e.noisy.shape and e.clean.dtype == np.float32
        assert snr_db(e.clean, e.noisy - e.clean) == pytest.approx(e.snr_db, abs=0.01)
        assert e.input_snr == pytest.approx(e.snr_db, abs=0.01)
        assert np.max(np.abs(e.noisy)) <= 0.99 + 1e-6
        assert e.noise and e.name.endswith(f"@{e.snr_db:g}dB")
    assert "3 clean files" in ts.description and "0/5/10 dB (seed 0)" in ts.description


def test_max_files_samples_across_the_folder_not_its_first_files(demo_dir):
    every = sorted({e.name.split("@")[0] for e in load_test_set(demo_dir, snrs=(5.0,)).examples})
    some = [e.name.split("@")[0] for e in load_test_set(demo_dir, snrs=(5.0,),
                                                          max_files=3).examples]
    assert len(every) > 3 and len(some) == 3
    assert some[0] == every[0] and some[-1] == every[-1]  # first and last, one between


def test_mixtures_are_reproducible_and_do_not_depend_on_the_other_snrs(demo_dir):
    a = load_test_set(demo_dir, snrs=(0.0, 5.0), max_files=2, seed=3)
    b = load_test_set(demo_dir, snrs=(0.0, 5.0, 10.0), max_files=2, seed=3)
    c = load_test_set(demo_dir, snrs=(0.0, 5.0), max_files=2, seed=4)
    b_by_name = {e.name: e for e in b.examples}
    for e in a.examples:
        np.testing.assert_array_equal(e.noisy, b_by_name[e.name].noisy)
    assert any(not np.array_equal(x.noisy, y.noisy) for x, y in zip(a.examples, c.examples))


def test_paired_folders_are_grouped_by_measured_input_snr(demo_dir):
    ts = load_test_set(Path(demo_dir) / "paired", max_files=4, snr_step=5.0)
    assert 1 <= len(ts) <= 4
    for e in ts.examples:
        assert e.input_snr == pytest.approx(snr_db(e.clean, e.noisy - e.clean), abs=1e-6)
        assert e.snr_db == 5.0 * round(e.input_snr / 5.0)
        assert e.noise == ""
    assert "paired files" in ts.description


def test_a_config_gives_its_held_out_test_split(demo_dir):
    cfg = load_config(overrides=[f"data.demo_dir={demo_dir}", "data.test_fraction=0.2"])
    ts = load_test_set(cfg, snrs=(5.0,))
    clean = scan_folder(Path(demo_dir) / "clean", speaker_patterns=cfg.data.speaker_patterns)
    splits = split_by_group(clean.files, val_fraction=cfg.data.val_fraction,
                            test_fraction=0.2, seed=cfg.data.split_seed)
    assert sorted(e.name for e in ts.examples) == sorted(f"{f.name}@5dB"
                                                         for f in splits["test"])
    train_names = {f.name for f in splits["train"]}
    assert not train_names & {e.name.split("@")[0] for e in ts.examples}


def test_augment_test_noise_degrades_each_noise_reproducibly_at_the_same_snr(demo_dir):
    base = [f"data.demo_dir={demo_dir}", "data.test_fraction=0.2"]
    plain = load_test_set(load_config(overrides=base), snrs=(10.0,))
    clicks = base + ["data.augment_test_noise=true",
                     "augment.noise={clicks: {p: 1.0, rate_hz: [20.0, 40.0]}}"]
    a, b = (load_test_set(load_config(overrides=clicks), snrs=(10.0,)) for _ in range(2))
    assert "augment.noise applied" in a.description
    assert "augment.noise applied" not in plain.description
    assert [e.name for e in a.examples] == [e.name for e in plain.examples]
    for x, y, p in zip(a.examples, b.examples, plain.examples):
        np.testing.assert_array_equal(x.noisy, y.noisy)  # the same set on every run
        # The same clean file (both peak-limited, so equal up to one gain).
        np.testing.assert_allclose(x.clean / np.max(np.abs(x.clean)),
                                   p.clean / np.max(np.abs(p.clean)), atol=1e-6)
        assert x.input_snr == pytest.approx(10.0, abs=0.01)
        # The noise itself changed (clicks added before mixing): not one gain of the plain noise.
        n_aug, n_plain = x.noisy - x.clean, p.noisy - p.clean
        assert abs(np.corrcoef(n_aug, n_plain)[0, 1]) < 0.99


def test_bad_sources_are_refused_naming_what_is_wrong(demo_dir, tmp_path):
    with pytest.raises(DatasetError, match=r"data='.*nowhere': no such folder"):
        load_test_set(tmp_path / "nowhere")
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DatasetError, match=r"expected sub-folders clean/ \+ noisy/.*\['stuff'\]"):
        load_test_set(tmp_path)
    with pytest.raises(ConfigError, match="data.test_fraction=0"):
        load_test_set(load_config(overrides=[f"data.demo_dir={demo_dir}"]))
    with pytest.raises(ConfigError, match=r"snrs=\[\]"):
        load_test_set(demo_dir, snrs=())
    with pytest.raises(ConfigError, match="max_files=0"):
        load_test_set(demo_dir, max_files=0)


def test_the_test_folders_of_a_whole_voicebank_download_are_chosen(demo_dir, tmp_path):
    # VoiceBank-DEMAND as Kaggle mounts it: train and test folders of each kind side by side.
    paired = Path(demo_dir) / "paired"
    for kind in ("clean", "noisy"):
        (tmp_path / f"{kind}_testset_wav").symlink_to(paired / kind)
        (tmp_path / f"{kind}_trainset_28spk_wav").mkdir()
    ts = load_test_set(tmp_path, max_files=3)
    direct = load_test_set(paired, max_files=3)
    assert [e.name for e in ts.examples] == [e.name for e in direct.examples] and len(ts) >= 1
    assert "clean_testset_wav/ + noisy_testset_wav/" in ts.description
    (tmp_path / "clean_testset_2_wav").mkdir()  # two test folders of one kind: ambiguous
    with pytest.raises(DatasetError, match=r"several clean folders .*2 of them named 'test'"):
        load_test_set(tmp_path)


@pytest.mark.realaudio
def test_real_voicebank_demand_pairs_load_at_the_evaluation_rate(audio_dir):
    ts = load_test_set(audio_dir / "fixtures" / "paired" / "vctk_demand", sample_rate=16000)
    assert len(ts) >= 2
    for e in ts.examples:
        assert e.clean.shape == e.noisy.shape and -10 < e.input_snr < 30


def test_a_pair_just_below_0_db_is_grouped_at_plus_0(tmp_path):
    rng = np.random.default_rng(0)
    clean = (0.1 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    noise = rng.standard_normal(16000).astype(np.float32)
    noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2)) * 10 ** (1 / 20)  # -1 dB SNR
    for kind, wav in (("clean", clean), ("noisy", clean + noise)):
        (tmp_path / kind).mkdir()
        sf.write(tmp_path / kind / "a.wav", wav, 16000, subtype="FLOAT")
    (example,) = load_test_set(tmp_path).examples
    assert -2.5 < example.input_snr < 0 and example.snr_db == 0.0
    assert math.copysign(1.0, example.snr_db) == 1.0 and f"{example.snr_db:g}" == "0"
