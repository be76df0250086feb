"""Collects one source's days end to end: crawl, archive raw pages, upsert RFQs, record the crawl per day.

A run of several days reads the source once for the whole range (:func:`ingest_range`); days beyond what the
listings show are reported, not crawled. The Dagster asset of every source is a thin wrapper around it.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from psycopg.types.json import Jsonb

from rfq_pipeline.db import repository
from rfq_pipeline.db.database import Database
from rfq_pipeline.fetch.breaker import CircuitBreaker
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient
from rfq_pipeline.fetch.polite import FetchStats, PoliteFetcher
from rfq_pipeline.fetch.rate_limit import RateLimit, SharedRateLimiter
from rfq_pipeline.sources.crawl import CrawlResult, DayCoverage, FoundRfq, PageKind, ParseStatus, crawl_window
from rfq_pipeline.sources.model import ParsedRfq
from rfq_pipeline.sources.reach import ListingReach, beyond_reach, day_coverage, reach_seen
from rfq_pipeline.sources.spec import SourceSpec
from rfq_pipeline.store.object_store import ObjectStore


def day_window(day: date) -> tuple[datetime, datetime]:
    """The UTC posting-date window ``[day 00:00, day+1 00:00)`` of a daily partition."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def raw_page_key(source: str, day: date, sha256: str) -> str:
    """Object key of an archived page: ``raw/<source>/<date>/<sha256>.html.gz``."""
    return f"raw/{source}/{day.isoformat()}/{sha256}.html.gz"


class RawPageArchive:
    """A :class:`~rfq_pipeline.sources.crawl.PageSink` that gzips page bytes into the object store and indexes them.

    Bytes are written before the index row, so an indexed page always has its object; identical bytes map to the
    same key, so re-crawling does not duplicate the archive.
    """

    def __init__(self, db: Database, store: ObjectStore, source: str, day: date, run_id: str) -> None:
        self.db = db
        self.store = store
        self.source = source
        self.day = day
        self.run_id = run_id

    def record(
        self, *, page_kind: PageKind, response: FetchResponse, parse_status: ParseStatus, error: str | None
    ) -> int | None:
        """Archive the body (if any) and upsert its ``raw_pages`` row."""
        sha256 = object_key = None
        if response.body:
            sha256 = hashlib.sha256(response.body).hexdigest()
            object_key = raw_page_key(self.source, self.day, sha256)
            if not self.store.exists(object_key):
                # mtime=0 keeps the gzip bytes a pure function of the page, so identical pages are identical objects
                self.store.put(object_key, gzip.compress(response.body, mtime=0), content_type="application/gzip")
        with self.db.connection() as conn:
            return repository.record_raw_page(
                conn,
                {
                    "source": self.source,
                    "url": response.url,
                    "page_kind": page_kind,
                    "partition_date": self.day,
                    "content_sha256": sha256,
                    "object_key": object_key,
                    "byte_size": len(response.body) if response.body else None,
                    "http_status": response.status,
                    "fetch_status": response.outcome,
                    "parse_status": parse_status,
                    "error": error,
                    "fetched_at": response.fetched_at,
                    "run_id": self.run_id,
                },
            )


DayStatus = str  # ok | partial | failed | skipped | out_of_reach


@dataclass(frozen=True)
class DayReport:
    """What a crawl collected for one day (one partition) of its range."""

    day: date
    status: DayStatus
    found: list[FoundRfq]
    counts: repository.UpsertCounts
    field_fill: dict[str, float]
    note: str = ""  # why a day is out of reach or only partly read, for people


