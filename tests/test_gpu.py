"""Round trips between GPU and CPU. They need a CUDA GPU with cupy, and skip without one
(CI has none): run them with `pytest -m gpu` where a GPU is at hand."""

import subprocess
import sys
from pathlib import Path

import pytest
import srsly
from conftest import SENTENCES
from thinc.util import has_cupy_gpu, has_torch_cuda_gpu

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not (has_cupy_gpu and has_torch_cuda_gpu), reason="no CUDA GPU with cupy and torch here"
    ),
]

TEXTS = [text for text, _, _ in SENTENCES]
PREDICT = r"""
import sys, spacy, srsly
if sys.argv[2] == "gpu":
    spacy.require_gpu()
else:
    spacy.require_cpu()
nlp = spacy.load(sys.argv[1])
docs = list(nlp.pipe(srsly.json_loads(sys.argv[3])))
rows = [(d.cats, [(e.start_char, e.end_char, e.label_) for e in d.ents]) for d in docs]
print(srsly.json_dumps(rows))
"""


def _train_and_save(path: Path, device: str) -> None:
    script = r"""
import sys, spacy
sys.path.insert(0, {tests!r})
if {device!r} == "gpu":
    spacy.require_gpu()
from conftest import SENTENCES, build_nlp, make_examples
from spacy_mtl.ml.tagger import crf_module
nlp = build_nlp()
examples = make_examples(nlp, SENTENCES)
optimizer = nlp.initialize(lambda: examples)
crf = crf_module(nlp.get_pipe("mtl_ner").model)
wanted = "cuda" if {device!r} == "gpu" else "cpu"
assert all(p.device.type == wanted for p in crf.parameters()), [p.device for p in crf.parameters()]
for _ in range(10):
    nlp.update(examples, sgd=optimizer)
nlp.to_disk({path!r})
""".format(tests=str(Path(__file__).parent), device=device, path=str(path))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def _predict(path: Path, device: str):
    result = subprocess.run(
        [sys.executable, "-c", PREDICT, str(path), device, srsly.json_dumps(TEXTS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return srsly.json_loads(result.stdout.strip().splitlines()[-1])


def _assert_same(a, b):
    for (cats_a, ents_a), (cats_b, ents_b) in zip(a, b):
        assert ents_a == ents_b
        for label in cats_a:
            assert cats_a[label] == pytest.approx(cats_b[label], abs=1e-4)


@pytest.mark.parametrize("trained_on", ["gpu", "cpu"])
def test_a_pipeline_predicts_the_same_on_cpu_and_gpu(trained_on, tmp_path):
    _train_and_save(tmp_path / "nlp", trained_on)
    _assert_same(_predict(tmp_path / "nlp", "cpu"), _predict(tmp_path / "nlp", "gpu"))
