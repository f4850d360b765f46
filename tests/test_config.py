"""Config loading, overlays, overrides and validation errors that name key and value."""

from __future__ import annotations

import pytest
import yaml

from noisenil.config import Config, load_config, save_config
from noisenil.errors import ConfigError, NoiseNilError
from tests.conftest import PROJECT_ROOT

CONFIGS = PROJECT_ROOT / "configs"


def test_base_yaml_equals_the_built_in_defaults():
    """configs/base.yaml documents every key: it must hold exactly the dataclass defaults."""
    from_file = yaml.safe_load((CONFIGS / "base.yaml").read_text())
    assert from_file == Config().to_dict()


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_config_loads(name):
    cfg = load_config(CONFIGS / name)
    assert cfg.stft.n_bins == 128 or name != "base.yaml"


def test_debug_overlay_changes_only_sizes():
    base, debug = load_config(CONFIGS / "base.yaml"), load_config(CONFIGS / "debug.yaml")
    assert debug.data.batch_size < base.data.batch_size
    assert debug.patches.width < base.patches.width
    assert debug.stft == base.stft


def test_overrides_are_yaml_values_and_nested(tmp_path):
    cfg = load_config(overrides=["data.snr_db=[0, 10]", "data.batch_size=4",
                                 "augment.noise.clicks.p=1.0", "features.representation=complex"])
    assert cfg.data.snr_db == [0.0, 10.0]
    assert cfg.data.batch_size == 4
    assert cfg.augment.noise["clicks"]["p"] == 1.0
    assert cfg.features.channels == 2


def test_extends_chain_and_save_round_trip(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: " + str(CONFIGS / "base.yaml") +
                                     "\ndata: {batch_size: 3}\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\npatches: {width: 64}\n")
    cfg = load_config(tmp_path / "b.yaml")
    assert (cfg.data.batch_size, cfg.patches.width) == (3, 64)
    again = load_config(save_config(cfg, tmp_path / "resolved.yaml"))
    assert again == cfg


@pytest.mark.parametrize("override, key, fragment", [
    ("data.batch_sise=4", "data.batch_sise", "unknown key"),
    ("datta.batch_size=4", "datta", "unknown key"),
    ("data.batch_size=0", "data.batch_size", "positive"),
    ("data.batch_size=4.5", "data.batch_size", "integer"),
    ("data.snr_db=[20, 2]", "data.snr_db", "low <= high"),
    ("data.val_fraction=1.5", "data.val_fraction", "[0, 1)"),
    ("data.mode=streaming", "data.mode", "one of"),
    ("data.mode=mixing", "data.clean_dir", "required"),
    ("data.trim_silence=yes please", "data.trim_silence", "true or false"),
    ("data.speaker_patterns=['(unclosed']", "data.speaker_patterns[0]", "regular expression"),
    ("data.clean_dir=3", "data.clean_dir", "must be a string or a list of strings"),
    ("data.noise_dir=[]", "data.noise_dir", "a folder or a list of folders"),
    ("data.narrowband_p=2", "data.narrowband_p", "1"),
    ("train.max_minutes=-1", "train.max_minutes", "minutes"),
    ("train.budget_clock=gpu", "train.budget_clock", "one of"),
    ("stft.n_fft=255", "stft.n_fft", "even"),
    ("stft.hop_length=500", "stft.hop_length", "n_fft/2"),
    ("features.power=0", "features.power", "(0, 1]"),
    ("patches.height=200", "patches.height", "exceeds"),
    ("patches.chunk_overlap=400", "patches.chunk_overlap", "chunk_width/2"),
    ("augment.noise.clickz.p=1", "augment.noise.clickz", "clicks"),
])
def test_bad_values_name_key_and_value(override, key, fragment):
    with pytest.raises(ConfigError) as info:
        load_config(overrides=[override])
    assert info.value.key == key
    assert str(info.value).startswith(key)
    assert fragment in str(info.value)
    assert isinstance(info.value, NoiseNilError)


def test_a_list_of_folders_is_for_mixing_only():
    cfg = load_config(overrides=["data.mode=mixing", "data.clean_dir=[a, b]", "data.noise_dir=n"])
    assert cfg.data.clean_dir == ["a", "b"] and cfg.data.noise_dir == "n"
    with pytest.raises(ConfigError, match=r"data.clean_dir=\['a', 'b'\].*one folder in paired"):
        load_config(overrides=["data.mode=paired", "data.clean_dir=[a, b]", "data.noisy_dir=n"])


