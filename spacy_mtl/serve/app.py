"""The HTTP service for a trained pipeline: the JSON API and the demo page.

`create_app` wraps a loaded pipeline in a FastAPI application:

- ``POST /parse`` with ``{"text": "..."}`` answers one record (spacy_mtl.records),
  with ``{"texts": [...]}`` a list of them, from one ``nlp.pipe`` call;
- ``POST /render`` answers the record of one text and displaCy's entity HTML, for the page;
- ``GET /health`` and ``GET /meta``; ``GET /`` the demo page (a static file, no CDN),
  ``GET /favicon.ico`` its icon; each of these answers ``HEAD`` too.

The pipeline runs on worker threads, never on the event loop, on batches
gathered from concurrent requests (spacy_mtl.serve.batching): a long batch keeps
one worker busy while the others answer, and /health answers throughout.

Bad requests get a 4xx, never a 500: FastAPI's 422 for invalid JSON, missing
fields and wrong types (NaN, lone surrogates and all: spacy_mtl.serve.errors);
422 for an empty or whitespace-only text and for a lone surrogate, as annotate
refuses them (spacy_mtl.texts); 422 naming the limit for a text over
``max_chars`` and for more than ``max_batch`` texts; 413 for a body over
``max_body_bytes``; 400 for a body that is not UTF-8. A text whose predictions are not
numbers (a pipeline with NaN weights) gets a 422 naming it and the scores (see
`_unpredictable`), never a record and never a 500.
"""

import contextlib
from importlib import resources
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import spacy
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from spacy import displacy
from spacy.language import Language

from .. import __version__
from ..annotation import TASK_CATS, TASK_ENTS
from ..records import NonFinitePrediction, doc_to_record
from .batching import PipeBatcher, UnpredictableTexts
from .errors import validation_error_answer
from .limits import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_TEXT_CHARS,
    DEFAULT_WORKERS,
    MAX_BODY_BYTES,
    RequestBodyLimit,
)
from .schema import Entity, ParseRequest, Record, Rendered, RenderRequest

# The request and answer models live in .schema; they stay importable from here.
__all__ = [
    "Entity",
    "ParseRequest",
    "Record",
    "RenderRequest",
    "Rendered",
    "create_app",
    "pipeline_meta",
]

# Texts gathered from concurrent requests into one nlp.pipe batch, at most.
PIPE_BATCH = 64
# Sentences the page offers to click, for a pipeline trained on the demo corpus.
DEFAULT_EXAMPLES = [
    "book a flight from boston to denver next friday",
    "what is the weather in paris tomorrow",
    "set an alarm for seven thirty am",
    "play yellow by coldplay in the kitchen",
    "turn off the ceiling light in the living room",
]
# Entity colours on the page: displaCy's own colours cover only its built-in labels.
PALETTE = [
    "#7aecec",
    "#bfeeb7",
    "#feca74",
    "#ff9561",
    "#aa9cfc",
    "#c887fb",
    "#9cc9cc",
    "#ffeb80",
    "#ff8197",
    "#f0d0ff",
    "#e4e7d2",
    "#bfe1d9",
]
# The page's icon, so that a browser's request for it gets an answer, not a 404.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#09a3d5"/>'
    '<path d="M4 12V5l4 4 4-4v7" fill="none" stroke="#fff" stroke-width="1.6"/></svg>'
)


