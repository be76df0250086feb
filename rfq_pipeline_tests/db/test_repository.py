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
        # Still in the same transaction: the row the edit stamped is not "changed" again by an identical page.
        edited_again = repository.upsert_rfqs(
            conn, [(_rfq("1", quantity_text="300 Kilogram"), None), (_rfq("2"), None)]
        )
        count = conn.execute("SELECT count(*) FROM rfqs").fetchone()[0]
    assert (first.seen, first.inserted, first.changed) == (2, 2, 0)
    assert (again.seen, again.inserted, again.changed) == (2, 0, 0)
    assert (edited.seen, edited.inserted, edited.changed) == (2, 0, 1)
    assert (edited_again.seen, edited_again.inserted, edited_again.changed) == (2, 0, 0)
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


def _table(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text, "
        "buyer_name, buyer_company, country_raw, attributes, content_sha256, extraction, normalized_at IS NULL "
        "FROM rfqs ORDER BY id"
    ).fetchall()


def test_copy_and_array_staging_leave_the_same_rows_and_counts(clean_db: str) -> None:
    """Rounds of inserts, unchanged re-reads, edits, a later posting time and a fallback sighting, applied once in
    small batches (staged by one INSERT of arrays) and once whole (staged by COPY), end in the same table and
    counts."""
    n = repository.BULK_UPSERT_MIN_ROWS
    first = [_rfq(str(i), country_code="AE" if i % 3 == 0 else "") for i in range(n)]
    second = [
        _rfq(str(i), quantity_text=f"{i} Kilogram") if i % 4 == 0
        else _rfq(str(i), posted_at=POSTED + timedelta(hours=5)) if i % 4 == 1
        else _rfq(str(i), title="Argan oil (generic read)", extraction="fallback") if i % 4 == 2
        else _rfq(str(i), country_code="AE" if i % 3 == 0 else "")
        for i in range(n)
    ] + [_rfq(f"new-{i}") for i in range(5)]  # fmt: skip
    results: dict[str, tuple[list, list]] = {}
    for path in ("small", "bulk"):
        with psycopg.connect(clean_db) as conn:
            conn.execute("TRUNCATE rfqs RESTART IDENTITY CASCADE")
            _setup(conn)
            counts = []
            for batch in (first, second, second):
                if path == "small":  # below the COPY threshold, chunk by chunk
                    parts = [batch[i : i + n // 4] for i in range(0, len(batch), n // 4)]
                    got = [repository.upsert_rfqs(conn, [(r, None) for r in part]) for part in parts]
                    counts.append((sum(g.seen for g in got), sum(g.inserted for g in got), sum(g.changed for g in got)))
                else:
                    got1 = repository.upsert_rfqs(conn, [(r, None) for r in batch])
                    counts.append((got1.seen, got1.inserted, got1.changed))
                conn.execute("UPDATE rfqs SET normalized_at = now()")
            staged = conn.execute("SELECT count(*) FROM rfqs_staging").fetchone()[0]
            results[path] = (counts, _table(conn))
        assert staged == 0
    assert results["bulk"] == results["small"]
    counts = results["bulk"][0]
    assert counts[0] == (n, n, 0)
    assert counts[1] == (n + 5, 5, n // 4)  # only the edited quantities are changes; fallback reads are ignored
    assert counts[2] == (n + 5, 0, 0)


def test_an_rfq_listed_twice_in_a_batch_is_taken_at_its_last_sighting(clean_db: str) -> None:
    rows = [(_rfq(str(i)), None) for i in range(repository.BULK_UPSERT_MIN_ROWS)]
    rows.append((_rfq("0", title="Argan Oil, cosmetic grade"), None))
    with psycopg.connect(clean_db) as conn:
        _setup(conn)
        counts = repository.upsert_rfqs(conn, rows)
        title = conn.execute("SELECT title FROM rfqs WHERE external_id = '0'").fetchone()[0]
    assert (counts.seen, counts.inserted) == (len(rows), repository.BULK_UPSERT_MIN_ROWS)
    assert title == "Argan Oil, cosmetic grade"


def test_content_hash_is_the_hash_of_the_sorted_json_of_the_fields() -> None:
    """Stored hashes were written with this formula: the fast assembly must give the same bytes, or every stored
    RFQ would read as changed at its next sighting."""
    import hashlib
    import json

    def reference(rfq: ParsedRfq) -> str:
        payload = {
            "canonical_url": rfq.canonical_url,
            "title": rfq.title,
            "description": rfq.description,
            "quantity_text": rfq.quantity_text,
            "buyer_name": rfq.buyer_name,
            "buyer_company": rfq.buyer_company,
            "country_raw": rfq.country_raw,
            "attributes": rfq.attributes,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    cases = [
        _rfq("1"),
        _rfq("2", attributes={}),
        _rfq("3", title='Crème "bio" \\ 面霜 \u2028 \U0001f600', description="line\nbreak\ttab"),
        _rfq("4", attributes={"z": [1, 2.5, None], "a": {"nested": True}, "when": POSTED}),
        _rfq("5", buyer_name="Ana", buyer_company="Ünïcode GmbH", country_raw=""),
        _rfq("6", description=None),  # type: ignore[arg-type]  # not a str: the slow path
    ]
    assert [repository.rfq_content_sha256(r) for r in cases] == [reference(r) for r in cases]
