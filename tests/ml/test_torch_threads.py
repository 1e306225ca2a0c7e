"""The training configs' torch thread setting: explicit, applied by nlp.initialize only."""

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
