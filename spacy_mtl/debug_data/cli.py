"""`python -m spacy_mtl debug-data CONFIG [--verbose] [--output JSON] [--rare N] [overrides]`.

Config overrides come as in `spacy train` (`--paths.train corpus/train.spacy`); the
command's own options may come before or after them. spaCy and torch are
imported only when the command runs.
"""

import argparse
import sys
from pathlib import Path


def add_debug_data_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the `debug-data` command.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "debug-data",
        help="check a multi-task training config's corpora, per task and per source",
        description=(
            "Read the training and dev corpora of a config as spacy train does (every source "
            "of the multi-task readers) and report, per task and source: documents, labels, "
            "rare labels, dev labels unseen in training, misaligned entities, overlapping "
            "spans, invalid BIO, conflicting duplicates, train/dev overlap, class imbalance, "
            "each source's share of an epoch and teacher targets. Exit status 1 on an error."
        ),
    )
    parser.add_argument("config", metavar="CONFIG", type=Path, help="training config (.cfg)")
    add_options(parser)
    parser.add_argument(
        "overrides", nargs=argparse.REMAINDER, help="config overrides: --section.key value"
    )
    parser.set_defaults(func=run_debug_data)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="list every document found")
    parser.add_argument("--output", type=Path, help="also write the result as JSON here")
    parser.add_argument(
        "--rare", type=int, default=20, help="labels with fewer examples are rare (default 20)"
    )


def run_debug_data(args: argparse.Namespace) -> int:
    """Run `debug-data`: 0 without errors, 1 with one (or when the config cannot be read)."""
    from spacy.cli._util import parse_config_overrides

    from .corpora import DebugDataError
    from .report import print_result, write_json
    from .run import debug_data

    # The command's own options may also follow the overrides.
    own = argparse.ArgumentParser(add_help=False)
    add_options(own)
    extra, rest = own.parse_known_args(args.overrides)
    verbose = args.verbose or extra.verbose
    output = extra.output or args.output
    rare = extra.rare if extra.rare != 20 else args.rare
    try:
        overrides = parse_config_overrides(rest)
        result = debug_data(args.config, overrides, rare=rare, output=output)
    except DebugDataError as err:
        print(f"debug-data failed: {err}", file=sys.stderr)
        return 1
    except SystemExit:
        print(f"debug-data failed: bad config overrides {rest}.", file=sys.stderr)
        return 1
    print_result(result, verbose)
    if output is not None:
        try:
            write_json(output, result, inputs=[args.config])
        except (OSError, ValueError) as err:
            print(f"debug-data failed: cannot write {output}: {err}", file=sys.stderr)
            return 1
    return 1 if result["errors"] else 0
