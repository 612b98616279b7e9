"""The copy check and the HTML report end to end: a tiny event model trained on real chorales,
a real critic run folder, `genrnn eval --html --critic`, `genrnn sample --check-copies` with its
MIDI files read back, and the same for a text model."""

from __future__ import annotations

import ast
import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from genrnn.analysis.copies import MusicCopies, training_pieces
from genrnn.music.midi_io import read_midi
from tests.cli import FEW_TUNES, TINY, run_cli


class Page(HTMLParser):
    """Sections (by id), images (their src) and anything that would reach the network."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self.headings: list[str] = []
        self._in_h = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id") or "")
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag in ("script", "link", "iframe") or any(v and re.match(r"(https?:)?//", v) for v in a.values()):
            self.external.append(f"<{tag} {a}>")
        self._in_h = tag in ("h2", "h3")

    def handle_data(self, data: str) -> None:
        if self._in_h:
            self.headings.append(data.strip())
            self._in_h = False


def parse_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    assert not page.external, page.external  # one offline file
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    return page


@pytest.fixture(scope="module")
def critic_run(tmp_path_factory: pytest.TempPathFactory, chorale_recipe: Path, event_run: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "critic"
    code, _, stderr = run_cli("classify", "train", "--corpus", chorale_recipe, "--label", "real", "--generator",
                              event_run, "--seconds", "3", "--out", out, "--steps", "4", *TINY)
    assert code == 0, stderr
    return out


def test_eval_writes_one_offline_page_with_every_section(event_run: Path, critic_run: Path, chorale_recipe: Path,
                                                          tmp_path: Path):
    page_path = tmp_path / "report.html"
    code, stdout, stderr = run_cli("eval", event_run, "--corpus", chorale_recipe, "--samples", "2", "--seconds", "5",
                                   "--html", page_path, "--critic", critic_run,
                                   "--critic", critic_run / "feature_critic.safetensors", "--json")
    assert code == 0, stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    copies = report["copies"]
    assert copies["unit"] == "beats" and copies["limit"] == 8 and len(copies["generated"]) == 2
    assert len(copies["real"]) == 4  # the held-out half of 8 chorales, cut to 5 s
    for row in copies["generated"] + copies["real"]:
        assert row["beats"] >= 0 and row["events"] >= 0 and (row["events"] == 0) == (row["source"] == "")
    gen = copies["summary"]["generated"]
    assert gen["beats"]["max"] == max(r["beats"] for r in copies["generated"])
    page = parse_page(page_path)
    assert page.sections == ["rolls", "metrics", "critic", "copies"]
    assert len(page.images) == 2 + 4 + 1  # 2 generated and 4 real rolls, the critic's accuracy curve
    text = page_path.read_text(encoding="utf-8")
    assert "vertical consonance" in text and "feature critic" in text and "neural critic" in text
    assert "more than 8 beats" in text
    assert "sampling: temperature = 1.0, top_p = 0.7, seed = 0" in text  # the event kind's defaults
    assert report["sampling"] == {"temperature": 1.0, "top_p": 0.7, "seed": 0}
    assert str(critic_run) in page.headings and str(critic_run / "feature_critic.safetensors") in page.headings


def test_eval_names_a_folder_that_is_no_critic(event_run: Path, chorale_recipe: Path, tmp_path: Path):
    code, _, stderr = run_cli("eval", event_run, "--corpus", chorale_recipe, "--samples", "1", "--seconds", "2",
                              "--html", tmp_path / "r.html", "--critic", tmp_path)
    assert code == 2 and f"--critic {tmp_path}: holds no classifier.safetensors" in stderr
    code, _, stderr = run_cli("eval", event_run, "--corpus", chorale_recipe, "--samples", "1", "--seconds", "2",
                              "--html", tmp_path / "r.html", "--critic", event_run / "best.safetensors")
    assert code == 2 and "a genrnn-checkpoint file, not a critic" in stderr
    code, _, stderr = run_cli("eval", event_run, "--corpus", chorale_recipe, "--html", tmp_path / "r.html")
    assert code == 2 and "give --samples N" in stderr
    code, _, stderr = run_cli("eval", event_run, "--corpus", chorale_recipe, "--samples", "1", "--critic", tmp_path)
    assert code == 2 and "give --html FILE" in stderr


def test_sample_check_copies_flags_and_matches_the_files(event_run: Path, chorale_recipe: Path, tmp_path: Path):
    code, _, stderr = run_cli("sample", event_run, "--num", "2", "--seconds", "6", "--seed", "3", "--out", tmp_path,
                              "--check-copies", "0.5", "--train-data", chorale_recipe)
    assert code == 0, stderr
    assert "copy check against 4 training pieces" in stderr  # the other 4 are held out
    lines = [ln for ln in stderr.splitlines() if ln.startswith("copy check: ")]
    verdicts = [ln for ln in lines if "longest copy" in ln or "nothing copied" in ln]
    assert len(verdicts) == 2
    beats = [float(m.group(1)) if (m := re.search(r"longest copy ([\d.]+) beats", ln)) else 0.0 for ln in verdicts]
    over = [b > 0.5 for b in beats]
    assert any(over) and all(("COPIED" in ln) == o for ln, o in zip(verdicts, over, strict=True))
    assert lines[-1] == f"copy check: {sum(over)} of 2 samples copy more than 0.5 beats from the training data"
    checker = MusicCopies(training_pieces(chorale_recipe))
    for n, b in enumerate(beats, 1):  # the .mid written, read back: the same longest copy
        assert checker.check(read_midi(tmp_path / f"sample_{n:03d}.mid")).beats == b


def test_sample_check_copies_on_a_text_model(tiny_run: Path, text_file: Path, tmp_path: Path):
    code, stdout, stderr = run_cli("sample", tiny_run, "--num", "2", "--length", "300", "--seed", "1",
                                   "--check-copies", "12", "--train-data", text_file)
    assert code == 0, stderr
    verdicts = [(n, ast.literal_eval(t)) for n, t in
                re.findall(r"longest copy (\d+) chars \(limit 12\): ('.*'|\".*\")$", stderr, re.MULTILINE)]
    assert len(verdicts) == 2 and all(int(n) >= len(t) > 0 for n, t in verdicts)
    assert all(t in stdout for _, t in verdicts)  # the copy is the sample's own text
    assert all(t in text_file.read_text() for _, t in verdicts)  # and the training file's
    over = sum(int(n) > 12 for n, _ in verdicts)
    assert f"copy check: {over} of 2 samples copy more than 12 chars" in stderr
    code, _, stderr = run_cli("sample", tiny_run, "--length", "10", "--train-data", text_file)
    assert code == 2 and "--train-data is the copy check's" in stderr


def test_eval_text_samples_copies_and_page(tiny_run: Path, text_file: Path, tmp_path: Path):
    page_path = tmp_path / "text.html"
    code, stdout, stderr = run_cli("eval", tiny_run, "--text", text_file, "--samples", "3", "--length", "200",
                                   "--html", page_path, "--json")
    assert code == 0, stderr
    row = json.loads(stdout.strip().splitlines()[-1])
    copies = row["copies"]
    assert copies["unit"] == "chars" and len(copies["generated"]) == 3 and len(copies["real"]) == 3
    train = text_file.read_text()
    assert all(r["text"] in train and len(r["text"]) == r["chars"] for r in copies["generated"])
    page = parse_page(page_path)
    assert page.sections == ["rolls", "metrics", "critic", "copies"] and not page.images
    assert "<mark>" in page_path.read_text(encoding="utf-8")  # the longest copy, marked in the sample


def test_eval_text_recipe_measures_the_held_out_split(tiny_run: Path, text_file: Path, tmp_path: Path):
    recipe = tmp_path / "plays.toml"
    recipe.write_text(f'source = "text"\nfile = "{text_file}"\n')
    code, stdout, stderr = run_cli("eval", tiny_run, "--corpus", recipe, "--samples", "2", "--length", "100",
                                   "--copy-limit", "5", "--json")
    assert code == 0, stderr
    row = json.loads(stdout.strip().splitlines()[-1])
    whole = len(text_file.read_text())
    assert row["tokens"] == whole - int(whole * 0.9)  # the held-out tail, not the whole file
    copies = row["copies"]
    assert copies["limit"] == 5 and copies["summary"]["generated"]["over_limit"] == sum(
        r["chars"] > 5 for r in copies["generated"])


@pytest.mark.slow
def test_abc_model_eval_page_and_copies(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path):
    """An ABC model (40 O'Neill tunes, briefly trained): its tunes' copies in characters, the held-out
    tunes as the reference, and piano rolls of the tunes that parse."""
    from genrnn import session

    recipe = tmp_path_factory.mktemp("recipes") / "few_tunes.toml"
    recipe.write_text(FEW_TUNES)
    out = tmp_path_factory.mktemp("runs") / "tunes"
    corpus = session.prepare_corpus(recipe=recipe)
    session.make_trainer(corpus, "tiny", {"hidden": 64}, {"max_steps": 400, "seed": 1}, out).fit()
    page_path = tmp_path / "tunes.html"
    code, stdout, stderr = run_cli("eval", out, "--corpus", recipe, "--samples", "4", "--seed", "1",
                                   "--html", page_path, "--json")
    assert code == 0, stderr
    copies = json.loads(stdout.strip().splitlines()[-1])["copies"]
    train = corpus.tokenizer.decode(list(corpus.train))
    assert copies["unit"] == "chars" and copies["limit"] == 60 and len(copies["generated"]) == 4
    assert all(r["text"] in train and len(r["text"]) == r["chars"] for r in copies["generated"] + copies["real"])
    page = parse_page(page_path)
    assert page.sections == ["rolls", "metrics", "critic", "copies"]
    parsed = round(json.loads(stdout.strip().splitlines()[-1])["parse_share"] * 4)
    assert parsed >= 1 and len(page.images) == 2 * parsed  # each tune that parses beside a held-out one
    assert f"{parsed / 4:.0%} of 4 sampled tunes parse with music21" in page_path.read_text(encoding="utf-8")


def test_read_critic_reads_a_folder_of_seeds(critic_run: Path, tmp_path: Path):
    """`classify train --seeds N` writes DIR/seedS/: every seed's critics, and their mean ± sd."""
    import shutil

    from genrnn.analysis.report import read_critic

    for seed in (3, 10):  # in number order, not name order
        shutil.copytree(critic_run, tmp_path / f"seed{seed}", ignore=shutil.ignore_patterns("generated"))
    (tmp_path / "seed10" / "feature_critic.safetensors").unlink()  # a run with the neural critic only
    critic = read_critic(tmp_path)
    assert [Path(r["folder"]).name for r in critic["runs"]] == ["seed3", "seed10"]
    one = read_critic(critic_run)["runs"][0]
    assert critic["summary"]["neural"] == {"mean": one["neural"]["accuracy"], "sd": 0.0, "runs": 2}
    assert critic["summary"]["features"]["runs"] == 1 and "features" not in critic["runs"][1]
