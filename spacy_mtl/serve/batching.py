"""Run the pipeline off the event loop, on batches gathered from concurrent requests.

One ``nlp.pipe`` call over 64 short texts costs far less than 64 calls of
``nlp(text)`` (the demo pipeline: about 1.4 against 4.9 ms a text on one core).
`PipeBatcher` queues each request's texts; whenever a worker thread is free, it
takes everything queued at that moment, up to `max_batch` texts, as one batch.
Under no load a request runs at once, alone; under load the batches grow by
themselves, with no timer to wait on. A request is never split, so a long batch
occupies one worker while the other workers keep answering.

A text whose predictions are not numbers (a pipeline with broken weights) has no record:
its request fails with `UnpredictableTexts`, naming it, and the other requests of the
batch get their records.

Every batch runs in a spaCy memory zone (spacy_mtl.serve.zones), so the words
a request brings do not stay in the vocabulary after it: the service's memory
does not grow with the number of distinct words it has read.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from spacy.language import Language

from ..records import NonFinitePrediction, doc_to_record
from .zones import DEFAULT_ZONE_STRINGS, SharedMemoryZone

Record = Dict[str, Any]
Job = Tuple[List[str], "asyncio.Future[List[Record]]"]


class UnpredictableTexts(ValueError):
    """Texts of one request whose predictions are not numbers, so that they have no record.

    failures (Dict[int, NonFinitePrediction]): Each such text's position in the request.
    """

    def __init__(self, failures: Dict[int, NonFinitePrediction]):
        self.failures = failures
        super().__init__("; ".join(f"text {i}: {err}" for i, err in failures.items()))


class Parsed(NamedTuple):
    """What one request of a batch got: its records, and the texts that have none.

    records (List[Record]): The records of the texts that have one, in order.
    failures (Dict[int, NonFinitePrediction]): The others, by position in the request.
    """

    records: List[Record]
    failures: Dict[int, NonFinitePrediction]


class PipeBatcher:
    """Gathers concurrent requests into `nlp.pipe` batches that run on worker threads.

    nlp (Language): The pipeline.
    workers (int): Worker threads, and so the number of batches running at once.
    max_batch (int): Texts gathered into one batch, at most (a larger request runs alone).
    zone_strings (int): New strings the batches running together may add before the
        memory zone is drained (spacy_mtl.serve.zones).
    """

    def __init__(
        self,
        nlp: Language,
        workers: int = 2,
        max_batch: int = 64,
        zone_strings: int = DEFAULT_ZONE_STRINGS,
    ) -> None:
        self.nlp = nlp
        self.workers = workers
        self.max_batch = max_batch
        self.zone = SharedMemoryZone(nlp, max_strings=zone_strings)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spacy-mtl-nlp")
        self._queue: Optional["asyncio.Queue[Job]"] = None
        self._slots: Optional[asyncio.Semaphore] = None
        self._task: Optional["asyncio.Task[None]"] = None

    async def start(self) -> None:
        """Start gathering batches, on the running event loop."""
        self._queue = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.workers)
        self._task = asyncio.create_task(self._dispatch())

    async def stop(self) -> None:
        """Stop gathering batches and shut the worker threads down."""
        if self._task is not None:
            self._task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def parse(self, texts: List[str]) -> List[Record]:
        """The records of texts, in order, once a worker has run them.

        texts (List[str]): The texts of one request.
        RETURNS (List[Record]): One record per text (spacy_mtl.records.doc_to_record).
        RAISES (UnpredictableTexts): Where a text's predictions are not numbers.
        """
        if self._queue is None:
            raise RuntimeError("PipeBatcher.start() was not called (the app's lifespan runs it).")
        future: "asyncio.Future[List[Record]]" = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run any function on the worker threads (for work that is not a plain parse).

        It runs in the memory zone: it must return plain values, not a Doc.
        """
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, self._in_zone, function, *args
        )

    def _in_zone(self, function: Callable[..., Any], *args: Any) -> Any:
        with self.zone.batch():
            return function(*args)

    async def _dispatch(self) -> None:
        assert self._queue is not None and self._slots is not None
        loop = asyncio.get_running_loop()
        carry: Optional[Job] = None
        while True:
            # Wait for a free worker first: meanwhile requests queue up and join one batch.
            await self._slots.acquire()
            job = carry if carry is not None else await self._queue.get()
            carry = None
            jobs = [job]
            size = len(job[0])
            while size < self.max_batch and not self._queue.empty():
                job = self._queue.get_nowait()
                if size + len(job[0]) > self.max_batch:
                    carry = job
                    break
                jobs.append(job)
                size += len(job[0])
            running = loop.run_in_executor(self.pool, self._parse_jobs, [j[0] for j in jobs])
            running.add_done_callback(lambda done, jobs=jobs: self._deliver(done, jobs))

    def _parse_jobs(self, batches: List[List[str]]) -> List[Parsed]:
        texts = [text for batch in batches for text in batch]
        results = [Parsed([], {}) for _ in batches]
        owners = [(b, n) for b, batch in enumerate(batches) for n in range(len(batch))]
        with self.zone.batch():
            docs = self.nlp.pipe(texts, batch_size=self.max_batch)
            for (b, n), doc in zip(owners, docs):
                try:
                    results[b].records.append(doc_to_record(doc))
                except NonFinitePrediction as err:
                    results[b].failures[n] = err
        return results

    def _deliver(self, done: "asyncio.Future[List[Parsed]]", jobs: List[Job]) -> None:
        assert self._slots is not None
        self._slots.release()
        error = done.exception() if not done.cancelled() else asyncio.CancelledError()
        for i, (_, future) in enumerate(jobs):
            # A request whose client went away has a cancelled future.
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
                continue
            parsed = done.result()[i]
            if parsed.failures:
                future.set_exception(UnpredictableTexts(parsed.failures))
            else:
                future.set_result(parsed.records)
