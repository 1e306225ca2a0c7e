"""spacy_mtl.serve.batching: concurrent requests gathered into nlp.pipe batches on threads."""

import asyncio

import pytest
import spacy
from conftest import HELD_OUT, SENTENCES
from spacy.language import Language

from spacy_mtl.records import doc_to_record
from spacy_mtl.serve.batching import PipeBatcher, UnpredictableTexts

TEXTS = [text for text, _, _ in SENTENCES + HELD_OUT]


class RecordingBatcher(PipeBatcher):
    """A PipeBatcher that remembers the requests (their sizes) each batch joined."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []

    def _parse_jobs(self, batches):
        self.batches.append([len(batch) for batch in batches])
        return super()._parse_jobs(batches)


@pytest.fixture(scope="module")
def nlp(served_pipeline):
    return spacy.load(served_pipeline)


def run_requests(batcher, requests):
    async def main():
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.parse(texts) for texts in requests))
        finally:
            await batcher.stop()

    return asyncio.run(main())


def test_concurrent_requests_share_batches_and_get_their_own_records(nlp):
    batcher = RecordingBatcher(nlp, workers=1, max_batch=8)
    requests = [[text] for text in TEXTS] + [TEXTS[:3], []]
    results = run_requests(batcher, requests)
    for texts, records in zip(requests, results):
        assert [record["text"] for record in records] == texts
        for text, record in zip(texts, records):
            expected = doc_to_record(nlp(text))
            assert record["intent"] == expected["intent"]
            assert record["entities"] == expected["entities"]
    # 26 requests, one worker: gathered into batches of up to 8 texts, none split.
    assert sum(len(batch) for batch in batcher.batches) == len(requests)
    assert len(batcher.batches) < len(requests)
    assert all(sum(batch) <= 8 for batch in batcher.batches)


def test_a_request_over_max_batch_runs_alone_and_whole(nlp):
    batcher = RecordingBatcher(nlp, workers=1, max_batch=4)
    requests = [[TEXTS[0]], TEXTS[:10], [TEXTS[1]], [TEXTS[2]]]
    results = run_requests(batcher, requests)
    assert [len(records) for records in results] == [1, 10, 1, 1]
    assert [10] in batcher.batches
    assert [record["text"] for record in results[1]] == TEXTS[:10]


def test_parse_before_start_says_what_is_wrong(nlp):
    batcher = PipeBatcher(nlp)
    with pytest.raises(RuntimeError, match="start"):
        asyncio.run(batcher.parse(["hello"]))


@Language.component("test_nan_on_marker")
def nan_on_marker(doc):
    """Category scores that are NaN for a text with "poison" in it (broken weights, for one)."""
    if "poison" in doc.text:
        doc.cats = {label: float("nan") for label in doc.cats}
    return doc


def test_a_text_predicted_as_nan_fails_its_own_request_only(served_pipeline):
    """Before: the NaN text got a record (intent the first label); now its request fails
    naming the text, and the requests it shared a batch with get their records."""
    nlp = spacy.load(served_pipeline)
    nlp.add_pipe("test_nan_on_marker")
    batcher = RecordingBatcher(nlp, workers=1, max_batch=8)
    requests = [[TEXTS[0]], [TEXTS[1], "poison the well", TEXTS[2]], [TEXTS[3]]]

    async def main():
        await batcher.start()
        try:
            calls = [batcher.parse(texts) for texts in requests]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await batcher.stop()

    first, failed, last = asyncio.run(main())
    assert [r["text"] for r in first] == [TEXTS[0]] and [r["text"] for r in last] == [TEXTS[3]]
    assert isinstance(failed, UnpredictableTexts) and list(failed.failures) == [1]
    assert "cats[" in str(failed) and "not a number" in str(failed)
    # The three requests ran together: a NaN text costs its batch nothing but its request.
    assert batcher.batches == [[1, 3, 1]]
