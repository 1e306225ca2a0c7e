"""Every label of a training corpus reaches its head, however late it first occurs."""

import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Corpus
from spacy.util import load_config

from spacy_mtl.training.corpus import MultiTaskCorpus
from spacy_mtl.training.labels import create_task_labels

REPO = Path(__file__).resolve().parent.parent.parent
CITIES = ["oslo", "lima", "quito", "accra", "kyoto", "dakar", "perth", "riga", "tunis", "cairo"]
# 20 entity types and 12 intents; the last types and intents first occur after document 100.
SLOTS = [f"slot_{i:02d}" for i in range(20)]
INTENTS = [f"intent_{i:02d}" for i in range(12)]
N_DOCS = 140
LATE = 110  # index from which the rare labels occur


def _rare_label_corpus(path: Path) -> dict:
    """A cats-only, an entities-only and a joint .spacy file whose rarest labels come late."""
    nlp = spacy.blank("en")
    files = {name: DocBin() for name in ("cats", "ents", "joint")}
    for i in range(N_DOCS):
        n_slots = len(SLOTS) if i >= LATE else len(SLOTS) - 3
        n_intents = len(INTENTS) if i >= LATE else len(INTENTS) - 2
        slot, intent = SLOTS[i % n_slots], INTENTS[i % n_intents]
        if i >= LATE:  # every late document carries a rare label
            slot, intent = SLOTS[-1 - i % 3], INTENTS[-1 - i % 2]
        text = f"go from {CITIES[i % len(CITIES)]} please"
        for name in files:
            doc = nlp.make_doc(text)
            if name in ("cats", "joint"):
                doc.cats = {label: float(label == intent) for label in INTENTS[:n_intents]}
            if name in ("ents", "joint"):
                span = doc.char_span(8, 8 + len(CITIES[i % len(CITIES)]), label=slot)
                doc.set_ents([span], default="outside")
            files[name].add(doc)
    paths = {}
    for name, doc_bin in files.items():
        paths[name] = path / f"{name}.spacy"
        doc_bin.to_disk(paths[name])
    return paths


@pytest.fixture(scope="module")
def rare(tmp_path_factory):
    return _rare_label_corpus(tmp_path_factory.mktemp("rare"))


def test_labels_of_a_multitask_corpus_come_from_every_document_of_its_sources(rare):
    corpus = MultiTaskCorpus(
        {
            "cats": {"path": str(rare["cats"]), "tasks": ["cats"]},
            "ents": {"path": str(rare["ents"]), "tasks": ["ents"]},
        }
    )
    assert create_task_labels(corpus, "cats") == INTENTS
    assert create_task_labels(corpus, "ents") == SLOTS


def test_labels_of_a_source_not_declared_for_the_task_are_left_out(rare):
    corpus = MultiTaskCorpus({"joint": {"path": str(rare["joint"]), "tasks": ["cats"]}})
    assert create_task_labels(corpus, "cats") == INTENTS
    assert create_task_labels(corpus, "ents") == []


def test_labels_of_a_spacy_corpus_and_its_limit(rare):
    assert create_task_labels(Corpus(rare["joint"]), "ents") == SLOTS
    assert create_task_labels(Corpus(rare["joint"], limit=LATE), "ents") == SLOTS[:-3]


def test_unknown_task_and_unknown_reader_are_named():
    with pytest.raises(ValueError, match="unknown task 'tags'"):
        create_task_labels(Corpus("x.spacy"), "tags")
    with pytest.raises(ValueError, match="cannot read the labels of a list"):
        create_task_labels([], "ents")


STREAMING = [
    path
    for path in sorted((REPO / "configs").glob("*.cfg"))
    if load_config(path)["training"]["max_epochs"] == -1
]


def test_the_streaming_configs_are_the_separate_and_single_task_ones():
    assert {p.name for p in STREAMING} == {"separate.cfg", "single_ner.cfg", "single_textcat.cfg"}


@pytest.mark.slow
@pytest.mark.parametrize("config", STREAMING, ids=lambda p: p.name)
def test_streaming_config_trains_on_labels_first_seen_after_100_documents(config, rare, tmp_path):
    """spaCy initializes from the first 100 examples with max_epochs = -1; the labels reader
    gives the heads every label, so training meets the late ones without stopping."""
    declared = load_config(config)["paths"]
    paths = {"train_cats": rare["cats"], "train_ents": rare["ents"], "dev": rare["joint"]}
    overrides = [a for k, v in paths.items() if k in declared for a in (f"--paths.{k}", str(v))]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "train",
            str(config),
            "--output",
            str(tmp_path / "model"),
            *overrides,
            "--training.max_steps",
            "30",
            "--training.eval_frequency",
            "30",
            "--components.tok2vec.model.encode.width",
            "32",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    nlp = spacy.load(tmp_path / "model" / "model-last")
    if "textcat" in nlp.pipe_names:
        assert list(nlp.get_pipe("textcat").labels) == INTENTS
    if "ner" in nlp.pipe_names:
        assert list(nlp.get_pipe("ner").labels) == SLOTS
