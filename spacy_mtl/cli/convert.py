"""`convert`: write a corpus in one of the supported formats to a .spacy file."""

import warnings
from pathlib import Path
from typing import List, Literal, Optional

import typer

from ..annotation import TASKS
from ._app import app, fail

# The library's formats (convert.FORMATS), spelled out for Typer; a test keeps them equal.
Format = Literal[
    "joint", "iob", "jsonl", "csv", "columns", "intents", "prodigy", "labelstudio", "rasa"
]


@app.command("convert")
def convert_cli(
    # fmt: off
    format: Format = typer.Argument(..., metavar="FORMAT", help="The input's format."),
    input_path: Path = typer.Argument(
        ...,
        metavar="INPUT",
        exists=True,
        help="Input file; a folder for joint and for prodigy sessions.",
    ),
    output_path: Path = typer.Argument(..., metavar="OUTPUT", help=".spacy file to write."),
    lang: str = typer.Option("en", "--lang", "-l", help="Language code of the tokenizer."),
    tasks: Optional[str] = typer.Option(
        None,
        "--tasks",
        metavar="TASKS",
        help=f"Comma-separated tasks to keep, from {','.join(TASKS)}; all the format annotates when not given.",
    ),
    intents: Optional[Path] = typer.Option(
        None,
        "--intents",
        metavar="FILE",
        exists=True,
        dir_okay=False,
        help="columns: the intents file of the slots file INPUT, one line per sentence.",
    ),
    text_key: Optional[str] = typer.Option(
        None,
        "--text-key",
        metavar="KEY",
        help='labelstudio: the data key of the text, the $KEY of the labeling config\'s <Text value="$KEY"/>; found from the results (or "text") when not given.',
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Stop at what is otherwise repaired or warned about: joint, iob, columns: an I- tag that begins an entity, a BIOES/BILUO entity without its end tag; jsonl, csv: a document without exactly one category in exclusive mode; prodigy, labelstudio, rasa: conflicting answers for a text, an entity whose edges fall inside a token, a Rasa role, a Rasa example line without '- '.",
    ),
    exclusive: bool = typer.Option(
        False,
        "--exclusive",
        help="jsonl, csv, prodigy, labelstudio: the categories are exclusive, one per document (without --exclusive or --multilabel: when the file gives one class a document).",
    ),
    multilabel: bool = typer.Option(
        False,
        "--multilabel",
        help="jsonl, csv, prodigy, labelstudio: the categories are multi-label, any number per document (prodigy: a rejected binary label is then a 0.0).",
    ),
    # fmt: on
) -> None:
    """Convert a corpus to spaCy's .spacy format, keeping its tokens. A task the input
    does not annotate stays missing. Formats and their tasks: joint: cats, ents; iob:
    ents; jsonl: cats; csv: cats; columns: ents (cats with --intents); intents: cats;
    prodigy, labelstudio, rasa: cats, ents.
    """
    if exclusive and multilabel:
        raise typer.BadParameter(
            "cannot be given with --exclusive: the categories are exclusive or multi-label.",
            param_hint="'--multilabel'",
        )
    from ..annotation import annotated_tasks
    from ..convert import (
        ConversionError,
        check_convert_output,
        input_files,
        read_corpus,
        write_docbin,
    )

    # Warnings are printed as plain messages: the code line that raised one means
    # nothing to a user fixing a data file.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            check_convert_output(format, input_path, output_path, intents)
            docs = read_corpus(
                format,
                input_path,
                lang=lang,
                tasks=tasks.split(",") if tasks is not None else None,
                strict=strict,
                exclusive=True if exclusive else (False if multilabel else None),
                intents=intents,
                text_key=text_key,
            )
            n_docs = write_docbin(
                docs, output_path, inputs=input_files(format, input_path, intents)
            )
        except ConversionError as err:
            _print_warnings(caught)
            fail("convert", str(err))
        except OSError as err:
            _print_warnings(caught)
            fail("convert", f"cannot write {output_path}: {err.strerror or err}.")
    _print_warnings(caught)
    carried = set().union(*(annotated_tasks(doc) for doc in docs))
    present = [task for task in TASKS if task in carried]
    missing = [task for task in TASKS if task not in carried]
    summary = f"tasks: {', '.join(present) or 'none'}"
    if missing:
        summary += f" ({', '.join(missing)} missing)"
    noun = "document" if n_docs == 1 else "documents"
    typer.echo(f"Wrote {n_docs} {noun} to {output_path}; {summary}.")


def _print_warnings(caught: List[warnings.WarningMessage]) -> None:
    for warning in caught:
        typer.echo(f"Warning: {warning.message}", err=True)
