"""Plain data types shared by every source parser and the crawler.

Parsers are pure functions from HTML (or JSON) text to these records; they never fetch, never touch the database and
never import Dagster, so they are tested directly on saved real pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Extraction = Literal["selectors", "fallback"]


class PageParseError(ValueError):
    """A page that cannot be trusted: layout drift, truncation or an anti-bot page.

    ``kind`` is a short machine-readable reason (``layout_drift``, ``truncated``, ``challenge``, ``empty``) recorded
    as a failed check on the raw page instead of producing garbage rows.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(frozen=True)
class ParsedRfq:
    """One buyer request as a marketplace shows it, before normalization.

    Raw text fields keep what the page said (``quantity_text``, ``country_raw``, ``posted_text``) so that the
    normalization stage can be improved and re-run without re-fetching.
    """

    source: str
    external_id: str
    canonical_url: str
    title: str
    posted_at: datetime | None  # timezone-aware UTC; None when the page gives no usable date
    posted_text: str = ""
    description: str = ""
    quantity_text: str = ""
    buyer_name: str = ""
    buyer_company: str = ""
    country_raw: str = ""
    country_code: str = ""  # ISO 3166-1 alpha-2 when the page states it (Alibaba's countrySimple)
    detail_path: str = ""  # path (relative to the source base URL) of a detail page worth fetching, if any
    attributes: dict[str, Any] = field(default_factory=dict)  # source-specific extras (quotes left, flags, terms)
    # "selectors": the source's own parser read it; "fallback": the generic extractor found it after layout drift
    extraction: Extraction = "selectors"


@dataclass(frozen=True)
class ListPage:
    """What one listing page yielded: its entries in page order and where the next page is.

    ``next_url`` is the next page's link as the page itself gives it (absolute or site-relative); the crawler follows
    it when set, since some sites carry state in their paging links, and otherwise builds the URL from the listing.
    """

    entries: list[ParsedRfq]
    has_next: bool
    total_pages: int | None = None
    next_url: str | None = None
    total_entries: int | None = None  # the count the page states ("1-20 out of 267"), when it states one
    page_number: int | None = None  # the page the site says it served (its pagination's current mark), if it says
    extraction: Extraction = "selectors"
    drift: str = ""  # with extraction "fallback": why the source's selectors failed
