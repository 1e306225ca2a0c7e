"""spacy_mtl.StreamingMultiTaskCorpus.v1: the in-memory reader's sampling, read lazily."""

import subprocess
import sys
import types
import warnings
from collections import Counter

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import make_tempdir, registry
from test_corpus import intent_doc, news_doc, source_of
from thinc.api import Config

from spacy_mtl.training import streaming
from spacy_mtl.training.corpus import (
    MultiTaskCorpusError,
    MultiTaskCorpusWarning,
    create_multitask_corpus,
)
from spacy_mtl.training.streaming import (
    StreamingMultiTaskCorpus,
    create_streaming_multitask_corpus,
)


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def write_shards(folder, docs, per_shard):
    folder.mkdir()
    for i in range(0, len(docs), per_shard):
        DocBin(docs=docs[i : i + per_shard], store_user_data=True).to_disk(
            folder / f"shard-{i // per_shard:03d}.spacy"
        )
    return str(folder)


@pytest.fixture
def data(nlp):
    """'intents' (cats, 30 docs in 3 shards) and 'news' (ents, 10 docs in 4 shards)."""
    with make_tempdir() as d:
        yield {
            "intents": write_shards(d / "intents", [intent_doc(nlp, i) for i in range(30)], 10),
            "news": write_shards(d / "news", [news_doc(nlp, i) for i in range(10)], 3),
            "dir": d,
        }


def two_sources(data, **extra):
    return {
        "intents": {"path": data["intents"], "tasks": ["cats"], **extra.get("intents", {})},
        "news": {"path": data["news"], "tasks": ["ents"], **extra.get("news", {})},
    }


def texts(corpus, nlp):
    return [eg.reference.text for eg in corpus(nlp)]


def test_default_epoch_is_one_pass_over_every_document(data, nlp):
    corpus = create_streaming_multitask_corpus(two_sources(data), seed=0)
    assert isinstance(corpus, StreamingMultiTaskCorpus)
    epoch = corpus(nlp)
    assert isinstance(epoch, types.GeneratorType)
    examples = list(epoch)
    expected = [intent_doc(nlp, i).text for i in range(30)]
    expected += [news_doc(nlp, i).text for i in range(10)]
    assert sorted(eg.reference.text for eg in examples) == sorted(expected)
    assert [eg.reference.text for eg in examples] != expected
    assert all(eg.predicted.vocab is nlp.vocab for eg in examples)
    assert all(eg.reference.cats for eg in examples if source_of(eg) == "intents")


@pytest.mark.parametrize("sampling", ["proportional", "uniform", "temperature"])
def test_shares_and_slots_are_the_in_memory_readers(data, nlp, sampling):
    """Same shares; each source gets floor or ceil of its expected slots, like allocate_slots."""
    settings = {"sampling": sampling, "temperature": 2.0, "epoch_size": 999, "seed": 1}
    streamed = create_streaming_multitask_corpus(two_sources(data), **settings)
    in_memory = create_multitask_corpus(two_sources(data), **settings)
    shares = {name: s["share"] for name, s in streamed.stats(nlp).items()}
    assert shares == pytest.approx({n: s["share"] for n, s in in_memory.stats(nlp).items()})
    for _ in range(3):
        counts = Counter(source_of(eg) for eg in streamed(nlp))
        assert sum(counts.values()) == 999
        expected = 999 * shares["news"]
        assert counts["news"] in (int(expected), int(expected) + 1)


def test_a_small_source_is_cycled_through(data, nlp):
    """Uniform over 60 slots: the 10 news documents come 3 times each, none more."""
    corpus = create_streaming_multitask_corpus(
        two_sources(data), sampling="uniform", epoch_size=60, seed=3
    )
    examples = list(corpus(nlp))
    news = Counter(eg.reference.text for eg in examples if source_of(eg) == "news")
    intents = Counter(eg.reference.text for eg in examples if source_of(eg) == "intents")
    assert sorted(news.values()) == [3] * 10
    assert sorted(intents.values()) == [1] * 30
    # The slots are interleaved, not source after source.
    order = [source_of(eg) for eg in examples]
    assert order != sorted(order) and order != sorted(order, reverse=True)


def test_seed_is_reproducible_per_epoch(data, nlp):
    def epochs(seed):
        corpus = create_streaming_multitask_corpus(two_sources(data), seed=seed)
        return [texts(corpus, nlp) for _ in range(2)]

    first, second = epochs(13)
    assert epochs(13) == [first, second]
    assert first != second and epochs(14)[0] != first


def test_declared_sizes_skip_the_count(data, nlp, monkeypatch):
    sources = two_sources(data, intents={"size": 30}, news={"size": 10})
    corpus = create_streaming_multitask_corpus(sources, sampling="uniform", epoch_size=20)
    read = []
    original = streaming.read_shard
    monkeypatch.setattr(
        streaming, "read_shard", lambda path, vocab: read.append(path) or original(path, vocab)
    )
    stats = corpus.stats(nlp)
    assert read == [] and stats["news"]["docs"] == 10 and stats["news"]["shards"] == 4
    first = next(iter(corpus(nlp)))
    assert first.reference.text and len(read) == 1  # one shard opened for one example


