"""``genrnn classify``: many-to-one models that read a whole piece and give one answer.

Two forms share the command::

    genrnn classify train --corpus RECIPE --label {mode,key,real} --out DIR [options]
    genrnn classify CKPT FILE [FILE ...] [--json]

argparse cannot mix a ``train`` sub-subcommand with a free checkpoint path, so ``classify``
takes the rest of the line and hands it to one of two inner parsers (each with its own
``--help``). This module parses and prints; the work is behind ``genrnn.session``.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from genrnn.analysis.tables import spread
from genrnn.cli._common import CACHE_HELP, emit_json, err, out, out_dir_arg
from genrnn.config import ClassifyConfig, sample_config
from genrnn.errors import ConfigError, GenrnnError

DEFAULT_BUDGET = 120.0
USAGE = ("genrnn classify CKPT FILE [FILE ...] [--json]\n"
         "       genrnn classify train --corpus RECIPE --label {mode,key,real} --out DIR [options]")
DESCRIPTION = ("Many-to-one recurrent models: read a whole piece, give one answer. "
               "`classify train` learns a piece's mode (major/minor) or key from a MIDI recipe's key analysis, "
               "or, with --label real and --generator CKPT, tells real pieces from generated ones (a critic: "
               "its held-out accuracy is the generator's musical-quality figure, 50% = indistinguishable). "
               "`classify CKPT FILE…` labels .mid, .abc or MusicXML files with a trained classifier.")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", add_help=False, usage=USAGE, description=DESCRIPTION,
                       help="many-to-one: learn a piece's mode/key or real-vs-generated; label files")
    p.add_argument("-h", "--help", action="store_true", help="show the help of both forms")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("argv", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=run_classify)


def _predict_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genrnn classify", usage=USAGE, description=DESCRIPTION,
        epilog="Each file gets its predicted label and that label's probability (the mean of the class "
               "probabilities over windows of the classifier's length that cover the piece; a critic reads "
               "the excerpt length it was trained on). A file that cannot be read gets an error line and "
               "the others still print; the exit code is then 2. Training: genrnn classify train --help")
    p.add_argument("checkpoint", metavar="CKPT", help="a classifier (.safetensors) or the --out folder of `classify train`; "
                                                     "or a feature critic (feature_critic.safetensors, NAME.critic.safetensors)")
    p.add_argument("files", nargs="+", metavar="FILE", help=".mid/.midi, .abc (first tune), .musicxml/.xml/.mxl or .krn")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument("--json", action="store_true", help="one JSON line on stdout instead of the table")
    return p


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genrnn classify train",
        description="Train a many-to-one classifier (embedding → LSTM/GRU → last state + masked mean → linear) "
                    "on a MIDI recipe's pieces and report its accuracy on the recipe's held-out pieces. "
                    "--label mode|key: labels from the key analysis of each piece. --label real: a critic "
                    "of real excerpts against as many pieces of the same length written by --generator.",
        epilog="Example: genrnn classify train --corpus corpora/bach_chorales.toml --label mode --out runs/mode "
               "--time-budget 180 · genrnn classify train --corpus corpora/bach_chorales.toml --label real "
               "--generator checkpoints/bach.safetensors --out runs/critic")
    task = p.add_argument_group("task")
    task.add_argument("--corpus", required=True, metavar="RECIPE", help="a MIDI corpus recipe (TOML), e.g. corpora/bach_chorales.toml")
    task.add_argument("--label", required=True, choices=("mode", "key", "real"),
                      help="mode (major/minor), key (tonic, 12 classes) or real (critic: real vs generated)")
    task.add_argument("--out", required=True, metavar="DIR", help="run folder: classifier.safetensors (+ generated/ for a critic)")
    task.add_argument("--val-percent", type=float, metavar="P",
                      help="held-out share of pieces (default: the recipe's val_percent)")
    task.add_argument("--cache", metavar="DIR", help=CACHE_HELP)
    critic = p.add_argument_group("critic (--label real)")
    critic.add_argument("--generator", metavar="CKPT", help="the MIDI-event language model whose pieces the critic judges")
    critic.add_argument("--seconds", type=float, default=15.0, metavar="S",
                        help="excerpt length: the first S seconds of each real piece, and each generated piece (default 15)")
    critic.add_argument("--temperature", type=float, default=None, metavar="T",
                        help="generator sampling temperature (default: the model kind's, as genrnn sample uses)")
    critic.add_argument("--top-p", type=float, default=None, metavar="P",
                        help="generator nucleus (default: the model kind's, as genrnn sample uses)")
    critic.add_argument("--best-of", type=int, default=1, metavar="N",
                        help="each generated piece is the best of N that --rerank-critic rates most real, as "
                             "`genrnn sample --best-of N` draws them (default 1: no reranking)")
    critic.add_argument("--rerank-critic", metavar="FILE",
                        help="the feature critic that reranks for --best-of (default: the generator's own, "
                             "NAME.critic.safetensors beside it)")
    critic.add_argument("--as-written", action="store_true",
                        help="real pieces as written; by default each is played at a stretch and transposition "
                             "drawn from the recipe's augmentation, the distribution the generator learned")
    model = p.add_argument_group("model")
    model.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="recurrent cell (default lstm)")
    model.add_argument("--hidden", type=int, default=128, metavar="H", help="hidden units per layer (default 128)")
    model.add_argument("--embed", type=int, default=64, metavar="E", help="embedding width (default 64)")
    model.add_argument("--layers", type=int, default=1, metavar="L", help="recurrent layers (default 1)")
    model.add_argument("--dropout", type=float, default=0.1, help="dropout before the head (default 0.1)")
    model.add_argument("--pool", choices=("last", "mean", "both"), default="both",
                       help="what the linear head reads: the last output, the masked mean over time, or both (default)")
    model.add_argument("--no-pitch-classes", dest="pitch_classes", action="store_false",
                       help="drop the shared pitch-class vector added to every note token's embedding")
    train = p.add_argument_group("training")
    train.add_argument("--time-budget", type=float, metavar="SECONDS",
                       help=f"wall-clock training time (default {DEFAULT_BUDGET:g} s unless --steps is given)")
    train.add_argument("--steps", type=int, metavar="N", help="stop after N optimizer steps")
    train.add_argument("--seed", type=int, default=0, help="seeds the model, the batches and the generator")
    train.add_argument("--seeds", type=int, default=1, metavar="N",
                       help="train N times, seeds --seed … --seed+N-1 (a critic draws new pieces and real "
                            "variants for each), each into DIR/seedS, and report the mean ± sd")
    train.add_argument("--window", type=int, default=256, metavar="W",
                       help="events per training crop and per inference window (default 256)")
    train.add_argument("--transpose", type=int, metavar="N",
                       help="move each training crop by a random -N..N semitones (key labels move with it); "
                            "default 6 for mode and key (all twelve keys), 0 for real")
    train.add_argument("--batch", type=int, default=32, metavar="B", help="crops per step (default 32)")
    train.add_argument("--lr", type=float, default=5e-3, help="AdamW peak learning rate, cosine decay (default 5e-3)")
    train.add_argument("--eval-interval", type=float, default=15.0, metavar="SECONDS",
                       help="seconds between held-out checks (logged only)")
    train.add_argument("--threads", type=int, default=0, metavar="N", help="torch CPU threads (0 = torch's choice)")
    train.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument("--json", action="store_true", help="one JSON line on stdout instead of the table")
    return p


def run_classify(args: argparse.Namespace) -> int:
    argv = list(args.argv) + (["--json"] if args.json else [])
    if not argv or argv == ["--json"]:
        print(_overview())
        return 0 if args.help else 2
    if args.help:
        argv.append("--help")
    if argv[0] == "train":
        return run_train(_train_parser().parse_args(argv[1:]))
    return run_predict(_predict_parser().parse_args(argv))


def _overview() -> str:
    return _predict_parser().format_help() + "\n\n" + _train_parser().format_help()


# ------------------------------------------------------------------ train


def run_train(args: argparse.Namespace) -> int:
    from genrnn import session

    if args.label == "real" and not args.generator:
        raise ConfigError("--label real needs --generator CKPT: the language model whose pieces the critic judges")
    if args.as_written and args.label != "real":
        raise ConfigError("--as-written is for --label real (a critic)")
    if (args.temperature is not None or args.top_p is not None) and args.label != "real":
        raise ConfigError("--temperature and --top-p are the critic's generator's (--label real)")
    if args.generator and args.label != "real":
        raise ConfigError(f"--generator is for --label real (a critic); --label {args.label} takes its labels from the recipe")
    if (args.best_of != 1 or args.rerank_critic) and args.label != "real":
        raise ConfigError("--best-of and --rerank-critic are the critic's generator's (--label real)")
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds}: expected at least 1")
    budget = args.time_budget if args.time_budget is not None or args.steps else DEFAULT_BUDGET
    transpose = args.transpose if args.transpose is not None else (0 if args.label == "real" else 6)
    model = {"cell": args.cell, "hidden": args.hidden, "embed": args.embed, "layers": args.layers,
             "dropout": args.dropout, "pool": args.pool, "pitch_classes": args.pitch_classes}
    session.classifier_config(model, num_classes=2)  # a bad size fails now, not after the data is built
    folder = out_dir_arg(args.out)
    assert folder is not None
    report = _Reporter(quiet=args.json)
    runs, data = [], None
    for seed in range(args.seed, args.seed + args.seeds):
        here = folder if args.seeds == 1 else folder / f"seed{seed}"
        cfg = ClassifyConfig(window=args.window, batch_size=args.batch, lr=args.lr, time_budget=budget,
                             transpose=transpose, max_steps=args.steps, eval_interval=args.eval_interval,
                             seed=seed, threads=args.threads, device=args.device)
        if args.label == "real":
            settings = sample_config("midi_events", args.temperature, args.top_p)
            data = session.critic_data(args.corpus, args.generator, args.seconds, seed, args.cache,
                                       args.val_percent, here / "generated", report,
                                       augment_real=not args.as_written, settings=settings,
                                       best_of=args.best_of, critic=args.rerank_critic)
        elif data is None:  # the labels do not depend on the seed: one data set for every seed
            data = session.label_data(args.corpus, args.label, args.cache, args.val_percent, report)
        report.start(data, model, cfg)
        result = session.train_classifier(data, model, cfg, here, report)
        features = session.train_feature_critic(data, here) if args.label == "real" else None
        runs.append((seed, here, result, features))
        if not args.json:
            _print_result(result, here, features)
    if args.json:
        emit_json(_train_payload(args, runs))
    elif args.seeds > 1:
        _print_seeds(runs)
    return 0


def _train_payload(args: argparse.Namespace, runs: list[tuple[int, Any, Any, Any]]) -> dict[str, Any]:
    def one(seed: int, here: Any, result: Any, features: Any) -> dict[str, Any]:
        return {"seed": seed, "accuracy": result.evaluation.accuracy, **_figures(result),
                "checkpoint": str(result.path), "task": result.task, "train_examples": result.train_counts,
                "curve": result.curve, "generated": str(here / "generated") if args.label == "real" else None,
                "feature_critic": None if features is None else {**features.evaluation.row(), "checkpoint": str(features.path)}}

    rows = [one(*run) for run in runs]
    payload: dict[str, Any] = {"command": "classify train", "label": args.label, "classes": runs[0][2].classes}
    if len(rows) == 1:
        return {**payload, **rows[0]}
    summary = {"neural": spread([r["accuracy"] for r in rows])}
    if args.label == "real":
        summary["features"] = spread([r["feature_critic"]["accuracy"] for r in rows])
    return {**payload, "seeds": [r["seed"] for r in rows], "summary": summary, "runs": rows}


def _print_seeds(runs: list[tuple[int, Any, Any, Any]]) -> None:
    critic = runs[0][3] is not None
    table = Table(title=f"held-out accuracy over {len(runs)} seeds")
    table.add_column("seed", justify="right")
    table.add_column("neural critic" if critic else "classifier", justify="right")
    if critic:
        table.add_column("feature critic", justify="right")
    for seed, _, result, features in runs:
        table.add_row(str(seed), f"{result.evaluation.accuracy:.1%}",
                      *([f"{features.evaluation.accuracy:.1%}"] if critic else []))
    neural = spread([r[2].evaluation.accuracy for r in runs])
    row = [f"{neural['mean']:.1%} ± {neural['sd']:.1%}"]
    if critic:
        feats = spread([r[3].evaluation.accuracy for r in runs])
        row.append(f"{feats['mean']:.1%} ± {feats['sd']:.1%}")
    table.add_row("mean ± sd", *row)
    out.print(table)


def _figures(result: Any) -> dict[str, Any]:
    ev = result.evaluation
    return {"accuracy": ev.accuracy, "heldout_pieces": ev.count, "stderr": ev.stderr, "baseline": ev.baseline,
            "per_class": ev.per_class, "confusion": ev.confusion, "steps": result.steps,
            "wall_seconds": round(result.seconds, 2)}


class _Reporter:
    """Progress lines on stderr (prep, generation, held-out checks) unless --json."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        phase = event["phase"]
        if phase in ("prep", "generate"):
            done, total = event["done"], event["total"]
            if done == total or done % 50 == 0:
                what = "preparing the corpus" if phase == "prep" else "generating pieces"
                err.print(f"  {what}: {done}/{total}")
        elif phase == "train":
            loss = event["train_loss"]
            err.print(f"  step {event['step']:5d} · {event['seconds']:6.1f} s · train loss "
                      f"{loss if loss is None else format(loss, '.3f')} · held-out accuracy {event['val_accuracy']:.1%}")

    def start(self, data: Any, model: dict[str, Any], cfg: Any) -> None:
        if self.quiet:
            return
        counts = ", ".join(f"{n} {c}" for c, n in data.counts("train").items())
        held = ", ".join(f"{n} {c}" for c, n in data.counts("val").items())
        limit = f"{cfg.time_budget:g} s" if cfg.time_budget else f"{cfg.max_steps} steps"
        err.print(f"classify: {data.task.get('label')} · {model['cell']} {model['hidden']} · train {counts} · "
                  f"held out {held} · {limit} · seed {cfg.seed}")