def create_app(
    nlp: Language,
    *,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    workers: int = DEFAULT_WORKERS,
    examples: Optional[Sequence[str]] = None,
) -> FastAPI:
    """Build the service for a loaded pipeline.

    nlp (Language): The pipeline.
    max_chars (int): The longest text accepted, in characters.
    max_body_bytes (int): The largest request body accepted, in bytes.
    max_batch (int): The most texts one request may send.
    workers (int): The threads that run the pipeline.
    examples (Optional[Sequence[str]]): Sentences the page offers; None: DEFAULT_EXAMPLES.
    RETURNS (FastAPI): The application.
    """
    if min(max_chars, max_batch, workers) < 1:
        raise ValueError(
            f"max_chars, max_batch and workers must be >= 1, got {max_chars}, {max_batch} "
            f"and {workers}."
        )
    batcher = PipeBatcher(nlp, workers=workers, max_batch=PIPE_BATCH)
    meta = pipeline_meta(nlp)
    meta.update(
        max_chars=max_chars,
        max_batch=max_batch,
        max_body_bytes=max_body_bytes,
        examples=list(DEFAULT_EXAMPLES if examples is None else examples),
    )
    app = FastAPI(
        title=f"spacy-mtl: {meta['name']}",
        version=__version__,
        description="Intents and slots from a spacy-mtl pipeline.",
        lifespan=_lifespan(batcher),
    )
    app.add_middleware(RequestBodyLimit, max_bytes=max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_error_answer)
    limits = {"max_chars": max_chars, "max_batch": max_batch}
    _add_parse_routes(app, batcher, _renderer(nlp, meta["labels"][TASK_ENTS]), limits)
    _add_info_routes(app, meta)
    _add_page(app)
    return app


def _lifespan(batcher: PipeBatcher):
    """The app's lifespan: the batcher gathers requests while the server runs."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    return lifespan


def _add_parse_routes(
    app: FastAPI,
    batcher: PipeBatcher,
    render: Callable[[str], Dict[str, Any]],
    limits: Dict[str, int],
) -> None:
    """POST /parse and POST /render: texts in, records out, on the batcher's threads."""
    max_chars = limits["max_chars"]

    @app.post("/parse", response_model=Union[Record, List[Record]])
    async def parse_endpoint(request: ParseRequest):
        """The intent, category scores and entities of one text, or of each of several."""
        if request.texts is not None:
            _check_count(request.texts, limits["max_batch"])
            _check_lengths(request.texts, "texts", max_chars, batch=True)
            try:
                return await batcher.parse(request.texts)
            except UnpredictableTexts as err:
                raise _unpredictable(err.failures, "texts", batch=True) from None
        _check_lengths([request.text], "text", max_chars, batch=False)
        try:
            return (await batcher.parse([request.text]))[0]
        except UnpredictableTexts as err:
            raise _unpredictable(err.failures, "text", batch=False) from None

    @app.post("/render", response_model=Rendered)
    async def render_endpoint(request: RenderRequest):
        """One text's record and displaCy's entity HTML (what the page shows)."""
        _check_lengths([request.text], "text", max_chars, batch=False)
        try:
            return await batcher.run(render, request.text)
        except NonFinitePrediction as err:
            raise _unpredictable({0: err}, "text", batch=False) from None


def _unpredictable(
    failures: Dict[int, NonFinitePrediction], field: str, batch: bool
) -> RequestValidationError:
    """The 422 of texts whose predictions are not numbers, each named by its place.

    Why 422 and not a 5xx: the request is valid and the server is up, but this pipeline
    cannot give this text a record, and it never will (the same text gets the same NaN),
    so a 503's "retry later" would only repeat it; a 500 reads as a crash of the service.
    422 "cannot process this content" says so with the detail list of the other refusals
    of a text, so a client shows it by the text; the message says the pipeline is at fault.
    """
    errors = [
        {
            "type": "non_finite_prediction",
            "loc": ("body", field, i) if batch else ("body", field),
            "msg": f"No record for this text: {err}",
            "ctx": {"scores": err.scores},
        }
        for i, err in sorted(failures.items())
    ]
    return RequestValidationError(errors)


def _check_count(texts: Sequence[str], max_batch: int) -> None:
    """Refuse more than `max_batch` texts in one request with a 422 naming the limit.

    A request is never split (spacy_mtl.serve.batching): without a cap, one request
    of 100,000 texts held a worker for 37 s while every other request waited.
    """
    if len(texts) > max_batch:
        error = {
            "type": "too_long",
            "loc": ("body", "texts"),
            "msg": (
                f"The request has {len(texts)} texts, more than the limit of {max_batch} "
                f"(--max-batch). Send them in several requests, or use `python -m spacy_mtl "
                f"annotate` for a corpus."
            ),
            "ctx": {"max_length": max_batch},
        }
        raise RequestValidationError([error])


