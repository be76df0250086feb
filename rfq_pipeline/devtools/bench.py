"""``make bench``: throughput of the foundation's hot paths, printed as rows/s and ratios.

Measures, on the real corpus: parsing the saved Alibaba page, parsing go4w listing pages and templated texts,
normalizing a large batch with polars, upserting into the embedded PostgreSQL (first insert vs. an idempotent
re-run), and crawling one day of both marketplaces from the simulator over HTTP. Performance goals live here, not in
timed tests.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from rfq_pipeline.db import migrations, repository
from rfq_pipeline.db.database import Database
from rfq_pipeline.db.embedded import ensure_embedded_server, stop_embedded_server
from rfq_pipeline.devtools.simulator import faults, start_simulator
from rfq_pipeline.devtools.simulator.catalog import ALIBABA_PAGE, CORPUS
from rfq_pipeline.fetch.http_client import HttpClient
from rfq_pipeline.normalize.rfqs import normalize_rfqs
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources import alibaba_rfq, go4worldbusiness
from rfq_pipeline.sources.crawl import next_page_url
from rfq_pipeline.sources.ingest import ingest_range
from rfq_pipeline.sources.model import PageParseError, ParsedRfq
from rfq_pipeline.sources.reading import read_list_page
from rfq_pipeline.sources.registry import SOURCES, resolve
from rfq_pipeline.store.object_store import LocalObjectStore


def _timed(fn: Callable[[], int], repeat: int = 1) -> tuple[float, int]:
    """Best-of-``repeat`` wall time of ``fn`` and the row count it returned."""
    best, rows = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = fn()
        best = min(best, time.perf_counter() - started)
    return best, rows


def _line(name: str, seconds: float, rows: int, unit: str = "rows") -> None:
    print(f"{name:<52}{rows:>9} {unit:<6}{seconds:>9.3f} s{rows / seconds:>12,.0f} {unit}/s")


def run() -> None:
    """Run every benchmark and print one line each."""
    now = datetime.now(UTC)
    page = (CORPUS / ALIBABA_PAGE).read_text(encoding="utf-8")
    seconds, rows = _timed(lambda: sum(len(alibaba_rfq.parse_list(page, fetched_at=now).entries) for _ in range(50)), 3)
    _line("parse alibaba list page (real, x50)", seconds, rows)

    texts = [
        json.loads(line)["buyerText"]
        for line in (CORPUS / "go4w_buyers_2019.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    seconds, rows = _timed(lambda: sum(bool(go4worldbusiness.parse_templated_description(t)) or 1 for t in texts), 3)
    _line("parse go4w templated descriptions (real)", seconds, rows)

    _bench_parsers()
    _bench_served_pages()

    frame = _normalize_input(100_000)
    seconds, rows = _timed(lambda: normalize_rfqs(frame).height, 3)
    _line("normalize (polars, 100k rows)", seconds, rows)

    with tempfile.TemporaryDirectory(prefix="rfqbench-") as tmp:
        pgdata = Path(tmp) / "pg"
        url = ensure_embedded_server(pgdata)
        try:
            migrations.migrate(url, Settings.from_env({}).migrations_dir)
            with Database(url) as db:
                _bench_upsert(db, 50_000)
                _bench_crawl(db, Path(tmp) / "objects")
                _bench_rate(db)
        finally:
            stop_embedded_server(pgdata)


def _normalize_input(n: int) -> pl.DataFrame:
    import csv

    with open(CORPUS / "alibaba_rfq_uae_2025-07.csv", newline="", encoding="utf-8") as handle:
        base = [(r["Title"], r["Quantity Required"], r["Country"]) for r in csv.DictReader(handle)]
    rows = [base[i % len(base)] for i in range(n)]
    now = datetime.now(UTC)
    return pl.DataFrame(
        {
            "id": list(range(n)),
            "title": [r[0] for r in rows],
            "quantity_text": [r[1] for r in rows],
            "country_raw": [r[2] for r in rows],
            "country_code_hint": [None] * n,  # all-null: typed Null by polars, as a batch without hints would be
            "posted_at": [now] * n,
            "first_seen_at": [now] * n,
        },
        schema_overrides={"posted_at": pl.Datetime("us", "UTC"), "first_seen_at": pl.Datetime("us", "UTC")},
    )


# The anchor: what the database itself does with the same rows, already prepared as column tuples (hash included),
# binary-copied into a temporary table and merged by one plain INSERT ... ON CONFLICT into the same table.
_ANCHOR_STAGING = """
CREATE TEMP TABLE anchor_staging ON COMMIT DROP AS
SELECT source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text, buyer_name,
       buyer_company, country_raw, attributes, content_sha256, raw_page_id, extraction
FROM rfqs_staging WITH NO DATA
"""
_ANCHOR_COPY = """
COPY anchor_staging (source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text,
                     buyer_name, buyer_company, country_raw, attributes, content_sha256, raw_page_id, extraction)
