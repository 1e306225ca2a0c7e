"""The demo corpus generators (demo_corpus/) rewrite the committed corpora byte for byte."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.util import make_tempdir

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # demo_corpus/ is the repository's, not installed

from demo_corpus import draw, english  # noqa: E402

GENERATED = {
    "english": (
        "data/demo",
        ["train_intents.jsonl", "train_slots.iob", "README.md"]
        + [
            f"{split}/{name}"
            for split in ("dev", "test")
            for name in ("seq.in", "seq.out", "label")
        ],
    ),
    "chinese": (
        "data/demo_zh",
        ["train_intents.tsv", "train_slots.txt", "README.md"]
        + [f"{split}/{name}" for split in ("dev", "test") for name in ("slots.txt", "intents.txt")],
    ),
}


@pytest.mark.parametrize("language", sorted(GENERATED))
def test_generator_is_deterministic_and_valid(language):
    folder, names = GENERATED[language]
    with make_tempdir() as tmp:
        command = [sys.executable, "-m", "demo_corpus", language, str(tmp)]
        proc = subprocess.run(command, cwd=REPO, capture_output=True)
        assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
        for name in names:
            assert (tmp / name).read_bytes() == (REPO / folder / name).read_bytes(), name


def test_check_validates_the_committed_corpus_without_writing():
    command = [sys.executable, "-m", "demo_corpus", "english", "data/demo", "--check"]
    before = (REPO / "data/demo/README.md").stat().st_mtime_ns
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("ok")
    assert (REPO / "data/demo/README.md").stat().st_mtime_ns == before


def test_draw_takes_the_intents_in_turn_and_repeats_itself_for_a_seed(tmp_path):
    drawn = list(draw.sentences(25, seed=3))
    assert drawn == list(draw.sentences(25, seed=3)) != list(draw.sentences(25, seed=4))
    assert [intent for _, _, intent in drawn[:10]] == list(english.TEMPLATES)
    assert all(len(tokens) == len(tags) for tokens, tags, _ in drawn)
    words = draw.write_jsonl(25, tmp_path / "corpus.jsonl", seed=3)
    lines = (tmp_path / "corpus.jsonl").read_text(encoding="utf8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(range(25))
    assert words == sum(len(tokens) for tokens, _, _ in drawn)
