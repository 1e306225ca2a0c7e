import random
import re
import subprocess
import sys
import warnings
from collections import Counter

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import make_tempdir, registry
from thinc.api import Config

from spacy_mtl.training.corpus import (
    MultiTaskCorpus,
    MultiTaskCorpusError,
    MultiTaskCorpusWarning,
    create_multitask_corpus,
)

DISHES = ["pizza", "sushi", "noodles", "a salad", "soup", "tacos"]
CITIES = ["Berlin", "Lisbon", "Oslo", "Madrid", "Prague"]
PEOPLE = ["Maria", "Tomas", "Aiko", "Farid"]


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def intent_doc(nlp, i, with_ents=False):
    dish = DISHES[i % len(DISHES)]
    if i % 2:
        doc = nlp.make_doc(f"Could I order {dish} for {i} people in {CITIES[i % len(CITIES)]}")
        doc.cats = {"ORDER": 1.0, "WEATHER": 0.0}
    else:
        doc = nlp.make_doc(f"Will it rain in {CITIES[i % len(CITIES)]} on day {i}")
        doc.cats = {"ORDER": 0.0, "WEATHER": 1.0}
    if with_ents:
        city = doc[-1] if i % 2 else doc[4]
        doc.set_ents([doc.char_span(city.idx, city.idx + len(city), "GPE")], default="outside")
    return doc


def news_doc(nlp, i, with_cats=False):
    person, city = PEOPLE[i % len(PEOPLE)], CITIES[i % len(CITIES)]
    text = f"{person} opened bakery number {i} in {city} yesterday"
    doc = nlp.make_doc(text)
    start = text.index(city)
    doc.set_ents(
        [doc.char_span(0, len(person), "PERSON"), doc.char_span(start, start + len(city), "GPE")],
        default="outside",
    )
    if with_cats:
        doc.cats = {"ORDER": 0.0, "WEATHER": 0.0}
    return doc


def write(path, docs):
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return str(path)


@pytest.fixture
def data(nlp):
    """Two sources: 'intents' (cats, 30 docs) and 'news' (ents, 10 docs)."""
    with make_tempdir() as d:
        yield {
            "intents": write(d / "intents.spacy", [intent_doc(nlp, i) for i in range(30)]),
            "news": write(d / "news.spacy", [news_doc(nlp, i) for i in range(10)]),
            "dir": d,
        }


def two_sources(data, **extra):
    return {
        "intents": {"path": data["intents"], "tasks": ["cats"], **extra.get("intents", {})},
        "news": {"path": data["news"], "tasks": ["ents"], **extra.get("news", {})},
    }


def texts(corpus, nlp):
    return [eg.reference.text for eg in corpus(nlp)]


def source_of(eg):
    return "news" if "bakery" in eg.reference.text else "intents"


def test_default_epoch_is_one_pass_over_every_document(data, nlp):
    corpus = create_multitask_corpus(two_sources(data), seed=0)
    assert isinstance(corpus, MultiTaskCorpus)
    examples = list(corpus(nlp))
    assert len(examples) == 40
    expected = [intent_doc(nlp, i).text for i in range(30)] + [
        news_doc(nlp, i).text for i in range(10)
    ]
    assert sorted(eg.reference.text for eg in examples) == sorted(expected)
    assert [eg.reference.text for eg in examples] != expected  # shuffled and interleaved
    assert all(eg.predicted.vocab is nlp.vocab for eg in examples)


def test_stats(data, nlp):
    stats = create_multitask_corpus(two_sources(data), sampling="uniform").stats(nlp)
    assert stats["intents"]["docs"] == 30 and stats["news"]["docs"] == 10
    assert stats["intents"]["tasks"] == ["cats"] and stats["news"]["tasks"] == ["ents"]
    assert stats["intents"]["share"] == pytest.approx(0.5)
    assert stats["news"]["per_epoch"] == pytest.approx(20)
    assert stats["news"]["annotated"] == {"cats": 0, "ents": 10}


