"""The front page and the docs say what the registry says: every source with its evidence grade, and live links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rfq_pipeline.sources.registry import SOURCES

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
SOURCES_DOC = (REPO / "docs" / "sources.md").read_text(encoding="utf-8")
README_GRADE = {"served_page": "served page", "second_hand": "second-hand", "none": "none"}


def _row(text: str, name: str) -> list[str]:
    rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"no table row for {name}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_source_has_its_evidence_grade_on_the_front_page_and_in_the_docs(name: str) -> None:
    grade = SOURCES[name].evidence
    assert _row(README, name)[1].startswith(README_GRADE[grade])
    assert _row(SOURCES_DOC, name)[1] == grade
    if SOURCES[name].disabled_reason:
        assert "off" in _row(README, name)[2] and "off" in _row(SOURCES_DOC, name)[3]


def test_readme_is_a_front_page_with_the_two_commands_and_live_links() -> None:
    assert len(README.splitlines()) < 150
    assert "make run" in README and "make test" in README
    for target in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)(?:#[\w-]+)?\)", README):
        assert (REPO / target).is_file(), target
    for page in (REPO / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]+)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).resolve().is_file(), (page.name, target)
