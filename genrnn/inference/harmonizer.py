"""Many-to-many inference: a harmonizer file, and the voices it writes under a melody.

The melody goes onto the 16th grid (genrnn/music/voices.py), the decoder writes the voices
frame by frame with its state carried (models/harmonizer.py), and the result is written under
the melody exactly as it was played, at its tempo. Silence before the melody's first note and
after its last stays silent.

File: ``best.safetensors`` of a ``genrnn harmonize train`` run (genrnn/fileformat.py, format
``genrnn-harmonizer``): weights, model config, voices, grid and vocabulary, training record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrnn import fileformat
from genrnn.config import from_dict
from genrnn.errors import CheckpointError, ConfigError
from genrnn.models.harmonizer import Harmonizer, HarmonizerConfig, make_batch
from genrnn.models.weights import file_tensors, load_weights
from genrnn.music import metrics
from genrnn.music import voices as V

DEFAULT_CHECKPOINTS = (Path("runs/harmonizer/best.safetensors"), Path("checkpoints/harmonizer.safetensors"))


# ---------------------------------------------------------------- files


@dataclass
class HarmonizerCheckpoint:
    path: Path
    model: Harmonizer
    training: dict[str, Any]

    @property
    def voices(self) -> tuple[str, ...]:
        return self.model.config.voices


def grid_spec() -> dict[str, int]:
    return {"frames_per_quarter": V.FRAMES_PER_QUARTER, "pitch_lo": V.PITCH_LO, "pitch_hi": V.PITCH_HI,
            "meter_size": V.METER_SIZE}


def save_harmonizer(path: str | Path, model: Harmonizer, training: dict[str, Any],
                    dtype: torch.dtype | None = None) -> Path:
    """Weights + JSON metadata, atomically. ``dtype=torch.bfloat16`` halves the file."""
    config = asdict(model.config)
    config["voices"] = list(model.config.voices)
    fields = {"model_config": config, "voices": list(model.config.voices), "grid": grid_spec(),
              "vocab": V.token_names(), "training": training}
    return fileformat.write(path, fileformat.HARMONIZER, fields, file_tensors(model.state_dict(), dtype))


def resolve_harmonizer_path(path: str | Path | None) -> Path:
    """An explicit path (a run folder means its best.safetensors), else the first default that exists."""
    if path is None:
        for candidate in DEFAULT_CHECKPOINTS:
            if candidate.is_file():
                return candidate
        raise CheckpointError(
            "no harmonizer checkpoint: none at " + " or ".join(str(p) for p in DEFAULT_CHECKPOINTS)
            + "; train one with `genrnn harmonize train --out runs/harmonizer` (a few minutes on a CPU) "
              "or pass --checkpoint PATH")
    p = fileformat.resolve(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint; train one with `genrnn harmonize train --out DIR`")
    return p


def load_harmonizer(path: str | Path | None = None) -> HarmonizerCheckpoint:
    """Load and validate a harmonizer checkpoint; every problem is a CheckpointError that names it."""
    header = fileformat.read_header(resolve_harmonizer_path(path)).expect(fileformat.HARMONIZER)
    path = header.path
    grid = header.field("grid")
    if grid != grid_spec():
        raise CheckpointError(f"{path}: made for the grid {grid}, this genrnn uses {grid_spec()}")
    config = _config_from(path, header.field("model_config"))
    vocab = header.field("vocab")
    if not isinstance(vocab, list) or len(vocab) != config.vocab_size or vocab != V.token_names():
        raise CheckpointError(f"{path}: vocabulary does not match the grid's {V.VOCAB_SIZE} tokens")
    voices = header.field("voices")
    if list(config.voices) != voices:
        raise CheckpointError(f"{path}: metadata voices {voices} disagree with the model config {list(config.voices)}")
    model = Harmonizer(config)
    load_weights(header, model)
    model.eval()
    return HarmonizerCheckpoint(path, model, header.table("training"))


def _config_from(path: Path, raw: Any) -> HarmonizerConfig:
    try:
        config = from_dict(HarmonizerConfig, raw, where="model_config")
    except ConfigError as exc:
        raise CheckpointError(f"{path}: bad model config: {exc}") from None
    if config.vocab_size != V.VOCAB_SIZE or config.meter_size != V.METER_SIZE:
        raise CheckpointError(f"{path}: vocab_size/meter_size {config.vocab_size}/{config.meter_size} do not "
                              f"match the grid ({V.VOCAB_SIZE}/{V.METER_SIZE})")
    return config


# ---------------------------------------------------------------- voices under a melody


@torch.no_grad()
def generate_lines(model: Harmonizer, melodies: Sequence[tuple[np.ndarray, np.ndarray]], temperature: float = 0.0,
                   seed: int = 0, batch_size: int = 32) -> list[dict[str, np.ndarray]]:
    """Free-running harmonization of (melody tokens (T,), meter (T,)) → per melody {voice: tokens}.
    Silence before the melody's first note and after its last stays silent: the chorales never
    begin with a rest, so the model would otherwise fill a count-in with a held chord."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    spans = [_sounding_span(m) for m, _ in melodies]
    out: list[dict[str, np.ndarray]] = []
    for i in range(0, len(melodies), batch_size):
        chunk = [(m[a:b], pos[a:b]) for (m, pos), (a, b) in zip(melodies[i : i + batch_size], spans[i : i + batch_size],
                                                                strict=True)]
        fake = [(np.stack([V.window(m, 0, len(m))] * 4, axis=1), pos) for m, pos in chunk]
        batch = make_batch(fake, model.config.voices)
        lines = model.generate(batch.melody, batch.meter, batch.lengths, temperature, gen).numpy()
        for j, (m, _) in enumerate(melodies[i : i + batch_size]):
            a, b = spans[i + j]
            full = np.full((len(m), len(model.config.voices)), V.REST, dtype=np.int16)
            full[a:b] = lines[j, : b - a]
            out.append({v: full[:, k].copy() for k, v in enumerate(model.config.voices)})
    return out


