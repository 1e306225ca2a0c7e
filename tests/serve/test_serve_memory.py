"""The service's memory stays bounded: strings a request adds to the StringStore are freed."""

import asyncio
import random
import string

import pytest
import spacy

from spacy_mtl.records import doc_to_record
from spacy_mtl.serve.batching import PipeBatcher


@pytest.fixture
def nlp(served_pipeline):
    # Function-scoped: the test measures this pipeline's StringStore.
    return spacy.load(served_pipeline)


def new_words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(n))


def run_requests(batcher, requests):
    async def main():
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.parse(texts) for texts in requests))
        finally:
            await batcher.stop()

    return asyncio.run(main())


def test_strings_of_a_request_are_freed_after_it(nlp):
    rng = random.Random(0)
    batcher = PipeBatcher(nlp, workers=1)
    run_requests(batcher, [["fly to oslo"]])
    size = len(nlp.vocab.strings)
    for _ in range(5):
        batcher = PipeBatcher(nlp, workers=1)
        run_requests(batcher, [[new_words(rng, 40)] for _ in range(3)])
        assert len(nlp.vocab.strings) == size


@pytest.mark.parametrize("zone_strings", [100_000, 50])
def test_concurrent_requests_in_shared_zones_are_right_and_freed(
    nlp, served_pipeline, zone_strings
):
    rng = random.Random(1)
    requests = [[f"fly to oslo {new_words(rng, 3)}", "play jazz"] for _ in range(40)]
    # The expected records from another copy of the pipeline: `nlp` has not seen the words.
    reference = spacy.load(served_pipeline)
    expected = [[doc_to_record(reference(text)) for text in texts] for texts in requests]
    run_requests(PipeBatcher(nlp, workers=1), [["fly to oslo"], ["play jazz"]])
    size = len(nlp.vocab.strings)
    batcher = PipeBatcher(nlp, workers=2, max_batch=4, zone_strings=zone_strings)
    results = run_requests(batcher, requests)
    for records, wanted in zip(results, expected):
        for record, want in zip(records, wanted):
            assert record["text"] == want["text"]
            assert record["intent"] == want["intent"]
            assert record["entities"] == want["entities"]
            assert record["cats"] == pytest.approx(want["cats"], abs=1e-5)
    assert len(nlp.vocab.strings) == size
