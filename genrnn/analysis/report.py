"""``genrnn eval … --html report.html``: one offline page an evaluation can be looked at in.

Everything is inside the file: CSS in a ``<style>`` element, figures as base64 PNGs drawn with
matplotlib's object API (no network, no scripts). Sections, each an element with its own id:

- ``rolls``: piano rolls of held-out real and generated excerpts side by side (music), or the
  samples beside held-out text (text), the longest copy from the training data marked;
- ``metrics``: the metric table with the real reference (``music.metrics.compare``), or the loss;
- ``critic``: the held-out figures a ``genrnn classify train --label real`` run folder recorded
  (``read_critic``; both critics, each seed, mean ± sd), when one is given;
- ``copies``: the copy check (``analysis/copies.py``): distributions and every sample's copy.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from genrnn import fileformat
from genrnn.analysis.tables import metric_cells, spread
from genrnn.errors import ConfigError
from genrnn.music.metrics import COUNTS
from genrnn.music.notes import NoteSequence

ROLLS = 6  # excerpts of each side drawn
ROLL_SECONDS = 20.0  # at most this much of each excerpt
TEXT_CHARS = 600  # of each text sample shown
CRITIC_FILES = {"classifier.safetensors": "neural", "feature_critic.safetensors": "features"}
CRITIC_NAMES = {"neural": "neural critic (LSTM on events)", "features": "feature critic (logistic regression)"}

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
code, pre { font: 12px/1.4 ui-monospace, monospace; } pre { white-space: pre-wrap; background: #f6f6f6; padding: .6em; }
table { border-collapse: collapse; margin: .8em 0; } td, th { padding: .25em .7em; border-bottom: 1px solid #e4e4e4; }
th { text-align: left; background: #fafafa; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pair td { vertical-align: top; border: none; } .pair img { width: 100%; max-width: 560px; }
tr.over td { background: #fde3e1; } mark { background: #ffd27a; } .note { color: #666; }
"""


# ---------------------------------------------------------------- figures


def png_data(fig: Figure) -> str:
    """A figure as a ``data:`` URI of its PNG."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def piano_roll(seq: NoteSequence, title: str, seconds: float = ROLL_SECONDS,
               marked: tuple[float, float] | None = None) -> Figure:
    """A piano roll of the first ``seconds`` of ``seq``: one bar per note (pitch against time);
    ``marked`` (start, end in seconds) is shaded: the longest copy from the training data."""
    fig = Figure(figsize=(7, 2.6), dpi=80)
    ax = fig.subplots()
    notes = [n for n in seq.notes if n.start < seconds and not n.is_drum]
    by_pitch: dict[int, list[tuple[float, float]]] = {}
    for n in notes:
        by_pitch.setdefault(n.pitch, []).append((n.start, min(n.end, seconds) - n.start))
    for pitch, bars in by_pitch.items():
        ax.broken_barh(bars, (pitch - 0.4, 0.8), facecolors="#3b6ea5")
    if marked is not None and marked[1] > marked[0]:
        ax.axvspan(marked[0], min(marked[1], seconds), color="#f5a623", alpha=0.3, lw=0)
    if by_pitch:
        ax.set_ylim(min(by_pitch) - 2, max(by_pitch) + 2)
    ax.set_xlim(0, seconds)
    ax.set_xlabel("seconds")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_curve(runs: Sequence[dict[str, Any]]) -> Figure | None:
    """Held-out accuracy against training steps of each neural critic run (its recorded curve)."""
    curves = [(r["seed"], r["neural"]["curve"]) for r in runs if r.get("neural", {}).get("curve")]
    if not curves:
        return None
    fig = Figure(figsize=(6, 2.8), dpi=80)
    ax = fig.subplots()
    for seed, curve in curves:
        points = [(p["step"], p["val_accuracy"]) for p in curve if p.get("val_accuracy") is not None]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", ms=3, label=f"seed {seed}")
    ax.axhline(0.5, color="#888", ls="--", lw=1, label="chance (indistinguishable)")
    ax.set_ylim(0.3, 1.0)
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out accuracy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- the critic's run folder


def read_critic(folder: str | Path) -> dict[str, Any]:
    """What a ``genrnn classify train --label real --out RUN_DIR`` folder recorded: each run (the
    folder itself, or its ``seedS/`` folders with ``--seeds N``) with its critics' held-out
    figures, read from the files' headers (no PyTorch), and their mean ± sd over runs."""
    root = Path(folder)
    if root.is_file():  # one critic file (checkpoints/bach.critic.safetensors): its own record
        return _summed(str(root), [_critic_run(root.parent, {root.name: _kind_of(root)})])
    if not root.is_dir():
        raise ConfigError(f"--critic {root}: no such folder or file; expected a `genrnn classify train --label real "
                          f"--out RUN_DIR` folder")
    dirs = [root] if any((root / f).is_file() for f in CRITIC_FILES) else sorted(
        (d for d in root.iterdir() if d.is_dir() and any((d / f).is_file() for f in CRITIC_FILES)),
        key=lambda d: (len(d.name), d.name))
    if not dirs:
        raise ConfigError(f"--critic {root}: holds no {' or '.join(CRITIC_FILES)} (nor seed folders with one); "
                          f"expected a `genrnn classify train --label real --out RUN_DIR` folder")
    return _summed(str(root), [_critic_run(d, CRITIC_FILES) for d in dirs])


