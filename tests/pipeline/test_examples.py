"""nlp.initialize reads the training examples once for the encoder and every head."""

from conftest import INTENTS, REPO, SENTENCES, build_nlp, make_examples
from spacy.tokens import DocBin
from spacy.training import Corpus
from spacy.training.initialize import init_nlp
from spacy.util import load_config


def _counting(examples):
    calls = []

    def get_examples():
        calls.append(1)
        return iter(examples)

    return get_examples, calls


def test_initialize_reads_the_examples_once_for_the_encoder_and_both_heads():
    nlp = build_nlp()
    get_examples, calls = _counting(make_examples(nlp, SENTENCES))
    nlp.initialize(get_examples)
    assert len(calls) == 1
    assert sorted(nlp.get_pipe("mtl_textcat").labels) == INTENTS


def test_a_second_initialize_with_the_same_function_reads_the_new_data():
    """A list kept past one initialize would give the second one the old labels."""
    data = make_examples(build_nlp(), SENTENCES[:6])  # flights
    calls = []

    def get_examples():
        calls.append(1)
        return iter(data)

    first = build_nlp()
    first.initialize(get_examples)
    assert first.get_pipe("mtl_ner").labels == ("DATE", "FROM", "TO")
    data[:] = make_examples(first, SENTENCES[12:])  # music
    second = build_nlp()
    second.initialize(get_examples)
    assert len(calls) == 2
    assert second.get_pipe("mtl_ner").labels == ("ARTIST", "DATE")


def test_a_component_initialized_alone_reads_for_itself():
    nlp = build_nlp()
    get_examples, calls = _counting(make_examples(nlp, SENTENCES))
    nlp.get_pipe("mtl_tok2vec").initialize(get_examples)
    nlp.get_pipe("mtl_textcat").initialize(get_examples)
    assert len(calls) == 2


def test_spacy_train_initialization_builds_each_example_once(tmp_path, monkeypatch):
    """init_nlp, as spacy train runs it: one Example per training document."""
    nlp = build_nlp()
    path = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in make_examples(nlp, SENTENCES)]).to_disk(path)
    made = []
    original = Corpus._make_example

    def counted(self, *args, **kwargs):
        made.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Corpus, "_make_example", counted)
    config = load_config(
        REPO / "configs/cnn.cfg",
        overrides={"paths.train": str(path), "paths.dev": str(path)},
    )
    init_nlp(config)
    assert len(made) == len(SENTENCES)
