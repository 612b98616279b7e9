"""The stream: one class holds a model's state and yields tokens for ever, on either back-end.

    stream = open_stream(model, settings, primer)   # primed, labels drawn, guidance attached
    for step in stream:                              # step.token, step.probs
        ...                                          # stream.settings may change between steps

Each step is one call of the cell on one token: O(1) work whatever the position, the memory
carried in the state. A new ``settings`` applies to the very next token, because the draw
happens when ``__next__`` is called, from logits already computed.

The model's arithmetic is a *back-end* (``Backend``): ``generation/light.py``'s NumPy LSTM
step (an LSTM on the CPU: no PyTorch needed, so output starts before PyTorch could load) or
``models/step.py``'s PyTorch ``TorchStep`` (GPUs, every other cell). Everything else is here,
once, in NumPy: primer checks and the default primer, the grammar masks (grammar.py),
classifier-free guidance, and the draw (sampler.py: temperature, top-k, top-p over the
tokenizer's nucleus). No PyTorch is imported by this module.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from genrnn.config import SampleConfig
from genrnn.errors import ConfigError
from genrnn.generation.conditions import prime_labelled
from genrnn.generation.grammar import EventGrammar, LabelMask
from genrnn.generation.sampler import sample
from genrnn.tokenizers.base import Tokenizer


class Backend(Protocol):
    """A model's one-token step over ``batch`` streams, its state held inside."""

    batch: int

    def prime(self, ids: Sequence[int]) -> np.ndarray:
        """Feed ``ids`` to every stream; the logits (B, V) for the next position."""

    def step(self, tokens: np.ndarray) -> np.ndarray:
        """tokens (B,) → logits (B, V), the state advanced."""

    def fresh(self) -> Backend:
        """The same weights with a new state (guidance's twin)."""

    @property
    def state(self) -> Any:
        """The carried state (back-end specific: NumPy (h, c) or PyTorch tensors)."""


@dataclass
class Step:
    """One generated position. For a batch of streams ``tokens`` has one id per stream."""

    index: int  # 0 for the first generated token
    tokens: list[int]
    probs: np.ndarray  # (B, V) the distribution the tokens were drawn from

    @property
    def token(self) -> int:
        return self.tokens[0]


def default_primer(tokenizer: Tokenizer) -> list[int]:
    """What to feed when the user gives no primer: the tokenizer's start token or a newline."""
    start = getattr(tokenizer, "start_tokens", None)
    if callable(start):
        return list(start())
    chars = getattr(tokenizer, "chars", None)
    return [chars.index("\n")] if chars and "\n" in chars else [0]


