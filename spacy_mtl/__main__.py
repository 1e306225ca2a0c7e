"""`python -m spacy_mtl COMMAND`: the same app as `python -m spacy mtl COMMAND` (spacy_mtl/cli)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
