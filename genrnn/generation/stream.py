"""The stream: a Generator holds the hidden state and yields tokens forever.

    stream = Generator(model, tokenizer, settings)
    stream.prime(tokens)
    for step in stream:           # step.token, step.probs, step.state
        ...                       # stream.settings may change between steps

Each step is one call of the cell on one token: O(1) work whatever the position, the memory
carried in the state. A new ``settings`` applies to the very next token, because sampling
happens at the moment ``__next__`` is called, from logits already computed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from genrnn.config import SampleConfig
from genrnn.errors import ConfigError
from genrnn.generation.grammar import EventGrammar, LabelMask
from genrnn.generation.sampler import sample, sample_numpy
from genrnn.models.rnn import RNNLanguageModel, State
from genrnn.models.step import FusedStep
from genrnn.tokenizers.base import Tokenizer


@dataclass
class Step:
    """One generated position. For a batch of streams ``tokens`` has one id per stream."""

    index: int  # 0 for the first generated token
    tokens: list[int]
    probs: torch.Tensor  # (B, V) the distribution the tokens were drawn from
    state: State

    @property
    def token(self) -> int:
        return self.tokens[0]

    @property
    def prob(self) -> float:
        """Probability of the chosen token (stream 0)."""
        return float(self.probs[0, self.tokens[0]])


def default_primer(tokenizer: Tokenizer) -> list[int]:
    """What to feed when the user gives no primer: the tokenizer's start token or a newline."""
    start = getattr(tokenizer, "start_tokens", None)
    if callable(start):
        return list(start())
    if getattr(tokenizer, "kind", "") == "chars":
        chars = tokenizer.chars  # type: ignore[attr-defined]
        return [chars.index("\n")] if "\n" in chars else [0]
    return [0]


