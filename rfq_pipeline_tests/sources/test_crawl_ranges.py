"""A range of days read in one crawl, the listings' reach, and why a crawl stopped: logic and the simulator."""

from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from rfq_pipeline.db.database import Database
from rfq_pipeline.fetch.http_client import HttpClient
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.crawl import CrawlResult, ListingStop
from rfq_pipeline.sources.ingest import ingest_range
from rfq_pipeline.sources.reach import ListingReach, beyond_reach, day_coverage, reach_seen
from rfq_pipeline.sources.registry import SOURCES, resolve
from rfq_pipeline.store.object_store import LocalObjectStore

D = date(2026, 11, 20)
SORTED = {"date_sorted": True, "dated": True, "dates_in_query": False}


@pytest.mark.parametrize(
    ("code", "day", "expected"),
    [
        ("window_start", D - timedelta(days=9), "read"),
        ("end_of_listing", D + timedelta(days=1), "read"),
        ("end_of_listing", D, "read"),  # the listing ended: what it shows of its oldest day is all there is
        ("end_of_listing", D - timedelta(days=1), "beyond_reach"),
        ("page_cap", D + timedelta(days=1), "read"),
        ("page_cap", D, "partly_read"),  # cut by the cap somewhere inside the day
        ("page_cap", D - timedelta(days=1), "beyond_reach"),
        ("page_failed", D + timedelta(days=1), "read"),
        ("page_failed", D - timedelta(days=1), "partly_read"),  # a failed page is not the listing's end
    ],
)
def test_a_listing_sorted_newest_first_covers_what_lies_above_its_oldest_entry(code, day, expected) -> None:
    assert ListingStop(code, "", oldest_seen=D).coverage(day, **SORTED) == expected


def test_unsorted_dated_by_query_and_undated_listings() -> None:
    unsorted = {"date_sorted": False, "dated": True, "dates_in_query": False}
    assert ListingStop("end_of_listing", "", D).coverage(D + timedelta(days=3), **unsorted) == "read"
    assert ListingStop("end_of_listing", "", D).coverage(D - timedelta(days=1), **unsorted) == "beyond_reach"
    # A list in no date order cut by the cap may hold any day's leads further on.
    assert ListingStop("page_cap", "", D).coverage(D + timedelta(days=3), **unsorted) == "partly_read"
    by_query = {"date_sorted": True, "dated": True, "dates_in_query": True}
    assert ListingStop("end_of_listing", "", D).coverage(D - timedelta(days=30), **by_query) == "read"
    assert ListingStop("page_cap", "", D).coverage(D, **by_query) == "partly_read"
    undated = {"date_sorted": True, "dated": False, "dates_in_query": False}
    assert ListingStop("page_cap", "", None).coverage(D, **undated) == "read"  # a directory is read to its cap
    assert ListingStop("end_of_listing", "", None).coverage(D, **SORTED) == "read"  # an empty listing


def test_the_crawl_names_its_most_telling_stop_and_each_days_coverage() -> None:
    spec = replace(SOURCES["alibaba_rfq"], listings=("/a?page={page}", "/b?page={page}"))
    result = CrawlResult(
        stops={
            "/a?page={page}": ListingStop("window_start", "passed", D - timedelta(days=5)),
            "/b?page={page}": ListingStop("end_of_listing", "last page (3)", D),
        },
        pages_read={"/a?page={page}": 4, "/b?page={page}": 3},
    )
    assert result.stopped_by == "end_of_listing"
    days = [D - timedelta(days=1), D, D + timedelta(days=1)]
    # /a read every day of the window, so no day is beyond the source's reach although /b ended.
    assert day_coverage(spec, result, days) == dict.fromkeys(days, "read")
    assert reach_seen(spec, result) == [ListingReach("/b?page={page}", D, "end_of_listing", 3)]
    result.stops["/a?page={page}"] = ListingStop("breaker_open", "stopped: open", D + timedelta(days=1))
    assert result.stopped_by == "breaker_open"
    assert day_coverage(spec, result, days)[D - timedelta(days=1)] == "partly_read"


def test_days_older_than_every_listings_reach_are_beyond_it() -> None:
    spec = replace(SOURCES["alibaba_rfq"], listings=("/a?page={page}", "/b?page={page}"))
    days = [D - timedelta(days=n) for n in range(10)]
    only_a = {"/a?page={page}": ListingReach("/a?page={page}", D - timedelta(days=2), "end_of_listing", 40)}
    assert beyond_reach(spec, days, only_a) == {}  # /b was never read to its end: every day may be there
    both = only_a | {"/b?page={page}": ListingReach("/b?page={page}", D - timedelta(days=5), "page_cap", 100)}
    beyond = beyond_reach(spec, days, both)
    assert sorted(beyond) == days[6:][::-1]  # older than the older of the two reaches
    assert "page cap after 100 pages" in beyond[days[9]] and (D - timedelta(days=5)).isoformat() in beyond[days[9]]
    by_date = replace(SOURCES["us_fda"])
    assert beyond_reach(by_date, days, {listing: both["/a?page={page}"] for listing in by_date.listings}) == {}


def _alibaba_list_requests(simulator) -> list[str]:
    return [r.path for r in simulator.request_log if r.source == "alibaba_rfq" and "rfq_search_list" in r.path]


