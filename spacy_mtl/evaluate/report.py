"""report.html: one self-contained page with the scores, the confusion matrix, the slot
table, calibration where there are confidences, the comparison and the error browser.

Every text from the corpus or the pipeline is escaped (html.escape, or displaCy's
own escaping for the renderings); the pictures are inline SVG and the style and
script are inline (page_assets), so the page opens offline from a file.
"""

import json
from html import escape
from typing import Any, Dict, List, Sequence

from .page_assets import CSS, JS
from .slot_errors import KIND_TITLES, KINDS
from .svg import heat_map, histogram, reliability
from .tables import (
    confused_table,
    intent_table,
    slot_error_table,
    slot_table,
    summary_table,
)


def render_report(result: Dict[str, Any], errors: List[Dict], diffs: List[Dict]) -> str:
    """The whole page.

    result (Dict[str, Any]): The content of scores.json.
    errors (List[Dict]): The pipeline's error records (browse.error_records).
    diffs (List[Dict]): The documents where the two systems differ (compare.differences).
    RETURNS (str): The HTML.
    """
    systems = [(name, result[name]) for name in ("pipeline", "compare") if name in result]
    main = result["pipeline"]
    models = result["models"]
    title = f"Evaluation of {' + '.join(models['pipeline'])} on {result['test']}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{result['n_docs']} documents: {result['n_docs_cats']} with intents, "
        f"{result['n_docs_ents']} with slots; read with "
        f"{'their own tokens' if result['gold_tokens'] else 'the pipeline tokenizer'}. "
        "Scores in percent; each task is scored on the documents annotated for it.</p>",
        "<h2>Scores</h2>",
    ]
    if "compare" in result:
        body.append(
            f"<p>pipeline: {escape(' + '.join(models['pipeline']))}; compare: "
            f"{escape(' + '.join(models['compare']))}</p>"
        )
    body += [html_table(summary_table(systems), "summary")]
    body += intent_section(main) + slot_section(systems) + calibration_section(main)
    if "compare" in result:
        body += difference_section(diffs)
    body += error_section(errors, main)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + f"<script>{JS}</script></body></html>"
    )


def html_table(table, table_id: str = "") -> str:
    header, rows = table
    attr = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    lines = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"


def intent_section(scores: Dict[str, Any]) -> List[str]:
    if not scores.get("cats_f_per_type"):
        return []
    rule = (
        f"multi-label, a label is predicted at probability &ge; {scores['threshold']}"
        if scores.get("multi_label")
        else "exclusive: the most probable intent"
    )
    parts = ["<h2>Intents</h2>", f'<p class="note">Decision rule: {rule}.</p>']
    parts.append(html_table(intent_table(scores), "intents"))
    confusion = scores.get("cats_confusion")
    if confusion:
        parts += [
            "<h3>Confusion matrix</h3>",
            '<p class="note">Rows: gold intent; columns: predicted. Ordered so that intents '
            "confused with each other sit together; red cells are errors, shaded by their "
            "share of the row. Hover a cell for its count.</p>",
            '<div class="figures">',
            heat_map(confusion["labels"], confusion["matrix"]),
            "<div><h3>Most confused pairs</h3>"
            + html_table(confused_table(scores), "confused")
            + "</div>",
            "</div>",
        ]
    return parts


def slot_section(systems: Sequence) -> List[str]:
    main = systems[0][1]
    if main.get("ents_support") is None:
        return []
    return [
        "<h2>Slots</h2>",
        html_table(slot_table(main), "slots"),
        "<h3>Slot errors by kind</h3>",
        '<p class="note">Each gold slot not predicted exactly is one error (wrong type, wrong '
        "boundary, both, or missed); a prediction that overlaps no gold slot is spurious. "
        "Predictions on tokens without gold annotation are not counted.</p>",
        html_table(slot_error_table(list(systems)), "slot-errors"),
    ]


