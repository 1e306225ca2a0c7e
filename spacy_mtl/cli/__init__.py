"""spacy-mtl's commands, one module each.

Importing this package adds the `mtl` group to spaCy's own command line (spaCy imports it
through the `spacy_cli` entry point), as spacy-huggingface-hub and spacy-ray do.
"""

from spacy.cli._util import app as spacy_app

# Each module adds its command to app.
from . import (  # noqa: F401
    annotate,
    augment,
    calibrate,
    convert,
    debug_data,
    distill_targets,
    evaluate,
    init_vectors,
    serve,
    update,
)
from ._app import app, fail, main

spacy_app.add_typer(app)

__all__ = ["app", "fail", "main"]