class Generator:
    def __init__(self, model: RNNLanguageModel, tokenizer: Tokenizer,
                 settings: SampleConfig | None = None, *, batch: int = 1) -> None:
        if batch < 1:
            raise ConfigError(f"batch = {batch}: expected at least 1 stream")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch = batch
        self.device = next(model.parameters()).device
        self._settings = settings or SampleConfig()
        self.seed = self._settings.seed if self._settings.seed is not None else random.SystemRandom().randrange(2**31)
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(self.seed)
        # On the CPU the draw runs in NumPy (a few µs instead of tens): its own seeded stream.
        self.np_rng = np.random.default_rng(self.seed) if self.device.type == "cpu" else None
        self._step = FusedStep(model)  # snapshot of the weights, one small GEMV per layer
        self.state: State = model.init_state(batch, self.device)
        self.logits: torch.Tensor | None = None  # (B, V) for the next position
        self.index = 0
        self.guide: Generator | None = None  # the unconditioned twin (classifier-free guidance)
        self.drawn_labels: list[str] = []  # labels the model chose after the primer (session.open_stream)
        # What cannot be said next (grammar.py): the event grammar, one per stream, for event
        # models; label ids for character models trained with labels.
        self.grammars: list[EventGrammar | LabelMask] = []
        # The ids top-p truncates (sampler.distribution): an event model's END and note-ons
        # (MidiEventTokenizer.nucleus), else all.
        self.nucleus: tuple[int, int] | None = getattr(tokenizer, "nucleus", None)
        kind = getattr(tokenizer, "kind", "")
        if kind == "midi_events":
            self.grammars = [EventGrammar.for_tokenizer(tokenizer) for _ in range(batch)]
        elif kind == "chars" and getattr(tokenizer, "labels", None):
            self.grammars = [LabelMask(tokenizer.vocab_size, len(tokenizer.chars))] * batch

    @property
    def allow_end(self) -> bool:
        """Event models: whether the next draws may end the piece (END)."""
        return all(g.allow_end for g in self.grammars)

    @allow_end.setter
    def allow_end(self, value: bool) -> None:
        for g in self.grammars:
            g.allow_end = value

    def restrict_next(self, ids: list[int]) -> None:
        """Every stream's next draw is one of ``ids`` (event models: grammar.py)."""
        for g in self.grammars:
            if isinstance(g, EventGrammar):
                g.restrict_next(ids)

    @property
    def settings(self) -> SampleConfig:
        return self._settings

    @settings.setter
    def settings(self, value: SampleConfig) -> None:
        self._settings = value  # takes effect at the next step

    @torch.inference_mode()
    def prime(self, tokens: Sequence[int] | None = None) -> None:
        """Feed a primer (the same for every stream); with none, the tokenizer's start."""
        ids = list(tokens) if tokens else default_primer(self.tokenizer)
        bad = [t for t in ids if not 0 <= int(t) < self.tokenizer.vocab_size]
        if bad:
            raise ConfigError(f"primer token ids {bad[:5]} outside the vocabulary (0..{self.tokenizer.vocab_size - 1})")
        x = torch.tensor(ids, dtype=torch.long, device=self.device).unsqueeze(0).expand(self.batch, -1)
        logits, self.state = self.model(x, self.state)  # (B, T, V)
        self.logits = logits[:, -1]
        for g in self.grammars:
            g.feed(ids)

    def guided_by(self, unconditioned: Sequence[int]) -> None:
        """Classifier-free guidance: a twin stream primed with ``unconditioned`` (the primer
        without its labels) follows every drawn token; each draw uses u + w·(c − u) with
        w = ``settings.guidance`` (the twin's logits u, this stream's c)."""
        twin = Generator(self.model, self.tokenizer, self._settings, batch=self.batch)
        twin.grammars = []  # the grammar is applied once, to the mixed logits
        twin.prime(unconditioned)
        self.guide = twin

    @torch.inference_mode()
    def feed(self, tokens: torch.Tensor) -> None:
        """Advance the state by ``tokens`` (B,) chosen elsewhere (teacher forcing)."""
        for g, t in zip(self.grammars, tokens.tolist(), strict=False):
            g.feed((t,))
        self.logits, self.state = self._step(tokens, self.state)

    def __iter__(self) -> Iterator[Step]:
        return self

    def __next__(self) -> Step:
        if self.logits is None:
            self.prime()
        assert self.logits is not None
        logits = self.logits
        w = self._settings.guidance
        if self.guide is not None and w != 1.0:
            assert self.guide.logits is not None
            if self.np_rng is not None:
                u = self.guide.logits.numpy()
                logits = torch.from_numpy(u + np.float32(w) * (logits.numpy() - u))
            else:
                with torch.inference_mode():
                    logits = self.guide.logits + w * (logits - self.guide.logits)
        mask = None
        if self.grammars:
            mask = (self.grammars[0].mask(self._settings) if self.batch == 1
                    else np.stack([g.mask(self._settings) for g in self.grammars]))
        if self.np_rng is not None:  # CPU: NumPy all the way (a torch op between NumPy's GEMVs
            # costs far more than itself: BLAS's threads spin against torch's)
            logits_np = logits.numpy() if mask is None else np.where(mask, np.float32(-np.inf), logits.numpy())
            ids, p = sample_numpy(logits_np, self._settings, self.np_rng, self.nucleus)
            tokens, probs = torch.from_numpy(ids), torch.from_numpy(p)
        else:
            with torch.inference_mode():
                if mask is not None:
                    logits = logits.masked_fill(torch.from_numpy(mask).to(self.device, non_blocking=True), float("-inf"))
                tokens, probs = sample(logits, self._settings, self.rng, self.nucleus)
        for g, t in zip(self.grammars, tokens.tolist(), strict=False):
            g.feed((t,))
        self.logits, self.state = self._step(tokens, self.state)
        if self.guide is not None:
            self.guide.feed(tokens)
        step = Step(self.index, tokens.tolist(), probs, self.state)
        self.index += 1
        return step

    def take(self, n: int) -> list[list[int]]:
        """The next ``n`` tokens of every stream, as one list per stream."""
        out: list[list[int]] = [[] for _ in range(self.batch)]
        for _ in range(n):
            step = next(self)
            for b, t in enumerate(step.tokens):
                out[b].append(t)
        return out
