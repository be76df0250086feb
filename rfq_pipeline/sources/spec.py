"""The typed description of a source: where it lives, how to page through it, how to parse it, how politely to ask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rfq_pipeline.sources.model import ListPage, ParsedRfq

Evidence = Literal["served_page", "second_hand", "none"]
EVIDENCE_MEANING: dict[str, str] = {
    "served_page": "parser and simulator follow pages as the site served them (verbatim fixtures)",
    "second_hand": "parser follows selectors from other people's scrapers of the live site; no served page seen",
    "none": "nothing real is known of the site's markup; the parser is a guess",
}
EmptyResult = Callable[[int, str], bool]  # (status, body) -> True when an error status means "no results"
ListParser = Callable[..., ListPage]  # (html: str, *, fetched_at: datetime) -> ListPage
DetailParser = Callable[[str, ParsedRfq], ParsedRfq]
Refiner = Callable[[ParsedRfq], ParsedRfq]


@dataclass(frozen=True)
class SourceSpec:
    """Everything the pipeline needs to know about one source. Each source module defines one as ``SPEC``."""

    name: str
    kind: Literal["marketplace", "loader"]
    site_url: str  # the public site; fetches go here unless a base-URL override or the simulator says otherwise
    listings: tuple[str, ...]  # listing paths relative to the base URL, each with a ``{page}`` placeholder
    detail_pattern: str  # how the site's detail URLs look, for people reading the registry
    parse_list: ListParser
    parse_detail: DetailParser | None
    cadence: str  # cron expression of the source's schedule (UTC)
    rate_per_minute: float  # token-bucket refill rate
    burst: int  # token-bucket capacity
    impersonate: str  # curl_cffi browser profile
    max_pages: int  # safety cap per listing and partition
    respect_robots: bool
    description: str
    page_size: int = 20  # entries per listing page; gives ``{offset}`` for APIs paged by offset
    breaker_threshold: int = 5  # consecutive failed fetches that open the circuit breaker
    breaker_cooldown_s: float = 900.0  # how long an open breaker keeps the source closed before one probe
    is_empty_result: EmptyResult | None = None  # for APIs that answer an empty query with an error status
    enabled: bool = True
    base_url: str = ""  # resolved at run time, see :func:`rfq_pipeline.sources.registry.resolve`
    # What the parser is built on (see EVIDENCE_MEANING), the fixture files that prove it (repository paths),
    # and what the site is known not to show, so nobody waits for a field that is never there.
    evidence: Evidence = "none"
    fixtures: tuple[str, ...] = ()
    known_gaps: tuple[str, ...] = ()
    # Whether a listing runs newest first. Keyword lists of EC21 and TradeKey do not, so their crawl cannot stop at
    # the first entry older than the window: it reads to the last page or the page cap.
    date_sorted: bool = True
    # False for a directory whose entries carry no posting day (biz-maps): its entries belong to every window, and
    # dates the fallback extractor might find on a card (a founding year) are not posting days.
    dated: bool = True
    # What the source knows of every lead that the fallback extractor cannot read off a redesigned page (biz-maps:
    # every company is in Japan); applied to each fallback entry.
    refine_fallback: Refiner | None = None
    # A regular expression with an ``id`` group that matches the site's detail links: the fallback extractor finds
    # leads by it when the selectors fail.
    detail_regex: str = ""
    disabled_reason: str = ""  # why the source is off by default (shown wherever the source is listed)
    # Sender domains of the marketplace's notification mails: forwarded to the inbound address, they are its RFQs.
    mail_domains: tuple[str, ...] = ()

    def list_url(self, listing: str, page: int, start: datetime | None = None, end: datetime | None = None) -> str:
        """Absolute URL of page ``page`` (1-based) of ``listing``.

        A listing may use ``{page}``, ``{offset}`` (``(page - 1) * page_size``) and, for sources queried by date,
        ``{start:%Y%m%d}`` / ``{end:%Y%m%d}`` (the posting-date window, end exclusive).
        """
        return self.base_url + listing.format(page=page, offset=(page - 1) * self.page_size, start=start, end=end)

    def queries_by_date(self, listing: str) -> bool:
        """Whether ``listing`` asks the site for the window's dates (its URL has ``{start...}`` or ``{end...}``): such
        a listing answers any window, so it has no reach to run out of."""
        return "{start" in listing or "{end" in listing

    @property
    def crawl_allowed(self) -> bool:
        """False for a source whose site may not be crawled at all (its terms or robots.txt forbid it)."""
        return not self.disabled_reason

    def describe(self) -> str:
        """The description people see in the UI and the CLI: what it collects, its evidence, why it is off."""
        lines = [self.description, f"Evidence: {self.evidence} ({EVIDENCE_MEANING[self.evidence]})."]
        if self.known_gaps:
            lines.append("Known gaps: " + "; ".join(self.known_gaps) + ".")
        if self.disabled_reason:
            lines.append(f"Off: {self.disabled_reason}")
        return "\n\n".join(lines)

    def absolute(self, path: str) -> str:
        """Absolute URL of a path found on a page (detail links are site-relative)."""
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)
