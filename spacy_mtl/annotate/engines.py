"""The engines that run a pipeline over annotate's parts: local nlp.pipe, or Ray Data.

An engine takes the parts still to do and yields each part with its records, in
input order; the caller writes them. Both engines read a part with the same
code (spacy_mtl.annotate.io) and annotate it with the same function
(spacy_mtl.annotate.rows), so their records are identical.
"""

import logging
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..loader import PipelineLoadError, load_pipeline
from .io import AnnotateError, Part, read_part
from .rows import (
    DEFAULT_MAX_ROW_CHARS,
    MISSING,
    AnnotateProcessError,
    annotate_rows,
    make_row,
    record_from_json,
    record_to_json,
)

ENGINES = ("local", "ray")
RAY_INSTALL = "pip install 'spacy-mtl[ray]'"
Progress = Callable[[int], None]


def _load_pipeline(pipeline: str):
    """Load the pipeline for a worker: one torch thread; a bad PIPELINE is an AnnotateError.

    pipeline (str): An installed package name or a path.
    RETURNS (Language): The pipeline.
    """
    try:
        return load_pipeline(pipeline, threads=1)
    except PipelineLoadError as err:
        raise AnnotateError(str(err)) from err


def warn_without_cats(nlp, pipeline: str) -> None:
    """Say up front that no record will have an intent if no component sets doc.cats."""
    if not any("doc.cats" in nlp.get_pipe_meta(name).assigns for name in nlp.pipe_names):
        warnings.warn(
            f"The pipeline {pipeline!r} has no text classifier (no component sets doc.cats, "
            f"as mtl_textcat does): every record's intent will be null and its cats empty.",
            stacklevel=2,
        )


def resolve_pipeline(pipeline: str) -> str:
    """A path as an absolute path (other processes may start elsewhere), a name as is."""
    path = Path(pipeline)
    return str(path.resolve()) if path.exists() else pipeline


def make_engine(engine: str, pipeline: str, *, workers: int, batch_size: int, address=None):
    """The engine named `engine` ("local" or "ray"; see ENGINES), set up for a run.

    engine (str): "local" or "ray".
    pipeline (str): An installed package name or a path.
    workers (int): Processes (local) or actors (ray).
    batch_size (int): Documents per batch.
    address (Optional[str]): A Ray cluster's address (ray only).
    RETURNS (Union[LocalEngine, RayEngine]): The engine.
    """
    if engine == "ray":
        return RayEngine(pipeline, workers=workers, batch_size=batch_size, address=address)
    return LocalEngine(pipeline, workers=workers, batch_size=batch_size)


class LocalEngine:
    """nlp.pipe in this process, or in `workers` processes (nlp.pipe's n_process).

    pipeline (str): The package name or path.
    workers (int): Processes; 1 runs in this process.
    batch_size (int): Documents per batch.
    """

    name = "local"

    def __init__(self, pipeline: str, *, workers: int = 1, batch_size: int = 64) -> None:
        self.pipeline = resolve_pipeline(pipeline)
        self.workers = workers
        self.batch_size = batch_size

    def run(
        self, parts: List[Part], read_kwargs: Dict[str, Any], progress: Optional[Progress] = None
    ) -> Iterator[Tuple[Part, List[Dict[str, Any]]]]:
        """Annotate the parts, yielding each with its records, in order.

        parts (List[Part]): The parts to annotate.
        read_kwargs (Dict[str, Any]): text_field, id_field and max_chars for read_part.
        progress (Optional[Callable[[int], None]]): Called with each batch's size.
        YIELDS (Tuple[Part, List[Dict[str, Any]]]): A part and its records.
        """
        if not parts:
            return
        nlp = _load_pipeline(self.pipeline)
        warn_without_cats(nlp, self.pipeline)
        n_process = self.workers
        done = 0
        while done < len(parts):
            try:
                todo = parts[done:]
                for part, records in self._stream(nlp, todo, read_kwargs, n_process, progress):
                    yield part, records
                    done += 1
            except AnnotateProcessError as err:
                if n_process == 1:
                    raise
                warnings.warn(
                    f"{err} Continuing from part {parts[done].filename} in one process, which "
                    f"records a failing row as an error.",
                    stacklevel=2,
                )
                n_process = 1

    def _stream(self, nlp, parts, read_kwargs, n_process, progress):
        def rows():
            for part in parts:
                yield from read_part(part, **read_kwargs)

        records = annotate_rows(nlp, rows(), batch_size=self.batch_size, n_process=n_process)
        for part in parts:
            chunk = []
            for record in records:
                chunk.append(record)
                if progress is not None and len(chunk) % self.batch_size == 0:
                    progress(self.batch_size)
                if len(chunk) == part.rows:
                    break
            if progress is not None:
                progress(len(chunk) % self.batch_size)
            yield part, chunk