@pytest.mark.parametrize(
    "sampling,news_share",
    [("proportional", 0.25), ("uniform", 0.5), ("temperature", 10**0.5 / (10**0.5 + 30**0.5))],
)
def test_sampled_epoch_follows_shares(data, nlp, sampling, news_share):
    corpus = create_multitask_corpus(
        two_sources(data), sampling=sampling, temperature=2.0, epoch_size=4000, seed=1
    )
    assert corpus.stats(nlp)["news"]["share"] == pytest.approx(news_share)
    counts = Counter(source_of(eg) for eg in corpus(nlp))
    assert sum(counts.values()) == 4000
    assert counts["news"] / 4000 == pytest.approx(news_share, abs=0.01)


def test_weight_and_limit(data, nlp):
    sources = two_sources(data, news={"weight": 3.0}, intents={"limit": 4})
    corpus = create_multitask_corpus(sources, sampling="uniform", seed=2)
    stats = corpus.stats(nlp)
    assert stats["intents"]["docs"] == 4
    assert stats["news"]["share"] == pytest.approx(0.75)
    examples = list(corpus(nlp))
    assert len(examples) == 14  # the default epoch size counts documents after limits
    intents = {eg.reference.text for eg in examples if source_of(eg) == "intents"}
    assert intents <= {intent_doc(nlp, i).text for i in range(4)}
    # 14 slots at share 0.75: 10.5 expected, so 10 or 11, never further off.
    assert sum(source_of(eg) == "news" for eg in examples) in (10, 11)


def test_explicit_seed_is_reproducible_per_epoch(data, nlp):
    def epochs(seed):
        corpus = create_multitask_corpus(two_sources(data), sampling="uniform", seed=seed)
        return [texts(corpus, nlp) for _ in range(2)]

    first, second = epochs(13)
    assert epochs(13) == [first, second]
    assert first != second
    assert epochs(14)[0] != first


def test_default_seed_follows_pythons_random(data, nlp):
    def run(seed):
        random.seed(seed)
        corpus = create_multitask_corpus(two_sources(data), sampling="temperature")
        return texts(corpus, nlp)

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_undeclared_task_is_marked_missing_with_warning(nlp):
    with make_tempdir() as d:
        docs = [intent_doc(nlp, i, with_ents=i < 12) for i in range(30)]
        assert sum(bool(doc.ents) for doc in docs) == 12
        sources = {
            "intents": {"path": write(d / "i.spacy", docs), "tasks": ["cats"]},
            "news": {
                "path": write(d / "n.spacy", [news_doc(nlp, i, True) for i in range(5)]),
                "tasks": ["ents"],
            },
        }
        corpus = create_multitask_corpus(sources, seed=0)
        with pytest.warns(MultiTaskCorpusWarning) as record:
            examples = list(corpus(nlp))
        messages = [str(w.message) for w in record]
        assert (
            "12 of 30 documents of source 'intents' carry entities although the source is "
            "declared for cats only; they are ignored (marked missing)." in messages
        )
        assert any("5 of 5 documents of source 'news' carry categories" in m for m in messages)
        intents = [eg for eg in examples if source_of(eg) == "intents"]
        news = [eg for eg in examples if source_of(eg) == "news"]
        assert all(token.ent_iob == 0 for eg in intents for token in eg.reference)
        assert all(eg.reference.cats for eg in intents)
        assert all(eg.reference.cats == {} for eg in news)
        assert all(len(eg.reference.ents) == 2 for eg in news)
        # Warned once per source, not once per epoch.
        with warnings.catch_warnings():
            warnings.simplefilter("error", MultiTaskCorpusWarning)
            list(corpus(nlp))


