"""README.md, docs/*.md and benchmarks/README.md: every relative link and #anchor resolves;
the README stays short.

An anchor is checked against the target file's headings, slugged as GitHub slugs them:
lowercase, markup and punctuation other than hyphens and underscores removed, each space a
hyphen, and a repeated heading's slug suffixed -1, -2, ...
"""

import re
from pathlib import Path
from typing import Iterator, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md"] + sorted(
    (ROOT / "docs").glob("*.md")
)
README_MAX_LINES = 300

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"`+[^`]*`+")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(path: Path) -> Iterator[Tuple[int, str]]:
    """Yield (line number, line) for the lines outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> Set[str]:
    """Every anchor the headings of a Markdown file give."""
    seen: Set[str] = set()
    counts = {}
    for _, line in prose_lines(path):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = counts.get(base, 0)
        counts[base] = count + 1
        seen.add(base if count == 0 else f"{base}-{count}")
    return seen


def links(path: Path) -> List[Tuple[int, str]]:
    """Every link target in a file's prose (not in code)."""
    found = []
    for number, line in prose_lines(path):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            found.append((number, match.group(1)))
    return found


def relative_links() -> List[Tuple[Path, int, str]]:
    return [
        (page, number, target)
        for page in PAGES
        for number, target in links(page)
        if not SCHEME.match(target)
    ]


def test_slug_is_githubs():
    assert slug("Training from separate corpora") == "training-from-separate-corpora"
    assert slug("Languages: `--nlp.lang`, and Chinese") == "languages---nlplang-and-chinese"
    assert slug("Task balancing under accumulate_gradient") == (
        "task-balancing-under-accumulate_gradient"
    )
    assert slug("Accuracy levers (issue 13), chosen on the valid splits") == (
        "accuracy-levers-issue-13-chosen-on-the-valid-splits"
    )


def test_pages_have_links():
    assert len(PAGES) > 1, "docs/*.md not found"
    assert relative_links(), "no relative link found: the link pattern is broken"


@pytest.mark.parametrize(
    "page,number,target",
    relative_links(),
    ids=lambda value: str(value.relative_to(ROOT)) if isinstance(value, Path) else None,
)
def test_relative_link_resolves(page: Path, number: int, target: str):
    where = f"{page.relative_to(ROOT)}:{number}: {target}"
    file_part, _, anchor = target.partition("#")
    linked = (page.parent / file_part).resolve() if file_part else page
    assert linked.exists(), f"{where}: {file_part} does not exist"
    if anchor and linked.suffix == ".md":
        assert anchor in anchors(linked), f"{where}: no heading of {linked.name} has that anchor"


def test_readme_is_short():
    count = len((ROOT / "README.md").read_text(encoding="utf8").splitlines())
    assert count < README_MAX_LINES, f"README.md has {count} lines; the reference goes to docs/"
