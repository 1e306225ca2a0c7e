"""Corpus-scale annotation with a trained pipeline: locally or on Ray Data.

`annotate` reads a file or a directory of shards (JSONL, CSV, Parquet or plain
text) and writes one record per row (JSONL or Parquet), resumably, with the
local engine (nlp.pipe) or Ray Data. `annotate_dataset` annotates a Ray Dataset
the caller already holds. `python -m spacy_mtl annotate` is the command line.
"""

from ..records import doc_to_record
from .api import AnnotateSummary, annotate
from .engines import ENGINES, annotate_dataset
from .io import AnnotateError, read_records

__all__ = [
    "ENGINES",
    "AnnotateError",
    "AnnotateSummary",
    "annotate",
    "annotate_dataset",
    "doc_to_record",
    "read_records",
]
