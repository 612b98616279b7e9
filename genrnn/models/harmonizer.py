"""Many-to-many: a melody in, the voices under it out, frame by frame on a 16th-note grid.

Why this shape. Melody and accompaniment share one clock (genrnn.music.voices puts both on
16th-note frames), so output frame t belongs to input frame t and no attention or length
model is needed: this is an *aligned* sequence-to-sequence problem.

- Encoder: a bidirectional LSTM over the melody. Harmony looks ahead: a cadence is prepared
  before it arrives, and the note under a melody note depends on where the melody goes next,
  so frame t's encoding sees the whole tune. Each frame enters as the pitch sounding in it plus
  whether it was struck there, so a held note needs no remembering through the recurrence
  (this input, instead of the raw rest / hold / pitch token, took the held-out loss from 0.87
  to 0.67 for the same 300 s of training).
- Decoder: a causal LSTM that at frame t reads the encoding of frame t and the voices' own
  frame t-1 (sounding pitch + struck or held; teacher forcing in training, its own samples at
  inference). A purely bidirectional tagger would choose each frame's token on its own: holds
  that follow nothing, a note re-struck every 16th, two frames that each pick a plausible but
  different chord. Feeding back the previous output makes each line a line, and makes
  temperature sampling meaningful (one coherent choice carried forward, not per-frame noise).
- Within a frame the voices are chained: bass first, then tenor, then alto, each head seeing
  the tokens already chosen at that frame, so the voices of one chord agree with each other.

The position in the bar is an optional input (``meter_embed``). It did not help (held-out loss
0.554 without it against 0.625 with it, same 180 s budget), and a MIDI melody does not say
where its bar lines fall when it starts with an upbeat, so it is off by default.

Shapes: melody, meter (B, T); targets (B, T, V) for V output voices; logits (B, T, V, vocab).
Decoding runs the decoder one frame at a time with its state carried (O(1) per frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genrnn.config import check_range
from genrnn.errors import ConfigError
from genrnn.music.voices import HOLD, METER_SIZE, REST, VOCAB_SIZE, VOICE_NAMES

VOICE_ORDERS = {"bass": ("bass",), "atb": ("bass", "tenor", "alto")}  # prediction order


@dataclass(frozen=True)
class HarmonizerConfig:
    voices: tuple[str, ...] = ("bass",)  # output voices, in prediction order
    vocab_size: int = VOCAB_SIZE
    meter_size: int = METER_SIZE
    embed: int = 32  # token embedding (melody and voices share the table)
    meter_embed: int = 0  # >0 adds the position in the bar; measured: no gain (see the docstring)
    hidden: int = 96  # encoder, per direction
    layers: int = 2  # encoder layers
    decoder_hidden: int = 160
    dropout: float = 0.2

    def __post_init__(self) -> None:
        object.__setattr__(self, "voices", tuple(self.voices))  # JSON gives a list
        if not self.voices or any(v not in ("alto", "tenor", "bass") for v in self.voices):
            raise ConfigError(f"voices = {list(self.voices)}: expected some of alto, tenor, bass")
        for name in ("vocab_size", "meter_size", "embed", "hidden", "layers", "decoder_hidden"):
            check_range(name, getattr(self, name), 1, 4096)
        check_range("meter_embed", self.meter_embed, 0, 4096)
        check_range("dropout", self.dropout, 0.0, 0.95)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each sequence of x (B, T, ...) within its own length; padding stays at the end."""
    frames = x.shape[1]
    if lengths is None:
        return x.flip(1)
    t = torch.arange(frames, device=x.device)[None, :]  # (1, T)
    lens = lengths.to(x.device)[:, None]  # (B, 1)
    idx = torch.where(t < lens, lens - 1 - t, t)  # (B, T)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


