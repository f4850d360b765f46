"""The package's shape: stages in the order of the flow (DESIGN.md, Layout), lower stages never
importing higher ones, no import cycle, short modules, and an inference path that loads nothing
of training, tuning or keras_tuner."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

PACKAGE = Path(__file__).resolve().parents[1] / "noisenil"

#: The stages, lowest first; a module may import only from its own stage or lower ones.
STAGES = [
    ("noisenil.errors", "noisenil.config"),             # used by all
    ("noisenil.dsp",),                                  # audio I/O, STFT/features, chunk plan
    ("noisenil.data",),                                 # manifest, mixing, augment, datasets
    ("noisenil.models", "noisenil.pretrained"),         # layers, bodies, saving, hypermodels
    ("noisenil.inference",),                            # denoiser, streaming, files, export
    ("noisenil.training",),
    ("noisenil.tuning",),
    ("noisenil.evaluation",),                           # metrics, baselines, evaluate, reports
    ("noisenil.cli", "noisenil.quickstart"),
]
#: What a saved model and the inference path must load without.
NOT_FOR_INFERENCE = ("keras_tuner", "noisenil.models.hypermodels", "noisenil.training",
                     "noisenil.tuning", "noisenil.evaluation", "noisenil.data")
MAX_LINES = 400


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Absolute module names ``path`` imports (inside functions too, unless top_level_only)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _stage(module: str) -> int | None:
    for i, prefixes in enumerate(STAGES):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def test_every_module_belongs_to_a_stage():
    assert [m for m, _ in _modules() if m != "noisenil" and _stage(m) is None] == []


def test_no_module_imports_a_higher_stage():
    wrong = []
    for module, path in _modules():
        if module == "noisenil":  # the public face: lazy attributes over every stage
            continue
        for target in _imports(path):
            if target.startswith("noisenil.") and _stage(target) is not None \
                    and _stage(target) > _stage(module):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_inference_and_saving_never_import_the_tuner_side():
    wrong = []
    for module, path in _modules():
        lower = module.startswith(("noisenil.inference", "noisenil.dsp", "noisenil.pretrained",
                                   "noisenil.config")) or (
            module.startswith("noisenil.models") and not module.startswith(
                "noisenil.models.hypermodels"))
        if lower:
            wrong += [f"{module} -> {t}" for t in _imports(path)
                      if t.startswith(NOT_FOR_INFERENCE)]
    assert wrong == []


def test_no_import_cycle():
    modules = dict(_modules())
    graph = {m: {t for t in _imports(p, top_level_only=True) if t in modules and t != m}
             for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(m, trail):
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join(trail + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for t in sorted(graph[m]):
            visit(t, trail + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_modules_are_short():
    long = {m: n for m, p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_noisenil_denoise_loads_neither_training_nor_tuning_nor_keras_tuner(tmp_path):
    """The denoise entry point in a fresh interpreter, on a real file with the shipped model."""
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "in.wav", (0.05 * rng.standard_normal(16000)).astype(np.float32), 16000)
    script = (
        "import json, sys\n"
        "from noisenil.cli import main\n"
        f"rc = main(['-q', 'denoise', {str(tmp_path / 'in.wav')!r}, '-o', "
        f"{str(tmp_path / 'out')!r}])\n"
        f"bad = sorted({{m.split('.')[0] if m.startswith('keras_tuner') else m "
        f"for m in sys.modules if m.startswith({NOT_FOR_INFERENCE!r})}})\n"
        "print(json.dumps({'rc': rc, 'loaded': bad}))\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"rc": 0, "loaded": []}
    assert sf.info(str(tmp_path / "out" / "in.wav")).frames == 16000


PUBLIC = ["load_config", "train", "tune", "load_experiment", "evaluate", "compare", "Denoiser",
          "denoise_files", "export_model", "get_hypermodel", "list_models", "make_demo_corpus",
          "NoiseNilError", "ConfigError", "AudioError", "DatasetError"]


def test_the_public_face_offers_the_api_lazily():
    """`import noisenil` loads no TensorFlow/Keras; each public name resolves on first use."""
    script = ("import json, sys, noisenil\n"
              "heavy = ('tensorflow', 'keras', 'keras_tuner')\n"
              "cheap = not any(m in sys.modules for m in heavy)\n"
              f"names = {PUBLIC!r}\n"
              "listed = [n for n in names if n in dir(noisenil)]\n"
              "usable = [n for n in names if callable(getattr(noisenil, n))]\n"
              "print(json.dumps([cheap, listed, usable]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [True, PUBLIC, PUBLIC]
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        import noisenil

        noisenil.trian  # noqa: B018