@dataclass(frozen=True)
class IngestReport:
    """What ingesting a range of days of one source did: one crawl of the range, and each day's share of it."""

    source: str
    days: list[DayReport]
    crawl: CrawlResult | None  # None when every requested day lay beyond the listings' reach: nothing was sent
    fetch: FetchStats | None
    rate_wait_s: float
    window: tuple[date, date] | None  # first and last day the crawl read
    reach_recorded: list[ListingReach]

    @property
    def status(self) -> str:
        """``ok``: the window was read whole; ``partial``: some pages failed or arrived malformed, the breaker stopped
        the crawl midway, or a listing ended its paging (page cap) before the window's start; ``failed``: the site
        could not be reached for any page; ``skipped``: the breaker was open and nothing was sent; ``out_of_reach``:
        every requested day is older than what the listings show, and nothing was sent."""
        if self.crawl is None:
            return "out_of_reach"
        outcome = self.crawl.outcome
        return "partial" if outcome == "ok" and any(d.status == "partial" for d in self.days) else outcome

    @property
    def stopped_by(self) -> str:
        """Why the crawl stopped (the most telling listing's reason), or why nothing was crawled."""
        if self.crawl is None:
            return "beyond_reach"
        return self.crawl.stopped_by or "no_listing"

    @property
    def counts(self) -> repository.UpsertCounts:
        """The whole range's upsert counts."""
        return repository.UpsertCounts(
            seen=sum(d.counts.seen for d in self.days),
            inserted=sum(d.counts.inserted for d in self.days),
            changed=sum(d.counts.changed for d in self.days),
        )

    @property
    def field_fill(self) -> dict[str, float]:
        """Field fill over the whole range."""
        return field_fill([found.rfq for report in self.days for found in report.found])


def register_sources(db: Database, specs: list[SourceSpec]) -> None:
    """Make sure every source has its row (the raw pages and RFQs reference it)."""
    with db.connection() as conn:
        for spec in specs:
            repository.upsert_source(
                conn, name=spec.name, kind=spec.kind, base_url=spec.base_url, cadence=spec.cadence, enabled=spec.enabled
            )


FILL_FIELDS = ("title", "description", "quantity_text", "country_raw", "buyer_company", "posted_at")


def field_fill(rfqs: list[ParsedRfq]) -> dict[str, float]:
    """Share of RFQs with each field filled: a field that drops to zero points at layout drift."""
    if not rfqs:
        return {}
    return {name: round(sum(1 for r in rfqs if getattr(r, name)) / len(rfqs), 4) for name in FILL_FIELDS}


def polite_fetcher(spec: SourceSpec, db: Database, client: HttpClient) -> PoliteFetcher:
    """The fetcher of ``spec``: its shared rate limit, circuit breaker and robots policy around ``client``."""
    return PoliteFetcher(
        spec.name,
        spec.base_url,
        client,
        limiter=SharedRateLimiter(db, spec.name, RateLimit.per_minute(spec.rate_per_minute, spec.burst)),
        breaker=CircuitBreaker(db, spec.name, threshold=spec.breaker_threshold, cooldown_s=spec.breaker_cooldown_s),
        respect_robots=spec.respect_robots,
    )


def ingest_range(
    spec: SourceSpec,
    days: Sequence[date],
    *,
    db: Database,
    store: ObjectStore,
    client: HttpClient,
    run_id: str,
    force: bool = False,
) -> IngestReport:
    """Crawl ``spec`` once for RFQs posted on any of ``days`` (UTC) and store them idempotently, day by day.

    Days older than every listing's recorded reach are not crawled unless ``force``. The rest are read in one window
    from the oldest to the newest requested day, so a listing is paged once for the whole range; each RFQ is kept
    under the day it was posted (an undated one under the newest day), and each requested day gets its crawl record.
    """
    if not days:
        raise ValueError("no day to crawl")
    requested = sorted(set(days))
    started_at = datetime.now(UTC)
    register_sources(db, [spec])
    with db.connection() as conn:
        beyond = {} if force else beyond_reach(spec, requested, repository.listing_reach(conn, spec.name))
    to_crawl = [day for day in requested if day not in beyond]
    if not to_crawl:
        report = IngestReport(
            spec.name,
            [_day_report(day, "out_of_reach", [], beyond[day]) for day in requested],
            crawl=None, fetch=None, rate_wait_s=0.0, window=None, reach_recorded=[],
        )  # fmt: skip
        _record(db, spec, report, run_id, started_at)
        return report

    window_first, window_last = to_crawl[0], to_crawl[-1]
    start, end = day_window(window_first)[0], day_window(window_last)[1]
    fetcher = polite_fetcher(spec, db, client)
    crawl = crawl_window(spec, fetcher, RawPageArchive(db, store, spec.name, window_last, run_id), start, end)
    by_day: dict[date, list[FoundRfq]] = {day: [] for day in to_crawl}
    for found in crawl.found:
        posted = found.rfq.posted_at.astimezone(UTC).date() if found.rfq.posted_at else window_last
        if posted in by_day:  # a day inside the window that was not asked for (a gap in the range) is left alone
            by_day[posted].append(found)
    coverage = day_coverage(spec, crawl, to_crawl)
    # Only a clean read moves the reach: a listing cut short by failed pages, the breaker or a redesign read by the
    # fallback extractor would otherwise put days it still shows out of reach.
    seen_reach = reach_seen(spec, crawl) if crawl.outcome == "ok" and not crawl.fallback_pages else []
    day_reports = [_day_report(day, "out_of_reach", [], beyond[day]) for day in requested if day in beyond]
    with db.connection() as conn:
        for day in to_crawl:
            counts = repository.upsert_rfqs(conn, ((found.rfq, found.raw_page_id) for found in by_day[day]))
            status, note = _day_status(crawl, coverage[day], day)
            day_reports.append(
                DayReport(day, status, by_day[day], counts, field_fill([f.rfq for f in by_day[day]]), note)
            )
        repository.record_listing_reach(conn, spec.name, run_id, seen_reach)
    day_reports.sort(key=lambda report: report.day)
    report = IngestReport(
        spec.name, day_reports, crawl, fetcher.stats, fetcher.limiter.waited_s, (window_first, window_last), seen_reach
    )
    _record(db, spec, report, run_id, started_at)
    return report


