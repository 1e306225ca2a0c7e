"""`init vectors`: the table loads as spaCy vectors, is the transformer's pooled states, is
the same on every run, and bad input stops with a sentence naming what to fix."""

import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from vectors_helpers import make_tiny_bert, write_corpus

from spacy_mtl.__main__ import main
from spacy_mtl.vectors.api import VectorsSettings, init_vectors
from spacy_mtl.vectors.transformer import load_transformer

INIT_VECTORS = ["init", "vectors"]
TEXTS = ["Fly from Oslo to Lima", "play some jazz", "will it rain in Kyoto", "play jazz"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "train.spacy", TEXTS)


def test_the_table_loads_as_spacy_vectors_keyed_by_lowercase(tiny_bert, corpus, tmp_path):
    summary = init_vectors(tmp_path / "vectors", VectorsSettings(tiny_bert, [corpus], dims=8))
    nlp = spacy.load(tmp_path / "vectors")
    vectors = nlp.vocab.vectors
    assert vectors.shape == (summary.n_rows, 8) and summary.case == "case-insensitive"
    assert vectors.name == summary.name
    doc = nlp("Play JAZZ in Oslo zzz")
    # An uncased transformer: any case finds the row; a word it cannot read has none.
    assert [token.has_vector for token in doc] == [True, True, True, True, False]
    assert numpy.array_equal(nlp("jazz")[0].vector, nlp("JAZZ")[0].vector)

    # The corpus's words come first, most frequent first (ties by name), then the transformer's.
    def row(word):
        return vectors.key2row[nlp.vocab.strings[word]]

    assert (row("jazz"), row("play"), row("Jazz"), row("JAZZ")) == (0, 1, 0, 0)
    assert nlp.vocab.has_vector("weather") and not nlp.vocab.has_vector("##s")


def test_a_row_is_the_mean_output_state_of_the_words_pieces(tiny_bert, corpus, tmp_path):
    import torch

    settings = VectorsSettings(tiny_bert, [corpus], dims=0, sif=0.0, transformer_words=False)
    init_vectors(tmp_path / "vectors", settings)
    nlp = spacy.load(tmp_path / "vectors")
    tokenizer, model = load_transformer(tiny_bert)
    for word in ["oslo", "flights"]:
        ids = tokenizer(word)["input_ids"]  # [CLS] pieces [SEP]
        with torch.inference_mode():
            states = model(input_ids=torch.tensor([ids])).last_hidden_state[0, 1:-1]
        expected = states.mean(dim=0).numpy()
        if word in TEXTS[0].lower().split():
            assert numpy.allclose(nlp.vocab.get_vector(word), expected, atol=1e-5)
        else:  # "flights" is in no corpus: no row with transformer_words off
            assert not nlp.vocab.has_vector(word)


def test_the_same_input_gives_the_same_table(tiny_bert, corpus, tmp_path):
    for name in ("a", "b"):
        init_vectors(tmp_path / name, VectorsSettings(tiny_bert, [corpus], dims=6))
    a, b = (spacy.load(tmp_path / name).vocab.vectors for name in ("a", "b"))
    assert dict(a.key2row) == dict(b.key2row)
    assert numpy.array_equal(a.data, b.data)


def test_a_rerun_replaces_the_table_whole(tiny_bert, corpus, tmp_path):
    out = tmp_path / "vectors"
    init_vectors(out, VectorsSettings(tiny_bert, [corpus], dims=6))
    init_vectors(out, VectorsSettings(tiny_bert, [corpus], dims=4))
    assert spacy.load(out).vocab.vectors.shape[1] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors"]


def test_model2vec_method_gives_the_same_words_a_table(tiny_bert, corpus, tmp_path):
    pytest.importorskip("model2vec.distill")
    settings = VectorsSettings(tiny_bert, [corpus], method="model2vec", dims=8)
    summary = init_vectors(tmp_path / "vectors", settings)
    nlp = spacy.load(tmp_path / "vectors")
    assert summary.width == 8 and nlp.vocab.vectors.shape[0] == summary.n_rows
    assert all(nlp.vocab.has_vector(word) for word in ["oslo", "jazz", "play", "weather"])
    assert numpy.abs(nlp.vocab.get_vector("oslo")).sum() > 0


def test_model2vec_missing_says_what_to_install(tiny_bert, corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "model2vec.distill", None)
    args = ["--transformer", str(tiny_bert), "--corpus", str(corpus), "--method", "model2vec"]
    assert main([*INIT_VECTORS, str(tmp_path / "v"), *args]) == 1
    assert 'pip install "spacy-mtl[vectors]"' in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