def _kind_of(path: Path) -> str:
    fmt = fileformat.read_header(path).format
    if fmt == fileformat.CLASSIFIER:
        return "neural"
    if fmt == fileformat.FEATURE_CRITIC:
        return "features"
    raise ConfigError(f"--critic {path}: a {fmt} file, not a critic (classify train --label real writes them)")


def _summed(folder: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs and their mean ± sd (sample sd over runs) per kind of critic."""
    summary = {}
    for kind in CRITIC_NAMES:
        values = [r[kind]["accuracy"] for r in runs if kind in r]
        if values:
            figures = spread(values)
            summary[kind] = {"mean": figures["mean"], "sd": figures["sd"], "runs": len(values)}
    return {"folder": folder, "runs": runs, "summary": summary}


def _critic_run(folder: Path, files: dict[str, str]) -> dict[str, Any]:
    run: dict[str, Any] = {"folder": str(folder), "seed": None, "task": {}}
    for name, kind in files.items():
        path = folder / name
        if not path.is_file():
            continue
        header = fileformat.read_header(path)
        task, training = header.field("task"), header.field("training")
        if not isinstance(task, dict) or task.get("kind") != "critic":
            raise ConfigError(f"--critic {path}: a {task.get('label') if isinstance(task, dict) else '?'} classifier, "
                              f"not a critic of real against generated (classify train --label real)")
        held = training.get("heldout", {})
        run[kind] = {"accuracy": float(training["accuracy"]), "count": held.get("count"),
                     "stderr": held.get("stderr"), "per_class": held.get("per_class", {}),
                     "curve": training.get("curve", []), "top_features": held.get("top_features", [])}
        run["task"] = run["task"] or task
        seed = training.get("train_config", {}).get("seed", task.get("generation_seed"))
        run["seed"] = run["seed"] if run["seed"] is not None else seed
    return run


# ---------------------------------------------------------------- the page


def write_report(path: str | Path, title: str, report: dict[str, Any], pieces: dict[str, Any],
                 critics: Sequence[dict[str, Any]] = (), command: str = "") -> Path:
    """Write the page (see the module's docstring) to ``path``; ``report`` is ``eval``'s (its
    metrics and copies), ``pieces`` what it compared (``generated`` and ``real`` NoteSequences,
    or ``texts`` and ``real`` strings)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"--html {p}: is a folder; expected a file name such as report.html")
    text = report.get("kind") == "text"
    parts = [f"<h1>genrnn eval: {_e(title)}</h1>"]
    if command:
        parts.append(f"<p class=note>made by <code>{_e(command)}</code></p>")
    parts.append(_text_samples(report, pieces) if text else _rolls(report, pieces))
    parts.append(_metrics(report))
    parts.append(_critics(critics))
    parts.append(_copies(report.get("copies")))
    page = ("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>genrnn eval: {_e(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(p)
    return p


def _plain(value: object) -> str:
    """A recorded value as a person reads it: a table as k = v pairs."""
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return str(value)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _section(name: str, heading: str, body: str) -> str:
    return f"<section id={name}><h2>{_e(heading)}</h2>\n{body}\n</section>"


def _rolls(report: dict[str, Any], pieces: dict[str, Any]) -> str:
    generated, real = pieces.get("generated", []), pieces.get("real", [])
    if not generated and not real:
        return _section("rolls", "Piano rolls", "<p class=note>no pieces to draw</p>")
    seconds = min(ROLL_SECONDS, float(report.get("seconds_per_sample") or ROLL_SECONDS))
    copies = report.get("copies") or {}
    rows = []
    for n in range(min(ROLLS, max(len(generated), len(real)))):
        cells = [_roll(side, n, seconds, copies.get(key, []), what)
                 for side, key, what in ((real, "real", "held-out piece"), (generated, "generated", "generated sample"))]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    note = (f"<p class=note>the first {seconds:g} s of the first {len(rows)} of {len(real)} held-out pieces and "
            f"{len(generated)} samples; shaded, each one's longest copy from the training pieces</p>")
    return _section("rolls", "Piano rolls: real and generated",
                    note + "<table class=pair><tr><th>real (held-out)</th><th>generated</th></tr>"
                    + "".join(rows) + "</table>")


def _roll(pieces: Sequence[NoteSequence], n: int, seconds: float, copies: Sequence[dict[str, Any]], what: str) -> str:
    """Piece ``n``'s roll, its longest copy shaded (a copy in beats: a tune's is in characters)."""
    if n >= len(pieces):
        return ""
    row = copies[n] if n < len(copies) else {}
    mark = (row["seconds"], row["until"]) if row.get("events") else None
    title = f"{what} {n + 1}" + (f" (longest copy: {row['beats']:g} beats)" if mark else "")
    return _img(piano_roll(pieces[n], title, seconds, mark), f"{what} {n + 1}")


def _img(fig: Figure, alt: str) -> str:
    return f"<img src=\"{png_data(fig)}\" alt=\"{_e(alt)}\">"


def _text_samples(report: dict[str, Any], pieces: dict[str, Any]) -> str:
    copies = (report.get("copies") or {}).get("generated", [])
    rows = []
    texts, real = pieces.get("texts", []), pieces.get("real", [])
    for n in range(min(ROLLS, max(len(texts), len(real)))):
        left = f"<pre>{_e(real[n][:TEXT_CHARS])}</pre>" if n < len(real) else ""
        right = ""
        if n < len(texts):
            shown = texts[n][:TEXT_CHARS]
            c = copies[n] if n < len(copies) else None
            if c and c["chars"] and c["start"] < len(shown):
                a, b = c["start"], c["start"] + c["chars"]
                right = f"<pre>{_e(shown[:a])}<mark>{_e(shown[a:b])}</mark>{_e(shown[b:])}</pre>"
            else:
                right = f"<pre>{_e(shown)}</pre>"
        rows.append(f"<tr><td>{left}</td><td>{right}</td></tr>")
    note = f"<p class=note>the first {TEXT_CHARS} characters of each; the longest copy from the training split marked</p>"
    return _section("rolls", "Samples: held-out text and generated",
                    note + "<table class=pair><tr><th>real (held-out)</th><th>generated</th></tr>"
                    + "".join(rows) + "</table>")


def _metrics(report: dict[str, Any]) -> str:
    unit = "char" if report.get("kind") in ("text", "abc") else "event"
    loss = (f"<p>loss {report['nats_per_token']:.4f} nats/{unit}, "
            f"{report['nats_per_token'] / math.log(2):.4f} bits/{unit} over {report.get('val_tokens', report.get('tokens', 0)):,} "
            f"held-out tokens</p>") if "nats_per_token" in report else ""
    if report.get("sampling"):
        loss += "<p class=note>sampling: " + _e(_plain(report["sampling"])) + " (sample n: seed + n)</p>"
    if "parse_share" in report:
        loss += f"<p>{report['parse_share']:.0%} of {report['samples']} sampled tunes parse with music21</p>"
    metrics = report.get("metrics")
    if not metrics:
        return _section("metrics", "Metrics", loss)
    rows = []
    for name, row in metrics.items():
        if not isinstance(row, dict) or name in COUNTS:
            continue
        if {"generated", "real"} <= set(row):
            label, generated, real, diff = metric_cells(name, row)
            rows.append(f"<tr><td>{_e(label)}</td><td class=n>{generated}</td><td class=n>{real}</td>"
                        f"<td class=n>{diff}</td></tr>")
        elif "overlap" in row:
            rows.append(f"<tr><td>{_e(name.replace('_', ' '))}</td><td class=n>{row['overlap']:.3f}</td>"
                        f"<td class=n>-</td><td></td></tr>")
    seconds = report.get("seconds_per_sample")
    caption = (f"<p class=note>{report.get('samples')} samples of {seconds:.1f} s against the held-out real pieces"
               f"{', given their labels' if report.get('labels') == 'held-out' else ''}</p>") if seconds else ""
    return _section("metrics", "Metrics against the real reference",
                    loss + caption + "<table><tr><th>metric</th><th>generated</th><th>real</th><th>difference</th></tr>"
                    + "".join(rows) + "</table>")


def _critics(critics: Sequence[dict[str, Any]]) -> str:
    if not critics:
        return _section("critic", "Critic", "<p class=note>no critic given: train one with <code>genrnn classify "
                                            "train --label real --generator CKPT --out RUN_DIR</code> and pass "
                                            "<code>--critic RUN_DIR</code></p>")
    body = ["<p class=note>held-out accuracy of telling real from generated: 50% is indistinguishable</p>"]
    for critic in critics:
        body.append(f"<h3>{_e(critic['folder'])}</h3>")
        body.append("<table><tr><th>critic</th><th>held-out accuracy</th><th>runs</th></tr>" + "".join(
            f"<tr><td>{_e(CRITIC_NAMES[k])}</td><td class=n>{s['mean']:.1%} ± {s['sd']:.1%}</td>"
            f"<td class=n>{s['runs']}</td></tr>" for k, s in critic["summary"].items()) + "</table>")
        rows = []
        for run in critic["runs"]:
            for kind in CRITIC_NAMES:
                if kind in run:
                    r = run[kind]
                    err = f" ± {1.96 * r['stderr']:.1%}" if r.get("stderr") is not None else ""
                    per = ", ".join(f"{c} {v['accuracy']:.0%}" for c, v in r["per_class"].items()
                                    if isinstance(v, dict) and v.get("accuracy") is not None)
                    rows.append(f"<tr><td class=n>{_e(run['seed'])}</td><td>{_e(CRITIC_NAMES[kind])}</td>"
                                f"<td class=n>{r['accuracy']:.1%}{err}</td><td class=n>{_e(r['count'])}</td>"
                                f"<td>{_e(per)}</td></tr>")
        body.append("<table><tr><th>seed</th><th>critic</th><th>accuracy (95%)</th><th>held-out pieces</th>"
                    "<th>per class</th></tr>" + "".join(rows) + "</table>")
        task = critic["runs"][0]["task"]
        facts = [f"{k.replace('_', ' ')}: {_plain(task[k])}" for k in ("generator", "excerpt_seconds", "sampling", "best_of")
                 if task.get(k) is not None]
        weighs = critic["runs"][0].get("features", {}).get("top_features")
        if weighs:
            facts.append("the feature critic weighs most: " + ", ".join(
                f"{name} ({'+' if w > 0 else '−'})" for name, w in weighs) + " (+ leans real)")
        if facts:
            body.append("<p class=note>" + "<br>".join(_e(f) for f in facts) + "</p>")
        curve = accuracy_curve(critic["runs"])
        if curve is not None:
            body.append(_img(curve, "held-out accuracy of the neural critic during training"))
    return _section("critic", "Critic", "\n".join(body))


def _copies(copies: dict[str, Any] | None) -> str:
    if not copies:
        return _section("copies", "Copy check", "<p class=note>no samples</p>")
    unit, limit = copies["unit"], copies["limit"]
    measures = ("beats", "events") if unit == "beats" else ("chars",)
    gen, real = copies["summary"]["generated"], copies["summary"]["real"]
    head = ("<p class=note>the longest span of each piece found verbatim in the training data ("
            + _e(copies["against"]) + ")" + (", transposition-invariant: pitch intervals, onsets and durations "
                                              "in the piece's own 16ths" if unit == "beats" else "")
            + f"; real: {_e(copies['real_what'])}</p>")
    table = ["<table><tr><th></th><th>generated</th><th>real</th></tr>"]
    for m in measures:
        for stat in ("median", "p90", "max"):
            table.append(f"<tr><td>{m} {stat}</td><td class=n>{gen[m][stat]:g}</td><td class=n>{real[m][stat]:g}</td></tr>")
    table.append(f"<tr><td>more than {limit:g} {unit}</td><td class=n>{gen['over_limit']} of {len(copies['generated'])}"
                 f"</td><td class=n>{real['over_limit']} of {len(copies['real'])}</td></tr></table>")
    rows = []
    for n, r in enumerate(copies["generated"], 1):
        over = " class=over" if r[unit] > limit else ""
        if unit == "beats":
            rows.append(f"<tr{over}><td class=n>{n}</td><td class=n>{r['beats']:g}</td><td class=n>{r['events']}</td>"
                        f"<td class=n>{r['seconds']:.1f}</td><td>{_e(r['source'])}</td><td class=n>{r['source_beat']:g}</td></tr>")
        else:
            rows.append(f"<tr{over}><td class=n>{n}</td><td class=n>{r['chars']}</td><td><code>{_e(r['text'])}</code></td></tr>")
    cols = ("sample", "beats", "notes", "at (s)", "from", "its beat") if unit == "beats" else ("sample", "chars", "copied")
    samples = ("<table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>" + "".join(rows) + "</table>")
    return _section("copies", "Copy check", head + "".join(table) + "<h3>each sample</h3>" + samples)
