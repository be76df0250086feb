"""Collects one source's partition end to end: crawl, archive raw pages, upsert RFQs, record the crawl.

The Dagster asset of every source is a thin wrapper around :func:`ingest_partition`.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from psycopg.types.json import Jsonb

from rfq_pipeline.db import repository
from rfq_pipeline.db.database import Database
from rfq_pipeline.fetch.breaker import CircuitBreaker
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient
from rfq_pipeline.fetch.polite import FetchStats, PoliteFetcher
from rfq_pipeline.fetch.rate_limit import RateLimit, SharedRateLimiter
from rfq_pipeline.sources.crawl import CrawlResult, PageKind, ParseStatus, crawl_window
from rfq_pipeline.sources.model import ParsedRfq
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


@dataclass(frozen=True)
class IngestReport:
    """What ingesting one partition of one source did."""

    source: str
    day: date
    crawl: CrawlResult
    counts: repository.UpsertCounts
    fetch: FetchStats
    field_fill: dict[str, float]
    rate_wait_s: float

    @property
    def status(self) -> str:
        """``ok``; ``partial`` (some pages failed or arrived malformed, or the breaker stopped the crawl midway);
        ``failed`` (the site could not be reached for any page: nothing found and every failure was a fetch
        failure); ``skipped`` (the circuit breaker was open: nothing was sent)."""
        if self.crawl.unavailable and self.crawl.pages_fetched == 0:
            return "skipped"
        if not self.crawl.failures and not self.crawl.unavailable:
            return "ok"
        if not self.crawl.found and all(f.is_fetch_failure for f in self.crawl.failures):
            return "failed"
        return "partial"


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


def ingest_partition(
    spec: SourceSpec, day: date, *, db: Database, store: ObjectStore, client: HttpClient, run_id: str
) -> IngestReport:
    """Crawl ``spec`` for RFQs posted on ``day`` (UTC) and store them idempotently."""
    started_at = datetime.now(UTC)
    register_sources(db, [spec])
    start, end = day_window(day)
    fetcher = polite_fetcher(spec, db, client)
    crawl = crawl_window(spec, fetcher, RawPageArchive(db, store, spec.name, day, run_id), start, end)
    fill = field_fill([found.rfq for found in crawl.found])
    with db.connection() as conn:
        counts = repository.upsert_rfqs(conn, ((found.rfq, found.raw_page_id) for found in crawl.found))
        report = IngestReport(spec.name, day, crawl, counts, fetcher.stats, fill, fetcher.limiter.waited_s)
        repository.record_crawl(
            conn,
            {
                "source": spec.name,
                "partition_date": day,
                "run_id": run_id,
                "started_at": started_at,
                "pages_fetched": crawl.pages_fetched,
                "pages_failed": crawl.pages_failed,
                "rfqs_seen": counts.seen,
                "rfqs_new": counts.inserted,
                "rfqs_changed": counts.changed,
                "status": report.status,
                "challenges": crawl.count("challenge"),
                "parse_failures": crawl.count("truncated", "layout_drift"),
                "field_fill": Jsonb(fill),
                "stopped_by": crawl.unavailable,
                "fallback_pages": len(crawl.fallback_pages),
                "listings": Jsonb(crawl.listing_summary()),
            },
        )
    return report
