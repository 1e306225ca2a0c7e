"""The training configs' torch thread setting: explicit, applied by nlp.initialize only."""

import os
import subprocess
import sys

import pytest
import spacy
import torch
from conftest import REPO
from spacy.util import load_config, registry


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_the_callback_sets_torch_threads_where_initialize_runs(restore_threads):
    config = load_config(REPO / "configs/bilstm.cfg")
    assert config["initialize"]["before_init"] == {
        "@callbacks": "spacy_mtl.torch_threads.v1",
        "threads": 1,
    }
    torch.set_num_threads(3)
    nlp = spacy.blank("en")
    nlp.config["initialize"]["before_init"] = {
        "@callbacks": "spacy_mtl.torch_threads.v1",
        "threads": 2,
    }
    assert torch.get_num_threads() == 3  # building the pipeline does not touch it
    nlp.initialize()
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("threads", [0, -1, 1.5])
def test_a_thread_count_that_is_not_a_whole_number_above_zero_is_refused(threads):
    with pytest.raises(ValueError, match="threads must be a whole number"):
        registry.callbacks.get("spacy_mtl.torch_threads.v1")(threads=threads)


TRAIN_AND_COUNT_THREADS = """
import os, sys
sys.path.insert(0, sys.argv[1])
from conftest import SENTENCES, build_nlp, make_examples
nlp = build_nlp()
examples = make_examples(nlp, SENTENCES)
optimizer = nlp.initialize(lambda: examples)
before = len(os.listdir("/proc/self/task"))
for _ in range(3):
    nlp.update(examples, sgd=optimizer)
print(before, len(os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="torch starts no pool on one core")
def test_training_the_crf_never_starts_torch_thread_pool():
    """The CRF's loss runs in numpy: no torch operation wakes torch's intra-op threads,
    whose spinning took CPU from every other process on a busy machine."""
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_COUNT_THREADS, str(REPO / "tests")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": str(os.cpu_count())},
    )
    before, after = map(int, result.stdout.split()[-2:])
    assert after == before
