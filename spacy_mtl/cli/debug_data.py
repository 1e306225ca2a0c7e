"""`debug data`: check a multi-task training config's corpora, per task and per source.

`python -m spacy mtl debug data CONFIG [overrides]`, in a `debug` group as spaCy's own
`spacy debug data`. Config overrides come as in `spacy train` (`--paths.train
corpus/train.spacy`); the command's own options may come before or after them.
"""

from pathlib import Path
from typing import Optional

import typer

from ._app import app, fail

DEBUG_HELP = """Check what a multi-task training config will read."""

debug_cli = typer.Typer(name="debug", help=DEBUG_HELP, no_args_is_help=True)
app.add_typer(debug_cli, name="debug")


@debug_cli.command(
    "data", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def debug_data_cli(
    # fmt: off
    ctx: typer.Context,  # the config overrides
    config_path: Path = typer.Argument(
        ..., metavar="CONFIG", exists=True, dir_okay=False, help="Training config (.cfg)."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-V", help="List every document a finding names."
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", metavar="JSON", help="Also write the result as JSON here."
    ),
    rare: int = typer.Option(
        20, "--rare", min=0, help="Labels with fewer training examples are rare (0 reports none)."
    ),
    # fmt: on
) -> None:
    """Check a config's corpora per task and source.

    Read the training and dev corpora of a config as spacy train does (every source
    of the multi-task readers) and report, per task and source: documents, labels, rare
    labels, dev labels unseen in training, misaligned entities, overlapping spans,
    invalid BIO, conflicting duplicates, train/dev overlap, class imbalance, each
    source's share of an epoch and teacher targets. Exit status 1 on an error.
    """
    from spacy.cli._util import parse_config_overrides

    from ..debug_data.corpora import DebugDataError
    from ..debug_data.report import print_result, write_json
    from ..debug_data.run import debug_data

    try:
        overrides = parse_config_overrides(list(ctx.args))  # it empties the list it reads
    except SystemExit:  # spaCy's parser prints what is wrong and exits
        fail("debug data", f"bad config overrides {ctx.args}.")
    try:
        result = debug_data(config_path, overrides, rare=rare, output=output)
    except DebugDataError as err:
        fail("debug data", str(err))
    print_result(result, verbose)
    if output is not None:
        try:
            write_json(output, result, inputs=[config_path])
        except (OSError, ValueError) as err:
            fail("debug data", f"cannot write {output}: {err}")
    if result["errors"]:
        raise typer.Exit(1)
