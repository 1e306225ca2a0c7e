"""spacy-mtl's commands, one module each, in the order of the workflow.

Importing this package adds the `mtl` group to spaCy's own command line (spaCy imports it
through the `spacy_cli` entry point), as spacy-huggingface-hub and spacy-ray do.
"""

import importlib
from pathlib import Path

from spacy.cli._util import app as spacy_app

from ._app import app, fail, main

# Each module adds its command to app; `--help` lists them in this order.
COMMANDS = [
    "convert",
    "debug_data",
    "init_vectors",
    "augment",
    "distill_targets",
    "calibrate",
    "evaluate",
    "update",
    "annotate",
    "serve",
]
for _name in COMMANDS:
    # While the commands move here from argparse, a command without its module is skipped.
    if (Path(__file__).parent / f"{_name}.py").exists():
        importlib.import_module(f"{__name__}.{_name}")

spacy_app.add_typer(app)

__all__ = ["app", "fail", "main"]
