from datetime import UTC, datetime, timedelta

import psycopg

from rfq_pipeline.db import repository
from rfq_pipeline.sources.model import ParsedRfq

POSTED = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def _rfq(external_id: str, **changes: object) -> ParsedRfq:
    fields: dict[str, object] = {
        "source": "go4worldbusiness",
        "external_id": external_id,
        "canonical_url": f"https://www.go4worldbusiness.com/buylead/view/{external_id}/wanted-:-argan-oil.html",
        "title": "Argan Oil",
        "posted_at": POSTED,
        "posted_text": "Nov-20-26",
        "description": "Product Name : Argan Oil\nQuantity Required : 200 Kilogram",
        "quantity_text": "200 Kilogram",
        "country_raw": "United Arab Emirates",
        "attributes": {"shipping_terms": "CIF"},
    }
    fields.update(changes)
    return ParsedRfq(**fields)  # type: ignore[arg-type]


def _setup(conn: psycopg.Connection) -> None:
    repository.upsert_source(
        conn, name="go4worldbusiness", kind="marketplace", base_url="http://x", cadence="0 */3 * * *", enabled=True
    )


def test_upsert_is_idempotent_and_reports_what_changed(clean_db: str) -> None:
    with psycopg.connect(clean_db) as conn:
        _setup(conn)
        first = repository.upsert_rfqs(conn, [(_rfq("1"), None), (_rfq("2"), None)])
        again = repository.upsert_rfqs(conn, [(_rfq("1"), None), (_rfq("2"), None)])
        edited = repository.upsert_rfqs(conn, [(_rfq("1", quantity_text="300 Kilogram"), None), (_rfq("2"), None)])
        count = conn.execute("SELECT count(*) FROM rfqs").fetchone()[0]
    assert (first.seen, first.inserted, first.changed) == (2, 2, 0)
    assert (again.seen, again.inserted, again.changed) == (2, 0, 0)
    assert (edited.seen, edited.inserted, edited.changed) == (2, 0, 1)
    assert count == 2


def test_first_posting_time_is_kept_and_normalization_reset_on_change(clean_db: str) -> None:
    with psycopg.connect(clean_db) as conn:
        _setup(conn)
        repository.upsert_rfqs(conn, [(_rfq("7"), None)])
        conn.execute("UPDATE rfqs SET normalized_at = now() WHERE external_id = '7'")
        # Re-read a day later, the relative date gives a later time; the first sighting stays.
        repository.upsert_rfqs(conn, [(_rfq("7", posted_at=POSTED + timedelta(hours=5)), None)])
        posted, normalized = conn.execute(
            "SELECT posted_at, normalized_at FROM rfqs WHERE external_id = '7'"
        ).fetchone()
        assert posted == POSTED
        assert normalized is not None  # unchanged content keeps its normalization
        repository.upsert_rfqs(conn, [(_rfq("7", title="Argan Oil, cosmetic grade"), None)])
        normalized = conn.execute("SELECT normalized_at FROM rfqs WHERE external_id = '7'").fetchone()[0]
    assert normalized is None


def test_raw_page_index_is_idempotent_per_content(clean_db: str) -> None:
    row = {
        "source": "go4worldbusiness",
        "url": "http://x/buyers/A?pg_buyers=1",
        "page_kind": "list",
        "partition_date": POSTED.date(),
        "content_sha256": "a" * 64,
        "object_key": "raw/go4worldbusiness/2026-11-20/" + "a" * 64 + ".html.gz",
        "byte_size": 10,
        "http_status": 200,
        "fetch_status": "ok",
        "parse_status": "ok",
        "error": None,
        "fetched_at": POSTED,
        "run_id": "r1",
    }
    failed = {
        **row,
        "content_sha256": None,
        "object_key": None,
        "byte_size": None,
        "http_status": None,
        "fetch_status": "timeout",
        "parse_status": "skipped",
        "error": "timeout",
    }
    with psycopg.connect(clean_db) as conn:
        _setup(conn)
        first = repository.record_raw_page(conn, row)
        assert repository.record_raw_page(conn, {**row, "run_id": "r2"}) == first
        timeout_id = repository.record_raw_page(conn, failed)
        assert repository.record_raw_page(conn, failed) == timeout_id  # NULL hashes are not distinct
        changed = repository.record_raw_page(conn, {**row, "content_sha256": "b" * 64})
        counts = conn.execute("SELECT count(*), sum(fetch_count) FROM raw_pages").fetchone()
    assert len({first, timeout_id, changed}) == 3
    assert counts == (3, 5)
