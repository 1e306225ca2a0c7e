"""The evaluate command's terminal output: the same tables as the report, as text."""

from typing import Any, Dict

from wasabi import msg

from .tables import confused_table, intent_table, slot_error_table, slot_table, summary_table


def print_report(result: Dict[str, Any]) -> None:
    """Print the scores (%), per intent and slot type, slot errors and confused intents.

    result (Dict[str, Any]): The content of scores.json.
    """
    systems = [(name, result[name]) for name in ("pipeline", "compare") if name in result]
    msg.divider(
        f"Scores (%) on {result['test']}: {result['n_docs']} documents, "
        f"{result['n_docs_cats']} with intents, {result['n_docs_ents']} with slots"
    )
    _table(summary_table(systems))
    main = result["pipeline"]
    if main.get("cats_f_per_type"):
        msg.divider("Intents (pipeline)")
        _table(intent_table(main))
    if main.get("cats_top_confused"):
        msg.divider("Most confused intents (pipeline)")
        _table(confused_table(main))
    if main.get("ents_support") is not None:
        msg.divider("Slots (pipeline)")
        _table(slot_table(main))
        msg.divider("Slot errors by kind")
        _table(slot_error_table(systems))
    if "differences" in result:
        msg.info(f"The two systems differ on {result['differences']} documents.")


def _table(table) -> None:
    header, rows = table
    if rows:
        msg.table(rows, header=header, divider=True, aligns=["l"] + ["r"] * (len(header) - 1))
