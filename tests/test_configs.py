"""Every config in configs/ is complete, and trains through `spacy train` as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from conftest import spacy_train
from spacy.tokens import DocBin
from spacy.util import load_config

from spacy_mtl.convert import convert_iob, convert_joint, convert_jsonl

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.cfg"))
DEMO = REPO / "data" / "demo"


@pytest.fixture(scope="module")
def demo_corpus(tmp_path_factory):
    """The bundled demo corpus converted to .spacy: separate train files, joint dev."""
    out = tmp_path_factory.mktemp("corpus")
    convert_jsonl(DEMO / "train_intents.jsonl", out / "train_cats.spacy")
    convert_iob(DEMO / "train_slots.iob", out / "train_ents.spacy")
    convert_joint(DEMO / "dev", out / "dev.spacy")
    return out


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_fills_without_changes(path):
    config = load_config(path)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    factories = {config["components"][name]["factory"] for name in nlp.pipe_names}
    assert "mtl_tok2vec" in factories and factories & {"mtl_textcat", "mtl_ner"}
    filled = nlp.config
    for name in nlp.pipe_names:
        assert filled["components"][name] == config["components"][name], name


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_spacy_debug_config_passes(path, demo_corpus):
    paths = {
        "train": demo_corpus / "dev.spacy",
        "train_cats": demo_corpus / "train_cats.spacy",
        "train_ents": demo_corpus / "train_ents.spacy",
        "dev": demo_corpus / "dev.spacy",
    }
    declared = load_config(path)["paths"]
    overrides = [
        arg
        for key, value in paths.items()
        if key in declared
        for arg in (f"--paths.{key}", str(value))
    ]
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", "config", str(path), *overrides],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Config is valid" in result.stdout


def test_bilstm_config_is_the_cnn_config_with_another_encoder():
    """The benchmarks compare encoders: nothing but the encoder (and, for the torch
    encoder, torch's thread setting for training) may differ."""
    cnn, bilstm = (
        load_config(REPO / "configs" / "cnn.cfg"),
        load_config(REPO / "configs" / "bilstm.cfg"),
    )
    assert bilstm["components"]["tok2vec"]["model"]["encode"]["@architectures"] == (
        "spacy.TorchBiLSTMEncoder.v1"
    )
    assert bilstm["initialize"]["before_init"]["@callbacks"] == "spacy_mtl.torch_threads.v1"
    assert cnn["initialize"]["before_init"] is None
    for config in (cnn, bilstm):
        del config["components"]["tok2vec"]["model"]["encode"]
        del config["initialize"]["before_init"]
    assert bilstm == cnn


def test_bilstm_vectors_config_is_the_bilstm_config_with_vectors_and_its_schedule():
    """configs/bilstm_vectors.cfg ships the setting benchmarks/bench_vectors.py measures:
    the BiLSTM, MiniLM's static vectors, and the warm-up and decay to step 4000."""
    bilstm, vectors = (
        load_config(REPO / "configs" / "bilstm.cfg"),
        load_config(REPO / "configs" / "bilstm_vectors.cfg"),
    )
    assert vectors["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] is True
    assert vectors["initialize"]["vectors"] == "${paths.vectors}"
    schedule = vectors["training"]["optimizer"]["learn_rate"]
    assert schedule["@schedules"] == "warmup_linear.v1"
    assert schedule["total_steps"] == vectors["training"]["max_steps"] == 4000
    del vectors["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"]
    del bilstm["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"]
    for config in (bilstm, vectors):
        del config["training"]["optimizer"]["learn_rate"]
        del config["training"]["max_steps"]
    assert vectors == bilstm


@pytest.mark.slow
def test_bilstm_config_learns_from_a_folder_of_single_task_corpora(demo_corpus, tmp_path):
    """spacy.Corpus.v1 reads every .spacy file of a folder: cats-only and entities-only."""
    train = tmp_path / "train"
    train.mkdir()
    for name in ("train_cats.spacy", "train_ents.spacy"):
        (train / name).write_bytes((demo_corpus / name).read_bytes())
    spacy_train(
        REPO / "configs" / "bilstm.cfg",
        tmp_path / "model",
        "--paths.train",
        str(train),
        "--paths.dev",
        str(demo_corpus / "dev.spacy"),
        "--training.max_steps",
        "300",
        "--training.eval_frequency",
        "100",
    )
    meta = json.loads((tmp_path / "model" / "model-best" / "meta.json").read_text())
    scores = meta["performance"]
    # Scored on the held-back dev set: 10 intents (chance 0.1) and 12 slot types. Seeds 0-2 on
    # the 300-sentence dev set (Intel Xeon): cats_acc 0.920-0.960, ents_f 0.778-0.801.
    assert scores["cats_acc"] > 0.6
    assert scores["ents_f"] > 0.5


@pytest.mark.slow
def test_separate_corpora_train_both_tasks(demo_corpus, tmp_path):
    """Cats-only and entities-only corpora: both heads learn, scored on a held-back joint set."""
    stdout = spacy_train(
        REPO / "configs" / "separate.cfg",
        tmp_path / "model",
        "--paths.train_cats",
        str(demo_corpus / "train_cats.spacy"),
        "--paths.train_ents",
        str(demo_corpus / "train_ents.spacy"),
        "--paths.dev",
        str(demo_corpus / "dev.spacy"),
        "--training.max_steps",
        "200",
        "--training.eval_frequency",
        "100",
    )
    assert "source 'cats'" in stdout and "source 'ents'" in stdout
    assert "tok2vec: |grad| ner" in stdout  # per-task gradient diagnostics in the log
    meta = json.loads((tmp_path / "model" / "model-best" / "meta.json").read_text())
    scores = meta["performance"]
    # 10 intents (chance 0.1) and 12 slot types (chance ~0): both far above. Seeds 0-2 on the
    # 300-sentence dev set (Intel Xeon): cats_acc 0.903-0.907, ents_f 0.761-0.771.
    assert scores["cats_acc"] > 0.6
    assert scores["ents_f"] > 0.5
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "evaluate",
            str(tmp_path / "model" / "model-best"),
            str(demo_corpus / "dev.spacy"),
            "--output",
            str(tmp_path / "metrics.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["cats_n_docs"] == metrics["ents_n_docs"] == 300
    assert 0 < metrics["joint_sentence_acc"] <= min(metrics["cats_acc"], 1.0)
    # The saved pipeline predicts as it scored: the held-back dev set, reloaded.
    nlp = spacy.load(tmp_path / "model" / "model-best")
    dev = list(DocBin().from_disk(demo_corpus / "dev.spacy").get_docs(nlp.vocab))
    predicted = list(nlp.pipe(doc.text for doc in dev))
    right = sum(
        max(p.cats, key=p.cats.get) == max(g.cats, key=g.cats.get) for p, g in zip(predicted, dev)
    )
    assert right / len(dev) == pytest.approx(metrics["cats_acc"], abs=0.02)


@pytest.mark.slow
def test_transformer_config_trains_offline(demo_corpus, tmp_path):
    from spacy_mtl.pretrained import extract_minilm

    model_dir = extract_minilm(tmp_path / "models")
    spacy_train(
        REPO / "configs" / "transformer.cfg",
        tmp_path / "model",
        "--paths.train",
        str(demo_corpus / "dev.spacy"),
        "--paths.dev",
        str(demo_corpus / "dev.spacy"),
        "--paths.transformer_model",
        str(model_dir),
        "--training.max_steps",
        "12",
        "--training.eval_frequency",
        "6",
        "--training.optimizer.learn_rate.warmup_steps",
        "2",
    )
    nlp = spacy.load(tmp_path / "model" / "model-last")
    assert nlp.pipe_names == ["transformer", "tok2vec", "textcat", "ner"]
    doc = nlp("turn on the lights in the kitchen")
    assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-4)