def calibration_section(scores: Dict[str, Any]) -> List[str]:
    confidence = scores.get("confidence")
    if not confidence:
        return []
    parts = [
        "<h2>Confidence</h2>",
        '<p class="note">The pipeline\'s own confidences (doc._.intent_confidence, '
        "ent._.confidence). Reliability: accuracy per confidence bin against the diagonal of "
        "perfect calibration; ECE is the expected calibration error (%). Histograms: each of "
        "the right and the wrong predictions as shares of their own number. Hover for counts.</p>",
        '<div class="figures">',
    ]
    for task, calib in confidence.items():
        parts.append(reliability(calib, f"{task}: reliability (ECE {100 * calib['ece']:.2f})"))
        parts.append(histogram(calib, f"{task}: share of right (blue) / wrong (red)"))
    return parts + ["</div>"]


def difference_section(diffs: List[Dict]) -> List[str]:
    parts = [f"<h2>Where the two systems differ ({len(diffs)} documents)</h2>"]
    for diff in diffs:
        meta = f'<div class="meta">#{diff["index"]}</div>'
        parts.append(f'<div class="error">{meta}<div class="side">')
        for name in ("pipeline", "compare"):
            parts.append(f"<div><b>{name}</b>{_entry_body(diff[name])}</div>")
        parts.append("</div></div>")
    return parts


def error_section(errors: List[Dict], scores: Dict[str, Any]) -> List[str]:
    intents = sorted({i for e in errors for i in e["gold_intents"] + e["predicted_intents"]})
    slots = sorted({s for e in errors for s in e["slot_types"]})
    parts = [
        f"<h2>Errors ({len(errors)} documents)</h2>",
        '<div class="filters">intent '
        + _select("intent-filter", intents, {})
        + " slot type "
        + _select("slot-filter", slots, {})
        + " slot error "
        + _select("kind-filter", list(KINDS), KIND_TITLES)
        + ' <span id="shown-count"></span></div><div id="errors">',
    ]
    for record in errors:
        kinds = sorted({e["kind"] for e in record["slot_errors"]})
        attrs = " ".join(
            f'data-{key}="{escape(json.dumps(value))}"'
            for key, value in (
                ("intents", record["gold_intents"] + record["predicted_intents"]),
                ("slots", record["slot_types"]),
                ("kinds", kinds),
            )
        )
        parts.append(
            f'<div class="error" {attrs}><div class="meta">#{record["index"]}</div>'
            f"{_entry_body(record)}</div>"
        )
    return parts + ["</div>"]


def _entry_body(record: Dict[str, Any]) -> str:
    parts = [f"<div>{escape(record['text'])}</div>"]
    if record["gold_intents"]:
        cls = "wrong" if record["intent_wrong"] else "right"
        parts.append(
            '<div><span class="label">intent</span>'
            f"gold {escape(', '.join(record['gold_intents']))}"
            f' &rarr; <span class="{cls}">'
            f"{escape(', '.join(record['predicted_intents']) or '(none)')}</span></div>"
        )
    for error in record["slot_errors"]:
        gold, pred = error["gold"], error["predicted"]
        parts.append(
            f'<div><span class="label">{escape(KIND_TITLES[error["kind"]])}</span>'
            f"gold {_slot(gold)} &rarr; predicted {_slot(pred)}</div>"
        )
    if record["gold_html"]:
        parts.append(f'<div><span class="label">gold</span>{record["gold_html"]}</div>')
    if record["predicted_html"]:
        parts.append(f'<div><span class="label">predicted</span>{record["predicted_html"]}</div>')
    return "".join(parts)


def _slot(span) -> str:
    if span is None:
        return "&mdash;"
    return f"<b>{escape(span['text'])}</b> ({escape(span['label'])})"


def _select(element_id: str, values: List[str], titles: Dict[str, str]) -> str:
    options = "".join(
        f'<option value="{escape(v)}">{escape(titles.get(v, v))}</option>' for v in values
    )
    return f'<select id="{element_id}"><option value="">all</option>{options}</select>'
