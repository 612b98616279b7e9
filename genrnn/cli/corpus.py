"""``genrnn corpus prepare RECIPE`` and ``genrnn corpus list``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from genrnn.cli._common import CACHE_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("corpus", help="prepare and list corpus recipes (corpora/*.toml)")
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)

    prep = sub.add_parser("prepare", help="tokenize a recipe's source into cached train/val arrays")
    prep.add_argument("recipe", type=Path, help="recipe file, e.g. corpora/bach_chorales.toml")
    prep.add_argument("--strict", action="store_true", help="the first bad file is an error")
    prep.add_argument("--cache", type=Path, default=None, help=CACHE_HELP)
    prep.set_defaults(func=run_prepare)

    lst = sub.add_parser("list", help="recipes with piece/token counts and cache state")
    lst.add_argument("--dir", type=Path, default=Path("corpora"), help="folder of recipes (default: corpora)")
    lst.add_argument("--cache", type=Path, default=None, help=CACHE_HELP)
    lst.set_defaults(func=run_list)


def run_prepare(args: argparse.Namespace) -> int:
    from genrnn.corpora.recipes import prepare

    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"preparing {args.recipe.stem}", total=None)

        def progress(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total)

        corpus = prepare(args.recipe, cache_dir=args.cache, strict=args.strict, progress=progress)
    meta = corpus.meta
    pieces, tokens = meta["pieces"], meta["tokens"]
    out = Console()
    out.print(
        f"{meta['recipe']}: {pieces['train']} train + {pieces['val']} val pieces, "
        f"{tokens['train']:,} + {tokens['val']:,} tokens ({meta['kind']}, vocab {corpus.tokenizer.vocab_size})"
    )
    out.print(meta["skipped"]["summary"])
    if meta.get("read_as", {}).get("summary"):  # a cache made before this report has none
        out.print(meta["read_as"]["summary"])
    if meta["skipped"]["count"]:
        out.print(f"reasons per file: {meta['skipped']['log']}")
    out.print(f"cache: {meta['cache_dir']}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from genrnn.corpora.recipes import list_recipes

    rows = list_recipes(args.dir, cache_dir=args.cache)
    table = Table(title=f"recipes in {args.dir}")
    table.add_column("recipe", no_wrap=True)
    table.add_column("description", ratio=1)
    for col in ("tokenizer", "pieces train/val", "tokens train/val", "skipped", "cache"):
        table.add_column(col, no_wrap=True)
    for row in rows:
        pieces = f"{row['pieces']['train']}/{row['pieces']['val']}" if row["pieces"] else "-"
        tokens = f"{row['tokens']['train']:,}/{row['tokens']['val']:,}" if row["tokens"] else "-"
        skipped = str(row["skipped"]) if row["skipped"] is not None else "-"
        table.add_row(row["name"], row["description"], row.get("tokenizer", "?"), pieces, tokens, skipped, row["state"])
    Console().print(table)
    for row in rows:
        if row.get("error"):
            Console(stderr=True).print(f"{row['name']}: {row['error']}", highlight=False)
    if not rows:
        Console(stderr=True).print(f"no *.toml recipes in {args.dir}")
    return 0
