"""The training examples, read once for every component of ours that initializes from them.

`nlp.initialize` hands each component the same `get_examples`, and each stock component
reads it twice (spaCy's `validate_get_examples` walks every example, then the component
walks them again): `spacy train` on ATIS built 27,386 `Example`s from 4,478 documents
before step 0. Our components take the examples through `shared_examples` instead: the
first one reads and checks them, the others get the same list, and the list is dropped once
every such component of the pipeline has had it (or when `get_examples` itself goes), so a
later `initialize` reads the corpus afresh. The first read also checks the corpora
(pipeline/corpus_checks.py): an empty training corpus is an error naming its files.
"""

import weakref
from typing import Callable, Iterable, List, Optional, Set

from spacy.errors import Errors
from spacy.language import Language
from spacy.training import Example, validate_examples

from .corpus_checks import check_corpora, no_examples_error


class _Shared:
    def __init__(self, examples: List[Example]) -> None:
        self.examples = examples
        self.served: Set[str] = set()


_READS: "weakref.WeakKeyDictionary[Callable, _Shared]" = weakref.WeakKeyDictionary()


def shared_examples(
    get_examples: Callable[[], Iterable[Example]],
    nlp: Optional[Language],
    name: str,
    method: str,
) -> List[Example]:
    """Every example `get_examples` gives, read once per `nlp.initialize`, checked.

    get_examples (Callable[[], Iterable[Example]]): What `nlp.initialize` passed.
    nlp (Optional[Language]): The pipeline; None reads afresh.
    name (str): The component asking.
    method (str): For spaCy's error messages, e.g. "MultiTaskTextCategorizer.initialize".
    RETURNS (List[Example]): The examples. With none, an error naming the training
        corpus' files when the config has them, else spaCy's E930.
    """
    if get_examples is None or not callable(get_examples):
        raise TypeError(Errors.E930.format(method=method, obj=type(get_examples)))
    readers = _readers(nlp)
    shared = _lookup(get_examples)
    if shared is None or name in shared.served or name not in readers:
        # A component asking twice starts a new initialize: read again.
        shared = _Shared(list(get_examples()))
        validate_examples(shared.examples, method)
        if not shared.examples:
            raise no_examples_error(nlp) or TypeError(
                Errors.E930.format(method=method, obj=shared.examples)
            )
        check_corpora(nlp, shared.examples)
        if name in readers:
            _store(get_examples, shared)
    shared.served.add(name)
    if readers and shared.served >= readers:
        _forget(get_examples)
    return shared.examples


def _readers(nlp: Optional[Language]) -> Set[str]:
    """The enabled components of the pipeline that read through `shared_examples`."""
    if nlp is None:
        return set()
    return {name for name, proc in nlp.pipeline if getattr(proc, "shares_examples", False)}


def _lookup(get_examples: Callable) -> Optional[_Shared]:
    try:
        return _READS.get(get_examples)
    except TypeError:  # not weakly referenceable: never stored
        return None


def _store(get_examples: Callable, shared: _Shared) -> None:
    try:
        _READS[get_examples] = shared
    except TypeError:
        pass


def _forget(get_examples: Callable) -> None:
    try:
        _READS.pop(get_examples, None)
    except TypeError:
        pass
