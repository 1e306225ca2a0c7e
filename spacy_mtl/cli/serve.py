"""`serve`: answer HTTP requests with a pipeline's predictions (a JSON API and a demo page).

Neither FastAPI nor uvicorn is imported until the command runs, so that the command line
works without the `serve` extra and says how to install it. The socket is bound before the
pipeline loads, so a port in use is named at once.
"""

import math
from pathlib import Path
from typing import List, Literal, Optional

import typer

from ..serve.limits import (
    DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_TEXT_CHARS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_WORKERS,
)
from ._app import app, fail

INSTALL_HINT = "pip install 'spacy-mtl[serve]'"
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]


def _above_zero(value: float) -> float:
    # A float range cannot say "above 0", nor leave out nan and inf.
    if not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"give a finite number of seconds above 0, not {value}.")
    return value


@app.command("serve")
def serve_cli(
    # fmt: off
    pipeline: str = typer.Argument(
        ..., metavar="PIPELINE", help="Trained pipeline: a folder or an installed package."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(
        8000, "--port", min=0, max=65535, help="Port to bind; 0: any free one."
    ),
    max_chars: int = typer.Option(
        DEFAULT_MAX_TEXT_CHARS, "--max-chars", min=1, help="Longest text accepted, in characters."
    ),
    max_batch: int = typer.Option(
        DEFAULT_MAX_BATCH, "--max-batch", min=1, help="Most texts one request may send."
    ),
    workers: int = typer.Option(
        DEFAULT_WORKERS,
        "--workers",
        min=1,
        help="Threads that run the pipeline, so that one long request does not hold up the others.",
    ),
    keep_alive: float = typer.Option(
        DEFAULT_KEEP_ALIVE,
        "--keep-alive",
        callback=_above_zero,
        help="Seconds (above 0) an idle connection stays open, longer than a client's or proxy's usual idle timeout.",
    ),
    request_timeout: float = typer.Option(
        DEFAULT_REQUEST_TIMEOUT,
        "--request-timeout",
        callback=_above_zero,
        help="Seconds (above 0) a client has to send a whole request; a stalled one gets 408 and is closed.",
    ),
    examples_path: Optional[Path] = typer.Option(
        None,
        "--examples",
        exists=True,
        dir_okay=False,
        help="Text file, one sentence per line, for the demo page to offer.",
    ),
    log_level: LogLevel = typer.Option("info", "--log-level", help="uvicorn's log level."),
    # fmt: on
) -> None:
    """Serve a trained pipeline over HTTP: POST /parse with {"text": ...} or
    {"texts": [...]}, GET /health, GET /meta, and a demo page at /. Needs FastAPI and
    uvicorn: pip install 'spacy-mtl[serve]'. Ctrl-C stops it.
    """
    try:
        from ..serve.app import create_app
        from ..serve.server import ServeError, bind_socket, make_server
    except ImportError as err:
        fail("serve", f"`serve` needs FastAPI and uvicorn ({err}). Install them: {INSTALL_HINT}")
    from ..loader import PipelineLoadError, load_pipeline

    examples: Optional[List[str]] = None
    if examples_path is not None:
        try:
            lines = examples_path.read_text(encoding="utf8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            fail("serve", f"cannot read the examples file {examples_path}: {err}")
        examples = [line.strip() for line in lines if line.strip()]
    try:
        sock = bind_socket(host, port)
    except ServeError as err:
        fail("serve", str(err))
    with sock:
        try:
            typer.echo(f"Loading {pipeline} ...", err=True)
            # Requests run in parallel on the worker threads: one intra-op thread
            # each keeps torch from oversubscribing the cores.
            nlp = load_pipeline(pipeline, threads=1)
        except PipelineLoadError as err:
            fail("serve", str(err))
        except KeyboardInterrupt:
            typer.echo("serve failed: interrupted while loading the pipeline.", err=True)
            raise typer.Exit(130) from None
        server = make_server(
            create_app(
                nlp, max_chars=max_chars, max_batch=max_batch, workers=workers, examples=examples
            ),
            keep_alive=keep_alive,
            request_timeout=request_timeout,
            log_level=log_level,
        )
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        typer.echo(
            f"Serving {pipeline} on http://{shown}:{bound_port}/ (API docs at /docs)", err=True
        )
        server.run(sockets=[sock])
