"""Walks a source's listings back through a posting-date window and parses what it finds.

A listing that runs newest first is collected by paging until a page's oldest entry is older than the window's
start; backfilling an old day simply pages deeper. A listing that is not sorted by date (EC21's and TradeKey's
keyword lists) has no such point: it is read to its last page or the page cap, and the entries of the window are
kept. Either way the pages read, the reason the crawl stopped and how far back the listing reached are recorded per
listing, and each day of the window is then known to be read, beyond the listing's reach, or only partly read.
Next pages are reached by the link the page itself gives when it gives one. Every fetched page, good or bad, is
handed to a :class:`PageSink` (which archives the bytes and indexes the fetch) before anything else happens to it, so
no fetch goes unrecorded and a page that cannot be parsed becomes a recorded failure, never rows of garbage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol
from urllib.parse import urljoin, urlsplit

from rfq_pipeline.fetch.http_client import FetchResponse
from rfq_pipeline.fetch.polite import SourceUnavailable
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.reading import read_list_page
from rfq_pipeline.sources.spec import SourceSpec

PageKind = Literal["list", "detail"]


class Fetcher(Protocol):
    """Anything that GETs a URL: the polite fetcher in runs, the bare HTTP client in parser tests."""

    def get(self, url: str) -> FetchResponse:
        """Fetch one page."""
        ...


FETCH_FAILURES = frozenset({"http_error", "timeout", "network_error", "challenge", "robots_disallowed"})
ParseStatus = Literal["ok", "failed", "skipped"]


class PageSink(Protocol):
    """Records a fetched page; returns an id that the RFQs parsed from it will reference."""

    def record(
        self, *, page_kind: PageKind, response: FetchResponse, parse_status: ParseStatus, error: str | None
    ) -> int | None:
        """Archive and index one fetch."""
        ...


@dataclass(frozen=True)
class PageFailure:
    """A page that did not yield entries, and why."""

    url: str
    page_kind: PageKind
    reason: str  # fetch outcome (timeout, http_error, challenge, ...) or parse error kind (truncated, layout_drift)
    detail: str

    @property
    def is_fetch_failure(self) -> bool:
        """True when the page never arrived (the site refused or failed), as opposed to arriving malformed."""
        return self.reason in FETCH_FAILURES


@dataclass(frozen=True)
class FoundRfq:
    """A parsed RFQ and the raw page it came from."""

    rfq: ParsedRfq
    raw_page_id: int | None


# Why paging a listing stopped. The first three end a listing normally; the others cut it short.
StopCode = Literal[
    "window_start",  # a page reached entries older than the window: every day of the window was read
    "end_of_listing",  # the site had no further page
    "page_cap",  # the source's page cap was reached first
    "breaker_open",  # the circuit breaker opened (or was open): nothing more was sent
    "robots",  # robots.txt disallows the next page
    "challenge",  # the site answered with a bot challenge or block
    "page_failed",  # a page could not be fetched or parsed
    "page_mismatch",  # the site answered another page than the one asked for
    "repeated_page",  # a page linked back to a page already read
]
# Most telling first: the crawl's ``stopped_by`` is the most telling of its listings' reasons.
STOP_PRIORITY: tuple[StopCode, ...] = (
    "breaker_open", "robots", "challenge", "page_failed", "page_mismatch", "repeated_page", "page_cap",
    "end_of_listing", "window_start",
)  # fmt: skip
DayCoverage = Literal["read", "beyond_reach", "partly_read"]


@dataclass(frozen=True)
class ListingStop:
    """How the paging of one listing ended."""

    code: StopCode
    detail: str  # what a person reads: "passed the window start on page 4"
    oldest_seen: date | None = None  # oldest posting day of any entry on the pages read (in the window or not)

    def coverage(self, day: date, *, date_sorted: bool, dated: bool, dates_in_query: bool) -> DayCoverage:
        """Whether this listing's crawl read everything it shows of ``day`` (a day of the crawled window).

        A listing ordered newest first covers every day newer than the oldest entry it reached. When it ended or hit
        the page cap, days older than that entry lie beyond its reach, and the oldest day itself was read whole only
        if the listing ended. A list in no date order covers a day only when it was read to its end. A listing
        queried by date, or one whose entries carry no date, has no reach to run out of.
        """
        if self.code == "window_start":
            return "read"
        complete = self.code == "end_of_listing"
        if not dated or dates_in_query:
            return "read" if complete or (not dated and self.code == "page_cap") else "partly_read"
        if self.oldest_seen is None:
            return "read" if complete else "partly_read"  # an empty listing shows nothing of any day
        if not date_sorted:
            if not complete:
                return "partly_read"
            return "beyond_reach" if day < self.oldest_seen else "read"
        if day > self.oldest_seen:
            return "read"
        if day == self.oldest_seen:
            return "read" if complete else "partly_read"
        return "beyond_reach" if self.code in ("end_of_listing", "page_cap") else "partly_read"


@dataclass
class CrawlResult:
    """Everything one crawl of one window produced."""

    found: list[FoundRfq] = field(default_factory=list)
    pages_fetched: int = 0
    failures: list[PageFailure] = field(default_factory=list)
    stops: dict[str, ListingStop] = field(default_factory=dict)  # listing -> how its paging ended
    pages_read: dict[str, int] = field(default_factory=dict)  # listing -> list pages fetched
    fallback_pages: list[str] = field(default_factory=list)  # list pages read by the fallback extractor
    unavailable: str | None = None  # set when the circuit breaker stopped the crawl

    @property
    def pages_failed(self) -> int:
        """Pages that produced no entries because of a fetch or parse failure."""
        return len(self.failures)

    @property
    def stop_reasons(self) -> dict[str, str]:
        """Per listing, why paging stopped, as a person reads it."""
        return {listing: stop.detail for listing, stop in self.stops.items()}

    @property
    def stopped_by(self) -> StopCode | None:
        """The most telling reason any listing stopped (``None`` only when no listing was read)."""
        codes = {stop.code for stop in self.stops.values()}
        return next((code for code in STOP_PRIORITY if code in codes), None)

    @property
    def outcome(self) -> Literal["ok", "partial", "failed", "skipped"]:
        """``skipped``: the breaker was open and nothing was sent; ``failed``: no page could be fetched and nothing
        was found; ``partial``: some pages failed or arrived malformed, or the breaker stopped the crawl midway."""
        if self.unavailable and self.pages_fetched == 0:
            return "skipped"
        if self.failures and not self.found and all(f.is_fetch_failure for f in self.failures):
            return "failed"
        return "partial" if self.failures or self.unavailable else "ok"

    def listing_summary(self) -> dict[str, dict[str, object]]:
        """Per listing: pages read, why paging stopped and how far back it reached (metadata and the crawl record)."""
        return {
            listing: {
                "pages_read": self.pages_read.get(listing, 0),
                "stopped_by": stop.code,
                "stopped": stop.detail,
                "oldest_seen": stop.oldest_seen.isoformat() if stop.oldest_seen else None,
            }
            for listing, stop in self.stops.items()
        }

    def count(self, *reasons: str) -> int:
        """Failures with one of ``reasons`` (``challenge``, ``truncated``, ``layout_drift``, ``timeout``...)."""
        return sum(1 for failure in self.failures if failure.reason in reasons)


def posted_in_window(entry: ParsedRfq, start: datetime, end: datetime) -> bool:
    """Whether an entry belongs to the posting-date window ``[start, end)``; undated entries always do."""
    return entry.posted_at is None or start <= entry.posted_at < end


def crawl_window(spec: SourceSpec, client: Fetcher, sink: PageSink, start: datetime, end: datetime) -> CrawlResult:
    """Collect the entries of ``spec`` posted in ``[start, end)`` (UTC), with their detail pages where there are any.

    An entry listed under several listings is returned once.
    """
    result = CrawlResult()
    seen: set[str] = set()
    for listing in spec.listings:
        reach = _Reach()
        try:
            code, detail = _crawl_listing(spec, client, sink, listing, start, end, result, seen, reach)
        except SourceUnavailable as exc:
            # The breaker opened (or was open): keep what was found, send nothing more to this source.
            result.unavailable = exc.reason
            result.stops[listing] = ListingStop("breaker_open", f"stopped: {exc.reason}", reach.oldest)
            break
        result.stops[listing] = ListingStop(code, detail, reach.oldest)
    return result


@dataclass
class _Reach:
    """The oldest posting day seen on a listing's pages so far."""

    oldest: date | None = None

    def see(self, page: ListPage) -> None:
        days = [entry.posted_at.date() for entry in page.entries if entry.posted_at is not None]
        if days and (self.oldest is None or min(days) < self.oldest):
            self.oldest = min(days)