class BiLSTM(nn.Module):
    """A bidirectional LSTM stack for padded batches without packing (packed sequences are
    ~8x slower on CPU): the backward LSTM reads each sequence reversed within its length."""

    def __init__(self, input_size: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        sizes = [input_size] + [2 * hidden] * (layers - 1)
        self.fwd = nn.ModuleList(nn.LSTM(n, hidden, 1, batch_first=True) for n in sizes)
        self.bwd = nn.ModuleList(nn.LSTM(n, hidden, 1, batch_first=True) for n in sizes)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, I) → (B, T, 2H)."""
        for i, (f, b) in enumerate(zip(self.fwd, self.bwd, strict=True)):
            if i:
                x = self.drop(x)
            ahead, _ = f(x)
            back, _ = b(reverse_padded(x, lengths))
            x = torch.cat([ahead, reverse_padded(back, lengths)], dim=-1)
        return x


def sounding(tokens: torch.Tensor) -> torch.Tensor:
    """Grid tokens (..., T) → the pitch token sounding in each frame (holds resolved), or REST."""
    frames = tokens.shape[-1]
    pos = torch.arange(frames, device=tokens.device).expand_as(tokens)
    last = torch.where(tokens != HOLD, pos, torch.zeros_like(pos)).cummax(-1).values
    found = tokens.gather(-1, last)
    return torch.where(found == HOLD, torch.full_like(found, REST), found)


class Harmonizer(nn.Module):
    def __init__(self, config: HarmonizerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed)
        self.onset = nn.Embedding(2, c.embed)  # added to the sounding pitch: struck now, or held
        self.meter = nn.Embedding(c.meter_size, c.meter_embed) if c.meter_embed else None
        self.encoder = BiLSTM(c.embed + c.meter_embed, c.hidden, c.layers, c.dropout)
        n = len(c.voices)
        self.decoder = nn.LSTM(2 * c.hidden + n * c.embed, c.decoder_hidden, 1, batch_first=True)
        self.drop = nn.Dropout(c.dropout)
        self.heads = nn.ModuleList(nn.Linear(c.decoder_hidden + k * c.embed, c.vocab_size) for k in range(n))

    # ------------------------------------------------------------ pieces

    def encode(self, melody: torch.Tensor, meter: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """melody, meter (B, T) → (B, T, 2H); ``lengths`` (B,) keeps padding out of the backward pass."""
        x = self._frame_embed(sounding(melody), melody >= 2)  # (B, T, E)
        if self.meter is not None:
            x = torch.cat([x, self.meter(meter.clamp(0, self.config.meter_size - 1))], dim=-1)
        return self.drop(self.encoder(self.drop(x), lengths))

    def _frame_embed(self, pitch: torch.Tensor, onset: torch.Tensor) -> torch.Tensor:
        """A frame as the pitch sounding in it plus whether it was struck there. Every frame
        carries its pitch, so a held note need not be remembered through the recurrence."""
        return self.embed(pitch) + self.onset(onset.long())

    def _voice_embed(self, pitch: torch.Tensor, onset: torch.Tensor) -> torch.Tensor:
        """(..., k) sounding tokens and onset flags → (..., k*E): one embedding slot per voice."""
        return self._frame_embed(pitch, onset).flatten(-2)

    def _heads(self, h: torch.Tensor, pitch: torch.Tensor, onset: torch.Tensor) -> torch.Tensor:
        """Teacher-forced heads: h (B, T, D); the voices' sounding tokens and onsets at the
        same frame (B, T, V) → logits (B, T, V, vocab)."""
        out = []
        for k, head in enumerate(self.heads):
            inp = h if k == 0 else torch.cat([h, self._voice_embed(pitch[..., :k], onset[..., :k])], dim=-1)
            out.append(head(inp))
        return torch.stack(out, dim=2)

    # ------------------------------------------------------------ training

    def forward(self, melody: torch.Tensor, meter: torch.Tensor, targets: torch.Tensor,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: the decoder reads the true voices of frame t-1 → logits (B, T, V, vocab)."""
        enc = self.encode(melody, meter, lengths)  # (B, T, 2H)
        pitch = sounding(targets.transpose(1, 2)).transpose(1, 2)  # (B, T, V)
        onset = targets >= 2
        prev_pitch = torch.full_like(pitch, REST)
        prev_pitch[:, 1:] = pitch[:, :-1]
        prev_onset = torch.zeros_like(onset)
        prev_onset[:, 1:] = onset[:, :-1]
        h, _ = self.decoder(torch.cat([enc, self._voice_embed(prev_pitch, prev_onset)], dim=-1))  # (B, T, D)
        return self._heads(self.drop(h), pitch, onset)

    # ------------------------------------------------------------ inference

    @torch.no_grad()
    def generate(self, melody: torch.Tensor, meter: torch.Tensor, lengths: torch.Tensor | None = None,
                 temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Free-running: each frame's tokens from the melody and the voices' own past → (B, T, V).
        ``temperature`` 0 takes the most likely token; above 0 samples from softmax(logits / T)."""
        enc = self.encode(melody, meter, lengths)
        batch, frames, n = melody.shape[0], melody.shape[1], len(self.heads)
        out = torch.full((batch, frames, n), REST, dtype=torch.long, device=melody.device)
        pitch = out[:, 0].clone()  # (B, V) sounding token of the previous frame
        onset = torch.zeros_like(pitch, dtype=torch.bool)
        state = None
        for t in range(frames):
            step_in = torch.cat([enc[:, t], self._voice_embed(pitch, onset)], dim=-1).unsqueeze(1)
            h, state = self.decoder(step_in, state)
            h = h[:, 0]  # (B, D)
            new_pitch, new_onset = pitch.clone(), onset.clone()
            for k, head in enumerate(self.heads):
                inp = h if k == 0 else torch.cat([h, self._voice_embed(new_pitch[:, :k], new_onset[:, :k])], dim=-1)
                logits = head(inp)  # (B, vocab)
                logits[:, HOLD] = logits[:, HOLD].masked_fill(pitch[:, k] == REST, float("-inf"))
                tok = _pick(logits, temperature, generator)
                out[:, t, k] = tok
                new_onset[:, k] = tok >= 2
                new_pitch[:, k] = torch.where(tok == HOLD, pitch[:, k], tok)
            pitch, onset = new_pitch, new_onset
        return out


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """Temperature 0: first the kind of frame (rest, hold, or a new note, whose probability is the
    sum over all pitches), then the pitch if a new note. A plain argmax would prefer a hold at
    0.4 to a new note at 0.6 spread over three pitches, and thin the line out. Temperature > 0
    samples the full distribution (the same two-step choice, drawn)."""
    if temperature <= 0:
        probs = torch.softmax(logits, dim=-1)
        pitch = probs[:, 2:].argmax(-1) + 2
        kinds = torch.stack([probs[:, REST], probs[:, HOLD], probs[:, 2:].sum(-1)], dim=-1).argmax(-1)
        return torch.where(kinds == 2, pitch, kinds)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- batches


@dataclass
class Batch:
    melody: torch.Tensor  # (B, T)
    meter: torch.Tensor  # (B, T)
    targets: torch.Tensor  # (B, T, V), REST in padding
    lengths: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, T) True on real frames


def _voice_columns(voices: Sequence[str]) -> list[int]:
    return [VOICE_NAMES.index(v) for v in voices]


def make_batch(pieces: Sequence[tuple[np.ndarray, np.ndarray]], voices: Sequence[str]) -> Batch:
    """pieces of (tokens (T, 4), meter (T,)) → padded tensors."""
    cols = _voice_columns(voices)
    longest = max(len(t) for t, _ in pieces)
    n = len(pieces)
    melody = np.full((n, longest), REST, dtype=np.int64)
    meter = np.zeros((n, longest), dtype=np.int64)
    targets = np.full((n, longest, len(cols)), REST, dtype=np.int64)
    lengths = np.array([len(t) for t, _ in pieces], dtype=np.int64)
    for i, (tokens, pos) in enumerate(pieces):
        melody[i, : len(tokens)] = tokens[:, 0]
        meter[i, : len(tokens)] = pos
        targets[i, : len(tokens)] = tokens[:, cols]
    mask = np.arange(longest)[None, :] < lengths[:, None]
    return Batch(*(torch.from_numpy(a) for a in (melody, meter, targets, lengths, mask)))