def test_the_shipped_minilm_gives_related_words_near_vectors(tmp_path_factory):
    """The real all-MiniLM-L6-v2, a handful of words: the lever this command is for."""
    from spacy_mtl.pretrained import extract_minilm

    minilm = extract_minilm(tmp_path_factory.mktemp("models"))
    words = ["song music airport flight rain weather", "Song Flight Weather"]
    corpus = write_corpus(tmp_path_factory.mktemp("c") / "words.spacy", words)
    out = tmp_path_factory.mktemp("out") / "vectors"
    settings = VectorsSettings(minilm, [corpus], dims=0, sif=0.0, transformer_words=False)
    assert init_vectors(out, settings).n_rows == 6
    vocab = spacy.load(out).vocab

    def cosine(a, b):
        u, v = vocab.get_vector(a), vocab.get_vector(b)
        return float(u @ v / numpy.linalg.norm(u) / numpy.linalg.norm(v))

    assert vocab.vectors.shape[1] == 384
    for word, near, far in [("song", "music", "airport"), ("flight", "airport", "rain")]:
        assert cosine(word, near) > cosine(word, far) + 0.2, (word, near, far)
    assert cosine("rain", "weather") > cosine("rain", "song") + 0.2


def _run(tmp_path, capsys, *args, status=1):
    assert main([*INIT_VECTORS, *map(str, args)]) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def _usage_error(tmp_path, capsys, *args):
    """A usage error: exit status 2, said by the command line before anything runs."""
    return _run(tmp_path, capsys, *args, status=2)


