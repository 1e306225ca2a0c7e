"""How a document says which tasks it is annotated for.

Training from separate corpora hinges on one distinction: *missing* annotation
(this document teaches the task nothing) against *negative* annotation (this
document has no entities, or none of these categories). spaCy already stores the
difference, and every part of spacy_mtl reads it through these helpers:

- categories: ``doc.cats == {}`` means missing. In multi-label mode a label that
  is absent from a non-empty ``doc.cats`` is missing too (masked), so a labelled
  document should list every label it was judged for, with 0.0 or 1.0.
- entities: a token whose ``ent_iob`` is 0 (``ent_iob_ == ""``) is missing. A
  document all of whose tokens are missing has no entity annotation; ``doc.ents
  = []`` marks every token "O", which means "no entities here". DocBin keeps the
  difference on disk.
"""

from spacy.tokens import Doc

TASK_CATS = "cats"
TASK_ENTS = "ents"
TASKS = (TASK_CATS, TASK_ENTS)
# doc.user_data key: the name of the multi-task corpus source a training document came from.
SOURCE_KEY = "spacy_mtl.source"


def has_cats(doc: Doc) -> bool:
    """Whether the document carries category annotation."""
    return bool(doc.cats)


def has_ents(doc: Doc) -> bool:
    """Whether any token of the document carries entity annotation (B, I or O)."""
    return any(token.ent_iob != 0 for token in doc)


def annotated_tasks(doc: Doc) -> set:
    """The tasks (TASK_CATS, TASK_ENTS) the document is annotated for."""
    tasks = set()
    if has_cats(doc):
        tasks.add(TASK_CATS)
    if has_ents(doc):
        tasks.add(TASK_ENTS)
    return tasks


def mark_missing(doc: Doc, task: str) -> None:
    """Remove a task's annotation, so the document teaches that task nothing."""
    if task == TASK_CATS:
        doc.cats = {}
    elif task == TASK_ENTS:
        doc.set_ents([], default="missing")
    else:
        raise ValueError(f"Unknown task {task!r}: expected one of {TASKS}.")


def describe_doc(doc: Doc, length: int = 40) -> str:
    """A short quoted preview of a document's text and its source, for error messages."""
    text = doc.text if len(doc.text) <= length else doc.text[:length] + "..."
    source = doc.user_data.get(SOURCE_KEY) if doc.user_data else None
    return repr(text) + (f" from source {source!r}" if source else "")
