"""A battery of broken inputs against every command that reads files or models.

Each case runs the command line (``noisenil.cli.main`` in this process; a slow subset as real
processes) and asserts: a non-zero exit, exactly one line naming the file or key and what is
wrong (the error on stderr, or a folder job's ``FAILED`` line), no traceback, and no input file
changed or added (hashes of the whole input tree before and after).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import PROJECT_ROOT
from noisenil.cli import main

DEBUG = str(PROJECT_ROOT / "configs" / "debug.yaml")


def _full_folder(root: Path) -> Path | None:
    """A folder on a 16 KiB file system: room for a probe, not for a second of audio."""
    folder = root / "full"
    folder.mkdir()
    if os.geteuid() != 0:
        return None
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)],
                          capture_output=True)
    return folder if done.returncode == 0 else None


def _readonly_folder(root: Path) -> Path | None:
    """A folder nothing can be written in: a read-only tmpfs (root), else mode 0555."""
    folder = root / "readonly"
    folder.mkdir()
    if os.geteuid() == 0:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                              capture_output=True)
        return folder if done.returncode == 0 else None
    folder.chmod(0o555)
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The broken (and a few good) inputs, in one tree whose files must never change."""
    import keras

    root = tmp_path_factory.mktemp("bad_inputs")
    ins = root / "in"
    ins.mkdir()
    rng = np.random.default_rng(0)
    sf.write(ins / "good.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    (ins / "empty.wav").write_bytes(b"")
    (ins / "text.wav").write_text("not audio")
    sf.write(ins / "nan.wav", np.full(8000, np.nan, np.float32), 16000, subtype="FLOAT")
    with zipfile.ZipFile(ins / "noconfig.keras", "w") as zf:
        zf.writestr("metadata.json", "{}")
    (ins / "garbage.keras").write_text("hello")
    (ins / "empty.keras").write_bytes(b"")
    keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)]).save(ins / "dense.keras")
    x = keras.Input((None, None, 2))
    keras.Model(x, keras.layers.Conv2D(2, 3, padding="same")(x)).save(ins / "conv2.keras")
    x = keras.Input((None, None, 1))
    keras.Model(x, keras.layers.Conv2D(3, 3, padding="same")(x)).save(ins / "conv13.keras")
    (ins / "no_model").mkdir()
    (ins / "syntax.yaml").write_text("data:\n  batch_size: [1,\n train: 3\n")
    (ins / "list.yaml").write_text("- a\n- b\n")
    (ins / "unknown.yaml").write_text("extends: base.yaml\ntrain: {epoch: 3}\n")
    (ins / "binary.yaml").write_bytes(b"\xff\xfe\x00\x01")
    same = ins / "same"
    same.mkdir()
    sf.write(same / "a.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    paired = ins / "paired"  # a broken clean file: listed once by check-data
    for sub in ("clean", "noisy"):
        (paired / sub).mkdir(parents=True)
        for i in range(4):
            sf.write(paired / sub / f"f{i}.wav",
                     (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    (paired / "clean" / "f3.wav").write_text("broken")
    (ins / "no_clean").mkdir()
    readonly, full = _readonly_folder(root), _full_folder(root)
    yield {"root": root, "in": ins, "out": root / "out", "readonly": readonly, "full": full}
    for folder in (readonly, full):
        if folder is not None and os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], capture_output=True)
    if readonly is not None and os.geteuid() != 0:
        readonly.chmod(0o755)


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


SET = "--set"
DENOISE_WITH = ["denoise", "{in}/good.wav", "-o", "{out}", "--model"]
#: ``(id, argv with {in}/{out}/{ro}/{full} placeholders, exit code, what the one line says)``.
CASES = [
    # -- model files that are not noisenil models
    ("denoise-zip-without-config", [*DENOISE_WITH, "{in}/noconfig.keras"], 2,
     r"noconfig\.keras.*config\.json"),
    ("denoise-not-a-zip", [*DENOISE_WITH, "{in}/garbage.keras"], 2,
     r"garbage\.keras.*not a \.keras model file"),
    ("denoise-empty-model", [*DENOISE_WITH, "{in}/empty.keras"], 2,
     r"empty\.keras.*not a \.keras model file"),
    ("denoise-dense-model", [*DENOISE_WITH, "{in}/dense.keras"], 2,
     r"dense\.keras.*input shape is \(None, 10\)"),
    ("denoise-2ch-no-config", [*DENOISE_WITH, "{in}/conv2.keras"], 2,
     r"conv2\.keras.*no embedded noisenil configuration"),
    ("denoise-wrong-output", [*DENOISE_WITH, "{in}/conv13.keras"], 2,
     r"conv13\.keras.*output has the shape"),
    ("denoise-missing-model", [*DENOISE_WITH, "{in}/missing.keras"], 2, r"missing\.keras"),
    ("denoise-folder-no-model", [*DENOISE_WITH, "{in}/no_model"], 2, r"no_model"),
    ("evaluate-zip-without-config", ["evaluate", "--model", "{in}/noconfig.keras", "--data",
                                     "{in}/paired", "--out", "{out}/e"], 2,
     r"noconfig\.keras.*config\.json"),
    ("evaluate-dense-model", ["evaluate", "--model", "{in}/dense.keras", "--data",
                              "{in}/paired", "--out", "{out}/e"], 2, r"dense\.keras.*input shape"),
    ("evaluate-2ch-no-config", ["evaluate", "--model", "{in}/conv2.keras", "--data",
                                "{in}/paired", "--out", "{out}/e"], 2,
     r"conv2\.keras.*no embedded"),
    ("compare-zip-without-config", ["compare", "{in}/noconfig.keras", "--data", "{in}/paired",
                                    "--out", "{out}/c"], 2, r"noconfig\.keras.*config\.json"),
    ("compare-not-a-zip", ["compare", "{in}/garbage.keras", "--data", "{in}/paired", "--out",
                           "{out}/c"], 2, r"garbage\.keras"),
    ("export-zip-without-config", ["export", "--model", "{in}/noconfig.keras", "--out",
                                   "{out}/x"], 2, r"noconfig\.keras.*config\.json"),
    ("export-dense-model", ["export", "--model", "{in}/dense.keras", "--out", "{out}/x"], 2,
     r"dense\.keras.*input shape"),
    ("export-2ch-no-config", ["export", "--model", "{in}/conv2.keras", "--format", "onnx",
                              "--out", "{out}/x.onnx"], 2, r"conv2\.keras.*no embedded"),
    ("train-init-from-zip", ["train", "--config", DEBUG, "--run-dir", "{out}/r", SET,
                             "train.init_from={in}/noconfig.keras"], 2,
     r"train\.init_from.*noconfig\.keras"),
    ("train-init-from-dense", ["train", "--config", DEBUG, "--run-dir", "{out}/r", SET,
                               "train.init_from={in}/dense.keras"], 2,
     r"train\.init_from.*dense\.keras"),
    # -- audio files
    ("denoise-empty-wav", ["denoise", "{in}/empty.wav", "-o", "{out}"], 1,
     r"FAILED .*empty\.wav"),
    ("denoise-text-wav", ["denoise", "{in}/text.wav", "-o", "{out}"], 1,
     r"FAILED .*text\.wav.*unreadable"),
    ("denoise-nan-wav", ["denoise", "{in}/nan.wav", "-o", "{out}"], 1,
     r"FAILED .*nan\.wav.*(NaN|Inf)"),
    ("denoise-missing-wav", ["denoise", "{in}/missing.wav", "-o", "{out}"], 2,
     r"missing\.wav.*no such file"),
    ("denoise-into-its-own-folder", ["denoise", "{in}/same", "-o", "{in}/same"], 2,
     r"same.*are the same folder"),
    ("denoise-bad-strength", ["denoise", "{in}/good.wav", "-o", "{out}", "--strength", "2"], 2,
     r"strength=2"),
    # -- configuration
    ("train-yaml-syntax", ["train", "--config", "{in}/syntax.yaml"], 2,
     r"syntax\.yaml.*line 4, column 1"),
    ("tune-yaml-syntax", ["tune", "--config", "{in}/syntax.yaml"], 2, r"syntax\.yaml.*line 4"),
    ("check-data-yaml-syntax", ["check-data", "--config", "{in}/syntax.yaml"], 2,
     r"syntax\.yaml.*line 4"),
    ("evaluate-yaml-syntax", ["evaluate", "--model", "default", "--config", "{in}/syntax.yaml",
                              "--out", "{out}/e"], 2, r"syntax\.yaml.*line 4"),
    ("train-yaml-not-a-mapping", ["train", "--config", "{in}/list.yaml"], 2,
     r"list\.yaml.*mapping"),
    ("train-yaml-binary", ["train", "--config", "{in}/binary.yaml"], 2, r"binary\.yaml"),
    ("train-yaml-unknown-key", ["train", "--config", "{in}/unknown.yaml"], 2,
     r"train\.epoch.*unknown key"),
    ("train-missing-config", ["train", "--config", "{in}/missing.yaml"], 2,
     r"missing\.yaml.*not found"),
    ("train-nan-snr", ["train", "--config", DEBUG, SET, "data.snr_db=[.nan, 5]"], 2,
     r"data\.snr_db.*finite"),
    ("tune-inf-min-lr", ["tune", "--config", DEBUG, SET, "train.min_learning_rate=.inf"], 2,
     r"train\.min_learning_rate=inf.*finite"),
    ("tune-nan-pinned-hparam", ["tune", "--config", DEBUG, SET,
                                "tune.hparams.dncnn={learning_rate: .nan}"], 2,
     r"tune\.hparams\.dncnn\.learning_rate.*finite"),
    ("tune-zero-lease", ["tune", "--config", DEBUG, SET, "tune.worker_lease_s=0"], 2,
     r"tune\.worker_lease_s"),
    ("check-data-bad-override-yaml", ["check-data", "--config", DEBUG, SET,
                                      "data.batch_size=[1,"], 2, r"data\.batch_size.*line 1"),
    ("check-data-unknown-key", ["check-data", "--config", DEBUG, SET, "data.bogus=1"], 2,
     r"data\.bogus.*unknown key"),
    # -- data folders
    ("check-data-broken-clean-file", ["check-data", "--config", DEBUG, SET, "data.mode=paired",
                                      SET, "data.clean_dir={in}/paired/clean", SET,
                                      "data.noisy_dir={in}/paired/noisy"], 1, r"f3\.wav"),  # once
    ("train-missing-data-folder", ["train", "--config", DEBUG, "--run-dir", "{out}/r", SET,
                                   "data.mode=paired", SET, "data.clean_dir={in}/nowhere", SET,
                                   "data.noisy_dir={in}/nowhere"], 2,
     r"data\.clean_dir.*folder not found"),
    ("evaluate-missing-data", ["evaluate", "--model", "default", "--data", "{in}/nowhere",
                               "--out", "{out}/e"], 2, r"nowhere"),
    ("evaluate-data-without-clean", ["evaluate", "--model", "default", "--data",
                                     "{in}/no_clean", "--out", "{out}/e"], 2, r"no_clean"),
    # -- where nothing can be written
    ("train-readonly-run-dir", ["train", "--config", DEBUG, "--run-dir", "{ro}/run"], 2,
     r"train\.run_dir=.*readonly/run.*cannot write"),
    ("tune-readonly-results", ["tune", "--config", DEBUG, SET, "tune.results_dir={ro}/t"], 2,
     r"tune\.results_dir/tune\.experiment=.*cannot write"),
    ("evaluate-readonly-out", ["evaluate", "--model", "default", "--data", "{in}/paired",
                               "--out", "{ro}/e"], 2, r"out_dir=.*readonly/e.*cannot write"),
    ("compare-readonly-out", ["compare", "default", "--data", "{in}/paired", "--out",
                              "{ro}/c"], 2, r"out_dir=.*readonly/c.*cannot write"),
    ("denoise-readonly-output", ["denoise", "{in}/good.wav", "-o", "{ro}/x.wav"], 2,
     r"readonly.*cannot write"),
    ("export-readonly-out", ["export", "--model", "{in}/../model/tiny.keras", "--out",
                             "{ro}/x"], 2, r"readonly.*cannot write"),
    ("denoise-disk-full", ["denoise", "{in}/good.wav", "-o", "{full}/x.wav"], 1,
     r"FAILED .*good\.wav: cannot write .*full/x\.wav: no space left on device \(ENOSPC\)"),
]
READONLY_REASON = r"\((EROFS|EACCES)\)"


def _argv(case_args, inputs) -> list[str]:
    places = {"{in}": inputs["in"], "{out}": inputs["out"], "{ro}": inputs["readonly"],
              "{full}": inputs["full"]}
    argv = []
    for arg in case_args:
        for key, value in places.items():
            arg = arg.replace(key, str(value))
        argv.append(arg)
    return argv


@pytest.fixture(scope="module")
def tiny_model(inputs):
    """A real noisenil model (for the cases about where it is written)."""
    from noisenil.config import load_config
    from noisenil.models import hypermodel_from_config
    from noisenil.models.saving import save_model

    import keras_tuner as kt

    cfg = load_config(DEBUG)
    model = hypermodel_from_config(cfg).build(kt.HyperParameters())
    path = inputs["root"] / "model" / "tiny.keras"
    save_model(model, path, cfg)
    return path


@pytest.mark.parametrize("case_id,args,code,says", CASES, ids=[c[0] for c in CASES])
def test_a_bad_input_gets_one_line_and_changes_nothing(inputs, tiny_model, capsys, case_id,
                                                       args, code, says):
    for place, key in (("{ro}", "readonly"), ("{full}", "full")):
        if place in " ".join(args) and inputs[key] is None:
            pytest.skip(f"no {key} folder can be made here (not root, or no tmpfs)")
    before = _tree_hashes(inputs["in"])
    rc = main(["-q", *_argv(args, inputs)])  # a traceback would fail the test here
    out, err = capsys.readouterr()
    assert rc == code, f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
    # Exit 2: the error, alone on stderr. Exit 1 (a folder job or a data check that went on):
    # the one line of the report that names the bad file.
    lines = err.strip().splitlines() if code == 2 else [
        x.strip() for x in out.splitlines() if re.search(says, x)]
    assert len(lines) == 1, f"stdout:\n{out}\nstderr:\n{err}"
    assert re.search(says, lines[0]), lines[0]
    if "{ro}" in " ".join(args):
        assert re.search(READONLY_REASON, lines[0]), lines[0]
    assert "Traceback" not in out + err
    assert _tree_hashes(inputs["in"]) == before  # no input changed, no file added
    if inputs["full"] is not None:
        assert list(inputs["full"].iterdir()) == []  # no partial output left


#: Cases run again as real processes: the console script's whole stderr.
PROCESS_CASES = ["denoise-zip-without-config", "denoise-dense-model", "train-yaml-syntax",
                 "tune-readonly-results", "evaluate-2ch-no-config", "export-dense-model"]
#: Lines TensorFlow and absl print on start-up whatever noisenil does.
_NOISE = re.compile(r"^(I0000|W0000|E0000|WARNING: All log messages|WARNING noisenil)")


@pytest.mark.slow  # one interpreter per case (TensorFlow start-up), ~1 min
@pytest.mark.parametrize("case_id", PROCESS_CASES)
def test_the_console_script_prints_one_line_and_no_traceback(inputs, tiny_model, case_id):
    case = next(c for c in CASES if c[0] == case_id)
    if "{ro}" in " ".join(case[1]) and inputs["readonly"] is None:
        pytest.skip("no read-only folder can be made here")
    before = _tree_hashes(inputs["in"])
    proc = subprocess.run([sys.executable, "-m", "noisenil.cli", "-q", *_argv(case[1], inputs)],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    lines = [x for x in proc.stderr.splitlines() if x.strip() and not _NOISE.match(x)]
    assert proc.returncode == case[2], proc.stderr[-3000:]
    assert len(lines) == 1 and re.search(case[3], lines[0]), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert _tree_hashes(inputs["in"]) == before


def test_a_file_system_error_under_a_long_job_is_one_line(monkeypatch, capsys):
    """Whatever the checks before the work, a disk can fill or a mount vanish during it."""
    from noisenil.cli import commands

    def fill_the_disk(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/results/trials.csv")

    monkeypatch.setitem(commands.COMMANDS, "check-data", fill_the_disk)
    assert main(["-q", "check-data", "--config", DEBUG]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["noisenil check-data: error: /results/trials.csv: no space left on device "
                   "(ENOSPC)"]
