"""Band MIDI figures for issue 15 (instruments and drums). Last line of output: one JSON object.

    .venv/bin/python benchmarks/music_band.py                      # everything (~15 min on the 2-core box)
    .venv/bin/python benchmarks/music_band.py --skip train         # round trip, prep, speed only (~1 min)
    .venv/bin/python benchmarks/music_band.py --skip prep --skip speed --skip train   # the round trip

- roundtrip: synthetic band songs (tests/band.py: drums, 19 instruments, program changes in the
  middle of two tracks, one held over the change, two tracks on one channel) are read, encoded
  and decoded at both instrument grains. Every note must keep its instrument (its program, or
  its family at the families grain, or the kit) and pitch, its times within 10 ms. The reader
  is checked too, against what a General MIDI player sounds (``band.played_programs``), and the
  decoded piece written with ``write_midi`` and read back.
- prep: 1 hour of 8-track band MIDI (180 songs of 20 s) through corpora/midi_folder.toml (every
  instrument kept, its transpositions and stretches), cold (a fresh cache) and cached.
- speed: a 6-instrument piece (primed with 2 s of a 6-part song) generated on one core, in a
  child process whose OMP/MKL/OpenBLAS thread variables are 1 before NumPy loads; through
  ``session.load_model`` and ``session.perform``, the loop ``genrnn sample`` runs. Two models:
  the ``programs`` model of ``train`` (trained here if ``--work`` does not hold it), measured in
  music seconds per second as generated, and at the event rate of the real 6-part song it is
  primed with (a briefly trained model writes more events per second than real songs hold);
  and a ``music``-preset LSTM (2×384) after one training step, at that real rate only (an
  untrained model writes time shifts at random, and leaves many notes sounding, which the
  grammar tracks: its cost per token is an upper bound).
- train: the representations side by side, instruments "merge" (one performance, drums
  dropped: a baseline), "programs" and "families": vocabulary, events per second of music,
  and, after the same number of training steps of the same model on the same songs (equal
  steps rather than equal seconds: on a shared 2-core box seconds buy different amounts of
  training from run to run), held-out loss per event and per second of music, and generation
  speed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests/band.py writes the songs

import mido  # noqa: E402
import numpy as np  # noqa: E402

from genrnn.machine import cpu_model  # noqa: E402
from tests import band  # noqa: E402

PARTS = ("roundtrip", "prep", "speed", "train")
GRAINS = ("programs", "families")
MODES = ("merge", *GRAINS)
TOLERANCE = 0.010  # seconds
SIX = ("drums", "33", "0", "27", "48", "80")  # band.PARTS[:6]: drums, bass, piano, guitar, strings, lead
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- round trip


def _match(want: list, got: list) -> tuple[int, int, float]:
    """(notes of ``want`` with no note of the same instrument and pitch starting within 10 ms in
    ``got``, notes of ``got`` left over, the largest start or end error of those matched)."""
    by_key: dict[tuple, list] = {}
    for n in sorted(got, key=lambda n: n.start):
        by_key.setdefault((n.program, n.is_drum, n.pitch), []).append(n)
    missing, worst = 0, 0.0
    for n in sorted(want, key=lambda n: n.start):
        pool = by_key.get((n.program, n.is_drum, n.pitch), [])
        k = next((i for i, m in enumerate(pool) if abs(m.start - n.start) <= TOLERANCE + 1e-9), None)
        if k is None:
            missing += 1
            continue
        m = pool.pop(k)
        worst = max(worst, abs(m.start - n.start), abs(m.end - n.end))
    return missing, sum(len(v) for v in by_key.values()), worst


def roundtrip_figures(songs: int, seconds: float) -> dict[str, Any]:
    from genrnn.music.midi_io import read_midi, read_midi_bytes, write_midi
    from genrnn.music.notes import resolve_overlaps
    from genrnn.tokenizers.midi_events import MidiEventTokenizer

    out: dict[str, Any] = {"songs": songs, "seconds_each": seconds, "parts": len(band.PARTS)}
    reader_wrong = notes = 0
    instruments: set[tuple[int, bool]] = set()
    per_grain = {g: {"changed": 0, "extra": 0, "max_error_ms": 0.0, "file_changed": 0, "file_max_error_ms": 0.0}
                 for g in GRAINS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(songs):
            data = io.BytesIO()
            band.song(seconds, parts=len(band.PARTS), seed=seed, program_changes=True).save(file=data)
            truth = band.played_programs(mido.MidiFile(file=io.BytesIO(data.getvalue())))
            seq = read_midi_bytes(data.getvalue(), name=f"song {seed}")
            ticks_per_second = 480 * (seq.tempo_bpm or 120) / 60
            read = sorted((n.program, n.is_drum, n.pitch, round(n.start * ticks_per_second)) for n in seq.notes)
            reader_wrong += sum(((Counter(truth) - Counter(read)) + (Counter(read) - Counter(truth))).values())
            notes += len(seq.notes)
            instruments |= {(n.program, n.is_drum) for n in seq.notes}
            for grain in GRAINS:
                tok = MidiEventTokenizer(instruments=grain)
                inst = tok.instruments
                # what the grain keeps: a family plays as its first program; one instrument's
                # overlapping notes of one pitch are re-strikes
                want = resolve_overlaps([replace(n, program=inst.program(inst.slot(n.program, n.is_drum))[0])
                                         for n in seq.notes])
                back = tok.decode(tok.encode(seq))
                changed, extra, worst = _match(want, back.notes)
                row = per_grain[grain]
                row["changed"] += changed
                row["extra"] += extra
                row["max_error_ms"] = max(row["max_error_ms"], worst * 1000)
                again = read_midi(write_midi(replace(back, tempo_bpm=seq.tempo_bpm), Path(tmp) / f"{grain}{seed}.mid"))
                changed, extra, worst = _match(back.notes, again.notes)
                row["file_changed"] += changed + extra
                row["file_max_error_ms"] = max(row["file_max_error_ms"], worst * 1000)
    out.update(notes=notes, instruments=len(instruments), drums=any(d for _, d in instruments),
               reader_mismatches=reader_wrong)
    for grain, row in per_grain.items():
        out[grain] = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
    out["pass"] = reader_wrong == 0 and all(
        r["changed"] == r["extra"] == r["file_changed"] == 0 and r["max_error_ms"] <= 10 for r in per_grain.values())
    return out


# ---------------------------------------------------------------- prep


def write_songs(folder: Path, songs: int, seconds: float, parts: int) -> float:
    """``songs`` band songs into ``folder`` (kept if already there); their total length in s."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for i in range(songs):
        path = folder / f"song{i:03d}.mid"
        if not path.exists():
            band.write_song(path, seconds, parts=parts, seed=i)
        total += mido.MidiFile(path).length
    return total


