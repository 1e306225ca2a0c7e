"""Fixtures of the evaluate tests (imported by their modules): a gold corpus with every kind
of annotation, on disk, and the command's output on it."""

import pytest
import spacy
from conftest import HELD_OUT, SENTENCES, make_examples
from spacy.tokens import DocBin, Span

# A sentence whose text is markup: the report must show it, never run it.
SCRIPT_TEXT = "fly from oslo <script>window.pwned=1</script> to lima"


def gold_docs(nlp):
    """Held-out sentences annotated for both tasks, for one task only, partially, and a
    sentence of markup whose gold intent the pipeline will get wrong."""
    docs = [eg.reference for eg in make_examples(nlp, HELD_OUT)]
    docs += [eg.reference for eg in make_examples(nlp, SENTENCES[:3], cats=False)]
    docs += [eg.reference for eg in make_examples(nlp, SENTENCES[6:9], entities=False)]
    for eg in make_examples(nlp, SENTENCES[12:15]):
        doc = eg.reference
        # Only the first entity is annotated; every other token is missing.
        kept = [Span(doc, e.start, e.end, e.label_) for e in doc.ents[:1]]
        doc.set_ents(kept, default="missing")
        docs.append(doc)
    script = nlp.make_doc(SCRIPT_TEXT)
    script.cats = {"flight": 0.0, "music": 1.0, "weather": 0.0}
    script.set_ents([Span(script, 2, 3, "FROM"), Span(script, len(script) - 1, len(script), "TO")])
    return docs + [script]


@pytest.fixture(scope="session")
def gold_corpus(served_pipeline, tmp_path_factory):
    nlp = spacy.load(served_pipeline)
    path = tmp_path_factory.mktemp("gold") / "test.spacy"
    DocBin(docs=gold_docs(nlp), store_user_data=True).to_disk(path)
    return path


@pytest.fixture(scope="session")
def report_dir(served_pipeline, gold_corpus, tmp_path_factory):
    """The command's output on the gold corpus, with its terminal output (run in-process:
    test_project runs it as a subprocess)."""
    import contextlib
    import io

    from spacy_mtl.__main__ import main

    out = tmp_path_factory.mktemp("report") / "metrics"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["evaluate", str(served_pipeline), str(gold_corpus), "--output", str(out)])
    assert code == 0, stdout.getvalue()
    return out, stdout.getvalue()