def test_a_range_is_read_once_and_days_beyond_the_listing_cost_nothing(
    pipeline_env: Settings, simulator, tmp_path: Path
) -> None:
    spec = resolve(SOURCES["alibaba_rfq"], pipeline_env)
    today = simulator.today
    days = [today - timedelta(days=n) for n in range(29, -1, -1)]
    store = LocalObjectStore(tmp_path / "objects")
    with Database(pipeline_env.database_url) as db, closing(HttpClient()) as client:
        before = len(_alibaba_list_requests(simulator))
        report = ingest_range(spec, days, db=db, store=store, client=client, run_id="range-1")
        requests = _alibaba_list_requests(simulator)[before:]

        # One read of the listing for 30 days: no page asked twice, paging ended by the listing itself.
        assert len(requests) == len(set(requests)) == report.crawl.pages_read[spec.listings[0]]
        assert report.stopped_by in ("end_of_listing", "page_cap")
        oldest = report.crawl.stops[spec.listings[0]].oldest_seen
        assert oldest is not None and days[0] < oldest < today
        for day_report in report.days:
            expected = set(simulator.expected("alibaba_rfq", day_report.day))
            assert {f.rfq.external_id for f in day_report.found} == expected, day_report.day
            assert day_report.status == ("out_of_reach" if day_report.day < oldest else "ok"), day_report
        assert report.status == "ok"
        with psycopg.connect(pipeline_env.database_url) as conn:
            rows = conn.execute(
                "SELECT partition_date, status, stopped_by, pages_fetched, window_start, window_end FROM source_crawls "
                "WHERE run_id = 'range-1' ORDER BY partition_date"
            ).fetchall()
            reach = conn.execute("SELECT oldest_day, stopped_by FROM listing_reach").fetchall()
            stored = conn.execute("SELECT count(*) FROM rfqs").fetchone()[0]
        assert [r[0] for r in rows] == days
        assert {r[2] for r in rows} == {report.stopped_by}
        assert sum(r[3] for r in rows) == len(requests)  # the range's pages are counted once
        assert {(r[4], r[5]) for r in rows} == {(days[0], today)}
        assert reach == [(oldest, report.stopped_by)]

        # A later run of a day beyond that reach sends nothing and says why; forced, it reads the listing.
        old = days[0]
        before = len(_alibaba_list_requests(simulator))
        skipped = ingest_range(spec, [old], db=db, store=store, client=client, run_id="old-1")
        assert len(_alibaba_list_requests(simulator)) == before
        assert skipped.crawl is None and skipped.status == "out_of_reach" and skipped.stopped_by == "beyond_reach"
        assert "older than" in skipped.days[0].note
        forced = ingest_range(
            replace(spec, max_pages=2), [old], db=db, store=store, client=client, run_id="old-2", force=True
        )
        assert forced.crawl is not None and forced.crawl.pages_fetched == 2

        # The range's newest days again store nothing twice.
        again = ingest_range(spec, days[-3:], db=db, store=store, client=client, run_id="range-2")
        assert again.counts.seen > 0 and again.counts.inserted == 0 and again.counts.changed == 0
        with psycopg.connect(pipeline_env.database_url) as conn:
            assert conn.execute("SELECT count(*) FROM rfqs").fetchone()[0] == stored


def test_a_page_cap_before_the_window_start_is_partial_and_says_how_far_it_got(
    pipeline_env: Settings, simulator, tmp_path: Path
) -> None:
    spec = replace(resolve(SOURCES["alibaba_rfq"], pipeline_env), max_pages=3)
    today = simulator.today
    days = [today - timedelta(days=n) for n in range(5, -1, -1)]
    with Database(pipeline_env.database_url) as db, closing(HttpClient()) as client:
        report = ingest_range(spec, days, db=db, store=LocalObjectStore(tmp_path / "o"), client=client, run_id="capped")
    stop = report.crawl.stops[spec.listings[0]]
    assert report.stopped_by == "page_cap" and stop.code == "page_cap" and report.crawl.pages_fetched == 3
    assert report.status == "partial"
    statuses = {d.day: d.status for d in report.days}
    assert statuses[stop.oldest_seen] == "partial"
    assert all(s == "ok" for day, s in statuses.items() if day > stop.oldest_seen)
    assert all(s == "out_of_reach" for day, s in statuses.items() if day < stop.oldest_seen)
    partial = next(d for d in report.days if d.status == "partial")
    assert "page_cap" in partial.note and stop.oldest_seen.isoformat() in partial.note


def test_a_listing_cut_short_by_a_redesigned_page_does_not_move_the_reach(
    pipeline_env: Settings, simulator, tmp_path: Path
) -> None:
    spec = resolve(SOURCES["ec21"], pipeline_env)
    days = [simulator.today - timedelta(days=n) for n in range(3, -1, -1)]
    simulator.set_fault("ec21", "drift", times=1)  # the first page arrives redesigned: read by the fallback
    with Database(pipeline_env.database_url) as db, closing(HttpClient()) as client:
        report = ingest_range(spec, days, db=db, store=LocalObjectStore(tmp_path / "o"), client=client, run_id="cut")
    assert report.crawl.fallback_pages and report.reach_recorded == []
    with psycopg.connect(pipeline_env.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM listing_reach").fetchone()[0] == 0


def test_every_source_stops_for_a_named_reason(pipeline_env: Settings, simulator, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    with Database(pipeline_env.database_url) as db, closing(HttpClient()) as client:
        for name in SOURCES:
            spec = resolve(SOURCES[name], pipeline_env)
            if not spec.enabled or not spec.crawl_allowed:
                continue
            report = ingest_range(
                spec, [today], db=db, store=LocalObjectStore(tmp_path / name), client=client, run_id=f"r-{name}"
            )
            assert report.stopped_by in ("window_start", "end_of_listing", "page_cap"), (name, report.stopped_by)
            assert all(stop.code for stop in report.crawl.stops.values())
    with psycopg.connect(pipeline_env.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM source_crawls WHERE stopped_by IS NULL").fetchone()[0] == 0