def _check_lengths(texts: Sequence[str], field: str, max_chars: int, batch: bool) -> None:
    """Refuse texts over `max_chars` with FastAPI's 422, naming each text and the limit."""
    errors = []
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            errors.append(
                {
                    "type": "string_too_long",
                    "loc": ("body", field, i) if batch else ("body", field),
                    "msg": (
                        f"Text has {len(text)} characters, more than the limit of "
                        f"{max_chars} (--max-chars). Split it or raise the limit."
                    ),
                    "ctx": {"max_length": max_chars},
                }
            )
    if errors:
        raise RequestValidationError(errors)


def _renderer(nlp: Language, entity_labels: List[str]) -> Callable[[str], Dict[str, Any]]:
    """What /render runs: a text's record and displaCy's markup, a colour per entity label."""
    colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(entity_labels)}

    def render(text: str) -> Dict[str, Any]:
        doc = nlp(text)
        html = displacy.render(doc, style="ent", page=False, options={"colors": colors})
        return {**doc_to_record(doc), "html": html}

    return render


def _add_info_routes(app: FastAPI, meta: Dict[str, Any]) -> None:
    """GET /health and GET /meta."""

    async def health():
        """200 once the pipeline is loaded, which is before the server accepts requests."""
        return {"status": "ok"}

    async def meta_endpoint():
        """The pipeline's name, version and labels per task, and spacy-mtl's version."""
        return meta

    _add_get(app, "/health", health)
    _add_get(app, "/meta", meta_endpoint)


def _add_page(app: FastAPI) -> None:
    """GET /: the demo page, a static file that needs nothing from outside; its icon."""
    page = resources.files(__package__).joinpath("static", "index.html").read_text("utf8")

    async def index():
        return HTMLResponse(page)

    async def favicon():
        return Response(FAVICON, media_type="image/svg+xml")

    _add_get(app, "/", index, include_in_schema=False)
    _add_get(app, "/favicon.ico", favicon, include_in_schema=False)


def _add_get(app: FastAPI, path: str, endpoint: Callable, include_in_schema: bool = True) -> None:
    """A GET route that answers HEAD the same way, without the body (uvicorn leaves it out).

    The HEAD route stays out of the OpenAPI schema: one operation per endpoint there.
    """
    app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=include_in_schema)
    app.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)


def pipeline_meta(nlp: Language) -> Dict[str, Any]:
    """What /meta reports about a pipeline.

    nlp (Language): The pipeline.
    RETURNS (Dict[str, Any]): "name" (lang_name), "version", "lang", "pipeline",
        "labels" by task ("cats", "ents"), "component_labels" by component, and
        the versions of spacy-mtl and spaCy.
    """
    by_task: Dict[str, List[str]] = {TASK_CATS: [], TASK_ENTS: []}
    by_component: Dict[str, List[str]] = {}
    for name, pipe in nlp.pipeline:
        labels = list(getattr(pipe, "labels", ()) or ())
        if not labels:
            continue
        by_component[name] = labels
        assigns = nlp.get_pipe_meta(name).assigns
        if "doc.cats" in assigns:
            by_task[TASK_CATS].extend(labels)
        if "doc.ents" in assigns:
            by_task[TASK_ENTS].extend(labels)
    name = nlp.meta.get("name", "pipeline")
    if not name.startswith(f"{nlp.lang}_"):
        name = f"{nlp.lang}_{name}"
    return {
        "name": name,
        "version": nlp.meta.get("version", "0.0.0"),
        "lang": nlp.lang,
        "pipeline": list(nlp.pipe_names),
        "labels": by_task,
        "component_labels": by_component,
        "spacy_mtl_version": __version__,
        "spacy_version": spacy.__version__,
    }
