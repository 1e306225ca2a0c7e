"""`python -m spacy_mtl COMMAND`: the same app as `python -m spacy mtl COMMAND` (spacy_mtl/cli)."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while spaCy loads: nothing has run, nothing is written
    print("interrupted; no output was written (an existing one is as it was).", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
