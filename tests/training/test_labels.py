"""Every label of a training corpus reaches its head, however late it first occurs."""

from pathlib import Path

import pytest
import spacy
from conftest import spacy_train
from spacy.tokens import DocBin
from spacy.util import load_config

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


def test_labels_of_multitask_sources_come_from_every_document(rare):
    sources = {
        "cats": {"path": str(rare["cats"]), "tasks": ["cats"]},
        "ents": {"path": str(rare["ents"]), "tasks": ["ents"]},
    }
    assert create_task_labels("cats", sources=sources) == INTENTS
    assert create_task_labels("ents", sources=sources) == SLOTS


def test_labels_of_a_source_not_declared_for_the_task_are_left_out(rare):
    sources = {"joint": {"path": str(rare["joint"]), "tasks": ["cats"]}}
    assert create_task_labels("cats", sources=sources) == INTENTS
    assert create_task_labels("ents", sources=sources) == []


def test_labels_of_a_path_and_of_a_limited_source(rare):
    assert create_task_labels("ents", path=str(rare["joint"])) == SLOTS
    limited = {"joint": {"path": str(rare["joint"]), "limit": LATE}}
    assert create_task_labels("ents", sources=limited) == SLOTS[:-3]


def test_category_counts_come_from_every_document(rare):
    """Each intent's number of documents over the whole file, for balanced class weights."""
    labels = create_task_labels("cats", path=str(rare["joint"]))
    expected = {intent: 0 for intent in INTENTS}
    for i in range(N_DOCS):
        expected[INTENTS[-1 - i % 2] if i >= LATE else INTENTS[i % (len(INTENTS) - 2)]] += 1
    assert labels.counts == expected
    assert labels.n_docs == N_DOCS
    assert labels.counts[INTENTS[-1]] > 0
    entities = create_task_labels("ents", path=str(rare["joint"]))
    assert entities.counts is None and entities.n_docs == N_DOCS


def test_no_path_set_leaves_the_labels_to_the_examples():
    assert create_task_labels("ents", sources={"a": {"path": None}}, path=None) is None


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="unknown task 'tags'"):
        create_task_labels("tags", path="x.spacy")


def test_every_config_initializes_by_hand_without_paths():
    """nlp.initialize(get_examples) on a config's pipeline, its paths unset, as in a notebook."""
    import sys as _sys

    _sys.path.insert(0, str(REPO / "tests"))
    from conftest import SENTENCES, make_examples

    for config in ("cnn.cfg", "separate.cfg"):
        nlp = spacy.util.load_model_from_config(load_config(REPO / "configs" / config))
        examples = make_examples(nlp, SENTENCES)
        nlp.initialize(lambda examples=examples: examples)
        assert list(nlp.get_pipe("ner").labels) == ["ARTIST", "CITY", "DATE", "FROM", "TO"]


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
    spacy_train(
        config,
        tmp_path / "model",
        *overrides,
        "--training.max_steps",
        "30",
        "--training.eval_frequency",
        "30",
        "--components.tok2vec.model.encode.width",
        "32",
    )
    nlp = spacy.load(tmp_path / "model" / "model-last")
    if "textcat" in nlp.pipe_names:
        assert list(nlp.get_pipe("textcat").labels) == INTENTS
    if "ner" in nlp.pipe_names:
        assert list(nlp.get_pipe("ner").labels) == SLOTS