def _print_result(result: Any, folder: Any, features: Any = None) -> None:
    ev, task = result.evaluation, result.task
    critic = task.get("kind") == "critic"
    what = "real vs generated (critic)" if critic else f"{task.get('label')} ({' / '.join(result.classes)})"
    table = Table(title=f"classifier: {what} · {task.get('recipe')}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    table.add_row("held-out accuracy", f"{ev.accuracy:.1%} ± {1.96 * ev.stderr:.1%} (95%, {ev.count} pieces)")
    majority = max(result.train_counts, key=result.train_counts.get)
    table.add_row("baseline", f"{ev.baseline:.1%} (always '{majority}', the commonest training class)")
    table.add_row("per class", " · ".join(f"{c} {v['accuracy']:.1%} of {v['count']}" for c, v in ev.per_class.items() if v["count"]))
    table.add_row("trained on", ", ".join(f"{n} {c}" for c, n in result.train_counts.items()) +
                  (" (records, augmentation included)" if not critic else " (excerpts)"))
    table.add_row("steps · wall time", f"{result.steps} · {result.seconds:.1f} s")
    if critic:
        sampling = task.get("sampling", {})
        table.add_row("generator", f"{task.get('generator')} · temperature {sampling.get('temperature', '?')} · "
                                   f"top-p {sampling.get('top_p', '?')} · {task.get('excerpt_seconds'):g} s excerpts")
        aug = task.get("real_augmentation")
        table.add_row("real pieces", "as written" if not aug else
                      f"each at a random stretch {aug['stretch']} and transposition {aug['transpose']} "
                      "(the recipe's augmentation, which the generator learned)")
        if task.get("best_of"):
            table.add_row("best of", f"each generated piece the best of {task['best_of']['n']} by "
                                     f"{task['best_of']['critic']}")
        table.add_row("generated pieces", str(folder / "generated"))
    table.add_row("checkpoint", str(result.path))
    if features is not None:
        fe = features.evaluation
        table.add_row("feature critic", f"{fe.accuracy:.1%} ± {1.96 * fe.stderr:.1%} (95%, {fe.count} pieces) · "
                                        "logistic regression on hand-made features")
        table.add_row("it weighs most", " · ".join(f"{n} {'+' if w > 0 else '−'}" for n, w in fe.top_features)
                      + " (+ leans real)")
        table.add_row("feature critic file", str(features.path))
    out.print(table)
    if critic:
        also = f" (the feature critic: {features.evaluation.accuracy:.1%})" if features is not None else ""
        out.print(f"musical-quality figure: the critic tells real from generated {ev.accuracy:.1%}{also} of the time on "
                  f"held-out pieces. 50% = it cannot tell them apart (the best a generator can reach); "
                  f"100% = every generated piece is recognised. Lower is better for the generator.")


# ------------------------------------------------------------------ predict


def run_predict(args: argparse.Namespace) -> int:
    from genrnn import fileformat, session

    if fileformat.read_header(args.checkpoint).format == fileformat.FEATURE_CRITIC:
        return _predict_features(args)
    clf = session.load_classifier(args.checkpoint, device=args.device)
    results: list[dict[str, Any]] = []
    for path in args.files:
        try:
            results.append({"file": path, **session.classify_file(clf, path).row()})
        except GenrnnError as exc:
            results.append({"file": path, "error": str(exc)})
            err.print(f"genrnn classify: error: {exc}")
    failed = sum("error" in r for r in results)
    if args.json:
        emit_json({"command": "classify", "checkpoint": str(clf.path), "label": clf.label, "classes": clf.classes,
                   "results": results, "failed": failed})
    else:
        _print_predictions(clf, results)
    return 2 if failed else 0


def _predict_features(args: argparse.Namespace) -> int:
    """A feature critic's verdict on each file: P(real), and the features that leaned it most."""
    from genrnn import session

    critic = session.load_critic(args.checkpoint)
    results: list[dict[str, Any]] = []
    for path in args.files:
        try:
            seq = session.read_piece(path).without_drums()
            real = float(critic.real_probability([seq])[0])
            leaning = list(critic.contributions(seq).items())[:3]
            results.append({"file": path, "label": "real" if real >= 0.5 else "generated",
                            "probability": round(max(real, 1 - real), 6),
                            "probs": {"generated": round(1 - real, 6), "real": round(real, 6)},
                            "windows": len(critic.parts(seq)), "leaning": [[n, round(v, 3)] for n, v in leaning]})
        except GenrnnError as exc:
            results.append({"file": path, "error": str(exc)})
            err.print(f"genrnn classify: error: {exc}")
    failed = sum("error" in r for r in results)
    if args.json:
        emit_json({"command": "classify", "checkpoint": str(critic.path), "label": "real", "classes": ["generated", "real"],
                   "results": results, "failed": failed})
        return 2 if failed else 0
    good = [r for r in results if "error" not in r]
    if good:
        table = Table(title=f"{critic.path.name}: real or generated, by hand-made features "
                            f"(held-out accuracy {critic.training.get('accuracy', float('nan')):.1%})")
        for column in ("file", "verdict", "probability", "leaned by (+ real, − generated)"):
            table.add_column(column, overflow="fold", justify="right" if column == "probability" else "left")
        for r in good:
            table.add_row(r["file"], r["label"], f"{r['probability']:.1%}",
                          " · ".join(f"{n} {v:+.2f}" for n, v in r["leaning"]))
        out.print(table)
    return 2 if failed else 0


def _print_predictions(clf: Any, results: list[dict[str, Any]]) -> None:
    good = [r for r in results if "error" not in r]
    if not good:
        return
    critic = clf.task.get("kind") == "critic"
    table = Table(title=f"{clf.path.name}: {'real or generated' if critic else clf.label} "
                        f"(held-out accuracy {clf.training.get('accuracy', float('nan')):.1%})")
    table.add_column("file", overflow="fold")
    table.add_column(clf.label if not critic else "verdict")
    table.add_column("probability", justify="right")
    table.add_column("windows", justify="right")
    for r in good:
        table.add_row(r["file"], r["label"], f"{r['probability']:.1%}", str(r["windows"]))
    out.print(table)