def test_tasks_are_detected_when_not_declared(nlp):
    with make_tempdir() as d:
        docs = [intent_doc(nlp, i, with_ents=i < 3) for i in range(8)]
        corpus = create_multitask_corpus({"mixed": {"path": write(d / "m.spacy", docs)}})
        stats = corpus.stats(nlp)
        assert stats["mixed"]["tasks"] == ["cats", "ents"]
        assert stats["mixed"]["annotated"] == {"cats": 8, "ents": 3}
        examples = list(corpus(nlp))
        assert sum(any(t.ent_iob for t in eg.reference) for eg in examples) == 3


def test_directory_source_and_max_length(nlp):
    with make_tempdir() as d:
        (d / "parts").mkdir()
        write(d / "parts" / "a.spacy", [intent_doc(nlp, i) for i in range(3)])
        first, second = "Maria sings in the old church on Sunday .", "Tomas dances at the harbour ."
        long_doc = nlp.make_doc(f"{first} {second}")
        long_doc.set_ents([long_doc.char_span(0, 5, "PERSON")], default="outside")
        for token in long_doc:
            token.is_sent_start = token.i in (0, 9)
        write(d / "parts" / "b.spacy", [long_doc])
        corpus = create_multitask_corpus(
            {"all": {"path": str(d / "parts"), "tasks": ["cats", "ents"]}},
            sampling="none",
            shuffle=False,
            max_length=12,
        )
        # The 15-token document is split at its sentences, the short ones are kept.
        assert [text.strip() for text in texts(corpus, nlp)[-2:]] == [first, second]
        assert corpus.stats(nlp)["all"]["docs"] == 5


def test_dev_mode_yields_every_document_once_in_order(data, nlp):
    corpus = create_multitask_corpus(two_sources(data), sampling="none", shuffle=False)
    expected = [intent_doc(nlp, i).text for i in range(30)] + [
        news_doc(nlp, i).text for i in range(10)
    ]
    state = random.getstate()
    assert texts(corpus, nlp) == expected
    assert texts(corpus, nlp) == expected
    assert random.getstate() == state  # evaluation leaves the training randomness alone


def test_examples_are_fresh_each_call(data, nlp):
    corpus = create_multitask_corpus(two_sources(data), sampling="none", shuffle=False)
    first = list(corpus(nlp))
    first[0].predicted.cats["ORDER"] = 0.9
    second = list(corpus(nlp))
    assert second[0] is not first[0]
    assert second[0].predicted.cats == {}
    assert second[0].reference.cats == {"ORDER": 0.0, "WEATHER": 1.0}


def test_reports_sources_on_first_call(data, nlp, capsys):
    corpus = create_multitask_corpus(two_sources(data), sampling="uniform", seed=0)
    list(corpus(nlp))
    out = capsys.readouterr().out
    assert "source 'intents': 30 docs, tasks cats, share 0.500" in out
    assert "source 'news': 10 docs, tasks ents, share 0.500" in out
    list(corpus(nlp))
    assert "source" not in capsys.readouterr().out


def test_missing_path(data):
    sources = two_sources(data)
    sources["news"]["path"] = str(data["dir"] / "nowhere.spacy")
    with pytest.raises(MultiTaskCorpusError, match=r"Source 'news'.*nowhere\.spacy"):
        create_multitask_corpus(sources)
    sources["news"]["path"] = None
    with pytest.raises(MultiTaskCorpusError, match="Source 'news' has no path"):
        create_multitask_corpus(sources)


def test_source_without_documents(data, nlp):
    sources = two_sources(data)
    sources["news"]["path"] = write(data["dir"] / "empty.spacy", [])
    corpus = create_multitask_corpus(sources)
    with pytest.raises(MultiTaskCorpusError, match="Source 'news' has no documents: 0 "):
        list(corpus(nlp))


def test_declared_task_without_annotation(data, nlp):
    sources = two_sources(data)
    sources["intents"]["tasks"] = ["cats", "ents"]
    corpus = create_multitask_corpus(sources)
    message = (
        "Source 'intents' is declared for 'ents' but none of its 30 documents has entity "
        "annotation."
    )
    with pytest.raises(MultiTaskCorpusError, match=re.escape(message)):
        list(corpus(nlp))