FROM STDIN WITH (FORMAT BINARY)
"""
_ANCHOR_MERGE = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text,
                  buyer_name, buyer_company, country_raw, attributes, content_sha256, raw_page_id, extraction)
SELECT source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text,
       buyer_name, buyer_company, country_raw, attributes, content_sha256, raw_page_id, extraction
FROM anchor_staging
ON CONFLICT ON CONSTRAINT rfqs_source_external_id_key DO UPDATE SET
    title = EXCLUDED.title, description = EXCLUDED.description, content_sha256 = EXCLUDED.content_sha256,
    attributes = EXCLUDED.attributes, last_seen_at = now()
"""


def bench_rfqs(n: int) -> list[ParsedRfq]:
    """``n`` RFQs shaped like the real Alibaba rows (titles, quantities, countries of the corpus CSV)."""
    import csv

    with open(CORPUS / "alibaba_rfq_uae_2025-07.csv", newline="", encoding="utf-8") as handle:
        base = [(r["Title"], r["Quantity Required"], r["Country"]) for r in csv.DictReader(handle)]
    now = datetime.now(UTC)
    return [
        ParsedRfq(
            source="alibaba_rfq",
            external_id=str(i),
            canonical_url=f"https://sourcing.alibaba.com/rfq_detail.htm?p=ID{i}",
            title=base[i % len(base)][0],
            description=f"Looking for {base[i % len(base)][0].lower()}, request {i}",
            posted_at=now,
            quantity_text=base[i % len(base)][1],
            country_raw=base[i % len(base)][2],
            attributes={"quotes_left": i % 10},
        )
        for i in range(n)
    ]


def _anchor_upsert(db: Database, rfqs: list[ParsedRfq]) -> int:
    """The same parsed RFQs, turned into column tuples (the content hash is a column) and merged plainly."""
    from psycopg.types.json import Jsonb

    types = ["text"] * 5 + ["timestamptz"] + ["text"] * 5 + ["jsonb", "text", "int8", "text"]
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute(_ANCHOR_STAGING)
        with cur.copy(_ANCHOR_COPY) as copy:
            copy.set_types(types)
            for r in rfqs:
                copy.write_row(
                    (r.source, r.external_id, r.canonical_url, r.title, r.description, r.posted_at, r.posted_text,
                     r.quantity_text, r.buyer_name, r.buyer_company, r.country_raw, Jsonb(r.attributes),
                     repository.rfq_content_sha256(r), None, r.extraction)
                )  # fmt: skip
        cur.execute(_ANCHOR_MERGE)
        return cur.rowcount


def _bench_upsert(db: Database, n: int) -> None:
    """The upsert (COPY-staged, from parsed RFQs) against the anchor, first insert and idempotent re-run; and the
    same rows in the small batches a listing page makes (staged by one INSERT of arrays)."""
    rfqs = bench_rfqs(n)
    with db.connection() as conn:
        repository.upsert_source(
            conn, name="alibaba_rfq", kind="marketplace", base_url="bench", cadence="0 * * * *", enabled=True
        )

    def clear() -> None:
        with db.connection() as conn:
            conn.execute("DELETE FROM rfqs WHERE source = 'alibaba_rfq'")

    def upsert(chunk: int = n) -> int:
        with db.connection() as conn:
            return sum(
                repository.upsert_rfqs(conn, ((r, None) for r in rfqs[i : i + chunk])).seen for i in range(0, n, chunk)
            )

    results: dict[str, float] = {}
    for name, fn in (
        ("anchor", lambda: _anchor_upsert(db, rfqs)),
        ("bulk", upsert),
        ("small", lambda: upsert(50)),
    ):
        clear()
        first, _ = _timed(fn)
        again, _ = _timed(fn)
        results[name], results[name + "_again"] = first, again
    _line(f"upsert anchor: COPY + one INSERT..ON CONFLICT ({n})", results["anchor"], n)
    _line(f"upsert rfqs, first insert ({n}, bulk path)", results["bulk"], n)
    _line(f"upsert rfqs, idempotent re-run ({n}, bulk path)", results["bulk_again"], n)
    _line(f"upsert rfqs, first insert ({n}, in batches of 50)", results["small"], n)
    print(f"{'ratio upsert / anchor rows/s, first (target >= 0.8)':<52}{results['anchor'] / results['bulk']:>9.2f}")
    print(f"{'ratio upsert / anchor rows/s, re-run':<52}{results['anchor_again'] / results['bulk_again']:>9.2f}")
    print(f"{'ratio one batch / batches of 50 rows/s':<52}{results['small'] / results['bulk']:>9.2f}")


