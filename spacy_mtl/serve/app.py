"""The HTTP service for a trained pipeline: the JSON API and the demo page.

`create_app` wraps a loaded pipeline in a FastAPI application:

- ``POST /parse`` with ``{"text": "..."}`` answers one record (spacy_mtl.records),
  with ``{"texts": [...]}`` a list of them, from one ``nlp.pipe`` call;
- ``POST /render`` answers the record of one text and displaCy's entity HTML, for the page;
- ``GET /health`` and ``GET /meta``; ``GET /`` the demo page (a static file, no CDN).

The pipeline runs on worker threads, never on the event loop, on batches
gathered from concurrent requests (spacy_mtl.serve.batching): a long batch keeps
one worker busy while the others answer, and /health answers throughout.

Bad requests get a 4xx, never a 500: FastAPI's 422 for invalid JSON, missing
fields and wrong types; 422 naming the limit for a text over
``max_chars``; 413 for a body over ``max_body_bytes``; 400 for a body that is not UTF-8.
"""

import contextlib
from importlib import resources
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import spacy
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from spacy import displacy
from spacy.language import Language

from .. import __version__
from ..annotation import TASK_CATS, TASK_ENTS
from ..records import doc_to_record
from .batching import PipeBatcher
from .limits import DEFAULT_MAX_TEXT_CHARS, DEFAULT_WORKERS, MAX_BODY_BYTES, RequestBodyLimit
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
MAX_BATCH = 64
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


def create_app(
    nlp: Language,
    *,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    max_body_bytes: int = MAX_BODY_BYTES,
    workers: int = DEFAULT_WORKERS,
    examples: Optional[Sequence[str]] = None,
) -> FastAPI:
    """Build the service for a loaded pipeline.

    nlp (Language): The pipeline.
    max_chars (int): The longest text accepted, in characters.
    max_body_bytes (int): The largest request body accepted, in bytes.
    workers (int): The threads that run the pipeline.
    examples (Optional[Sequence[str]]): Sentences the page offers; None: DEFAULT_EXAMPLES.
    RETURNS (FastAPI): The application.
    """
    if max_chars < 1 or workers < 1:
        raise ValueError(f"max_chars and workers must be >= 1, got {max_chars} and {workers}.")
    batcher = PipeBatcher(nlp, workers=workers, max_batch=MAX_BATCH)
    meta = pipeline_meta(nlp)
    meta.update(
        max_chars=max_chars,
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
    _add_parse_routes(app, batcher, _renderer(nlp, meta["labels"][TASK_ENTS]), max_chars)
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
    app: FastAPI, batcher: PipeBatcher, render: Callable[[str], Dict[str, Any]], max_chars: int
) -> None:
    """POST /parse and POST /render: texts in, records out, on the batcher's threads."""

    @app.post("/parse", response_model=Union[Record, List[Record]])
    async def parse_endpoint(request: ParseRequest):
        """The intent, category scores and entities of one text, or of each of several."""
        if request.texts is not None:
            _check_lengths(request.texts, "texts", max_chars, batch=True)
            return await batcher.parse(request.texts)
        _check_lengths([request.text], "text", max_chars, batch=False)
        return (await batcher.parse([request.text]))[0]

    @app.post("/render", response_model=Rendered)
    async def render_endpoint(request: RenderRequest):
        """One text's record and displaCy's entity HTML (what the page shows)."""
        _check_lengths([request.text], "text", max_chars, batch=False)
        return await batcher.run(render, request.text)


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

    @app.get("/health")
    async def health():
        """200 once the pipeline is loaded, which is before the server accepts requests."""
        return {"status": "ok"}

    @app.get("/meta")
    async def meta_endpoint():
        """The pipeline's name, version and labels per task, and spacy-mtl's version."""
        return meta


def _add_page(app: FastAPI) -> None:
    """GET /: the demo page, a static file that needs nothing from outside."""
    page = resources.files(__package__).joinpath("static", "index.html").read_text("utf8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(page)


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
