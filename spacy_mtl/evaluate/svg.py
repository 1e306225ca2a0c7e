"""The report's pictures as inline SVG: no image files, no script, no network.

Every text put into the SVG is escaped (html.escape), so a label cannot inject markup.
"""

from html import escape
from typing import Any, Dict, List, Sequence

CELL = 22
MARGIN = 170


def heat_map(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """The confusion matrix: gold by row, predicted by column; off-diagonal cells in red,
    the diagonal in blue, each shaded by its share of the row (its count written in it)."""
    n = len(labels)
    size = MARGIN + n * CELL + 10
    # The rotated column labels lean right, past the last column.
    width = size + MARGIN // 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="confusion" width="{width}" height="{size}" '
        f'viewBox="0 0 {width} {size}" font-family="sans-serif" font-size="11">'
    ]
    for i, label in enumerate(labels):
        y = MARGIN + i * CELL + CELL * 0.7
        x = MARGIN + i * CELL + CELL * 0.7
        parts.append(f'<text x="{MARGIN - 4}" y="{y:.1f}" text-anchor="end">{_short(label)}</text>')
        parts.append(
            f'<text transform="translate({x:.1f},{MARGIN - 4}) rotate(-60)">{_short(label)}</text>'
        )
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            parts.append(_cell(labels, i, j, count, count / total))
    parts.append("</svg>")
    return "".join(parts)


def _cell(labels: Sequence[str], i: int, j: int, count: int, share: float) -> str:
    x, y = MARGIN + j * CELL, MARGIN + i * CELL
    if count == 0:
        fill = "#f7f7f7"
    elif i == j:
        fill = f"rgba(33,102,172,{0.15 + 0.85 * share:.2f})"
    else:
        fill = f"rgba(202,0,32,{0.25 + 0.75 * share:.2f})"
    title = escape(f"gold {labels[i]}, predicted {labels[j]}: {count}")
    cell = (
        f'<rect class="cell" x="{x}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" '
        f'fill="{fill}"><title>{title}</title></rect>'
    )
    if count:
        color = "#fff" if share > 0.5 else "#000"
        cell += (
            f'<text x="{x + CELL / 2:.1f}" y="{y + CELL * 0.7:.1f}" text-anchor="middle" '
            f'font-size="9" fill="{color}" pointer-events="none">{count}</text>'
        )
    return cell


def reliability(calibration: Dict[str, Any], title: str) -> str:
    """Accuracy against mean confidence per bin, beside the diagonal of perfect calibration."""
    width, height, pad = 260, 260, 30
    plot = width - 2 * pad
    parts = [_frame(width, height, pad, title)]
    parts.append(
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{pad}" stroke="#999" '
        'stroke-dasharray="4"/>'
    )
    for row in calibration["bins"]:
        if not row["n"]:
            continue
        x = pad + row["lo"] * plot
        h = row["accuracy"] * plot
        tip = escape(
            f"confidence {row['lo']:.1f}-{row['hi']:.1f}: {row['n']} predictions, "
            f"accuracy {100 * row['accuracy']:.1f}%, mean confidence "
            f"{100 * row['confidence']:.1f}%"
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{plot / 10 - 1:.1f}" '
            f'height="{h:.1f}" fill="#2166ac"><title>{tip}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(calibration: Dict[str, Any], title: str) -> str:
    """Where the right (blue) and the wrong (red) predictions fall by confidence, each as a
    share of its own total; the tooltips give the counts."""
    width, height, pad = 260, 260, 30
    plot = width - 2 * pad
    bins: List[Dict[str, Any]] = calibration["bins"]
    # Each series as shares of its own total: right predictions far outnumber wrong ones,
    # and on one count scale the wrong ones' distribution would not show.
    totals = {key: sum(b[key] for b in bins) or 1 for key in ("right", "wrong")}
    top = max(b[key] / totals[key] for b in bins for key in totals) or 1
    parts = [_frame(width, height, pad, title)]
    for b in bins:
        x = pad + b["lo"] * plot
        for k, (key, color) in enumerate((("right", "#2166ac"), ("wrong", "#ca0020"))):
            h = b[key] / totals[key] / top * plot
            parts.append(
                f'<rect x="{x + k * plot / 20:.1f}" y="{height - pad - h:.1f}" '
                f'width="{plot / 20 - 1:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{b[key]} {key}, confidence {b['lo']:.1f}-{b['hi']:.1f}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _frame(width: int, height: int, pad: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">'
        f'<text x="{width / 2}" y="14" text-anchor="middle">{escape(title)}</text>'
        f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" '
        'fill="none" stroke="#333"/>'
        f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">confidence</text>'
        f'<text x="{pad - 4}" y="{pad + 4}" text-anchor="end">1</text>'
        f'<text x="{pad - 4}" y="{height - pad}" text-anchor="end">0</text>'
    )


def _short(label: str, length: int = 26) -> str:
    text = label if len(label) <= length else label[: length - 1] + "…"
    return escape(text)
