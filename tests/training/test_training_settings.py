"""Surprising training settings end in a clear error or warning, naming the file or language.

An empty train file, a pipeline language whose tokenizer splits the training documents
otherwise than their gold tokens, an empty dev file, and a dev set annotated for one task only.
"""

import warnings

import pytest
import spacy
from conftest import SENTENCES, build_nlp, make_examples
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus, Example

from spacy_mtl.pipeline.corpus_checks import CorpusWarning, TokenizationWarning


def _corpus_file(path, docs):
    DocBin(docs=list(docs)).to_disk(path)
    return path


def _with_paths(nlp, train, dev=None):
    nlp.config["paths"]["train"] = str(train)
    nlp.config["paths"]["dev"] = None if dev is None else str(dev)
    return nlp


def test_an_empty_train_file_is_named(tmp_path):
    empty = _corpus_file(tmp_path / "train.spacy", [])
    nlp = _with_paths(build_nlp(), empty)
    corpus = Corpus(empty)
    with pytest.raises(ValueError) as err:
        nlp.initialize(lambda: corpus(nlp))
    message = str(err.value)
    assert str(empty) in message and "corpora.train" in message
    assert "no documents" in message and "--paths.train" in message


def test_no_examples_without_a_configured_path_is_still_spacys_error():
    with pytest.raises(TypeError, match="E930"):
        build_nlp().initialize(lambda: [])


def _english_words_in(lang):
    """A pipeline of `lang` and examples whose gold tokens are English words."""
    nlp, english = spacy.blank(lang), build_nlp()
    for name in english.pipe_names:
        config = dict(english.get_pipe_config(name))
        nlp.add_pipe(config.pop("factory"), name=name, config=config)
    examples = []
    for text, intent, ents in SENTENCES:
        gold = make_examples(build_nlp(), [(text, intent, ents)])[0].reference
        reference = Doc(
            nlp.vocab, words=[t.text for t in gold], spaces=[bool(t.whitespace_) for t in gold]
        )
        reference.cats = gold.cats
        reference.ents = [
            reference.char_span(e.start_char, e.end_char, e.label_) for e in gold.ents
        ]
        examples.append(Example(nlp.make_doc(text), reference))
    return nlp, examples


def test_word_tokenized_english_trained_as_chinese_warns_naming_language_corpus_and_example(
    tmp_path,
):
    nlp, examples = _english_words_in("zh")
    _with_paths(nlp, tmp_path / "train.spacy")
    with pytest.warns(TokenizationWarning) as record:
        nlp.initialize(lambda: examples)
    message = str(record[0].message)
    assert "lang = 'zh'" in message and "18 of the 18" in message
    assert "corpora.train" in message and str(tmp_path / "train.spacy") in message
    assert "'fly from oslo to lima tomorrow'" in message and "'f', 'l', 'y'" in message


def test_english_data_with_the_english_tokenizer_does_not_warn():
    nlp, examples = _english_words_in("en")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TokenizationWarning)
        nlp.initialize(lambda: examples)


def test_an_empty_dev_file_warns_naming_it_at_initialize(tmp_path):
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    dev = _corpus_file(tmp_path / "dev.spacy", [])
    _with_paths(nlp, tmp_path / "train.spacy", dev)
    with pytest.warns(CorpusWarning, match=rf"corpora\.dev.*{dev}.*no documents"):
        nlp.initialize(lambda: examples)


def test_a_dev_file_with_documents_does_not_warn(tmp_path):
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    dev = _corpus_file(tmp_path / "dev.spacy", [eg.reference for eg in examples[:2]])
    _with_paths(nlp, tmp_path / "train.spacy", dev)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)
        nlp.initialize(lambda: examples)


def test_a_task_without_annotated_dev_documents_scores_none_and_warns_once(trained_nlp):
    cats_only = make_examples(trained_nlp, SENTENCES[:4], entities=False)
    with pytest.warns(CorpusWarning, match=r"mtl_ner: none of the 4 evaluation documents"):
        scores = trained_nlp.evaluate(cats_only)
    assert scores["ents_f"] is None and scores["cats_score"] is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)
        trained_nlp.evaluate(cats_only)  # once per component
    ents_only = make_examples(trained_nlp, SENTENCES[:4], cats=False)
    with pytest.warns(CorpusWarning, match=r"mtl_textcat: none of the 4"):
        scores = trained_nlp.evaluate(ents_only)
    assert scores["cats_score"] is None and scores["cats_macro_f"] is None
    assert scores["ents_f"] is not None and scores["cats_n_docs"] == 0
