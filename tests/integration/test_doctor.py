import json
import os
import subprocess
import sys


def test_doctor_reports_and_exits_zero_when_core_works(tiny_run, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.safetensors").write_bytes((tiny_run / "best.safetensors").read_bytes())
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "doctor", "--checkpoints", str(models), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    names = {c["name"]: c for c in data["checks"]}
    assert data["core_ok"] and names["model tiny.safetensors"]["ok"]
    for key in ("Python", "torch", "bf16 on CPU", "CUDA", "FluidSynth library", "SoundFont", "audio device",
                "OS MIDI ports", "socket ports", "cache folder"):
        assert key in names
    for check in data["checks"]:
        assert check["ok"] or check["fix"], check  # every problem comes with its fix


def test_doctor_fails_when_a_model_is_broken(tmp_path):
    (tmp_path / "broken.safetensors").write_bytes(b"not a model")
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "doctor", "--checkpoints", str(tmp_path), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert not json.loads(r.stdout)["core_ok"]


def test_doctor_passes_on_the_shipped_models_folder():
    """Every file that ships in checkpoints/ (the harmonizer too) loads; `make run`'s first check."""
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "checkpoints"
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "doctor", "--checkpoints", str(shipped), "--json"],
                       capture_output=True, text=True, timeout=300)
    data = json.loads(r.stdout)
    models = {c["name"]: c for c in data["checks"] if c["name"].startswith("model ")}
    assert {p.name for p in shipped.glob("*.safetensors")} == {n.removeprefix("model ") for n in models}
    assert all(c["ok"] for c in models.values()), models
    assert "harmonizer" in models["model harmonizer.safetensors"]["detail"]
    assert r.returncode == 0 and data["core_ok"], r.stderr


def test_info_reads_every_shipped_file():
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "checkpoints"
    for path in sorted(shipped.glob("*.safetensors")):
        r = subprocess.run([sys.executable, "-m", "genrnn.cli", "info", str(path), "--json"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (path, r.stderr)
        data = json.loads(r.stdout)
        assert data.get("format", "genrnn-checkpoint").startswith("genrnn-") and data.get("training"), path
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "info", str(shipped / "bach.safetensors")],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "160"})
    assert r.returncode == 0, r.stderr
    assert "140 ms, 150 ms, 160 ms (the tempo lock keeps a piece on one)" in r.stdout and "1 of 32 bins" in r.stdout