class Stream:
    """Token after token from a back-end: the grammar, guidance and the draw live here."""

    def __init__(self, backend: Backend, tokenizer: Tokenizer, settings: SampleConfig | None = None) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self.batch = backend.batch
        self._settings = settings or SampleConfig()
        self.seed = self._settings.seed if self._settings.seed is not None else random.SystemRandom().randrange(2**31)
        self.rng = np.random.default_rng(self.seed)
        self.logits: np.ndarray | None = None  # (B, V) for the next position
        self.index = 0
        self.guide: Stream | None = None  # the unconditioned twin (classifier-free guidance)
        self.drawn_labels: list[str] = []  # labels the model chose after the primer (open_stream)
        self.labels: list[str] = []  # every label the piece holds, given or drawn, in training order
        # What cannot be said next (grammar.py): the event grammar, one per stream, for event
        # models; label ids for character models trained with labels.
        self.grammars: list[EventGrammar | LabelMask] = []
        # The ids top-p truncates (sampler.py): an event model's END and note-ons, else all.
        self.nucleus: tuple[int, int] | None = getattr(tokenizer, "nucleus", None)
        kind = getattr(tokenizer, "kind", "")
        self.tokenizer_grids = bool(getattr(tokenizer, "grids", None))  # a quantised corpus: the tempo lock
        if kind == "midi_events":
            self.grammars = [EventGrammar.for_tokenizer(tokenizer) for _ in range(self.batch)]
        elif kind == "chars" and getattr(tokenizer, "labels", None):
            self.grammars = [LabelMask(tokenizer.vocab_size, len(tokenizer.chars))] * self.batch

    @property
    def settings(self) -> SampleConfig:
        return self._settings

    @settings.setter
    def settings(self, value: SampleConfig) -> None:
        self._settings = value  # takes effect at the next step

    @property
    def state(self) -> Any:
        return self.backend.state

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

    def prime(self, tokens: Sequence[int] | None = None) -> None:
        """Feed a primer (the same for every stream); with none, the tokenizer's start."""
        ids = [int(t) for t in tokens] if tokens else default_primer(self.tokenizer)
        bad = [t for t in ids if not 0 <= t < self.tokenizer.vocab_size]
        if bad:
            raise ConfigError(f"primer token ids {bad[:5]} outside the vocabulary (0..{self.tokenizer.vocab_size - 1})")
        self.logits = self.backend.prime(ids)
        for g in self.grammars:
            g.feed(ids)

    def guided_by(self, unconditioned: Sequence[int]) -> None:
        """Classifier-free guidance: a twin stream primed with ``unconditioned`` (the primer
        without its labels) follows every drawn token; each draw uses u + w·(c − u) with
        w = ``settings.guidance`` (the twin's logits u, this stream's c)."""
        twin = Stream(self.backend.fresh(), self.tokenizer, self._settings)
        twin.grammars = []  # the grammar is applied once, to the mixed logits
        twin.prime(unconditioned)
        self.guide = twin

    def feed(self, tokens: Sequence[int]) -> None:
        """Advance every stream by ``tokens`` (B,) chosen elsewhere (teacher forcing), and the
        guiding twin with them."""
        ids = np.asarray(tokens, dtype=np.int64).reshape(self.batch)
        for g, t in zip(self.grammars, ids.tolist(), strict=False):
            g.feed((t,))
        self.logits = self.backend.step(ids)
        if self.guide is not None:
            self.guide.feed(ids)

    def __iter__(self) -> Iterator[Step]:
        return self

    def __next__(self) -> Step:
        if self.logits is None:
            self.prime()
        assert self.logits is not None
        logits = self.logits
        w = self._settings.guidance
        if self.guide is not None and w != 1.0:
            u = self.guide.logits
            logits = u + np.float32(w) * (logits - u)
        if self.grammars:
            if self._settings.tempo_lock and self.tokenizer_grids:  # the lock moves what it forbids (grammar.py)
                logits = np.array(logits, dtype=np.float32, copy=True)
                for b, grammar in enumerate(self.grammars):
                    grammar.snap(logits[b], self._settings)
            mask = (self.grammars[0].mask(self._settings)[None] if self.batch == 1
                    else np.stack([g.mask(self._settings) for g in self.grammars]))
            logits = np.where(mask, np.float32(-np.inf), logits)
            if self._settings.voice_hold > 0:
                for b, grammar in enumerate(self.grammars):
                    bias = grammar.bias(self._settings)
                    if bias is not None:
                        logits[b] += bias
        ids, probs = sample(logits, self._settings, self.rng, self.nucleus)
        self.feed(ids)
        step = Step(self.index, ids.tolist(), probs)
        self.index += 1
        return step

    def take(self, n: int) -> list[list[int]]:
        """The next ``n`` tokens of every stream, as one list per stream."""
        out: list[list[int]] = [[] for _ in range(self.batch)]
        for _ in range(n):
            for b, t in enumerate(next(self).tokens):
                out[b].append(t)
        return out


def open_stream(model: Any, settings: SampleConfig, primer: Sequence[int] | None = None, batch: int = 1) -> Stream:
    """A primed stream of ``model`` (anything with ``tokenizer`` and ``backend(batch)``:
    ``session.Model``). An event model trained with labels then draws those it was not given
    (a key for mode=minor, all of them for a bare START: pieces from START alone are
    measurably worse), and a guided one gets its unlabelled twin (conditions.prime_labelled)."""
    if batch < 1:
        raise ConfigError(f"batch = {batch}: expected at least 1 stream")
    stream = Stream(model.backend(batch), model.tokenizer, settings)
    prime_labelled(stream, model.tokenizer, list(primer) if primer else default_primer(model.tokenizer))
    return stream
