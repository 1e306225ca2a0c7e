"""Bound the pipeline's memory across requests: spaCy memory zones shared by overlapping batches.

Every new word a request brings adds a string to the vocabulary's StringStore
and a lexeme to the Vocab, and spaCy never forgets one by itself: a service
that reads random text grows without end (533 to 721 MB after 600,000 random
tokens, issue 22). Inside ``nlp.memory_zone()`` (spaCy >= 3.8) such strings are
transient, and freed when the zone closes.

A zone is a state of the whole pipeline, not of a thread: two zones open at
once on one pipeline would free each other's strings. So the batches that run
at the same time on the worker threads share one zone: the first batch opens
it, the last one to finish closes it. Under steady load batches overlap without
end; once the zone holds `max_strings` strings more than it began with, new
batches wait until the running ones finish, the zone closes, and a new one
opens (a pause of at most one batch).
"""

import contextlib
import threading
from typing import ContextManager, Iterator, Optional

from spacy.language import Language

# Transient strings a zone may gather before it is drained: about 10 to 20 MB
# of strings and lexemes.
DEFAULT_ZONE_STRINGS = 100_000


class SharedMemoryZone:
    """One spaCy memory zone at a time on a pipeline, shared by the batches that overlap.

    nlp (Language): The pipeline.
    max_strings (int): Strings a zone may add before new batches wait for it to close.
    """

    def __init__(self, nlp: Language, max_strings: int = DEFAULT_ZONE_STRINGS) -> None:
        self.nlp = nlp
        self.max_strings = max_strings
        self._lock = threading.Condition()
        self._running = 0
        self._zone: Optional[ContextManager] = None
        self._base = 0
        self._draining = False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Run a batch inside the shared zone: what it adds to the vocabulary is freed later.

        Nothing the batch made (a Doc, a Token, a Span) may be used after the block:
        turn it into plain values (a record) inside it.
        """
        self._enter()
        try:
            yield
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._lock:
            while self._draining:
                self._lock.wait()
            if self._running == 0:
                self._base = len(self.nlp.vocab.strings)
                self._zone = self.nlp.memory_zone()
                self._zone.__enter__()
            self._running += 1

    def _leave(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                assert self._zone is not None
                self._zone.__exit__(None, None, None)
                self._zone = None
                self._draining = False
                self._lock.notify_all()
            elif len(self.nlp.vocab.strings) - self._base > self.max_strings:
                self._draining = True