def test_limit_and_weight(data, nlp):
    sources = two_sources(data, news={"weight": 3.0}, intents={"limit": 14})
    corpus = create_streaming_multitask_corpus(sources, sampling="uniform", seed=2)
    stats = corpus.stats(nlp)
    assert stats["intents"]["docs"] == 14 and stats["news"]["share"] == pytest.approx(0.75)
    intents = {eg.reference.text for eg in corpus(nlp) if source_of(eg) == "intents"}
    assert intents <= {intent_doc(nlp, i).text for i in range(14)}


def test_undeclared_task_is_marked_missing(nlp):
    with make_tempdir() as d:
        path = write_shards(d / "news", [news_doc(nlp, i, with_cats=True) for i in range(6)], 2)
        corpus = create_streaming_multitask_corpus({"news": {"path": path, "tasks": ["ents"]}})
        with pytest.warns(MultiTaskCorpusWarning, match="6 of 6 documents of source 'news'"):
            examples = list(corpus(nlp))
        assert all(not eg.reference.cats and eg.reference.ents for eg in examples)
        # Declared size and tasks: no count, so the warning comes as the documents are read.
        sized = {"news": {"path": path, "tasks": ["ents"], "size": 6}}
        with pytest.warns(MultiTaskCorpusWarning, match="source 'news' carry categories"):
            examples = list(create_streaming_multitask_corpus(sized)(nlp))
        assert all(not eg.reference.cats for eg in examples)


def test_tasks_detected_and_checked(data, nlp):
    corpus = create_streaming_multitask_corpus({"a": {"path": data["intents"]}})
    assert corpus.stats(nlp)["a"]["tasks"] == ["cats"]
    wrong = create_streaming_multitask_corpus({"a": {"path": data["news"], "tasks": ["cats"]}})
    with pytest.raises(MultiTaskCorpusError, match="declared for 'cats' but none of its 10"):
        wrong.stats(nlp)
    with pytest.raises(MultiTaskCorpusError, match="size 0"):
        create_streaming_multitask_corpus({"a": {"path": data["news"], "size": 0}})
    with pytest.raises(MultiTaskCorpusError, match="unknown setting"):
        create_streaming_multitask_corpus({"a": {"path": data["news"], "shards": 2}})
    with make_tempdir() as d:
        with pytest.raises(MultiTaskCorpusError, match="no .spacy file"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                create_streaming_multitask_corpus({"a": {"path": str(d)}})


def test_dev_mode_yields_every_document_once(data, nlp):
    corpus = create_streaming_multitask_corpus(two_sources(data), sampling="none", shuffle=False)
    expected = [intent_doc(nlp, i).text for i in range(30)]
    expected += [news_doc(nlp, i).text for i in range(10)]
    assert texts(corpus, nlp) == expected
    shuffled = create_streaming_multitask_corpus(two_sources(data), sampling="none", seed=1)
    got = texts(shuffled, nlp)
    assert sorted(got) == sorted(expected) and got != expected


def test_max_length_splits_like_spacys_corpus(nlp):
    with make_tempdir() as d:
        doc = nlp.make_doc("play jazz now . then stop it please")
        for token in doc:
            token.is_sent_start = token.i in (0, 4)
        doc.cats = {"MUSIC": 1.0}
        path = write_shards(d / "s", [doc], 1)
        corpus = create_streaming_multitask_corpus(
            {"s": {"path": path}}, sampling="none", max_length=5
        )
        assert [t.strip() for t in texts(corpus, nlp)] == ["play jazz now .", "then stop it please"]


CONFIG = """
[paths]
intents = null
news = null

[corpora]

[corpora.train]
@readers = "spacy_mtl.StreamingMultiTaskCorpus.v1"
sampling = "temperature"
seed = 0

[corpora.train.sources]

[corpora.train.sources.intents]
path = ${paths.intents}
tasks = ["cats"]
size = 30

[corpora.train.sources.news]
path = ${paths.news}
tasks = ["ents"]
weight = 2.0
"""


def test_config_resolves_and_entry_point(data, nlp, tmp_path):
    config = Config().from_str(
        CONFIG, overrides={"paths.intents": data["intents"], "paths.news": data["news"]}
    )
    train = registry.resolve(config)["corpora"]["train"]
    assert train.stats(nlp)["news"]["weight"] == 2.0
    assert len(list(train(nlp))) == 40
    code = (
        "import sys, spacy\n"
        "f = spacy.util.registry.readers.get('spacy_mtl.StreamingMultiTaskCorpus.v1')\n"
        "print(f.__module__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "spacy_mtl.training.streaming", result.stderr
