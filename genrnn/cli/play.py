"""``genrnn ports``, ``genrnn play FILE.mid --port NAME`` and ``genrnn render IN.mid OUT.wav``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from genrnn.errors import PlaybackError
from genrnn.playback.events import file_events
from genrnn.playback.inputs import list_inputs
from genrnn.playback.player import play_stream, stop_on_signals
from genrnn.playback.ports import PortInfo, list_outputs
from genrnn.playback.scheduler import DEFAULT_LOOKAHEAD, Scheduler
from genrnn.playback.synth import DEFAULT_SAMPLE_RATE, render_wav

console = Console(highlight=False, soft_wrap=True)  # one-line messages stay one line


def register(subparsers: argparse._SubParsersAction) -> None:
    ports = subparsers.add_parser("ports", help="list the MIDI outputs and synth you can play to, and the inputs `jam` hears")
    ports.set_defaults(func=run_ports)

    play = subparsers.add_parser("play", help="play a MIDI file to a port in real time")
    play.add_argument("file", type=Path, metavar="FILE.mid")
    play.add_argument("--port", required=True, metavar="NAME", help="output name (see `genrnn ports`)")
    play.add_argument("--tempo-scale", type=float, default=1.0, metavar="X", help="speed factor: 2 = twice as fast")
    play.add_argument("--loop", action="store_true", help="play again and again until stopped")
    play.add_argument("--soundfont", type=Path, metavar="FILE", help="SoundFont for --port synth")
    play.add_argument("--lookahead", type=float, default=DEFAULT_LOOKAHEAD, metavar="S", help=argparse.SUPPRESS)
    play.set_defaults(func=run_play)

    render = subparsers.add_parser("render", help="render a MIDI file to WAV with the built-in synth")
    render.add_argument("input", type=Path, metavar="IN.mid")
    render.add_argument("output", type=Path, metavar="OUT.wav")
    render.add_argument("--soundfont", type=Path, metavar="FILE", help="General MIDI .sf2 (default: found on the system)")
    render.add_argument("--sample-rate", type=int, default=DEFAULT_SAMPLE_RATE, metavar="HZ")
    render.set_defaults(func=run_render)


def run_ports(args: argparse.Namespace) -> int:
    listing = list_outputs()
    _port_table("genrnn outputs (--port NAME)", listing.ports, listing.os_names, listing.os_error,
                "No OS MIDI outputs", "start a synth or connect a device")
    inputs = list_inputs()
    _port_table("genrnn inputs (genrnn jam --in NAME)", inputs.ports, inputs.os_names, inputs.os_error,
                "No OS MIDI inputs", "connect a keyboard")
    console.print("An OS port may be named by any unique part of its name.")
    return 0


def _port_table(title: str, ports: list[PortInfo], os_names: list[str], os_error: str | None, none: str,
                hint: str) -> None:
    """One table of ports (name, kind, ready, notes), then why there are no OS ports, if so."""
    table = Table(title=title, title_justify="left")
    table.add_column("NAME", style="bold")
    table.add_column("KIND")
    table.add_column("READY")
    table.add_column("NOTES", overflow="fold")
    for port in ports:
        table.add_row(port.name, port.kind, "yes" if port.available else "no", port.description)
    console.print(table)
    if os_error:
        console.print(f"{none}: {os_error}")
    elif not os_names:
        console.print(f"{none}: the MIDI system has none ({hint})")


def run_play(args: argparse.Namespace) -> int:
    events = file_events(args.file)
    if not events:
        raise PlaybackError(f"{args.file}: the file has no notes to play")
    scheduler = Scheduler(lookahead=args.lookahead, tempo_scale=args.tempo_scale)
    with stop_on_signals(scheduler) as caught:
        stats = play_stream(events, args.port, loop=args.loop, soundfont=args.soundfont, scheduler=scheduler)
    how = f"stopped ({caught[0]})" if caught else "stopped" if stats.stopped else "played"
    console.print(
        f"{how} {args.file.name} to {args.port}: {stats.notes} notes in {stats.duration:.1f} s, "
        f"timing p99 {stats.late_p99 * 1e3:.2f} ms, all notes released"
    )
    return 0


def run_render(args: argparse.Namespace) -> int:
    result = render_wav(args.input, args.output, soundfont=args.soundfont, sample_rate=args.sample_rate)
    console.print(
        f"wrote {result.path} ({result.seconds:.1f} s of audio at {result.sample_rate} Hz, "
        f"rendered in {result.elapsed:.2f} s, {result.speed:.0f}x real time)"
    )
    return 0
