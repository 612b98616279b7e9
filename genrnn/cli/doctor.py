"""``genrnn doctor``: what this machine offers, what is missing, and the exact fix for each.

Exit 0 when the core works (torch imports, a model trains and samples), even without sound;
exit 1 when something the core needs is broken.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from genrnn.cli._common import emit_json, out

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    core: bool = False  # a failure here means genrnn cannot work


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check this machine: torch, bf16, CUDA, sound, MIDI ports, models")
    p.add_argument("--checkpoints", default=str(SHIPPED), help="folder of models to load and sample")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=run)


def _guard(name: str, fn: Callable[[], Check], core: bool = False) -> Check:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, it never crashes
        return Check(name, False, f"{type(exc).__name__}: {exc}".splitlines()[0][:200], "", core)


def _python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("Python", ok, platform.python_version(), "" if ok else "install Python ≥ 3.10", core=True)


def _torch() -> Check:
    import torch

    return Check("torch", True, f"{torch.__version__}, {torch.get_num_threads()} threads, "
                 f"{os.cpu_count()} CPUs", core=True)


def _bf16() -> Check:
    import torch

    from genrnn.training.loop import bf16_supported

    ok = bf16_supported(torch.device("cpu"))
    return Check("bf16 on CPU", ok, "fast bfloat16 (AVX-512 BF16/AMX): training uses it" if ok else
                 "not available: training runs in fp32 (slower)", "" if ok else "nothing to fix; a newer CPU trains ~2x faster")


def _cuda() -> Check:
    import torch

    if torch.cuda.is_available():
        return Check("CUDA", True, f"{torch.cuda.device_count()} × {torch.cuda.get_device_name(0)}")
    return Check("CUDA", False, f"no CUDA device (torch {torch.__version__})",
                 "optional: on an NVIDIA machine install a CUDA build of torch; --device picks it")


def _fluidsynth() -> Check:
    from genrnn.playback.synth import load_fluidsynth

    load_fluidsynth()
    return Check("FluidSynth library", True, "libfluidsynth loads")


def _soundfont() -> Check:
    from genrnn.playback.synth import find_soundfont

    return Check("SoundFont", True, str(find_soundfont()))


def _audio() -> Check:
    from genrnn.playback.synth import audio_status

    why = audio_status()
    if why is None:
        return Check("audio device", True, "the built-in synth can play (--port synth)")
    return Check("audio device", False, why, "render to files with --wav / genrnn render, or play to a MIDI port")


def _midi_ports() -> Check:
    from genrnn.playback.ports import os_output_names

    names, error = os_output_names()
    if error:
        return Check("OS MIDI ports", False, f"none: {error}",
                     "optional: on Linux load snd-seq (modprobe snd-seq) for ALSA MIDI; or use HOST:PORT socket ports")
    return Check("OS MIDI ports", True, ", ".join(names) or "the MIDI system works; no outputs connected")


def _sockets() -> Check:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
    return Check("socket ports", True, f"loopback works (e.g. --port 127.0.0.1:{port})")


def _cache() -> Check:
    from genrnn.corpora.base import cache_root

    cache = cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache):
        pass
    return Check("cache folder", True, f"{cache} is writable", core=True)


def _model(path: Path) -> Check:
    from genrnn import session

    t0 = time.perf_counter()
    detail = session.check_model(path)
    return Check(f"model {path.name}", True, f"{detail} ({time.perf_counter() - t0:.2f} s)", core=True)


def run(args: argparse.Namespace) -> int:
    checks = [_python(), _guard("torch", _torch, core=True), _guard("bf16 on CPU", _bf16), _guard("CUDA", _cuda),
              _guard("FluidSynth library", _fluidsynth), _guard("SoundFont", _soundfont),
              _guard("audio device", _audio), _guard("OS MIDI ports", _midi_ports),
              _guard("socket ports", _sockets), _guard("cache folder", _cache, core=True)]
    for c in checks:
        if c.name == "FluidSynth library" and not c.ok:
            c.fix = "sudo apt-get install --no-install-recommends fluidsynth (or make setup as root)"
        if c.name == "SoundFont" and not c.ok:
            c.fix = "sudo apt-get install timgm6mb-soundfont, or set GENRNN_SOUNDFONT=/path/to/font.sf2"
    folder = Path(args.checkpoints)
    models = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not models:
        checks.append(Check("shipped models", False, f"none in {folder}", "make checkpoints"))
    for path in models:
        check = _guard(f"model {path.name}", lambda p=path: _model(p), core=True)
        check.fix = check.fix or ("" if check.ok else f"rebuild it with `make checkpoints`, or remove {path}")
        checks.append(check)
    core_ok = all(c.ok for c in checks if c.core)
    if args.json:
        emit_json({"core_ok": core_ok, "checks": [c.__dict__ for c in checks]})
        return 0 if core_ok else 1
    table = Table(title="genrnn doctor")
    for col in ("", "check", "status", "fix"):
        table.add_column(col)
    for c in checks:
        mark = "[green]✓[/]" if c.ok else ("[red]✗[/]" if c.core else "[yellow]–[/]")
        table.add_row(mark, c.name, c.detail, c.fix)
    out.print(table)
    out.print("core: [green]works[/]" if core_ok else "core: [red]broken[/] (see ✗ above)")
    return 0 if core_ok else 1