def _bench_parsers() -> None:
    """Pages parsed per second for every source, on its first listing's pages as the simulator serves them."""
    with start_simulator() as simulator:
        settings = Settings.from_env({"RFQ_SIMULATOR_URL": simulator.url})
        client = HttpClient()
        start, end = _today_window(simulator.today)
        for name, raw_spec in SOURCES.items():
            spec = resolve(raw_spec, settings)
            if not spec.listings or not spec.crawl_allowed:
                continue
            pages = []
            url = spec.list_url(spec.listings[0], 1, start, end)
            for number in range(1, 6):
                response = client.get(url)
                if not response.ok:
                    break
                pages.append((response.text, response.fetched_at))
                page = read_list_page(spec, response.text, fetched_at=response.fetched_at)
                if not page.has_next:
                    break
                url = next_page_url(spec, spec.listings[0], response.url, page, number, start, end)
            if not pages:
                continue

            def parse(spec=spec, pages=pages) -> int:
                return sum(1 for _ in range(10) for text, at in pages if spec.parse_list(text, fetched_at=at))

            seconds, parsed = _timed(parse, 3)
            _line(f"parse {name} list pages", seconds, parsed, "pages")
        client.close()


def _bench_served_pages() -> None:
    """Served-page fixtures read by each source's selectors, and the same pages redesigned, read by the fallback.

    The ratio is what a layout drift costs in parsing time while the fallback extractor keeps the rows coming.
    """
    fixtures = Path(__file__).resolve().parents[2] / "rfq_pipeline_tests" / "sources" / "fixtures"
    if not fixtures.is_dir():
        print("served-page fixtures not found (run from a checkout): skipped")
        return
    moment = datetime(2026, 8, 27, 21, 0, tzinfo=UTC)
    for name, spec in SOURCES.items():
        pages = [path.read_text(encoding="utf-8") for path in sorted((fixtures / name).glob("*.excerpt.html"))]
        if not pages:
            continue
        redesigned = [faults.redesigned(page) for page in pages]

        def read(texts: list[str], spec=spec) -> int:
            leads = 0
            for _ in range(20):
                for text in texts:
                    # An empty result that lost its marker is reported as drift: it counts as no leads.
                    with contextlib.suppress(PageParseError):
                        leads += len(read_list_page(spec, text, fetched_at=moment).entries)
            return leads

        selectors_s, leads = _timed(lambda spec=spec, pages=pages: read(pages, spec), 3)
        fallback_s, fallback_leads = _timed(lambda spec=spec, texts=redesigned: read(texts, spec), 3)
        _line(f"read served {name} pages (selectors)", selectors_s, leads, "leads")
        _line(f"read served {name} pages redesigned (fallback)", fallback_s, fallback_leads, "leads")
        print(f"{'':<52}fallback / selectors time: {fallback_s / selectors_s:.1f}x")


def _today_window(day: date) -> tuple[datetime, datetime]:
    from rfq_pipeline.sources.ingest import day_window

    return day_window(day)


def _bench_crawl(db: Database, objects: Path) -> None:
    with start_simulator() as simulator:
        settings = Settings.from_env({"RFQ_SIMULATOR_URL": simulator.url, "RFQ_HTTP_TIMEOUTS": "10,10,10"})
        client = HttpClient()
        try:
            for name in SOURCES:
                spec = resolve(SOURCES[name], settings)
                if not spec.enabled:
                    continue
                store = LocalObjectStore(objects)

                def crawl(spec=spec, store=store) -> int:
                    return ingest_range(
                        spec, [simulator.today], db=db, store=store, client=client, run_id="bench"
                    ).crawl.pages_fetched

                seconds, pages = _timed(crawl)
                _line(f"crawl today's {name} (rate-limited, simulator)", seconds, pages, "pages")
        finally:
            client.close()


def _bench_rate(db: Database, capacity: int = 5, window_s: float = 0.5, n: int = 80) -> None:
    """Requests through the shared limiter from 4 threads: the achieved rate over the configured one."""
    import threading

    from rfq_pipeline.fetch.rate_limit import RateLimit, SharedRateLimiter

    with start_simulator() as simulator:
        url = simulator.base_url("alibaba_rfq") + "/rfq/rfq_search_list.htm?country=AE&recently=Y&page=1"
        limiter = SharedRateLimiter(db, "alibaba_rfq", RateLimit(capacity, window_s))
        client = HttpClient()
        sent: list[float] = []
        lock = threading.Lock()

        def worker(count: int) -> None:
            for _ in range(count):
                limiter.acquire()
                with lock:
                    sent.append(time.perf_counter())
                client.get(url)

        threads = [threading.Thread(target=worker, args=(n // 4,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
    sent.sort()
    # The first `capacity` requests are the bucket's burst; the steady rate is measured after it.
    achieved = (len(sent) - capacity) / (sent[-1] - sent[0])
    configured = capacity / window_s
    _line(f"rate-limited requests ({configured * 60:.0f}/min configured)", sent[-1] - sent[0], len(sent), "reqs")
    print(f"{'ratio achieved / configured request rate':<52}{achieved / configured:>9.3f}")


if __name__ == "__main__":
    run()
