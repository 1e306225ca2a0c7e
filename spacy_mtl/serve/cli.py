"""The `serve` command: ``python -m spacy_mtl serve PIPELINE [--host] [--port] [--max-chars] ...``.

This module imports neither FastAPI nor uvicorn at import time, so that the
command line works without the `serve` extra and says how to install it.
Every setting is checked as it is read (argparse answers a bad one with the
usage and exit status 2); the socket is bound before the pipeline loads, so a
port in use is named at once.
"""

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Callable, List, Optional

from ..loader import PipelineLoadError, load_pipeline
from .limits import (
    DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_TEXT_CHARS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_WORKERS,
)

INSTALL_HINT = "pip install 'spacy-mtl[serve]'"
# A whole number in ASCII digits (int() also takes "٣" and " 80").
WHOLE_NUMBER = re.compile(r"[0-9]+")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def port_number(value: str) -> int:
    """A TCP port from the command line: a whole number from 0 to 65535 (0: any free port)."""
    if not WHOLE_NUMBER.fullmatch(value) or int(value) > 65535:
        raise argparse.ArgumentTypeError(
            f"a port is a whole number from 0 to 65535 (0: any free port), not {value!r}"
        )
    return int(value)


def at_least_one(value: str) -> int:
    """A count from the command line: a whole number, 1 or more."""
    if not WHOLE_NUMBER.fullmatch(value) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"give a whole number of 1 or more, not {value!r}")
    return int(value)


def seconds(value: str) -> float:
    """A duration from the command line: a finite number of seconds above 0."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"give a number of seconds above 0, not {value!r}")
    return number


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
    parser.add_argument(
        "--port",
        type=port_number,
        default=8000,
        help="port to bind, 0: any free one (default: 8000)",
    )
    _add_limit_options(parser)
    parser.add_argument(
        "--examples",
        type=Path,
        default=None,
        help="a text file, one sentence per line, for the demo page to offer",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=LOG_LEVELS,
        help="uvicorn's log level (default: info)",
    )
    parser.set_defaults(func=serve)


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    def option(name: str, kind: Callable, default, text: str) -> None:
        parser.add_argument(name, type=kind, default=default, help=f"{text} (default: {default:g})")

    option(
        "--max-chars", at_least_one, DEFAULT_MAX_TEXT_CHARS, "longest text accepted, in characters"
    )
    option("--max-batch", at_least_one, DEFAULT_MAX_BATCH, "most texts one request may send")
    option(
        "--workers",
        at_least_one,
        DEFAULT_WORKERS,
        "threads that run the pipeline, so that one long request does not hold up the others",
    )
    option(
        "--keep-alive",
        seconds,
        DEFAULT_KEEP_ALIVE,
        "seconds an idle connection stays open, longer than a client's or proxy's usual idle "
        "timeout",
    )
    option(
        "--request-timeout",
        seconds,
        DEFAULT_REQUEST_TIMEOUT,
        "seconds a client has to send a whole request; a stalled one gets 408 and is closed",
    )


def serve(args: argparse.Namespace) -> int:
    """Bind the socket, load the pipeline, then answer requests until interrupted.

    args (argparse.Namespace): The parsed arguments of `serve`.
    RETURNS (int): The exit status: 0, 1 when it cannot start, 130 when interrupted.
    """
    try:
        from .app import create_app
        from .server import ServeError, bind_socket, make_server
    except ImportError as err:
        return _fail(f"`serve` needs FastAPI and uvicorn ({err}). Install them: {INSTALL_HINT}")
    examples: Optional[List[str]] = None
    if args.examples is not None:
        try:
            lines = args.examples.read_text(encoding="utf8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            return _fail(f"Cannot read the examples file {args.examples}: {err}")
        examples = [line.strip() for line in lines if line.strip()]
    try:
        sock = bind_socket(args.host, args.port)
    except ServeError as err:
        return _fail(str(err))
    with sock:
        try:
            print(f"Loading {args.pipeline} ...", file=sys.stderr, flush=True)
            # Requests run in parallel on the worker threads: one intra-op thread
            # each keeps torch from oversubscribing the cores.
            nlp = load_pipeline(args.pipeline, threads=1)
        except PipelineLoadError as err:
            return _fail(str(err))
        except KeyboardInterrupt:
            return _fail("interrupted while loading the pipeline.", status=130)
        app = create_app(
            nlp,
            max_chars=args.max_chars,
            max_batch=args.max_batch,
            workers=args.workers,
            examples=examples,
        )
        server = make_server(
            app,
            keep_alive=args.keep_alive,
            request_timeout=args.request_timeout,
            log_level=args.log_level,
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(
            f"Serving {args.pipeline} on http://{shown}:{port}/ (API docs at /docs)",
            file=sys.stderr,
            flush=True,
        )
        server.run(sockets=[sock])
    return 0


def _fail(message: str, status: int = 1) -> int:
    print(f"serve: {message}", file=sys.stderr)
    return status
