"""`debug data`'s output: tables and findings on the terminal, the same as JSON for CI."""

from typing import Any, Dict

import srsly
from wasabi import msg

from ..atomic import atomic_path
from .findings import ERROR, INFO, WARNING

SHOWN_DOCS = 3
PRINTERS = {ERROR: msg.fail, WARNING: msg.warn, INFO: msg.info}


def print_result(result: Dict[str, Any], verbose: bool) -> None:
    """Print the sources, the labels per task and every finding (with --verbose its documents)."""
    msg.divider("Corpora (as spacy train reads them)")
    rows = [
        [s["corpus"], s["source"], s["docs"], s["cats"], s["ents"], s["tokens"], _share(s)]
        for s in result["sources"]
    ]
    header = ["corpus", "source", "docs", "with intents", "with slots", "tokens", "epoch share"]
    msg.table(rows, header=header, divider=True, aligns=["l", "l"] + ["r"] * 5)
    titles = (("cats", "Intents: documents per intent"), ("ents", "Slots: entities per type"))
    for task, title in titles:
        table = result["labels"].get(task)
        if table:
            msg.divider(title)
            rows = [[label, c["train"], c["dev"]] for label, c in table.items()]
            msg.table(rows, header=["label", "train", "dev"], divider=True, aligns=["l", "r", "r"])
    msg.divider("Findings")
    for finding in result["findings"]:
        PRINTERS[finding.level](finding.message)
        docs = finding.docs if verbose else finding.docs[:SHOWN_DOCS]
        for doc in docs:
            detail = f"  [{doc.detail}]" if doc.detail else ""
            msg.text(f"    {doc.corpus}/{doc.source} #{doc.index}: {doc.text!r}{detail}")
        if len(docs) < len(finding.docs):
            msg.text(f"    ... {len(finding.docs) - len(docs)} more (--verbose lists them)")
    n_errors = result["errors"]
    if n_errors:
        msg.fail(f"{n_errors} error(s): see above.")
    else:
        msg.good("No errors.")


def _share(source: Dict[str, Any]) -> str:
    return "" if source["share"] is None else f"{source['share']:.1%}"


def to_json(result: Dict[str, Any]) -> Dict[str, Any]:
    return {**result, "findings": [f.to_dict() for f in result["findings"]]}


def write_json(path, result: Dict[str, Any], inputs=()) -> None:
    """Write the result as JSON, whole or not at all."""
    with atomic_path(path, inputs=inputs) as tmp:
        srsly.write_json(tmp, to_json(result))