def _sounding_span(tokens: np.ndarray) -> tuple[int, int]:
    """First frame of the melody's first note .. one past the last sounding frame."""
    on = np.flatnonzero(np.asarray(tokens) != V.REST)
    return (int(on[0]), int(on[-1]) + 1) if on.size else (0, len(tokens))


@dataclass
class HarmonizeResult:
    out: Path
    musicxml: Path | None
    melody: V.Melody
    lines: dict[str, np.ndarray]
    notes: dict[str, int]  # per voice, melody included
    consonance: float  # of the written result (melody + new voices)
    consonance_by_voice: dict[str, float]  # each new voice against the melody alone
    checkpoint: Path


def harmonize_melody(ckpt: HarmonizerCheckpoint, melody: V.Melody, temperature: float = 0.0,
                     seed: int = 0) -> dict[str, np.ndarray]:
    if temperature < 0:
        raise ConfigError(f"--temperature {temperature}: expected 0 (most likely) or more")
    return generate_lines(ckpt.model, [(melody.tokens, melody.meter)], temperature, seed)[0]


def harmonize_file(ckpt: HarmonizerCheckpoint, midi: str | Path, out: str | Path, temperature: float = 0.0,
                   seed: int = 0, musicxml: str | Path | None = None) -> HarmonizeResult:
    """Read a melody, write it with the new voices under it (MIDI, and MusicXML if asked)."""
    from genrnn.music.midi_io import write_midi

    out = Path(out)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise ConfigError(f"--out {out}: expected a .mid file name")
    melody = V.melody_from_midi(midi)
    lines = harmonize_melody(ckpt, melody, temperature, seed)
    seq = V.harmonized_sequence(melody, lines)
    write_midi(seq, out)
    xml = V.write_harmonized_musicxml(melody, lines, musicxml) if musicxml else None
    notes = {"melody": len(melody.notes)}
    by_voice = {}
    for v, tokens in lines.items():
        notes[v] = int((tokens >= 2).sum())
        by_voice[v] = metrics.vertical_consonance([V.harmonized_sequence(melody, {v: tokens})])
    return HarmonizeResult(out, xml, melody, lines, notes, metrics.vertical_consonance([seq]), by_voice, ckpt.path)
