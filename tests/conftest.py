"""Shared fixtures: small real corpora made in the test, a tiny trained checkpoint, a private cache."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

WORDS = ("the king speaks of love and war; my lord, the queen is dead. what light through "
         "yonder window breaks? o romeo, wherefore art thou. to be or not to be, that is the "
         "question. friends, romans, countrymen, lend me your ears.").split()


def make_text(n_lines: int = 400, seed: int = 0) -> str:
    rng = random.Random(seed)
    lines = []
    for i in range(n_lines):
        speaker = rng.choice(["KING", "QUEEN", "ROMEO", "JULIET"])
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10)))
        lines.append(f"{speaker}:\n{body.capitalize()}\n" + ("\n" if i % 3 == 2 else ""))
    return "".join(lines)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets the same private cache folder, never the user's ~/.cache."""
    monkeypatch.setenv("GENRNN_CACHE", str(tmp_path_factory.getbasetemp() / "genrnn-cache"))


@pytest.fixture(scope="session")
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("corpus") / "plays.txt"
    p.write_text(make_text(), encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, text_file: Path) -> Path:
    """A tiny LSTM trained for a few seconds on ``text_file``: a real checkpoint for tests."""
    import os

    from genrnn import session

    base = tmp_path_factory.getbasetemp()
    os.environ["GENRNN_CACHE"] = str(base / "genrnn-cache")
    out = base / "tiny-run"
    corpus = session.prepare_corpus(text=text_file)
    trainer = session.make_trainer(corpus, "tiny", {"hidden": 48}, {"max_steps": 150, "seed": 3}, out)
    trainer.fit()
    return out


def torch_stream(model, tokenizer, settings=None, batch: int = 1):  # noqa: ANN001, ANN201
    """A stream of an in-memory PyTorch model on the PyTorch back-end (no file involved)."""
    from genrnn.generation.stream import Stream
    from genrnn.models.step import TorchStep

    return Stream(TorchStep(model, batch), tokenizer, settings)
