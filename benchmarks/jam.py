"""Jam figures: a scripted player over socket ports, the model's answers to a socket receiver.

    python benchmarks/jam.py                       # bach.safetensors and a 2x512 event model, 12 phrases each
    python benchmarks/jam.py --quick               # 4 phrases each: a smoke run
    python benchmarks/jam.py --soak-seconds 1800   # plus a soak: RSS growth, missed phrases, hanging notes

The player (another process) sends phrases to ``listen:127.0.0.1:PORT``; the session runs here,
as ``genrnn jam`` runs it; a receiver process timestamps what arrives. Printed, as the last line,
one JSON object:

- ``latency_p50_ms`` / ``latency_p95_ms``: the detected end of a phrase (its last note-off + the
  gap: the gap excluded) to the first answer note sent, measured in the session;
  ``e2e_p95_ms``: the same from the player's own clock to the receiver's (both CLOCK_MONOTONIC);
- ``jitter_p99_ms``: how late the answer's messages were sent against their due times;
- ``accompany_p95_ms``: in accompany mode, an input note's arrival to the model's events sent;
- soak: ``rss_growth_mb`` (after the first phrases, to the end), ``missed_phrases`` (played, not
  answered), ``hanging_notes`` at the receiver, and whether the saved .mid holds every note the
  player sent and the receiver heard.

Targets (issue 16): latency p95 <= 30 ms, jitter p99 <= 3 ms, accompany p95 <= 15 ms, soak: no
missed phrase, no hanging note, RSS growth <= 20 MB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mido  # noqa: E402
import mido.sockets  # noqa: E402

from genrnn import session  # noqa: E402
from genrnn.config import sample_config  # noqa: E402
from genrnn.machine import cpu_model  # noqa: E402
from genrnn.playback.inputs import open_input  # noqa: E402
from genrnn.playback.jam import JamOptions, JamSession  # noqa: E402
from genrnn.playback.phrases import PhraseRules  # noqa: E402
from genrnn.playback.ports import open_output  # noqa: E402
from genrnn.playback.receiver import receiver_main, tally  # noqa: E402
from genrnn.playback.scheduler import percentile  # noqa: E402

CTX = multiprocessing.get_context("spawn")
REPO = Path(__file__).resolve().parents[1]
GAP = 0.6


def player_main(port: int, phrases: int, seconds: float, mode: str, seed: int, results: multiprocessing.Queue) -> None:
    """Play ``phrases`` phrases (or, with ``seconds``, phrases until then), each followed by
    silence long enough for the whole answer; put (note-ons sent, [end of each phrase])."""
    rng = random.Random(seed)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = mido.sockets.SocketPort("127.0.0.1", port, conn=sock)
    sent, ends = 0, []
    stop = time.perf_counter() + seconds if seconds else None
    n = 0
    while (n < phrases) if stop is None else (time.perf_counter() < stop):
        n += 1
        count = rng.randint(4, 8)
        step = rng.uniform(0.1, 0.2)
        root = rng.randint(55, 70)
        start = time.perf_counter()
        for i in range(count):
            pitch = root + rng.choice((0, 2, 4, 5, 7, 9, 11, 12))
            client.send(mido.Message("note_on", note=pitch, velocity=rng.randint(60, 110)))
            sent += 1
            time.sleep(step * 0.7)
            client.send(mido.Message("note_off", note=pitch))
            time.sleep(step * 0.3 if i < count - 1 else 0)
        last = time.perf_counter()
        ends.append(last)
        call = last - start
        rest = GAP + min(8.0, max(1.0, call)) + 0.4 if mode == "answer" else GAP + 0.3
        time.sleep(rest)
    sock.shutdown(socket.SHUT_RDWR)
    client.close()
    results.put((sent, ends))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_model(name: str, folder: Path) -> Path:
    if name == "bach":
        return REPO / "checkpoints" / "bach.safetensors"
    import torch

    from genrnn.config import ModelConfig
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.models.weights import save_model
    from genrnn.tokenizers.midi_events import MidiEventTokenizer

    torch.manual_seed(0)
    tok = MidiEventTokenizer()
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, cell="lstm", embed=64, hidden=512, layers=2))
    return save_model(folder / "event_2x512.safetensors", model, tok, {})


def run_session(path: Path, mode: str, phrases: int, seconds: float, seed: int, save: Path | None) -> dict:
    ready, results = CTX.Queue(), CTX.Queue()
    receiver = CTX.Process(target=receiver_main, args=(ready, results, 120.0))
    receiver.start()
    out_port = ready.get(timeout=60)
    model = session.load_model(path)
    voice = session.open_jam(model, sample_config(model.kind, seed=seed))
    options = JamOptions(mode=mode, rules=PhraseRules(gap=GAP), end_on_close=True)
    jam = JamSession(voice, open_output(f"127.0.0.1:{out_port}"), options)
    inp = open_input("listen:127.0.0.1:0", jam.deliver)
    played = CTX.Queue()
    player = CTX.Process(target=player_main, args=(inp.port, phrases, seconds, mode, seed, played))
    rss: list[float] = []
    done = threading.Event()
    sampler = threading.Thread(target=_sample_rss, args=(jam, rss, done), daemon=True)
    player.start()
    sampler.start()
    stats = jam.run([inp])
    done.set()
    rss.append(rss_mb())
    sent, ends = played.get(timeout=60)
    player.join(timeout=10)
    heard_raw = results.get(timeout=60)
    receiver.join(timeout=10)
    heard = tally(heard_raw)
    out = {"mode": mode, **stats.summary(), "player_notes": sent, "player_phrases": len(ends),
           "receiver_notes": heard.note_ons, "hanging_notes": heard.hanging_notes}
    out["e2e_p95_ms"] = _e2e(ends, heard_raw) if mode == "answer" else None
    if save is not None:
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(str(jam.save(save)))
        call = sum(len(i.notes) for i in pm.instruments if i.name.startswith("call"))
        answer = sum(len(i.notes) for i in pm.instruments if i.name.startswith("answer"))
        out["saved_holds_every_note"] = call == sent and answer == heard.note_ons
    if len(rss) > 1:
        out["rss_growth_mb"] = round(max(rss) - rss[0], 1)
    out["missed_phrases"] = len(ends) - stats.answers if mode == "answer" else None
    return out


def _sample_rss(jam: JamSession, rss: list[float], done: threading.Event) -> None:
    """RSS after the first phrases have been answered (the warm state), then every 5 s."""
    while jam.stats.answers + jam.stats.accompany_calls < 2 and not done.is_set():
        time.sleep(0.2)
    while not done.is_set():
        rss.append(rss_mb())
        done.wait(5.0)


def _e2e(ends: list[float], heard: list) -> float | None:
    """Per phrase: the receiver's first note-on after (the player's last note-off + gap)."""
    ons = [t for t, raw in heard if (raw[0] & 0xF0) == 0x90 and len(raw) > 2 and raw[2] > 0]
    lags = []
    for end in ends:
        due = end + GAP
        first = next((t for t in ons if t >= end), None)
        if first is not None:
            lags.append(first - due)
    return round(percentile(lags, 95) * 1e3, 3) if lags else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="bach,2x512", help="bach and/or 2x512 (an untrained 2-layer 512 LSTM)")
    parser.add_argument("--phrases", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="4 phrases per model")
    parser.add_argument("--soak-seconds", type=float, default=0.0, help="also soak the bach model for this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    phrases = 4 if args.quick else args.phrases
    report: dict = {"cpu": cpu_model(), "cores": os.cpu_count(), "phrases": phrases}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.models.split(","):
            path = make_model(name, folder)
            answer = run_session(path, "answer", phrases, 0.0, args.seed, None)
            accompany = run_session(path, "accompany", max(2, phrases // 2), 0.0, args.seed, None)
            report[name] = {
                "latency_p50_ms": answer["latency_p50_ms"], "latency_p95_ms": answer["latency_p95_ms"],
                "e2e_p95_ms": answer["e2e_p95_ms"], "jitter_p99_ms": answer["jitter_p99_ms"],
                "accompany_p95_ms": accompany["accompany_p95_ms"], "answers": answer["answers"],
                "missed_phrases": answer["missed_phrases"], "hanging_notes": answer["hanging_notes"] + accompany["hanging_notes"],
            }
        if args.soak_seconds > 0:
            soak = run_session(make_model("bach", folder), "answer", 0, args.soak_seconds, args.seed, folder / "soak.mid")
            report["soak"] = {k: soak.get(k) for k in ("duration_s", "player_phrases", "answers", "missed_phrases",
                                                        "hanging_notes", "rss_growth_mb", "saved_holds_every_note",
                                                        "latency_p95_ms", "jitter_p99_ms", "bad")}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
