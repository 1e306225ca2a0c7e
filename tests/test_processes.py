"""`nlp.pipe(n_process=2)` gives the output of `n_process=1`, also after torch ran on 2 threads.

Each check runs in a fresh interpreter with a time limit, so a hang in a forked
worker (torch's thread pool does not survive a fork) fails the test instead of CI.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import srsly

REPO = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import sys, srsly
import torch, spacy
from thinc.api import Adam
from spacy.util import load_config
sys.path.insert(0, {tests!r})
from conftest import SENTENCES, make_examples

config = load_config({config!r})
for key, value in {overrides!r}.items():
    section = config
    *path, last = key.split(".")
    for part in path:
        section = section[part]
    section[last] = value
del config["initialize"]["components"]["textcat"], config["initialize"]["components"]["ner"]
nlp = spacy.util.load_model_from_config(config, auto_fill=True)
examples = make_examples(nlp, SENTENCES)
optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.001))
for _ in range(3):
    nlp.update(examples, sgd=optimizer)
torch.set_num_threads(2)
x = torch.randn(500, 500)
(x @ x).sum()
texts = [text for text, _, _ in SENTENCES] * 4
def run(n):
    return [
        (doc.cats, [(e.start_char, e.end_char, e.label_) for e in doc.ents])
        for doc in nlp.pipe(texts, n_process=n, batch_size=8)
    ]
print(srsly.json_dumps({{"one": run(1), "two": run(2), "threads": torch.get_num_threads()}}))
"""

PIPELINES = {
    "cnn": ("cnn.cfg", {"components.tok2vec.model.encode.width": 32}),
    "bilstm": (
        "bilstm.cfg",
        {"components.tok2vec.model.encode.width": 32, "components.tok2vec.model.encode.depth": 1},
    ),
}


def _check(config, overrides, timeout=240):
    script = SCRIPT.format(
        tests=str(REPO / "tests"), config=str(REPO / "configs" / config), overrides=overrides
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"nlp.pipe(n_process=2) with {config} did not finish in {timeout} s (hang)")
    assert result.returncode == 0, result.stderr[-3000:]
    out = srsly.json_loads(result.stdout.strip().splitlines()[-1])
    assert out["threads"] == 2  # the parent's own setting is left alone
    assert len(out["one"]) == len(out["two"]) > 0
    for (cats_1, ents_1), (cats_2, ents_2) in zip(out["one"], out["two"]):
        assert ents_1 == ents_2
        assert cats_1.keys() == cats_2.keys()
        for label in cats_1:
            assert cats_1[label] == pytest.approx(cats_2[label], abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_two_processes_give_the_output_of_one(name):
    config, overrides = PIPELINES[name]
    _check(config, overrides)


@pytest.mark.slow
def test_two_processes_give_the_output_of_one_with_a_transformer(tmp_path):
    from spacy_mtl.pretrained import extract_minilm

    model_dir = extract_minilm(tmp_path / "models")
    _check("transformer.cfg", {"paths.transformer_model": str(model_dir)}, timeout=400)