def _day_report(day: date, status: DayStatus, found: list[FoundRfq], note: str) -> DayReport:
    return DayReport(day, status, found, repository.UpsertCounts(seen=0, inserted=0, changed=0), {}, note)


def _day_status(crawl: CrawlResult, coverage: DayCoverage, day: date) -> tuple[DayStatus, str]:
    """A crawled day's status: the crawl's failures and breaker apply to every day of its range."""
    outcome = crawl.outcome
    if outcome == "skipped":
        return "skipped", str(crawl.unavailable)
    if outcome == "failed":
        return "failed", crawl.failures[0].reason
    seen = [stop.oldest_seen for stop in crawl.stops.values() if stop.oldest_seen is not None]
    oldest = min(seen).isoformat() if seen else None
    if coverage == "beyond_reach":
        reach = f" ({oldest})" if oldest else ""
        return "out_of_reach", f"older than the oldest day the listing showed{reach}: {crawl.stopped_by}"
    if coverage == "partly_read":
        got = f"; it got back to {oldest}" if oldest else ""
        return "partial", f"{day.isoformat()} was not read to its start: {crawl.stopped_by}{got}"
    if outcome == "partial":
        return "partial", f"{crawl.pages_failed} pages failed" if crawl.failures else str(crawl.unavailable)
    return "ok", ""


def _record(db: Database, spec: SourceSpec, report: IngestReport, run_id: str, started_at: datetime) -> None:
    """One crawl record per requested day. The pages of the range's single crawl are counted on its newest day."""
    crawl = report.crawl
    newest = report.window[1] if report.window else None
    listings = Jsonb(crawl.listing_summary()) if crawl else Jsonb({})
    with db.connection() as conn:
        for day in report.days:
            here = crawl if day.day == newest else None  # the day whose row carries the crawl's pages
            repository.record_crawl(
                conn,
                {
                    "source": spec.name,
                    "partition_date": day.day,
                    "run_id": run_id,
                    "started_at": started_at,
                    "pages_fetched": here.pages_fetched if here else 0,
                    "pages_failed": here.pages_failed if here else 0,
                    "rfqs_seen": day.counts.seen,
                    "rfqs_new": day.counts.inserted,
                    "rfqs_changed": day.counts.changed,
                    "status": day.status,
                    "challenges": here.count("challenge") if here else 0,
                    "parse_failures": here.count("truncated", "layout_drift") if here else 0,
                    "field_fill": Jsonb(day.field_fill),
                    "stopped_by": report.stopped_by,
                    "fallback_pages": len(here.fallback_pages) if here else 0,
                    "listings": listings,
                    "window_start": report.window[0] if report.window else None,
                    "window_end": report.window[1] if report.window else None,
                },
            )