def test_malformed_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="key.subkey=value"):
        load_config(overrides=["batch_size"])
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")


def test_retired_keys_in_older_files_are_ignored(tmp_path):
    """Configs saved before a key was retired (e.g. inside shipped .keras files) still load."""
    old = tmp_path / "old.yaml"
    old.write_text("patches: {hop: 64, width: 64}\n")
    cfg = load_config(old)
    assert cfg.patches.width == 64 and not hasattr(cfg.patches, "hop")
    with pytest.raises(ConfigError, match="patches.hopp"):
        load_config(overrides=["patches.hopp=3"])


def test_every_shipped_config_is_installed_with_the_package():
    import configparser

    setup = configparser.ConfigParser()
    setup.read(PROJECT_ROOT / "setup.cfg")
    listed = setup["options.data_files"]["share/noisenil/configs"].split()
    assert sorted(listed) == sorted(f"configs/{p.name}" for p in CONFIGS.glob("*.yaml"))


def test_shipped_configs_are_found_by_name_from_any_folder(tmp_path, monkeypatch):
    from noisenil.config import find_config, shipped_configs

    monkeypatch.chdir(tmp_path)
    assert shipped_configs() == {p.name: p for p in sorted(CONFIGS.glob("*.yaml"))}
    assert find_config("debug.yaml") == find_config("debug") == CONFIGS / "debug.yaml"
    assert load_config("debug") == load_config(CONFIGS / "debug.yaml")
    (tmp_path / "mine.yaml").write_text("extends: quickstart.yaml\ndata: {batch_size: 3}\n")
    mine = load_config("mine.yaml")  # not shipped: the working directory's
    assert mine.tune.models == load_config("quickstart.yaml").tune.models
    assert mine.data.batch_size == 3
    with pytest.raises(ConfigError, match=r"config='nope': file not found, and not a shipped "
                                          r"config's name \(bakeoff.yaml, .*base.yaml, debug.yaml"):
        load_config("nope")


def test_extends_looks_beside_the_file_before_the_shipped_configs(tmp_path):
    (tmp_path / "base.yaml").write_text("data: {batch_size: 7}\n")
    (tmp_path / "mine.yaml").write_text("extends: base.yaml\n")
    assert load_config(tmp_path / "mine.yaml").data.batch_size == 7
    (tmp_path / "bad.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"extends='nowhere.yaml': in .*bad.yaml: no such file "
                                          r"beside it, nor a shipped config's name"):
        load_config(tmp_path / "bad.yaml")


@pytest.mark.parametrize("override, key", [
    ("data.snr_db=[.nan, 5]", "data.snr_db[0]"),
    ("data.level_db=[-3, .inf]", "data.level_db[1]"),
    ("train.min_learning_rate=.inf", "train.min_learning_rate"),
    ("train.plateau_factor=.nan", "train.plateau_factor"),
    ("features.db_floor=-.inf", "features.db_floor"),
    ("tune.worker_lease_s=.inf", "tune.worker_lease_s"),
    ("model.hparams={learning_rate: .nan}", "model.hparams.learning_rate"),
    ("tune.hparams.dncnn={dropout: .inf}", "tune.hparams.dncnn.dropout"),
    ("tune.space.dncnn.learning_rate=[0.001, .nan]", "tune.space.dncnn.learning_rate[1]"),
    ("augment.clean.volume.p=.nan", "augment.clean.volume.p"),
])
def test_every_float_is_finite_and_named(override, key):
    with pytest.raises(ConfigError, match="must be finite") as info:
        load_config(overrides=[override])
    assert info.value.key == key and str(info.value).startswith(key)


def test_a_yaml_syntax_error_is_one_line_naming_file_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  batch_size: 4\n   val_patches: 8\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"config={str(path)!r}")
    assert "line 3, column 15: mapping values are not allowed here" in message
    with pytest.raises(ConfigError, match=r"^data.snr_db='\[1, \[2': is not a YAML value: line 1, "
                                          r"column 7") as info:
        load_config(overrides=["data.snr_db=[1, [2"])
    assert "\n" not in str(info.value)
