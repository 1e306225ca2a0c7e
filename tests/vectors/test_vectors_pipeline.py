"""configs/cnn_vectors.cfg and bilstm_vectors.cfg with a table from `init vectors`: the
[initialize] vectors route fills the vocab, the pipeline learns, and a saved copy predicts the
same with the table gone."""

import shutil

import numpy
import pytest
import spacy
from conftest import INTENTS, REPO, SENTENCES, make_examples
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.util import load_config
from vectors_helpers import make_tiny_bert, write_corpus

from spacy_mtl.vectors.api import VectorsSettings, init_vectors


@pytest.mark.slow
@pytest.mark.parametrize("config_name", ["cnn_vectors.cfg", "bilstm_vectors.cfg"])
def test_vectors_config_trains_and_predicts_offline_from_a_saved_copy(tmp_path, config_name):
    texts = [text for text, _, _ in SENTENCES]
    corpus = write_corpus(tmp_path / "words.spacy", texts)
    vectors = tmp_path / "vectors"
    settings = VectorsSettings(make_tiny_bert(tmp_path / "bert"), [corpus], dims=16)
    init_vectors(vectors, settings)
    blank = spacy.blank("en")
    train = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in make_examples(blank, SENTENCES)]).to_disk(train)

    config = load_config(
        REPO / "configs" / config_name,
        overrides={
            "paths.train": str(train),
            "paths.dev": str(train),
            "paths.vectors": str(vectors),
            "components.tok2vec.model.encode.width": 32,
            "components.tok2vec.model.encode.depth": 1,
            # bilstm_vectors.cfg warms up over 300 steps: 40 here, at its peak rate at once
            **(
                {"training.optimizer.learn_rate.warmup_steps": 1}
                if config_name.startswith("bilstm")
                else {}
            ),
        },
    )
    nlp = init_nlp(config)
    assert nlp.vocab.vectors.shape[1] == 16 and nlp("Oslo")[0].has_vector
    embed = nlp.get_pipe("tok2vec").model.get_ref("embed")
    static = [node for node in embed.walk() if node.name == "static_vectors"]
    assert static and static[0].get_dim("nM") == 16

    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.create_optimizer()
    first = last = None
    for _ in range(40):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        optimizer.step_schedules()  # as spaCy's loop does: bilstm_vectors.cfg warms up
        first = losses if first is None else first
        last = losses
    assert last["textcat"] < first["textcat"] / 4 and last["ner"] < first["ner"] / 4
    docs = list(nlp.pipe(texts))
    predicted = [max(doc.cats, key=doc.cats.get) for doc in docs]
    assert predicted == [intent for _, intent, _ in SENTENCES]
    assert set(predicted) == set(INTENTS)
    gold = {(i, text, label) for i, (_, _, ents) in enumerate(SENTENCES) for text, label in ents}
    found = {(i, e.text, e.label_) for i, doc in enumerate(docs) for e in doc.ents}
    assert len(gold & found) >= 0.8 * len(gold)

    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(vectors)  # the saved pipeline carries its own copy
    loaded = spacy.load(tmp_path / "pipeline")
    assert numpy.array_equal(loaded.vocab.vectors.data, nlp.vocab.vectors.data)
    for doc, again in zip(docs, loaded.pipe(texts)):
        assert doc.cats == pytest.approx(again.cats, abs=1e-6)
        assert [(e.text, e.label_) for e in doc.ents] == [(e.text, e.label_) for e in again.ents]
