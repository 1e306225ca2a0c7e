"""spacy_mtl.training.sources: one DocBin reader, so a `limit` takes the same documents."""

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import make_tempdir

from spacy_mtl.training.corpus import MultiTaskCorpusError, create_multitask_corpus
from spacy_mtl.training.labels import create_task_labels
from spacy_mtl.training.sources import read_docbins
from spacy_mtl.training.streaming import create_streaming_multitask_corpus


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def labelled_doc(nlp, i):
    """Every third document is empty; each carries its own category, empty or not."""
    doc = nlp.make_doc("" if i % 3 == 0 else f"document number {i}")
    doc.cats = {f"L{i:02d}": 1.0}
    return doc


@pytest.fixture
def folder(nlp):
    """12 documents, 4 of them empty, in 3 files of 4."""
    with make_tempdir() as d:
        docs = [labelled_doc(nlp, i) for i in range(12)]
        for k in range(3):
            DocBin(docs=docs[4 * k : 4 * k + 4]).to_disk(d / f"part-{k}.spacy")
        yield str(d)


def test_read_docbins_skips_empty_documents_before_the_limit(folder, nlp):
    texts = [doc.text for doc in read_docbins(folder, nlp.vocab)]
    assert texts == [f"document number {i}" for i in range(12) if i % 3]
    assert len(list(read_docbins(folder, nlp.vocab, limit=5))) == 5


def test_limit_takes_the_same_documents_in_every_reader(folder, nlp):
    """Labels, in-memory and streamed corpus: the first 5 non-empty documents, across files."""
    expected = [i for i in range(12) if i % 3][:5]
    source = {"s": {"path": folder, "tasks": ["cats"], "limit": 5}}
    labels = create_task_labels("cats", sources=source)
    assert list(labels) == [f"L{i:02d}" for i in expected] and labels.n_docs == 5
    for create in (create_multitask_corpus, create_streaming_multitask_corpus):
        corpus = create(source, sampling="none", shuffle=False)
        texts = [eg.reference.text for eg in corpus(nlp)]
        assert texts == [f"document number {i}" for i in expected], create.__name__
        assert corpus.stats(nlp)["s"]["docs"] == 5


def test_labels_reader_checks_source_settings_as_the_corpora_do(folder):
    with pytest.raises(MultiTaskCorpusError, match="Source 's' has limit -1"):
        create_task_labels("cats", sources={"s": {"path": folder, "limit": -1}})
    with pytest.raises(MultiTaskCorpusError, match="declares the unknown task 'tags'"):
        create_task_labels("cats", sources={"s": {"path": folder, "tasks": ["tags"]}})