def _crawl_listing(
    spec: SourceSpec,
    client: Fetcher,
    sink: PageSink,
    listing: str,
    start: datetime,
    end: datetime,
    result: CrawlResult,
    seen: set[str],
    reach: _Reach,
) -> tuple[StopCode, str]:
    url = spec.list_url(listing, 1, start, end)
    fetched: set[str] = set()
    result.pages_read[listing] = 0
    for page_no in range(1, spec.max_pages + 1):
        fetched.add(url)
        response = client.get(url)
        result.pages_fetched += 1
        result.pages_read[listing] += 1
        page, page_id = _parse_list_page(spec, sink, response, result, client=client)
        if page is None:
            return _failure_code(result), f"failed on page {page_no}"
        if page.page_number is not None and page.page_number != page_no:
            # A site that rejects a paging token answers with another page (biz-maps: page 1); its entries were
            # read already, and its links would walk the list again from there.
            return "page_mismatch", f"the site answered page {page.page_number} for page {page_no}"
        reach.see(page)
        for entry in page.entries:
            if entry.external_id in seen or not posted_in_window(entry, start, end):
                continue
            seen.add(entry.external_id)
            result.found.append(_with_detail(spec, client, sink, entry, page_id, result))
        dated = [e.posted_at for e in page.entries if e.posted_at is not None]
        if spec.date_sorted and dated and min(dated) < start:
            return "window_start", f"passed the window start on page {page_no}"
        if not page.has_next:
            return "end_of_listing", f"last page ({page_no})"
        url = next_page_url(spec, listing, response.url, page, page_no, start, end)
        if url in fetched:
            return "repeated_page", f"page {page_no} links to a page already read ({url})"
    unsorted = "" if spec.date_sorted else "; the list is not sorted by date, so it is read to the cap"
    return "page_cap", f"reached the page cap ({spec.max_pages} pages{unsorted})"