def recipe_for(folder: Path, mode: str, where: Path) -> Path:
    """corpora/midi_folder.toml on ``folder``, its instruments merged or kept at a grain."""
    text = (REPO / "corpora" / "midi_folder.toml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith(("folder =", "instruments ="))]
    lines += [f'folder = "{folder}"', f'instruments = "{"merge" if mode == "merge" else "keep"}"']
    if mode != "merge":
        lines.append(f'instrument_grain = "{mode}"')
    path = where / f"band_{mode}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prep_figures(recipe: Path, cache: Path, music_seconds: float) -> dict[str, Any]:
    from genrnn.corpora.recipes import prepare

    start = time.perf_counter()
    corpus = prepare(recipe, cache_dir=cache)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    prepare(recipe, cache_dir=cache)
    cached = time.perf_counter() - start
    meta = corpus.meta
    return {"music_seconds": round(music_seconds, 1), "cold_s": round(cold, 2), "cached_s": round(cached, 3),
            "target_cold_s": 10, "target_cached_s": 1,
            "pieces_train": meta["pieces"]["train"], "pieces_val": meta["pieces"]["val"],
            "train_records": meta["pieces"]["train_records"],
            "tokens_train": meta["tokens"]["train"], "tokens_val": meta["tokens"]["val"],
            "skipped": meta["skipped"]["summary"]}


def events_per_second(corpus: Any) -> tuple[float, float]:
    """(events per second of music, seconds of music) of the held-out split: its tokens other
    than START, END and labels over the time its shifts cover."""
    from genrnn.tokenizers.midi_events import END, START, TIME_SHIFT, VELOCITY

    val = np.asarray(corpus.val, dtype=np.int64)
    shifts = val[(val >= TIME_SHIFT) & (val < VELOCITY)]
    seconds = float((shifts - TIME_SHIFT + 1).sum()) * 0.01
    events = int(((val != START) & (val != END) & (val < corpus.tokenizer.label_base)).sum())
    return events / seconds, seconds


# ---------------------------------------------------------------- speed (a child process, one thread)


def speed_worker(args: argparse.Namespace) -> None:
    """In the child: one piece per seed, timed from its first generated token to its end."""
    from genrnn import session
    from genrnn.config import sample_config
    from genrnn.music.midi_io import read_midi

    model = session.load_model(args.speed_worker)
    assert model.numpy_backend, "the speed figures are for the NumPy back-end (an LSTM on the CPU)"
    song = read_midi(args.primer)  # the whole primer song: the events per second a real one takes
    real_rate = len(model.tokenizer.encode(song if model.tokenizer.instruments else song.without_drums())) / song.end_time
    # the primer's six instruments, and only they (a model that merges them plays one performance)
    ensemble = SIX if model.tokenizer.instruments is not None else ()
    runs = []
    for seed in range(args.seeds):
        primer = session.read_music_primer(model, args.primer, seconds=2.0)
        perf = session.perform(model, sample_config("midi_events", seed=seed, instruments=ensemble), primer,
                               args.gen_seconds)
        start = time.perf_counter()
        perf.run()
        wall = time.perf_counter() - start
        piece = perf.sample().sequence
        played = {(n.program, n.is_drum) for n in piece.notes if n.start >= primer.end_time}
        runs.append({"tokens": len(perf.tokens), "music_s": round(perf.time - primer.end_time, 2),
                     "wall_s": round(wall, 3), "instruments": len(played)})
    print(json.dumps({"runs": runs, "real_events_per_music_s": real_rate,
                      "threads": {k: os.environ.get(k) for k in ONE_THREAD}}))


def speed_figures(checkpoint: Path, primer: Path, seconds: float, seeds: int, trained: bool = True) -> dict[str, Any]:
    """Generation on one core: times real time as generated (``trained``) and at the event rate
    of the real song the pieces are primed with (a piece as dense as a real one)."""
    env = {**os.environ, **ONE_THREAD}
    cmd = [sys.executable, __file__, "--speed-worker", str(checkpoint), "--primer", str(primer),
           "--gen-seconds", str(seconds), "--seeds", str(seeds)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    runs, real_rate = report["runs"], report["real_events_per_music_s"]
    tokens = sum(r["tokens"] for r in runs)
    wall = sum(r["wall_s"] for r in runs)
    music = sum(r["music_s"] for r in runs)
    out: dict[str, Any] = {"pieces": len(runs), "tokens": tokens, "wall_s": round(wall, 2),
                           "tokens_per_s": round(tokens / wall, 1), "ms_per_token": round(1000 * wall / tokens, 3),
                           "instruments_played": [r["instruments"] for r in runs]}
    if trained:
        out["music_s"] = round(music, 1)
        out["events_per_music_s"] = round(tokens / music, 1)
        out["x_real_time"] = round(music / wall, 1)
    out["real_events_per_music_s"] = round(real_rate, 1)
    out["x_real_time_at_real_rate"] = round(tokens / wall / real_rate, 1)
    out["target_x_real_time"] = 50
    return out


def model_record(model_path: Path) -> dict[str, Any]:
    from genrnn import session

    model = session.load_model(model_path)
    cfg, tr = model.config, model.training
    return {"model": f"{cfg.cell} {cfg.layers}x{cfg.hidden} emb {cfg.embed}", "vocab": cfg.vocab_size,
            "steps": tr.get("steps"), "wall_s": tr.get("wall_time"), "tokens": tr.get("tokens")}


def one_step_model(corpus: Any, out: Path) -> Path:
    """The ``music`` preset (2×384) after one training step: the size, not the training."""
    from genrnn import session

    if not (out / "last.safetensors").exists():
        session.make_trainer(corpus, "music", {}, {"max_steps": 1, "time_budget": None}, out).fit()
    return out


# ---------------------------------------------------------------- representations


def trained_run(mode: str, corpus: Any, work: Path, args: argparse.Namespace) -> Path:
    """``args.train_steps`` steps of ``args.preset`` on one representation's corpus (reused when
    ``--work`` holds the run already)."""
    from genrnn import session

    run = work / f"run_{mode}_{args.preset}_{args.train_steps}"
    if not (run / "last.safetensors").exists():
        log(f"training {mode}: {args.train_steps} steps of the {args.preset} preset, {args.threads} thread(s)")
        session.make_trainer(corpus, args.preset, {},
                             {"max_steps": args.train_steps, "time_budget": None, "threads": args.threads,
                              "eval_interval": 1e7, "checkpoint_interval": 1e7}, run).fit()
    return run


def train_figures(recipes: dict[str, Path], cache: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from genrnn import session
    from genrnn.corpora.recipes import prepare

    out: dict[str, Any] = {"preset": args.preset, "steps": args.train_steps, "threads": args.threads}
    for mode, recipe in recipes.items():
        corpus = prepare(recipe, cache_dir=cache)
        rate, val_seconds = events_per_second(corpus)
        run = trained_run(mode, corpus, work, args)
        nats = session.evaluate_model(session.load_model(run), corpus.val, seq_len=256)
        row: dict[str, Any] = {
            "vocab": corpus.tokenizer.vocab_size, "events_per_music_s": round(rate, 1),
            "val_music_s": round(val_seconds, 1), "tokens_train": int(len(corpus.train)),
            "training": model_record(run), "val_nats_per_event": round(nats, 4),
            "val_nats_per_music_s": round(nats * rate, 2),
            "speed": speed_figures(run, args.primer_path, args.gen_seconds, args.seeds)}
        log(f"{mode}: {row}")
        out[mode] = row
    return out


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip", action="append", default=[], choices=PARTS, help="leave a part out (repeatable)")
    parser.add_argument("--work", type=Path, help="folder for songs, caches and runs (default: a temporary one); "
                                                  "songs and runs already there are reused, prep is always cold")
    parser.add_argument("--roundtrip-songs", type=int, default=12, help="songs in the round trip (default 12)")
    parser.add_argument("--songs", type=int, default=180, help="songs in the band corpus (default 180)")
    parser.add_argument("--song-seconds", type=float, default=20.0)
    parser.add_argument("--parts", type=int, default=8, help="tracks per corpus song, drums first (default 8)")
    parser.add_argument("--preset", default="default", help="the model trained for each representation")
    parser.add_argument("--train-steps", type=int, default=1500, help="training steps per representation")
    # One thread: on a 2-core box that others use too, two-thread training ran 6× slower than one
    # (5 k against 30 k tokens/s); the loss after N steps is the same.
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads for training (default 1)")
    parser.add_argument("--gen-seconds", type=float, default=30.0, help="seconds of music per generated piece")
    parser.add_argument("--seeds", type=int, default=3, help="pieces per speed figure")
    parser.add_argument("--speed-worker", metavar="CHECKPOINT", help=argparse.SUPPRESS)
    parser.add_argument("--primer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.speed_worker:
        speed_worker(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(run_parts(args, work.resolve())))


def run_parts(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from genrnn.corpora.recipes import prepare

    result: dict[str, Any] = {"machine": _machine()}
    if "roundtrip" not in args.skip:
        start = time.perf_counter()
        result["roundtrip"] = roundtrip_figures(args.roundtrip_songs, args.song_seconds)
        log(f"round trip ({time.perf_counter() - start:.1f} s): {result['roundtrip']}")
    if {"prep", "speed", "train"} <= set(args.skip):
        return result
    songs = work / "songs"
    music_seconds = write_songs(songs, args.songs, args.song_seconds, args.parts)
    args.primer_path = band.write_song(work / "primer" / "six_parts.mid", 20.0, parts=6, seed=10_000)
    recipes = {mode: recipe_for(songs, mode, work) for mode in MODES}
    cache = work / "cache"
    if "prep" not in args.skip:
        cold = work / f"cache-cold-{time.time_ns()}"
        result["prep"] = prep_figures(recipes["programs"], cold, music_seconds)
        log(f"prep: {result['prep']}")
        if cache.exists():
            shutil.rmtree(cold)
        else:
            cold.rename(cache)
    if "speed" not in args.skip:
        corpus = prepare(recipes["programs"], cache_dir=cache)
        rate, _ = events_per_second(corpus)
        trained = trained_run("programs", corpus, work, args)
        big = one_step_model(corpus, work / "music_preset_one_step")
        result["speed"] = {
            "corpus_events_per_music_s": round(rate, 1),
            "trained": {"model": model_record(trained),
                        **speed_figures(trained, args.primer_path, args.gen_seconds, args.seeds)},
            "music_preset_one_step": {"model": model_record(big),
                                      **speed_figures(big, args.primer_path, args.gen_seconds, args.seeds, False)}}
        log(f"speed: {result['speed']}")
    if "train" not in args.skip:
        result["representations"] = train_figures(recipes, cache, work, args)
    return result


def _machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)}


if __name__ == "__main__":
    main()
