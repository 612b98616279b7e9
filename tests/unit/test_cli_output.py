"""What the CLI prints is what it means: text that looks like rich markup stays text."""

import json

from rich.console import Console

from genrnn.cli._common import emit_json
from genrnn.cli.copycheck import verdict


def test_a_copied_span_that_looks_like_markup_is_printed_as_written():
    console = Console(record=True, width=200, highlight=False, soft_wrap=True)
    for text in ("K:G [ce]d|", "ends here [/g] and more"):  # an ABC chord; a closing tag rich would raise on
        console.print(verdict({"chars": len(text), "text": text}, "chars", 60))
        assert repr(text) in console.export_text()


def test_json_lines_keep_brackets(capsys):
    payload = {"copies": [{"text": "[ce]d [/g]"}], "n": 1}
    emit_json(payload)
    assert json.loads(capsys.readouterr().out) == payload
