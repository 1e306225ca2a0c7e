"""spacy-mtl's commands, one module each, in the order of the workflow.

Importing this package adds the `mtl` group to spaCy's own command line (spaCy imports it
through the `spacy_cli` entry point), as spacy-huggingface-hub and spacy-ray do.
"""

from spacy.cli._util import app as spacy_app

from . import distill_targets  # noqa: F401, E402  (each module adds its command to app)
from ._app import app, fail, main

spacy_app.add_typer(app)

__all__ = ["app", "fail", "main"]