class RayEngine:
    """Ray Data: an actor pool of `workers` actors, each loading the pipeline once.

    Each part is one row of a Ray Dataset; `map_batches` hands parts to the
    actors, which read their rows (so reading is spread over the cluster as
    well) and annotate them in batches of `batch_size`. The results come back in
    input order (preserve_order), part by part.

    pipeline (str): The package name or path; on a cluster, it must be
        installed, or lie at that path, on every node.
    workers (int): Actors, one CPU each.
    batch_size (int): Documents per batch inside an actor.
    address (Optional[str]): The address of a running Ray cluster; None starts
        a local Ray with `workers` CPUs (or uses the one already started).
    """

    name = "ray"

    def __init__(
        self,
        pipeline: str,
        *,
        workers: int = 1,
        batch_size: int = 64,
        address: Optional[str] = None,
    ) -> None:
        self.pipeline = resolve_pipeline(pipeline)
        self.workers = workers
        self.batch_size = batch_size
        self.address = address
        self.ray = import_ray()

    def run(
        self, parts: List[Part], read_kwargs: Dict[str, Any], progress: Optional[Progress] = None
    ) -> Iterator[Tuple[Part, List[Dict[str, Any]]]]:
        """Annotate the parts, yielding each with its records, in order (see LocalEngine.run)."""
        if not parts:
            return
        ray = self.ray
        started = start_ray(ray, self.workers, self.address)
        try:
            ctx = ray.data.DataContext.get_current()
            ctx.execution_options.preserve_order = True
            ctx.enable_progress_bars = False
            ds = ray.data.from_items(
                [{"index": i} for i in range(len(parts))], override_num_blocks=len(parts)
            )
            ds = ds.map_batches(
                PartAnnotator,
                fn_constructor_kwargs={
                    "pipeline": self.pipeline,
                    "parts": parts,
                    "read_kwargs": read_kwargs,
                    "batch_size": self.batch_size,
                },
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=self.workers),
                num_cpus=1,
            )
            for row in ds.iter_rows():
                part = parts[int(row["index"])]
                records = [record_from_json(line) for line in row["records"].splitlines()]
                if progress is not None:
                    progress(len(records))
                yield part, records
        finally:
            if started:
                ray.shutdown()


class PartAnnotator:
    """A Ray actor: loads the pipeline once, then reads and annotates whole parts."""

    def __init__(self, pipeline: str, parts: List[Part], read_kwargs, batch_size: int) -> None:
        self.nlp = _load_pipeline(pipeline)
        self.parts = parts
        self.read_kwargs = read_kwargs
        self.batch_size = batch_size

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[Any]]:
        indices, blobs = [], []
        for index in batch["index"]:
            rows = read_part(self.parts[int(index)], **self.read_kwargs)
            records = annotate_rows(self.nlp, rows, batch_size=self.batch_size)
            indices.append(int(index))
            blobs.append("".join(record_to_json(record) + "\n" for record in records))
        return {"index": indices, "records": blobs}


def import_ray():
    """Import ray, or say how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:
        raise AnnotateError(
            f"The ray engine needs Ray Data, which is not installed: {RAY_INSTALL}."
        ) from err
    return ray


def start_ray(ray, workers: int, address: Optional[str]) -> bool:
    """Connect to Ray: a cluster at `address`, or a local Ray with `workers` CPUs.

    RETURNS (bool): Whether this call started Ray (and should shut it down).
    """
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    return True


def annotate_dataset(
    dataset,
    pipeline: str,
    *,
    workers: int = 1,
    batch_size: int = 64,
    text_field: str = "text",
    id_field: str = "id",
    max_chars: int = DEFAULT_MAX_ROW_CHARS,
):
    """Annotate a Ray Dataset: one record per row, with an actor pool of `workers`.

    For users who already hold a Ray Dataset (from `ray.data.read_parquet`, say).
    Nothing is computed until the dataset is consumed or written
    (`.write_parquet(...)`); rows keep their order if the DataContext's
    `execution_options.preserve_order` is set.

    dataset (ray.data.Dataset): The rows, with a text column.
    pipeline (str): An installed package name or a path (on every node).
    workers (int): Actors, one CPU each.
    batch_size (int): Rows per batch.
    text_field (str): The column with the text.
    id_field (str): The column with the id; rows keep its values (null without it).
    max_chars (int): The longest text annotated; longer ones get an error.
    RETURNS (ray.data.Dataset): Columns id, text, intent, cats, entities, error.
    """
    ray = import_ray()
    return dataset.map_batches(
        DatasetAnnotator,
        fn_constructor_kwargs={
            "pipeline": resolve_pipeline(pipeline),
            "text_field": text_field,
            "id_field": id_field,
            "max_chars": max_chars,
            "batch_size": batch_size,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1,
    )


class DatasetAnnotator:
    """A Ray actor for annotate_dataset: Arrow batch in, Arrow records out."""

    def __init__(
        self, pipeline: str, text_field: str, id_field: str, max_chars: int, batch_size: int
    ) -> None:
        self.nlp = _load_pipeline(pipeline)
        self.text_field = text_field
        self.id_field = id_field
        self.max_chars = max_chars
        self.batch_size = batch_size

    def __call__(self, table):
        import pyarrow as pa

        from .arrow import records_to_table

        n = table.num_rows
        names = table.column_names
        texts = table.column(self.text_field).to_pylist() if self.text_field in names else None
        rows = [
            make_row(
                None,
                texts[i] if texts is not None else MISSING,
                field=self.text_field,
                max_chars=self.max_chars,
            )
            for i in range(n)
        ]
        records = list(annotate_rows(self.nlp, rows, batch_size=self.batch_size))
        out = records_to_table(records)
        ids = table.column(self.id_field) if self.id_field in names else pa.nulls(n)
        return out.set_column(0, "id", ids)
