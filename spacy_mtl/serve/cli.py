"""The `serve` command: ``python -m spacy_mtl serve PIPELINE [--host] [--port] [--max-chars]``.

This module imports neither FastAPI nor uvicorn at import time, so that the
command line works without the `serve` extra and says how to install it.
"""

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..loader import PipelineLoadError, load_pipeline
from .limits import DEFAULT_MAX_TEXT_CHARS, DEFAULT_WORKERS

INSTALL_HINT = "pip install 'spacy-mtl[serve]'"
# A server that closes idle connections before its clients do races them: a client
# can send its next request on a connection the server is closing (uvicorn's own
# default is 5 s, the same as httpx's). 75 s is nginx's keepalive_timeout.
DEFAULT_KEEP_ALIVE = 75.0


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` command, which answers requests with a pipeline's predictions.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "serve",
        help="serve a pipeline over HTTP: a JSON API and a demo page",
        description=(
            'Serve a trained pipeline: POST /parse with {"text": ...} or {"texts": [...]}, '
            "GET /health, GET /meta, and a demo page at /. Needs FastAPI and uvicorn: "
            f"{INSTALL_HINT}."
        ),
    )
    parser.add_argument("pipeline", metavar="PIPELINE", help="a pipeline folder or package name")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    parser.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_TEXT_CHARS,
        help=f"longest text accepted, in characters (default: {DEFAULT_MAX_TEXT_CHARS})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=(
            "threads that run the pipeline, so that one long request does not hold up "
            f"the others (default: {DEFAULT_WORKERS})"
        ),
    )
    parser.add_argument(
        "--examples",
        type=Path,
        default=None,
        help="a text file, one sentence per line, for the demo page to offer",
    )
    parser.add_argument(
        "--keep-alive",
        type=float,
        default=DEFAULT_KEEP_ALIVE,
        help=(
            "seconds an idle connection stays open (default: "
            f"{DEFAULT_KEEP_ALIVE:g}, longer than a client's or proxy's usual idle timeout)"
        ),
    )
    parser.add_argument("--log-level", default="info", help="uvicorn's log level (default: info)")
    parser.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    """Load the pipeline, then answer requests until interrupted.

    args (argparse.Namespace): The parsed arguments of `serve`.
    RETURNS (int): The exit status.
    """
    if args.max_chars < 1 or args.workers < 1:
        return _fail("--max-chars and --workers must be at least 1.")
    try:
        import uvicorn

        from .app import create_app
    except ImportError as err:
        return _fail(f"`serve` needs FastAPI and uvicorn ({err}). Install them: {INSTALL_HINT}")
    examples: Optional[List[str]] = None
    if args.examples is not None:
        try:
            lines = args.examples.read_text(encoding="utf8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            return _fail(f"Cannot read the examples file {args.examples}: {err}")
        examples = [line.strip() for line in lines if line.strip()]
    print(f"Loading {args.pipeline} ...", file=sys.stderr, flush=True)
    try:
        # Requests run in parallel on the worker threads: one intra-op thread
        # each keeps torch from oversubscribing the cores.
        nlp = load_pipeline(args.pipeline, threads=1)
    except PipelineLoadError as err:
        return _fail(str(err))
    app = create_app(nlp, max_chars=args.max_chars, workers=args.workers, examples=examples)
    print(
        f"Serving {args.pipeline} on http://{args.host}:{args.port}/ (API docs at /docs)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_keep_alive=args.keep_alive,
    )
    return 0


def _fail(message: str) -> int:
    print(f"serve: {message}", file=sys.stderr)
    return 1
