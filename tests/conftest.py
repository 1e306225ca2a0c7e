"""Shared fixtures: a tiny assistant corpus written for these tests, and pipelines on it."""

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, List

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import fix_random_seed

REPO = Path(__file__).resolve().parent.parent

# (text, intent, [(entity text, label)]) written for these tests.
SENTENCES = [
    (
        "fly from oslo to lima tomorrow",
        "flight",
        [("oslo", "FROM"), ("lima", "TO"), ("tomorrow", "DATE")],
    ),
    ("book a flight to quito", "flight", [("quito", "TO")]),
    ("i need a plane ticket from accra to kyoto", "flight", [("accra", "FROM"), ("kyoto", "TO")]),
    ("get me to dakar on friday", "flight", [("dakar", "TO"), ("friday", "DATE")]),
    ("any flights from perth tonight", "flight", [("perth", "FROM"), ("tonight", "DATE")]),
    ("flights leaving riga for tunis", "flight", [("riga", "FROM"), ("tunis", "TO")]),
    ("will it rain in cairo", "weather", [("cairo", "CITY")]),
    ("how hot is it in hanoi today", "weather", [("hanoi", "CITY"), ("today", "DATE")]),
    ("weather forecast for sunday", "weather", [("sunday", "DATE")]),
    ("is it snowing in bern", "weather", [("bern", "CITY")]),
    (
        "do i need an umbrella in lagos tomorrow",
        "weather",
        [("lagos", "CITY"), ("tomorrow", "DATE")],
    ),
    ("what is the temperature outside", "weather", []),
    ("play some jazz", "music", []),
    ("put on the new album by adele", "music", [("adele", "ARTIST")]),
    ("i want to hear drake", "music", [("drake", "ARTIST")]),
    ("play bach in the morning", "music", [("bach", "ARTIST"), ("morning", "DATE")]),
    ("start my running playlist", "music", []),
    ("shuffle songs by queen", "music", [("queen", "ARTIST")]),
]

HELD_OUT = [
    ("fly from lima to oslo", "flight", [("lima", "FROM"), ("oslo", "TO")]),
    ("will it be sunny in kyoto", "weather", [("kyoto", "CITY")]),
    ("play something by adele", "music", [("adele", "ARTIST")]),
    ("book a flight from quito to cairo", "flight", [("quito", "FROM"), ("cairo", "TO")]),
    ("is it raining in oslo today", "weather", [("oslo", "CITY"), ("today", "DATE")]),
    ("put on drake", "music", [("drake", "ARTIST")]),
]

INTENTS = ["flight", "music", "weather"]


def annotations(text: str, intent: str, ents, *, cats: bool = True, entities: bool = True) -> dict:
    """Example.from_dict annotations for a sentence, with either task left missing."""
    result = {}
    if cats:
        result["cats"] = {label: float(label == intent) for label in INTENTS}
    if entities:
        offsets = []
        for ent_text, label in ents:
            start = f" {text} ".index(f" {ent_text} ")
            offsets.append((start, start + len(ent_text), label))
        result["entities"] = offsets
    return result


def make_examples(
    nlp: Language, rows, *, cats: bool = True, entities: bool = True
) -> List[Example]:
    return [
        Example.from_dict(
            nlp.make_doc(text), annotations(text, intent, ents, cats=cats, entities=entities)
        )
        for text, intent, ents in rows
    ]


def small_cnn(width: int) -> dict:
    """The config of a small CNN encoder for the test pipelines."""
    return {
        "@architectures": "spacy.HashEmbedCNN.v2",
        "pretrained_vectors": None,
        "width": width,
        "depth": 2,
        "embed_size": 500,
        "window_size": 1,
        "maxout_pieces": 2,
        "subword_features": True,
    }


def build_nlp(order=("mtl_textcat", "mtl_ner"), width: int = 32, **textcat_cfg) -> Language:
    """A blank English pipeline: a small shared encoder, then the heads in `order`."""
    nlp = spacy.blank("en")
    nlp.add_pipe("mtl_tok2vec", config={"model": small_cnn(width)})
    listener = {"@architectures": "spacy_mtl.SharedTok2VecListener.v1", "width": width}
    for name in order:
        config = {"model": {"tok2vec": dict(listener)}}
        if name == "mtl_textcat":
            config.update(textcat_cfg)
        nlp.add_pipe(name, config=config)
    return nlp


# The files that take longest, longest first. scripts/test.sh runs the suite on two workers
# (pytest-xdist, --dist loadfile, no reordering), which take whole files in collection order:
# started first, the project workflows run on one worker while the other takes the rest,
# instead of starting last and running alone.
SLOWEST_FILES = [
    "test_project.py",
    "test_configs.py",
    "test_processes.py",
    "test_zh.py",
    "test_separate_corpora.py",
]


def nan_weights(nlp: Language) -> Language:
    """`nlp` with its text classifier's weights set to NaN, as a diverged training leaves them."""
    for node in nlp.get_pipe("mtl_textcat").model.walk():
        for name in node.param_names:
            if node.has_param(name):
                node.set_param(name, numpy.full_like(node.get_param(name), numpy.nan))
    return nlp


def pytest_collection_modifyitems(items) -> None:
    """Move the slowest files to the front, keeping every file's own order (a stable sort)."""
    here = Path(__file__).resolve().parent
    rank = {here / name: i for i, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))


@pytest.fixture
def nlp() -> Language:
    return build_nlp()


@pytest.fixture
def trained_nlp() -> Language:
    """A pipeline trained for a few steps on the joint sentences."""
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(15):
        nlp.update(examples, sgd=optimizer)
    return nlp


def train_step(
    nlp: Language, examples, optimizer, *, exclude=(), annotates=(), drop=0.0, losses=None
):
    """One training step as spaCy's loop takes it: update with sgd=False, then finish_update."""
    losses = {} if losses is None else losses
    nlp.update(
        examples, sgd=False, drop=drop, losses=losses, exclude=exclude, annotates=list(annotates)
    )
    for name, proc in nlp.pipeline:
        if name not in exclude and getattr(proc, "is_trainable", False):
            proc.finish_update(optimizer)
    return losses


def spacy_train(config: Path, output: Path, *overrides: str) -> str:
    """`python -m spacy train CONFIG --output OUTPUT ...overrides`, as a user runs it, in a
    subprocess started in OUTPUT's parent; fails the test with the log's tail, returns stdout."""
    command = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output)]
    result = subprocess.run(
        [*command, *overrides], capture_output=True, text=True, cwd=output.parent
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="session")
def served_pipeline(tmp_path_factory) -> Path:
    """A pipeline trained on the joint sentences, on disk, for the service and the page.

    Session-scoped: it trains once (a few seconds) for all the serve tests. The seed is
    fixed: tests read its predictions, and whatever ran before on the same worker (the
    suite runs whole files on two workers, in no fixed order) must not change them.
    """
    fix_random_seed(0)
    nlp = build_nlp()
    nlp.meta["name"] = "mtl_test"
    nlp.meta["version"] = "0.0.1"
    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("served") / "pipeline"
    nlp.to_disk(path)
    return path


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free port of 127.0.0.1, in a thread.

    app: The application.
    YIELDS (str): The server's base URL, once it accepts connections.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
