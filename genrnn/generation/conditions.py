"""``--condition`` values → a model's label tokens (one-to-many sampling). No torch: the
light sampler uses it too. ``model`` is anything with ``path``, ``kind`` and ``tokenizer``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from genrnn.errors import ConfigError
from genrnn.music.instruments import parse_instrument
from genrnn.music.notation import INSTRUMENT_KINDS
from genrnn.tokenizers.base import label_kind, label_kinds

__all__ = ["condition_ids", "condition_labels", "draw_labels", "guide_primer", "instrument_conditions",
           "label_plan", "prime_labelled"]


def instrument_conditions(model: Any, names: Sequence[str]) -> list[str]:
    """``--instruments piano,bass,drums`` as a model's instrument labels (music/notation.py):
    ``=yes`` for the families asked, ``=no`` for the rest; [] for a model without them (the
    grammar alone then holds the piece to the instruments: grammar.py)."""
    labels = set(getattr(model.tokenizer, "labels", None) or [])
    kinds = [k for k in INSTRUMENT_KINDS if f"{k}=yes" in labels] if names else []
    asked = {parse_instrument(name).group.replace(" ", "-") for name in names}
    return [f"{k}={'yes' if k in asked else 'no'}" for k in kinds]


def condition_labels(model: Any, conditions: Sequence[str]) -> list[str]:
    """``--condition`` values (``mode=minor``, ``key=Am``, ``file=hamlet`` or just ``hamlet``)
    → the model's label tokens, in the order it was trained with; each kind at most once.
    With a model whose keys name their mode, ``mode=minor key=A`` means ``key=Am``."""
    labels: list[str] = list(getattr(model.tokenizer, "labels", []) or [])
    if not conditions:
        return []
    if not labels:
        raise ConfigError(f"--condition: {model.path.name} was trained without labels "
                          f"(train with --conditioned to sample from a label)")
    chosen: dict[str, str] = {}
    for raw in _key_names_mode(conditions, labels):
        value = raw.strip()
        if "=" not in value and f"file={value}" in labels:
            value = f"file={value}"
        if value not in labels:
            kinds = sorted(set(label_kinds(model.tokenizer)))
            shown = ", ".join(labels[:24]) + (f", … ({len(labels)} in all)" if len(labels) > 24 else "")
            raise ConfigError(f"--condition {raw}: not one of {model.path.name}'s labels "
                              f"(kinds: {', '.join(kinds)}): {shown}")
        kind = label_kind(value)
        if kind in chosen:
            raise ConfigError(f"--condition {raw}: {kind} is already {chosen[kind]!r}; give each kind once")
        chosen[kind] = value
    return [lb for lb in labels if lb in chosen.values()]


def _key_names_mode(conditions: Sequence[str], labels: Sequence[str]) -> list[str]:
    """For a model whose keys name their mode (``key=Am``): ``mode=minor key=A`` asks for
    ``key=Am``; a key that contradicts the mode given with it is an error. Models made before
    (``key=A`` is a tonic) take the values as they are."""
    values = [c.strip() for c in conditions]
    if not _keys_name_mode(labels):
        return values
    mode = next((v.split("=", 1)[1] for v in values if v.startswith("mode=")), None)
    out = []
    for v in values:
        if v.startswith("key=") and mode in ("major", "minor"):
            key = v.split("=", 1)[1]
            minor = key.endswith("m")
            if mode == "minor" and not minor:
                v = f"key={key}m"
            elif mode == "major" and minor:
                raise ConfigError(f"--condition {v}: a minor key, but mode=major was asked for; "
                                  f"give key={key[:-1]} for {key[:-1]} major")
        out.append(v)
    return out


def condition_ids(model: Any, conditions: Sequence[str]) -> list[int]:
    """The ids that open a sample with these labels (event models: START first)."""
    labels = condition_labels(model, conditions)
    tok = model.tokenizer
    if model.kind == "midi_events":
        return list(tok.start_tokens(labels))
    return [tok.label_id(lb) for lb in labels]


def _names(tokenizer: Any) -> dict[int, str]:
    """A tokenizer's label ids → their names ({} without labels)."""
    return {tokenizer.label_id(lb): lb for lb in getattr(tokenizer, "labels", None) or []}


def label_plan(tokenizer: Any, ids: Sequence[int]) -> tuple[list[int], list[int | list[int]]]:
    """For an event primer that is only START and some labels: the ids to prime with, then
    every label kind after them in training order, each either a given id (fed) or the ids of
    a kind the model is to draw itself (one restricted draw). ``(ids, [])`` for anything else.

    Asked for ``mode=minor`` alone, a model trained on ``START mode=… key=…`` first draws a key
    from what it learned follows ``mode=minor`` (ancestral sampling: p(piece | mode) =
    Σ p(key | mode) p(piece | mode, key)). Asked for ``voices=4`` alone, it draws a mode, a key
    and rests first and is then given ``voices=4``: the model saw a bare ``START voices=4`` only
    where label dropout had removed every earlier label (1 record in 64), and its pieces from
    there were measurably worse (three voices 67 % of the sounding time, against 19 % after
    drawn labels; benchmarks/README.md). With no label given, every kind is drawn, for the same
    reason (consonance 0.72 against 0.87 from START alone). The given labels keep their place;
    the primer before the first kind to draw is primed as it is, so a primer without gaps runs
    exactly as before. Nothing to draw after a note primer."""
    by_id = _names(tokenizer)
    if not by_id or getattr(tokenizer, "kind", "") != "midi_events":
        return list(ids), []
    if not ids or any(int(t) not in by_id for t in ids[1:]):
        return list(ids), []
    given = {label_kind(by_id[int(t)]): int(t) for t in ids[1:]}
    plan: list[int | list[int]] = [given[kind] if kind in given else
                                   [i for i, lb in by_id.items() if label_kind(lb) == kind]
                                   for kind in label_kinds(tokenizer)]
    lead = next((n for n, item in enumerate(plan) if isinstance(item, list)), len(plan))
    if lead == len(plan):
        return list(ids), []
    return [int(ids[0]), *(int(t) for t in plan[:lead])], plan[lead:]


