"""The README and docs/ as a reader follows them: every relative link reaches a file, and an anchor a heading."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces as hyphens."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in page.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_reaches_its_file_and_heading(page):
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+://", link):
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link} (no such file)")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link} (no such heading)")
    assert broken == []


def test_the_readme_is_a_front_door():
    """The two set-up commands first, a path to a first table within 60 lines, every docs/ page linked."""
    text = (REPO / "README.md").read_text()
    first = text.splitlines()[:60]
    assert first[3].startswith("pip install") and first[4].startswith("pip install") and "pytest" in first[4]
    assert any(line.startswith("gpbench table ") for line in first)
    assert [page.name for page in PAGES[1:] if f"(docs/{page.name}" not in text] == []
