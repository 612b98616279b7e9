"""Whole pieces from a model: primers, event pieces, ABC tunes, and the files they go to.

No torch here. A ``model`` is anything with ``path``, ``kind``, ``tokenizer``, ``training`` and
``encode_text`` (``session.Model`` or the torch-free ``light.LightModel``), and ``open_stream``
is how to get a primed stream from it: ``open_stream(settings, ids)`` → an iterator of steps
with ``.token``, ``.seed`` and ``prime(ids)`` (``stream.Generator`` or ``light.LightStream``).
``session`` binds its PyTorch stream; ``genrnn sample`` binds the light one when it can, so a
piece is written before PyTorch could have been imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genrnn.config import SampleConfig
from genrnn.errors import ConfigError
from genrnn.generation import music
from genrnn.music.notes import MIDI_SUFFIXES

OpenStream = Callable[[SampleConfig, "list[int] | None"], Any]


def require_kind(model: Any, kinds: tuple[str, ...], what: str) -> None:
    if model.kind not in kinds:
        raise ConfigError(f"{model.path}: {what} needs a {' or '.join(kinds)} model; this one is {model.kind!r}")


def read_primer(model: Any, path: str | Path, seconds: float | None = 4.0, labels: Sequence[str] = ()
                ) -> music.MusicPrimer:
    """A .mid primer for an event model: its first ``seconds`` (all when None) as a
    ``MusicPrimer``. Wrong kind of model or file, unreadable MIDI, no notes → one-line errors."""
    from genrnn.music.midi_io import read_midi

    p = Path(path)
    if model.kind != "midi_events":
        raise ConfigError(f"--primer {p}: a MIDI primer needs a MIDI-event model; {model.path.name} is "
                          f"a {model.kind} model (give a text or .abc file)")
    if not p.is_file():
        raise ConfigError(f"--primer {p}: no such file")
    with p.open("rb") as fh:
        magic = fh.read(4)
    if p.suffix.lower() not in MIDI_SUFFIXES and magic != b"MThd":
        raise ConfigError(f"--primer {p}: not a MIDI file; {model.path.name} is a MIDI-event model "
                          f"(give a .mid file)")
    return music.primer_from_sequence(model.tokenizer, read_midi(p), seconds, name=f"--primer {p}", labels=labels)


def sample_piece(model: Any, open_stream: OpenStream, settings: SampleConfig, primer: music.MusicPrimer | None = None,
                 seconds: float = 30.0, max_tokens: int | None = None, until_end: bool = False) -> music.MusicSample:
    """One piece from an event model: primer (or START alone) then ``seconds`` of generated
    music → ``MusicSample`` (sequence with the primer-end marker). The model's END is masked
    unless ``until_end``, which lets it finish the piece before ``seconds``."""
    require_kind(model, ("midi_events",), "sampling music")
    if seconds <= 0:
        raise ConfigError(f"--seconds {seconds:g}: expected a positive number of seconds")
    primer = primer or music.empty_primer(model.tokenizer)
    stream = open_stream(settings, primer.ids)  # the labels not given are drawn here (conditions.py)
    tokens, ended = music.generate_events(stream, primer.end_time, seconds, max_tokens, allow_end=until_end)
    sample = music.build_sample(model.tokenizer, primer, tokens, seconds, ended, stream.seed)
    sample.drawn_labels = list(getattr(stream, "drawn_labels", []))
    return sample


def save_piece(sample: music.MusicSample, path: str | Path, musicxml: bool = False) -> list[Path]:
    """Write a ``MusicSample`` as .mid (the primer-end marker included), plus .musicxml."""
    from genrnn.music.midi_io import write_midi

    p = Path(path)
    written = [write_midi(sample.sequence, p.with_suffix(".mid"))]
    if musicxml:
        from genrnn.music.notation import write_musicxml

        written.append(write_musicxml(sample.sequence, p.with_suffix(".musicxml")))
    return written


def abc_primer_ids(model: Any, text: str | None) -> tuple[str, list[int]]:
    """(head text, primer ids) for an ABC model: the tune separator, then the user's primer
    in the corpus's record form."""
    require_kind(model, ("abc",), "an ABC primer")
    fields = model.training.get("corpus", {}).get("recipe_settings", {}).get("header_fields")
    head = music.abc_primer_text(text, tuple(fields or ("M", "L", "K"))) if text else ""
    return head, model.encode_text(music.TUNE_SEPARATOR + head)


def write_tune(model: Any, open_stream: OpenStream, settings: SampleConfig, primer_text: str | None = None,
               max_chars: int = 1500) -> music.TuneSample:
    """One whole tune's text from an ABC model (not parsed yet: ``check_tune``).

    The model first writes one tune that is thrown away: a fresh state primed with a bare
    separator is unlike any state seen in training (4× fewer unparseable tunes, measured)."""
    head, ids = abc_primer_ids(model, primer_text)
    chars = model.tokenizer.chars
    stream = open_stream(settings, model.encode_text(music.TUNE_SEPARATOR))
    _, ended = music.generate_tune(stream, chars, "", max_chars)  # warm-up tune
    if not ended:  # cut by the cap: end it with a separator (then the primer)
        stream.prime(ids)
    elif head:
        stream.prime(model.encode_text(head))
    text, ended = music.generate_tune(stream, chars, head, max_chars)
    return music.TuneSample(text, ended, None, stream.seed)


def check_tune(tune: music.TuneSample, name: str) -> music.TuneSample:
    """The tune with music21's verdict: its notes, or why it does not parse."""
    tune.error, tune.sequence = music.check_tune(tune.text, name)
    return tune


def save_tune_text(tune: music.TuneSample, path: str | Path) -> Path:
    abc = Path(path).with_suffix(".abc")
    abc.write_text(f"X:1\n{tune.text.rstrip()}\n", encoding="utf-8")
    return abc


def save_tune(tune: music.TuneSample, path: str | Path) -> list[Path]:
    """Write a ``TuneSample`` as .abc (always) and .mid (when it parses)."""
    written = [save_tune_text(tune, path)]
    if tune.sequence is not None:
        from genrnn.music.midi_io import write_midi

        written.append(write_midi(tune.sequence, Path(path).with_suffix(".mid")))
    return written
