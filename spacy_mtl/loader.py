"""Load a trained pipeline for the tools that only predict: annotate and serve.

They need nothing from spacy_mtl's components but the names spaCy finds
through the entry points, so loading is `spacy.load` plus two things both want:
torch on one thread, and an error that says what PIPELINE must be.
"""

from typing import Optional

import spacy
from spacy.language import Language

from .tokenizer import check_saved_language


class PipelineLoadError(ValueError):
    """A pipeline could not be loaded: the message says which and why."""


def load_pipeline(pipeline: str, *, threads: Optional[int] = 1) -> Language:
    """Load a pipeline by package name or path, with `threads` threads for torch.

    Annotate's workers and the service's worker threads each mean to use one
    core: more torch threads per process only fight over the cores (and can
    hang forked workers). Set once, here, at the edge where a worker starts.

    pipeline (str): An installed package name or a path.
    threads (Optional[int]): torch's intra-op threads, for the whole process;
        None leaves torch's setting as it is.
    RETURNS (Language): The pipeline.
    """
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        check_saved_language(pipeline)
        return spacy.load(pipeline)
    except OSError as err:
        raise PipelineLoadError(
            f"Cannot load the pipeline {pipeline!r}: give an installed package name or the "
            f"path of a pipeline directory. ({err})"
        ) from err
    except ValueError as err:
        raise PipelineLoadError(f"Cannot load the pipeline {pipeline!r}: {err}") from err
