"""The dependency rule of ARCHITECTURE.md, and the project's safety promises, checked on the source."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "genrnn"


def _python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    # import-linter is in the test extra: without it this check would pass by not running
    assert exe is not None, (f"lint-imports not found next to {sys.executable}: import-linter is in the "
                             f"test extra; install it with `make setup` (pip install -e '.[test]')")
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "broken" in proc.stdout and " 0 broken" in proc.stdout


@pytest.mark.parametrize("layer", ["tokenizers", "music", "playback"])
def test_light_layers_do_not_import_torch_at_runtime(layer):
    """Importing these layers must not pull torch in (checked in a fresh interpreter)."""
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in _python_files(PACKAGE / layer)]
    modules = [m.removesuffix(".__init__") for m in modules]
    code = ("import sys, importlib\n"
            f"for m in {modules!r}:\n    importlib.import_module(m)\n"
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                names.append(f"{f.value.id}.{f.attr}")
            elif isinstance(f, ast.Name):
                names.append(f.id)
    return names


def test_no_pickle_and_no_unsafe_torch_load():
    offenders = []
    for path in _python_files(PACKAGE) + _python_files(ROOT / "benchmarks"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                if any(n and n.split(".")[0] in {"pickle", "cPickle", "dill", "joblib"} for n in names):
                    offenders.append(f"{path}: imports pickle")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
                kw = {k.arg: k.value for k in node.keywords}
                if not (isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True):
                    offenders.append(f"{path}:{node.lineno}: torch.load without weights_only=True")
    assert not offenders, offenders


def test_library_code_does_not_print_or_exit():
    offenders = []
    for path in _python_files(PACKAGE):
        rel = path.relative_to(PACKAGE).parts
        if rel[0] in {"cli", "tui", "__main__.py"}:  # the front ends, and `python -m genrnn`
            continue
        for name in _calls(ast.parse(path.read_text())):
            if name in {"print", "sys.exit", "exit", "quit", "os._exit"}:
                offenders.append(f"{path}: {name}()")
    assert not offenders, offenders


def test_the_session_and_the_stream_import_without_torch():
    """`genrnn sample` streams an LSTM before torch could load: the session, the stream, its NumPy
    back-end and the file format must not pull it in (the session imports it when it must)."""
    code = ("import sys, genrnn.session, genrnn.generation.stream, genrnn.generation.light, genrnn.fileformat, "
            "genrnn.models.info, genrnn.cli.sample, genrnn.cli.sample_music; "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


def test_a_feature_critic_judges_a_file_without_torch():
    """The feature critic is NumPy: reading a piece and rating it (`genrnn classify CRITIC FILE`,
    `--best-of` with it) must not load PyTorch (read_piece used to live beside the neural
    classifier, which imports it)."""
    critic = ROOT / "checkpoints" / "bach.critic.safetensors"
    piece = ROOT / "checkpoints" / "samples" / "bach_chorale_seed1.mid"
    code = ("import sys; from genrnn import session; "
            f"c = session.load_critic({str(critic)!r}); s = session.read_piece({str(piece)!r}); "
            "p = c.real_probability([s]); print(0 <= float(p[0]) <= 1, 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["True", "False"]