def test_source_without_any_annotation(data, nlp):
    path = write(data["dir"] / "raw.spacy", [nlp.make_doc("just some text")] * 4)
    corpus = create_multitask_corpus({"raw": {"path": path}})
    with pytest.raises(MultiTaskCorpusError, match="'raw' has no annotation: none of its 4"):
        corpus.stats(nlp)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"tasks": ["cats", "tags"]}, "Source 'intents' declares the unknown task 'tags'"),
        ({"tasks": []}, "Source 'intents' has tasks []"),
        ({"weight": -1}, "Source 'intents' has weight -1"),
        ({"limit": -5}, "Source 'intents' has limit -5"),
        ({"paht": "x"}, "Source 'intents' has unknown setting(s) paht"),
    ],
)
def test_bad_source_settings(data, change, message):
    sources = two_sources(data)
    sources["intents"].update(change)
    with pytest.raises(MultiTaskCorpusError, match=re.escape(message)):
        create_multitask_corpus(sources)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"sampling": "balanced"}, "'proportional', 'uniform', 'temperature', 'none'"),
        ({"sampling": "temperature", "temperature": 0}, "temperature must be > 0"),
        ({"epoch_size": 0}, "epoch_size must be a positive integer"),
        ({"sampling": "none", "epoch_size": 10}, "epoch_size must be null"),
    ],
)
def test_bad_corpus_settings(data, kwargs, message):
    with pytest.raises(MultiTaskCorpusError, match=re.escape(message)):
        create_multitask_corpus(two_sources(data), **kwargs)


def test_all_weights_zero(data):
    sources = two_sources(data, intents={"weight": 0}, news={"weight": 0.0})
    with pytest.raises(MultiTaskCorpusError, match="All source weights are 0.*'intents'"):
        create_multitask_corpus(sources)


def test_no_sources():
    with pytest.raises(MultiTaskCorpusError, match="no sources"):
        create_multitask_corpus({})


CONFIG = """
[paths]
intents = null
news = null

[corpora]

[corpora.train]
@readers = "spacy_mtl.MultiTaskCorpus.v1"
sampling = "temperature"
temperature = 2.0
seed = 7

[corpora.train.sources]

[corpora.train.sources.intents]
path = ${paths.intents}
tasks = ["cats"]

[corpora.train.sources.news]
path = ${paths.news}
tasks = ["ents"]
weight = 2.0

[corpora.dev]
@readers = "spacy_mtl.MultiTaskCorpus.v1"
sampling = "none"
shuffle = false

[corpora.dev.sources]

[corpora.dev.sources.intents]
path = ${paths.intents}

[corpora.dev.sources.news]
path = ${paths.news}
"""


def test_config_resolves(data, nlp):
    overrides = {"paths.intents": data["intents"], "paths.news": data["news"]}
    config = Config().from_str(CONFIG, overrides=overrides)
    corpora = registry.resolve(config)["corpora"]
    train, dev = corpora["train"], corpora["dev"]
    assert train.stats(nlp)["news"]["weight"] == 2.0
    assert len(list(train(nlp))) == 40
    assert dev.stats(nlp)["news"]["tasks"] == ["ents"]
    assert len(set(texts(dev, nlp))) == 40


def test_entry_point_resolves_without_import(tmp_path):
    code = (
        "import sys, spacy\n"
        "assert 'spacy_mtl' not in sys.modules\n"
        "f = spacy.util.registry.readers.get('spacy_mtl.MultiTaskCorpus.v1')\n"
        "print(f.__module__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "spacy_mtl.training.corpus"


def test_weight_is_ignored_without_sampling(data, nlp):
    sources = two_sources(data, news={"weight": 3.0})
    message = "the weight of source(s) 'news' is ignored"
    with pytest.warns(MultiTaskCorpusWarning, match=re.escape(message)):
        corpus = create_multitask_corpus(sources, sampling="none", shuffle=False)
    assert len(texts(corpus, nlp)) == 40
