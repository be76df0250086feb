"""The typed description of a source: where it lives, how to page through it, how to parse it, how politely to ask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rfq_pipeline.sources.model import ListPage, ParsedRfq

EmptyResult = Callable[[int, str], bool]  # (status, body) -> True when an error status means "no results"
ListParser = Callable[..., ListPage]  # (html: str, *, fetched_at: datetime) -> ListPage
DetailParser = Callable[[str, ParsedRfq], ParsedRfq]


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

    def list_url(self, listing: str, page: int, start: datetime | None = None, end: datetime | None = None) -> str:
        """Absolute URL of page ``page`` (1-based) of ``listing``.

        A listing may use ``{page}``, ``{offset}`` (``(page - 1) * page_size``) and, for sources queried by date,
        ``{start:%Y%m%d}`` / ``{end:%Y%m%d}`` (the posting-date window, end exclusive).
        """
        return self.base_url + listing.format(page=page, offset=(page - 1) * self.page_size, start=start, end=end)

    def absolute(self, path: str) -> str:
        """Absolute URL of a path found on a page (detail links are site-relative)."""
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)