def _failure_code(result: CrawlResult) -> StopCode:
    """Why the page that ended a listing failed: robots.txt, a challenge, or anything else."""
    reason = result.failures[-1].reason if result.failures else ""
    if reason == "robots_disallowed":
        return "robots"
    if reason == "challenge":
        return "challenge"
    return "page_failed"


def next_page_url(
    spec: SourceSpec, listing: str, current_url: str, page: ListPage, page_no: int, start: datetime, end: datetime
) -> str:
    """The URL of the page after ``page``: its own next link when it gives one, else the listing's page template.

    A link is resolved in the site's own URL space and then moved onto the source's base URL, so the same page
    works against the real site, a base-URL override and the simulator.
    """
    if not page.next_url:
        return spec.list_url(listing, page_no + 1, start, end)
    site = spec.site_url.rstrip("/")
    path = current_url[len(spec.base_url) :] if current_url.startswith(spec.base_url) else urlsplit(current_url).path
    resolved = urlsplit(urljoin(site + (path or "/"), page.next_url))
    return spec.base_url + (resolved.path or "/") + (f"?{resolved.query}" if resolved.query else "")


def _parse_list_page(
    spec: SourceSpec, sink: PageSink, response: FetchResponse, result: CrawlResult, *, client: Fetcher
) -> tuple[ListPage | None, int | None]:
    page, page_id, error = _try_parse_list(spec, sink, response, result)
    if error is not None and error.kind == "truncated":
        # A cut-off page is usually a dropped connection rather than the site's answer: fetch it once more.
        response = client.get(response.url)
        result.pages_fetched += 1
        page, page_id, error = _try_parse_list(spec, sink, response, result)
    return page, page_id


def _try_parse_list(
    spec: SourceSpec, sink: PageSink, response: FetchResponse, result: CrawlResult
) -> tuple[ListPage | None, int | None, PageParseError | None]:
    if not response.ok:
        if spec.is_empty_result is not None and spec.is_empty_result(response.status or 0, response.text):
            # Some APIs answer "no matches" with an error status (openFDA: 404 NOT_FOUND): an empty page.
            page_id = sink.record(page_kind="list", response=response, parse_status="ok", error=None)
            return ListPage([], has_next=False), page_id, None
        sink.record(page_kind="list", response=response, parse_status="skipped", error=response.error)
        result.failures.append(PageFailure(response.url, "list", response.outcome, response.error or ""))
        return None, None, None
    try:
        page = read_list_page(spec, response.text, fetched_at=response.fetched_at)
    except PageParseError as exc:
        sink.record(page_kind="list", response=response, parse_status="failed", error=str(exc))
        result.failures.append(PageFailure(response.url, "list", exc.kind, str(exc)))
        return None, None, exc
    note = None
    if page.extraction == "fallback":
        # The rows are kept, and the page says in its index why they were read without the source's selectors.
        note = f"fallback extractor used: {page.drift}"
        result.fallback_pages.append(response.url)
    page_id = sink.record(page_kind="list", response=response, parse_status="ok", error=note)
    return page, page_id, None


def _with_detail(
    spec: SourceSpec,
    client: Fetcher,
    sink: PageSink,
    entry: ParsedRfq,
    list_page_id: int | None,
    result: CrawlResult,
) -> FoundRfq:
    """Enrich an entry from its detail page; on any failure keep the listing's version and record why."""
    if spec.parse_detail is None or not entry.detail_path:
        return FoundRfq(entry, list_page_id)
    response = client.get(spec.absolute(entry.detail_path))
    result.pages_fetched += 1
    if not response.ok:
        sink.record(page_kind="detail", response=response, parse_status="skipped", error=response.error)
        result.failures.append(PageFailure(response.url, "detail", response.outcome, response.error or ""))
        return FoundRfq(entry, list_page_id)
    try:
        detailed = spec.parse_detail(response.text, entry)
    except PageParseError as exc:
        sink.record(page_kind="detail", response=response, parse_status="failed", error=str(exc))
        result.failures.append(PageFailure(response.url, "detail", exc.kind, str(exc)))
        return FoundRfq(entry, list_page_id)
    page_id = sink.record(page_kind="detail", response=response, parse_status="ok", error=None)
    return FoundRfq(detailed, page_id)
