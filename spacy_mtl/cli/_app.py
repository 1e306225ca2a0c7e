"""The `mtl` command group: spaCy's own Typer app gets it through the `spacy_cli` entry point.

`python -m spacy mtl COMMAND` and `python -m spacy_mtl COMMAND` run the same app. Each
command lives in a module of this package, is a thin Typer function over the library,
imports what it needs when it runs (so `--help` stays as fast as `python -m spacy --help`),
and exits with 1 and one paragraph on stderr when its input cannot work.
"""

import sys
from typing import List, NoReturn, Optional

import typer

from .. import __version__

NAME = "mtl"
HELP = """Multi-task learning for spaCy: convert, check, calibrate, evaluate, update,
annotate and serve pipelines whose heads share one encoder.
"""
EPILOG = (
    "Train with `python -m spacy train CONFIG --output DIR` (configs/ has the shipped "
    "configs); package with `python -m spacy package DIR OUT_DIR`."
)

# The commands as the workflow uses them; `--help` lists them in this order.
WORKFLOW = ("convert", "debug", "init", "augment", "distill-targets", "calibrate", "evaluate")
WORKFLOW += ("update", "annotate", "serve")


class _WorkflowOrder(typer.core.TyperGroup):
    def list_commands(self, ctx) -> List[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: WORKFLOW.index(n) if n in WORKFLOW else len(WORKFLOW))


app = typer.Typer(
    name=NAME,
    cls=_WorkflowOrder,
    help=HELP,
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"spacy-mtl {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Multi-task learning for spaCy (the `mtl` commands)."""


@app.command(
    "train",
    hidden=True,
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def _train() -> None:
    """Training is spaCy's own command."""
    fail(
        "train",
        "training is spaCy's own command: python -m spacy train CONFIG --output DIR "
        "(configs/ has the shipped configs; the heads and readers need no import).",
    )


def fail(command: str, message: str) -> NoReturn:
    """Print `COMMAND failed: MESSAGE` on stderr and exit with 1.

    command (str): The command's name.
    message (str): What is wrong and what to do.
    """
    typer.echo(f"{command} failed: {message}", err=True)
    raise typer.Exit(1)


def main(argv: Optional[List[str]] = None, prog_name: str = "python -m spacy_mtl") -> int:
    """Run the app on `argv` and return its exit status (for `python -m spacy_mtl` and tests).

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    prog_name (str): The name shown in usage lines.
    RETURNS (int): The exit status: 0, 1 for a command's failure, 2 for a usage error, 130
        when interrupted.
    """
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except typer.Exit as exit_:
        result = exit_.exit_code
    except (typer.Abort, KeyboardInterrupt):
        result = 130
    except Exception as err:
        if not (hasattr(err, "show") and hasattr(err, "exit_code")):
            raise
        err.show()  # a usage error: click's (or typer's vendored click's) ClickException
        return err.exit_code
    # Typer answers a Ctrl-C inside a command with 130 (a command that reports its own
    # interruption, as annotate does, exits through SystemExit and never comes here).
    if result == 130:
        # Every output is written whole or not at all: an interrupted run leaves none of its own.
        print("interrupted; no output was written (an existing one is as it was).", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0
