"""Why a chorale model misses a figure: rests, label priors, how much it reads its labels.

    .venv/bin/python benchmarks/music_diagnostics.py --checkpoint checkpoints/bach.safetensors

For a conditioned chorale model against the held-out chorales (last line: one JSON object):

- rests: pieces with a silence of every voice, such silences per piece, and fermatas (three or
  more notes struck together and held ≥ 1 s) per piece, real and generated (the event models' sampling defaults,
  labels drawn by the model); the probability the model gives each real rest, teacher-forced;
- label prior: the labels the model draws after a fresh START (40 streams);
- mode: held-out nats/event with each piece's true mode, the other mode, and no mode; and the
  share of real pieces cut to 20 s whose analysed mode is their label (the analysis' ceiling).
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np
import torch

from genrnn import session
from genrnn.config import SampleConfig, sample_config
from genrnn.corpora.recipes import records
from genrnn.music.notation import analyse_key
from genrnn.tokenizers.base import label_kinds
from genrnn.tokenizers.midi_events import NOTE_OFF, NOTE_ON, START, TIME_SHIFT, VELOCITY

REPO = Path(__file__).resolve().parents[1]


def gaps_and_fermatas(seq) -> tuple[int, int]:  # noqa: ANN001
    notes = sorted(seq.notes, key=lambda n: n.start)
    if not notes:
        return 0, 0
    gaps, end = 0, notes[0].end
    for n in notes[1:]:
        gaps += n.start > end + 1e-6
        end = max(end, n.end)
    onsets: dict[float, list] = collections.defaultdict(list)
    for n in notes:
        onsets[round(n.start, 2)].append(n.end - n.start)
    fermatas = sum(len(d) >= 3 and float(np.median(d)) >= 1.0 for d in onsets.values())
    return gaps, fermatas


def rest_figures(pieces: list) -> dict:
    st = np.array([gaps_and_fermatas(s) for s in pieces])
    return {"pieces": len(pieces), "pieces_with_rests": int((st[:, 0] > 0).sum()),
            "rests_per_piece": round(float(st[:, 0].mean()), 2), "fermatas_per_piece": round(float(st[:, 1].mean()), 2)}


@torch.inference_mode()
def teacher_forced_rests(model, val_records: list) -> list[float]:  # noqa: ANN001
    """P(a time shift) where a real piece rests: after the note-off that silences every voice."""
    net, out = model.module.eval(), []
    for r in val_records:
        ids = [START, *map(int, r)]
        p = torch.softmax(net(torch.tensor([ids[:-1]]))[0][0].float(), -1)
        sounding: set[int] = set()
        for i, t in enumerate(ids[:-1]):
            if NOTE_ON <= t < NOTE_OFF:
                sounding.add(t - NOTE_ON)
            elif NOTE_OFF <= t < TIME_SHIFT:
                sounding.discard(t - NOTE_OFF)
                if not sounding and TIME_SHIFT <= ids[i + 1] < VELOCITY:
                    out.append(float(p[i, TIME_SHIFT:VELOCITY].sum()))
    return out


@torch.inference_mode()
def teacher_forced_fermatas(model, val_records: list) -> dict:  # noqa: ANN001
    """Right after a note-on, where a real piece shifts time next: how many one-second holds
    (a fermata's first shift) the model expects, Σ P(1 s | a shift), against how many Bach wrote."""
    net, expected, actual, points = model.module.eval(), 0.0, 0, 0
    for r in val_records:
        ids = [START, *map(int, r)]
        p = torch.softmax(net(torch.tensor([ids[:-1]]))[0][0].float(), -1)
        shifts = p[:, TIME_SHIFT:VELOCITY]
        for i in range(1, len(ids) - 1):
            if NOTE_ON <= ids[i] < NOTE_OFF and TIME_SHIFT <= ids[i + 1] < VELOCITY:
                points += 1
                expected += float(shifts[i, -1] / shifts[i].sum())
                actual += ids[i + 1] == VELOCITY - 1
    return {"chord_onsets": points, "one_second_holds": actual, "expected_by_model": round(expected, 1)}


@torch.inference_mode()
def mode_reading(model, val_records: list) -> dict:  # noqa: ANN001
    tok, net = model.tokenizer, model.module.eval()
    major, minor = tok.label_id("mode=major"), tok.label_id("mode=minor")
    nll: dict[str, list[float]] = {"true": [], "flipped": [], "none": []}
    for r in val_records:
        r = [int(t) for t in r]
        if r[0] not in (major, minor):
            continue
        rest = [t for t in r[1:] if t >= tok.label_id(tok.labels[0])]
        body = [t for t in r if t < tok.label_id(tok.labels[0])]
        for name, mode in (("true", [r[0]]), ("flipped", [minor if r[0] == major else major]), ("none", [])):
            head = [START, *mode, *rest]
            ids = torch.tensor([head + body])
            logp = torch.log_softmax(net(ids[:, :-1])[0][0].float(), -1)[len(head) - 1:]
            nll[name].append(-float(logp.gather(1, ids[0, len(head):, None]).mean()))
    return {k: round(float(np.mean(v)), 4) for k, v in nll.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=REPO / "checkpoints" / "bach.safetensors")
    ap.add_argument("--recipe", type=Path, default=REPO / "corpora" / "bach_chorales.toml")
    ap.add_argument("--samples", type=int, default=34)
    args = ap.parse_args()
    model = session.load_model(args.checkpoint)
    kinds = label_kinds(model.tokenizer)
    corpus = session.prepare_corpus(recipe=args.recipe, conditioned=True, label_kinds=kinds)
    val = records(corpus.val)
    real = [corpus.tokenizer.decode(r) for r in val]
    seconds = float(np.median([s.end_time for s in real]))
    gen = [p.sequence for p in session.sample_pieces(model, args.samples, sample_config("midi_events", seed=0),
                                                     seconds)]
    tf = teacher_forced_rests(model, val)
    prior = collections.Counter(lb for n in range(40)
                                for lb in session.open_stream(model, SampleConfig(seed=n)).drawn_labels
                                if not lb.startswith("key="))
    result = {"benchmark": "music_diagnostics", "checkpoint": str(args.checkpoint), "label_kinds": kinds,
              "rests": {"real": rest_figures([s.clipped(seconds) for s in real]), "generated": rest_figures(gen),
                        "teacher_forced_p_rest": {"rests": len(tf), "mean": round(float(np.mean(tf)), 3) if tf else None,
                                                  "max": round(float(np.max(tf)), 3) if tf else None},
                        "teacher_forced_fermatas": teacher_forced_fermatas(model, val)},
              "label_prior_40_fresh_starts": dict(prior)}
    if "mode" in kinds:
        result["mode_nats_per_event"] = mode_reading(model, val)
        names = {corpus.tokenizer.label_id(lb): lb for lb in corpus.tokenizer.labels}
        agree = [analyse_key(s.clipped(20.0)).mode == names[int(r[0])].split("=")[1]
                 for s, r in zip(real, val, strict=True) if int(r[0]) in names and names[int(r[0])].startswith("mode=")]
        result["real_mode_analysed_in_20s"] = f"{sum(agree)}/{len(agree)}"
    for k, v in result.items():
        print(f"{k}: {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