def test_spacy_mtl_init_vectors_help_lists_its_options():
    command = [sys.executable, "-m", "spacy", "mtl", "init", "vectors", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for option in ["OUTPUT_DIR", "--transformer", "--corpus", "--method", "pooled", "model2vec",
                   "--dims", "--sif", "--lang", "--no-transformer-words"]:  # fmt: skip
        assert option in shown
    assert "[default: 256; x>=0]" in " ".join(shown.split())


def test_several_corpora_follow_one_corpus_option_or_several(tiny_bert, corpus, tmp_path, capsys):
    other = write_corpus(tmp_path / "other.spacy", ["shuffle my songs"])
    common = ["--transformer", tiny_bert, "--no-transformer-words", "--dims", "0"]
    for corpora in (["--corpus", corpus, other], ["--corpus", corpus, "--corpus", other]):
        out = tmp_path / "out"
        assert main([*INIT_VECTORS, *map(str, [out, *common, *corpora])]) == 0
        assert f"to {out}" in capsys.readouterr().out
        assert all(spacy.load(out).vocab.has_vector(word) for word in ("shuffle", "oslo"))
    err = _usage_error(tmp_path, capsys, tmp_path / "o", corpus, *common)
    assert "'--corpus'" in err and f"got '{corpus}' after OUTPUT_DIR" in err


def test_bad_corpora_are_named(tiny_bert, corpus, tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "missing.spacy"
    err = _usage_error(tmp_path, capsys, out, "--transformer", tiny_bert, "--corpus", missing)
    assert "'--corpus'" in err and str(missing) in err
    # a second corpus after the option is read by the library, which names it the same way
    err = _run(tmp_path, capsys, out, "--transformer", tiny_bert, "--corpus", corpus, missing)
    assert f"{missing}: no such file" in err
    garbage = tmp_path / "bom.spacy"
    garbage.write_bytes(b"\xef\xbb\xbfnot a docbin \xff\xfe")
    err = _run(tmp_path, capsys, out, "--transformer", tiny_bert, "--corpus", garbage)
    assert f"{garbage}: not a .spacy file" in err
    empty = write_corpus(tmp_path / "empty.spacy", [])
    err = _run(tmp_path, capsys, out, "--transformer", tiny_bert, "--corpus", empty)
    assert f"{empty}: holds no documents" in err
    folder = tmp_path / "folder.spacy"
    folder.mkdir()
    err = _usage_error(tmp_path, capsys, out, "--transformer", tiny_bert, "--corpus", folder)
    assert "'--corpus'" in err and str(folder) in err
    assert not out.exists()


def test_bad_settings_and_transformers_are_named(tiny_bert, corpus, tmp_path, capsys):
    out = tmp_path / "out"
    no_model = tmp_path / "no_model"
    no_model.mkdir()
    err = _run(tmp_path, capsys, out, "--transformer", no_model, "--corpus", corpus)
    assert f"{no_model}: not a transformer folder (no config.json)" in err
    common = ["--transformer", tiny_bert, "--corpus", corpus]
    assert "'--dims'" in _usage_error(tmp_path, capsys, out, *common, "--dims", "-3")
    assert "'--method'" in _usage_error(tmp_path, capsys, out, *common, "--method", "glove")
    no_folder = tmp_path / "no"
    assert "'--transformer'" in _usage_error(tmp_path, capsys, out, "--transformer", no_folder)
    assert "--sif 2.0" in _run(tmp_path, capsys, out, *common, "--sif", "2")
    assert "--lang 'qq'" in _run(tmp_path, capsys, out, *common, "--lang", "qq")
    err = _run(tmp_path, capsys, out, "--transformer", tiny_bert, "--no-transformer-words")
    assert "no words" in err
    assert not out.exists()


def test_outputs_that_would_destroy_something_are_refused(tiny_bert, corpus, tmp_path, capsys):
    common = ["--transformer", tiny_bert, "--corpus", corpus]
    assert f"{tiny_bert}: is the input" in _run(tmp_path, capsys, tiny_bert, *common)
    assert "would hold the input" in _run(tmp_path, capsys, tiny_bert.parent, *common)
    assert "lies inside the input" in _run(tmp_path, capsys, tiny_bert / "v", *common)
    assert "is the input" in _run(tmp_path, capsys, corpus, *common)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert "not a table that init vectors wrote" in _run(tmp_path, capsys, mine, *common)
    assert (mine / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "is not a folder" in _run(tmp_path, capsys, a_file, *common)
    assert "cannot be written" in _run(tmp_path, capsys, a_file / "v", *common)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "Permission denied" in _run(tmp_path, capsys, locked / "v", *common)


def test_a_trained_pipeline_is_never_taken_for_a_vectors_folder(
    tiny_bert, corpus, tmp_path, capsys
):
    """Before, any folder with a config.cfg was replaced: a trained pipeline lost its
    components. Only a vectors-only pipeline (what init vectors writes) is replaced."""
    pipeline = tmp_path / "pipeline"
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(pipeline)
    common = ["--transformer", tiny_bert, "--corpus", corpus, "--no-transformer-words"]
    err = _run(tmp_path, capsys, pipeline, *common, "--dims", "4")
    assert f"{pipeline}: the folder exists and is not empty" in err
    assert "not a table that init vectors wrote" in err
    assert spacy.load(pipeline).pipe_names == ["sentencizer"]
    inside = pipeline / "vectors"
    assert "lies inside the pipeline folder" in _run(tmp_path, capsys, inside, *common)
    assert not inside.exists()


def test_a_truncated_weights_file_is_named(tiny_bert, corpus, tmp_path, capsys):
    broken = tmp_path / "bert"
    broken.mkdir()
    for path in tiny_bert.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    err = _run(tmp_path, capsys, tmp_path / "out", "--transformer", broken, "--corpus", corpus)
    assert err.startswith(f"init vectors failed: {weights}: cannot load the transformer's weights")
    assert "truncated" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "dims,expected",
    [
        ("33", "--dims 33: --method pooled gives at most 32 dimensions here (the transformer's"),
        (str(10**20), "gives at most 32 dimensions"),
    ],
)
def test_dims_beyond_what_the_method_gives_are_refused_naming_the_maximum(
    dims, expected, tiny_bert, corpus, tmp_path, capsys
):
    """Before, --dims above the transformer's width silently gave its width."""
    common = ["--transformer", tiny_bert, "--corpus", corpus]
    assert expected in _run(tmp_path, capsys, tmp_path / "out", *common, "--dims", dims)
    assert not (tmp_path / "out").exists()


def test_dims_beyond_the_tables_words_are_refused(tiny_bert, corpus, tmp_path, capsys):
    common = ["--transformer", tiny_bert, "--corpus", corpus, "--no-transformer-words"]
    err = _run(tmp_path, capsys, tmp_path / "out", *common, "--dims", "20")
    assert "gives at most 13 dimensions here (PCA over the table's 13 words" in err


@pytest.mark.parametrize("sif", ["nan", "inf", "-1e308", "1e308"])
def test_sif_at_its_extremes_is_refused(sif, tiny_bert, corpus, tmp_path, capsys):
    common = ["--transformer", tiny_bert, "--corpus", corpus]
    assert f"--sif {float(sif)}" in _run(tmp_path, capsys, tmp_path / "o", *common, f"--sif={sif}")
