"""spacy_mtl.loader: the one pipeline loader of annotate and serve."""

import pytest
import spacy
import torch

from spacy_mtl.loader import PipelineLoadError, load_pipeline


def test_loads_a_pipeline_with_one_torch_thread(tmp_path):
    spacy.blank("en").to_disk(tmp_path / "pipeline")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        nlp = load_pipeline(str(tmp_path / "pipeline"))
        assert nlp.lang == "en" and torch.get_num_threads() == 1
        torch.set_num_threads(2)
        load_pipeline(str(tmp_path / "pipeline"), threads=None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_path_that_is_not_a_pipeline_says_what_to_give(tmp_path):
    with pytest.raises(PipelineLoadError, match="give an installed package name or the path"):
        load_pipeline(str(tmp_path / "missing"))
