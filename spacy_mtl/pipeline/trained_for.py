"""What a head's weights were trained for, stored inside the weights and checked on load.

A head's labels and settings live in its `cfg` file, its weights in `model`. Edit
`cfg` (swap two labels, rename one, flip `exclusive_classes`) and the pipeline
would load silently and relabel every output, or turn a softmax into sigmoids. So
`initialize` records, in the model's attrs (which thinc writes with the weights,
by `to_disk` and `to_bytes` alike), the settings the output layer is trained for:
the labels in order, and what else shapes the output (exclusivity, the tag
layout). After loading, the head compares the record with its `cfg`, and with its
config (a `spacy.load(..., config=...)` override would otherwise be ignored, as
`cfg` wins), and raises naming the component, the file and what differs.

Pipelines saved before the record existed have none and load as before.
"""

from typing import Any, Dict, List, Optional

from thinc.api import Model

# The key in the head model's attrs; thinc serializes attrs with the weights.
TRAINED_FOR_ATTR = "spacy_mtl_trained_for"


def record_trained_for(model: Model, settings: Dict[str, Any]) -> None:
    """Store the settings the weights are trained for in the model's attrs.

    model (Model): The head's model.
    settings (Dict[str, Any]): JSON-like values (lists, strings, booleans).
    """
    model.attrs[TRAINED_FOR_ATTR] = {key: _plain(value) for key, value in settings.items()}


def recorded_trained_for(model: Model) -> Optional[Dict[str, Any]]:
    """The stored settings, or None for weights saved before the record existed."""
    record = model.attrs.get(TRAINED_FOR_ATTR)
    return record if isinstance(record, dict) else None


def forget_trained_for(model: Model) -> None:
    """Drop the record before loading weights, so a record from other weights cannot stay."""
    model.attrs.pop(TRAINED_FOR_ATTR, None)


def differences(record: Dict[str, Any], settings: Dict[str, Any]) -> List[str]:
    """One line for each setting whose value differs from the record's.

    record (Dict[str, Any]): What the weights were trained for.
    settings (Dict[str, Any]): The head's current values of (some of) those settings.
    RETURNS (List[str]): "KEY = VALUE, but the weights were trained for KEY = VALUE"
        lines; settings the record lacks are not compared.
    """
    lines = []
    for key, value in settings.items():
        if key not in record or _plain(value) == record[key]:
            continue
        lines.append(
            f"{key} = {_plain(value)!r}, but the weights were trained for "
            f"{key} = {record[key]!r}{_order_note(record[key], _plain(value))}"
        )
    return lines


def _order_note(trained: Any, given: Any) -> str:
    if isinstance(trained, list) and isinstance(given, list) and sorted(trained) == sorted(given):
        return " (the same names in another order: every output would be relabelled)"
    return ""


def _plain(value: Any) -> Any:
    """Lists for tuples, as msgpack gives them back."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
