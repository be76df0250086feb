"""Every source on the pages its site really served: the fixtures under ``fixtures/<source>/``.

Each fixture is a verbatim excerpt of a served page with a provenance line; beside it, ``.expected.json`` lists each
lead as a reader of the page sees it (written by reading the page, not by running a parser) and ``.page.json`` the
page's own facts (its URL, when it was fetched, its paging). The parser must give every lead with every field; with
every class name of the page renamed (a redesign), the fallback extractor must still give every lead's title and URL.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.reading import lead_record, read_list_page
from rfq_pipeline.sources.registry import SOURCES

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
PAGES = sorted(FIXTURES.glob("*/*.excerpt.html"))
COMPARED = ("title", "url", "posted_date", "country", "country_code", "quantity", "buyer", "description")


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.excerpt.html')}"


def _sidecar(page: Path, suffix: str) -> Path:
    return page.with_name(page.name.removesuffix(".excerpt.html") + suffix)


def _fetched_at(page: Path) -> datetime:
    facts = _sidecar(page, ".page.json")
    if facts.exists():
        stamp = json.loads(facts.read_text(encoding="utf-8")).get("fetched_at")
        if stamp:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    return datetime(2026, 8, 27, 21, 0, tzinfo=UTC)


def normalized(value: Any) -> Any:
    """Whitespace runs as one space, empty as None: how a reader compares two renderings of one field."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def as_read(record: dict[str, Any]) -> dict[str, Any]:
    """A parsed lead in the fields of the expected files."""
    return {
        "title": record["title"],
        "url": record["url"],
        "posted_date": (record["posted_at"] or "")[:10] or None,
        "country": record["country"],
        "country_code": record["country_code"],
        "quantity": record["quantity"],
        "buyer": record["buyer"],
        "description": record["description"],
    }


def rename_classes(html: str) -> str:
    """The page after a redesign that renames every class (hashed names, as CSS-in-JS builds give)."""

    def renamed(match: re.Match[str]) -> str:
        names = " ".join("x" + hashlib.sha1(token.encode()).hexdigest()[:7] for token in match.group(2).split())
        return f"{match.group(1)}{names}{match.group(1)[-1]}"

    return re.sub(r"""(class=["'])([^"']*)["']""", renamed, html)


def test_there_are_served_pages_for_every_source_graded_so() -> None:
    for spec in SOURCES.values():
        listed = {Path(f).name for f in spec.fixtures if f.endswith(".excerpt.html")}
        on_disk = {p.name for p in PAGES if p.parent.name == spec.name}
        assert listed == on_disk, f"{spec.name}: registry lists {sorted(listed)}, fixtures/ has {sorted(on_disk)}"
        for fixture in spec.fixtures:
            assert (REPO / fixture).is_file(), fixture
        if spec.evidence == "served_page":
            assert spec.fixtures, f"{spec.name} is graded served_page without a fixture"


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_fixture_says_where_it_was_served(page: Path) -> None:
    first = page.read_text(encoding="utf-8").lstrip().split("\n", 1)[0]
    assert first.startswith("<!-- provenance:") and "served" in first and first.endswith("-->"), first[:200]
    assert re.search(r"https?://", first) and re.search(r"20\d\d-\d\d-\d\d", first), first[:200]
    assert _sidecar(page, ".expected.json").is_file()


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_lead_with_every_field(page: Path) -> None:
    spec = SOURCES[page.parent.name]
    expected = json.loads(_sidecar(page, ".expected.json").read_text(encoding="utf-8"))
    parsed = read_list_page(spec, page.read_text(encoding="utf-8"), fetched_at=_fetched_at(page))
    assert parsed.extraction == "selectors"
    got = {record["url"]: as_read(record) for record in map(lead_record, parsed.entries)}
    assert len(parsed.entries) >= len(expected)
    for lead in expected:
        assert lead["url"] in got, f"missing {lead['url']}"
        seen = got[lead["url"]]
        for name in COMPARED:
            assert normalized(seen[name]) == normalized(lead.get(name)), (lead["url"], name, seen[name], lead.get(name))
    assert {e.external_id for e in parsed.entries} >= {str(lead["external_id"]) for lead in expected}


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_paging_as_the_page_shows_it(page: Path) -> None:
    facts_path = _sidecar(page, ".page.json")
    if not facts_path.exists():
        pytest.skip("no page facts recorded for this fixture")
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    parsed = read_list_page(SOURCES[page.parent.name], page.read_text(encoding="utf-8"), fetched_at=_fetched_at(page))
    next_url = facts.get("next_page_url")
    assert parsed.has_next is bool(next_url)
    if next_url:
        assert parsed.next_url is not None and next_url.endswith(parsed.next_url.split("://", 1)[-1].split("/", 1)[-1])
    if facts.get("total_pages") is not None:
        assert parsed.total_pages == facts["total_pages"]


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_a_redesign_still_yields_every_lead_by_the_fallback(page: Path) -> None:
    spec = SOURCES[page.parent.name]
    expected = json.loads(_sidecar(page, ".expected.json").read_text(encoding="utf-8"))
    redesigned = rename_classes(page.read_text(encoding="utf-8"))
    if not expected:
        # An empty result whose message lost its class is indistinguishable from drift: it is reported, not hidden.
        with pytest.raises(PageParseError) as drift:
            read_list_page(spec, redesigned, fetched_at=_fetched_at(page))
        assert drift.value.kind == "layout_drift"
        return
    parsed = read_list_page(spec, redesigned, fetched_at=_fetched_at(page))
    assert parsed.extraction == "fallback" and "layout_drift" in parsed.drift
    found = {e.canonical_url.strip(): e for e in parsed.entries}
    for lead in expected:
        assert lead["url"] in found, f"fallback missed {lead['url']}"
        entry = found[lead["url"]]
        assert entry.title and entry.extraction == "fallback"
        # The fallback may read the title from JSON-LD, which keeps the poster's casing ("WANTED : ... CTC BOP").
        title, shown = normalized(entry.title).casefold(), normalized(lead["title"]).casefold()
        assert shown in title, (entry.title, lead["title"])