def draw_labels(stream: Any, tokenizer: Any, ids: Sequence[int], plan: Sequence[int | list[int]]) -> list[str]:
    """After priming ``stream`` with ``label_plan``'s ids: its plan, kind by kind, the given
    labels fed and the others drawn by the model, each agreeing with every label of ``ids``
    (the whole primer) and every one drawn so far. Returns the labels drawn."""
    if not plan:
        return []
    names = _names(tokenizer)
    # Labels come from the model's own prior, untruncated: top-p 0.9 would always pick the
    # majority (no piece would ever rest, almost every one would be major).
    settings = stream.settings
    stream.settings = replace(settings, temperature=1.0, top_k=0, top_p=1.0)
    drawn: list[str] = []
    given = [names[int(t)] for t in ids if int(t) in names]
    try:
        for item in plan:
            if isinstance(item, list):
                stream.restrict_next(_agreeing(item, names, given + drawn))
                drawn.append(names[next(stream).token])
            else:
                stream.feed([item] * stream.batch)
    finally:
        stream.settings = settings
    return drawn


def prime_labelled(stream: Any, tokenizer: Any, ids: Sequence[int]) -> None:
    """Prime ``stream`` (``stream.Stream``) with ``ids``; the model draws the labels it was not
    given (``label_plan``, ``stream.drawn_labels``), ``stream.labels`` is every label the piece
    holds, given or drawn, in training order, then, when its settings guide, the unlabelled
    twin is attached."""
    head, plan = label_plan(tokenizer, ids)
    stream.prime(head)
    stream.drawn_labels = draw_labels(stream, tokenizer, ids, plan)
    names, drawn = _names(tokenizer), iter(stream.drawn_labels)
    stream.labels = [*(names[t] for t in head if t in names),
                     *(next(drawn) if isinstance(item, list) else names[item] for item in plan)]
    if stream.settings.guidance != 1.0:
        bare = guide_primer(tokenizer, ids, stream.drawn_labels)
        if bare is not None:
            stream.guided_by(bare)


def guide_primer(tokenizer: Any, ids: Sequence[int], drawn: Sequence[str]) -> list[int] | None:
    """Classifier-free guidance's twin primer: ``ids`` without the labels given, and without
    every drawn label that came after one of them (it was drawn from what was asked, so it
    carries it: with the drawn key left in the twin of ``mode=minor``, only the mode was guided,
    and mode match stayed at 57.5 %; without it 90 %: benchmarks/README.md). Labels drawn before
    the first given one stay in the twin: for ``voices=4`` alone the twin holds the drawn mode,
    key and rests, so guidance leans on the voices asked and not on a bare START's texture
    (with a label-less twin, three voices took 12.9 % of the sounding time against 6.4 %
    unguided). None when there is nothing to guide toward."""
    names = _names(tokenizer)
    given = [names[int(t)] for t in ids if int(t) in names]
    bare = [int(t) for t in ids if int(t) not in names]
    if not names or not (given or drawn):
        return None
    kinds = label_kinds(tokenizer)
    first = min((kinds.index(label_kind(lb)) for lb in given), default=len(kinds))
    before = [tokenizer.label_id(lb) for lb in drawn if kinds.index(label_kind(lb)) < first]
    return bare[:1] + before + bare[1:] if given else bare


def _agreeing(ids: list[int], names: dict[int, str], held: list[str]) -> list[int]:
    """The label ids of one kind that agree with the labels already held: a key that names its
    mode (``key=F#m``) only under the same ``mode``, and the mode that a held key names. The
    model's prior puts a little mass on the other mode's keys (records that lost their mode
    label), and a major piece drawn in F-sharp minor is a wrong answer, not a variation."""
    if not _keys_name_mode([*names.values()]):
        return ids
    mode = next((lb.split("=", 1)[1] for lb in held if lb.startswith("mode=")), None)
    key = next((lb.split("=", 1)[1] for lb in held if lb.startswith("key=")), None)

    def agrees(name: str) -> bool:
        kind, value = name.split("=", 1)
        if kind == "key" and mode in ("major", "minor"):
            return value.endswith("m") == (mode == "minor")
        if kind == "mode" and key is not None:
            return value == ("minor" if key.endswith("m") else "major")
        return True

    return [i for i in ids if agrees(names[i])] or ids


def _keys_name_mode(labels: Sequence[str]) -> bool:
    """Whether these labels are of a model whose keys name their mode (``key=Am``, prep v5 on)."""
    return any(lb.startswith("key=") and lb.endswith("m") for lb in labels)
