"""SQL for the sources, raw pages and RFQs tables. Every write is idempotent (unique keys + ON CONFLICT).

All SQL is written as whole literal statements so the schema parity test can prepare each one against the migrated
database: a column the code uses but the schema lacks fails the test suite, not production.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from rfq_pipeline.sources.model import ParsedRfq
from rfq_pipeline.sources.reach import ListingReach

UPSERT_SOURCE = """
INSERT INTO sources (name, kind, base_url, cadence, enabled)
VALUES (%(name)s, %(kind)s, %(base_url)s, %(cadence)s, %(enabled)s)
ON CONFLICT (name) DO UPDATE SET
    kind = EXCLUDED.kind,
    base_url = EXCLUDED.base_url,
    cadence = EXCLUDED.cadence,
    enabled = EXCLUDED.enabled,
    updated_at = now()
WHERE (sources.kind, sources.base_url, sources.cadence, sources.enabled)
      IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.base_url, EXCLUDED.cadence, EXCLUDED.enabled)
"""

ENSURE_SOURCE_HEALTH = "INSERT INTO source_health (source) VALUES (%(source)s) ON CONFLICT (source) DO NOTHING"

RECORD_RAW_PAGE = """
INSERT INTO raw_pages (source, url, page_kind, partition_date, content_sha256, object_key, byte_size, http_status,
                       fetch_status, parse_status, error, first_fetched_at, last_fetched_at, run_id)
VALUES (%(source)s, %(url)s, %(page_kind)s, %(partition_date)s, %(content_sha256)s, %(object_key)s, %(byte_size)s,
        %(http_status)s, %(fetch_status)s, %(parse_status)s, %(error)s, %(fetched_at)s, %(fetched_at)s, %(run_id)s)
ON CONFLICT ON CONSTRAINT raw_pages_source_url_content_key DO UPDATE SET
    page_kind = EXCLUDED.page_kind,
    partition_date = EXCLUDED.partition_date,
    object_key = EXCLUDED.object_key,
    byte_size = EXCLUDED.byte_size,
    http_status = EXCLUDED.http_status,
    fetch_status = EXCLUDED.fetch_status,
    parse_status = EXCLUDED.parse_status,
    error = EXCLUDED.error,
    fetch_count = raw_pages.fetch_count + 1,
    last_fetched_at = EXCLUDED.last_fetched_at,
    run_id = EXCLUDED.run_id
RETURNING id
"""

INSERT_SOURCE_IF_MISSING = """
INSERT INTO sources (name, kind, base_url, cadence, enabled)
VALUES (%(name)s, %(kind)s, %(base_url)s, %(cadence)s, %(enabled)s)
ON CONFLICT (name) DO NOTHING
"""

RECORD_CRAWL = """
INSERT INTO source_crawls (source, partition_date, run_id, started_at, pages_fetched, pages_failed, rfqs_seen,
                           rfqs_new, rfqs_changed, status, challenges, parse_failures, field_fill, stopped_by,
                           fallback_pages, listings, window_start, window_end)
VALUES (%(source)s, %(partition_date)s, %(run_id)s, %(started_at)s, %(pages_fetched)s, %(pages_failed)s,
        %(rfqs_seen)s, %(rfqs_new)s, %(rfqs_changed)s, %(status)s, %(challenges)s, %(parse_failures)s,
        %(field_fill)s, %(stopped_by)s, %(fallback_pages)s, %(listings)s, %(window_start)s, %(window_end)s)
ON CONFLICT (source, partition_date, run_id) DO UPDATE SET
    finished_at = now(),
    pages_fetched = EXCLUDED.pages_fetched,
    pages_failed = EXCLUDED.pages_failed,
    rfqs_seen = EXCLUDED.rfqs_seen,
    rfqs_new = EXCLUDED.rfqs_new,
    rfqs_changed = EXCLUDED.rfqs_changed,
    status = EXCLUDED.status,
    challenges = EXCLUDED.challenges,
    parse_failures = EXCLUDED.parse_failures,
    field_fill = EXCLUDED.field_fill,
    stopped_by = EXCLUDED.stopped_by,
    fallback_pages = EXCLUDED.fallback_pages,
    listings = EXCLUDED.listings,
    window_start = EXCLUDED.window_start,
    window_end = EXCLUDED.window_end
"""

SELECT_LISTING_REACH = """
SELECT listing, oldest_day, stopped_by, pages_read FROM listing_reach WHERE source = %(source)s
"""

# The latest crawl that read a listing to its end or cap tells where it ends now: the reach moves with it, both ways.
RECORD_LISTING_REACH = """
INSERT INTO listing_reach (source, listing, oldest_day, stopped_by, pages_read, run_id)
VALUES (%(source)s, %(listing)s, %(oldest_day)s, %(stopped_by)s, %(pages_read)s, %(run_id)s)
ON CONFLICT (source, listing) DO UPDATE SET
    oldest_day = EXCLUDED.oldest_day,
    stopped_by = EXCLUDED.stopped_by,
    pages_read = EXCLUDED.pages_read,
    observed_at = now(),
    run_id = EXCLUDED.run_id
"""

# The crawls a drift check compares against: the source's recent crawls that found rows, excluding this run.
RECENT_CRAWL_BASELINE = """
SELECT rfqs_seen, field_fill
FROM source_crawls
WHERE source = %(source)s AND run_id <> %(run_id)s AND status IN ('ok', 'partial')
ORDER BY finished_at DESC
LIMIT %(limit)s
"""

SELECT_RFQS_POSTED_BETWEEN = """
SELECT id, source, external_id, title, description, quantity_text, country_raw,
       attributes ->> 'country_code' AS country_code_hint, posted_at, first_seen_at
FROM rfqs
WHERE COALESCE(posted_at, first_seen_at) >= %(start)s AND COALESCE(posted_at, first_seen_at) < %(end)s
ORDER BY id
"""

UPDATE_NORMALIZED = """
UPDATE rfqs AS r SET
    quantity_value = n.quantity_value,
    quantity_unit = n.quantity_unit,
    country_code = n.country_code,
    country_name = n.country_name,
    posted_date = n.posted_date,
    title_clean = n.title_clean,
    normalized_at = now(),
    normalizer_version = %(version)s
FROM unnest(%(id)s::bigint[], %(quantity_value)s::numeric[], %(quantity_unit)s::text[], %(country_code)s::text[],
            %(country_name)s::text[], %(posted_date)s::date[], %(title_clean)s::text[])
     AS n(id, quantity_value, quantity_unit, country_code, country_name, posted_date, title_clean)
WHERE r.id = n.id
"""

COUNT_RFQS_BY_SOURCE_FOR_DAY = """
WITH day_rfqs AS (
    SELECT r.id, r.source, r.normalized_at, r.first_seen_at
    FROM rfqs AS r
    WHERE r.posted_date = %(day)s OR (r.posted_date IS NULL
          AND COALESCE(r.posted_at, r.first_seen_at) >= %(start)s
          AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s)
)
SELECT s.name AS source,
       count(d.id) AS rfqs_on_day,
       count(d.id) FILTER (WHERE d.first_seen_at >= %(since)s) AS new_this_run,
       count(d.id) FILTER (WHERE d.normalized_at IS NOT NULL) AS normalized_on_day,
       count(d.id) FILTER (WHERE EXISTS (
           SELECT 1 FROM classifications c WHERE c.rfq_id = d.id AND c.model_version = %(model_version)s
       )) AS classified_on_day,
       count(d.id) FILTER (WHERE EXISTS (
           SELECT 1 FROM effective_labels(ARRAY[d.id]) e WHERE e.relevant
       )) AS relevant_on_day,
       count(d.id) FILTER (WHERE EXISTS (
           SELECT 1 FROM effective_labels(ARRAY[d.id]) e WHERE e.uncertain
       )) AS uncertain_on_day,
       count(d.id) FILTER (WHERE EXISTS (
           SELECT 1 FROM dedup_cluster_members m WHERE m.rfq_id = d.id AND m.matched_by <> 'new'
       )) AS duplicates_on_day,
       (SELECT count(*) FROM rfqs AS t WHERE t.source = s.name) AS rfqs_total
FROM sources AS s
LEFT JOIN day_rfqs AS d ON d.source = s.name
GROUP BY s.name
ORDER BY s.name
"""


def ensure_source(
    conn: psycopg.Connection, *, name: str, kind: str, base_url: str, cadence: str, enabled: bool
) -> None:
    """Insert a source row only if there is none (a mail attributed to a marketplace never rewrites its crawl row)."""
    conn.execute(
        INSERT_SOURCE_IF_MISSING,
        {"name": name, "kind": kind, "base_url": base_url, "cadence": cadence, "enabled": enabled},
    )


def upsert_source(
    conn: psycopg.Connection, *, name: str, kind: str, base_url: str, cadence: str, enabled: bool
) -> None:
    """Insert or refresh a source row from its spec."""
    conn.execute(
        UPSERT_SOURCE, {"name": name, "kind": kind, "base_url": base_url, "cadence": cadence, "enabled": enabled}
    )


def ensure_source_health(conn: psycopg.Connection, source: str) -> None:
    """Create the source's health row (breaker and rate-limit state) if it has none yet."""
    conn.execute(ENSURE_SOURCE_HEALTH, {"source": source})


def record_raw_page(conn: psycopg.Connection, row: dict[str, Any]) -> int:
    """Index one fetched page (idempotent on source, URL and content hash) and return its id."""
    found = conn.execute(RECORD_RAW_PAGE, row).fetchone()
    assert found is not None
    return int(found[0])


_HASHED_TEXT_FIELDS = (
    "buyer_company", "buyer_name", "canonical_url", "country_raw", "description", "quantity_text", "title",
)  # fmt: skip


def rfq_content_sha256(rfq: ParsedRfq) -> str:
    """Hash of what a page says about an RFQ, excluding the fetch-time-relative posting text.

    The hash is of ``json.dumps`` of the fields with sorted keys. The text is assembled field by field with the
    encoder ``json.dumps`` itself uses (same bytes, about twice as fast: a bulk import hashes every row).
    """
    values = [getattr(rfq, name) for name in _HASHED_TEXT_FIELDS]
    if not all(type(value) is str for value in values):
        return _content_sha256_slow(rfq)
    attributes = json.dumps(rfq.attributes, sort_keys=True, default=str) if rfq.attributes else "{}"
    parts = [f'{{"attributes": {attributes}']
    parts.extend(f'"{name}": {_json_string(value)}' for name, value in zip(_HASHED_TEXT_FIELDS, values, strict=True))
    return hashlib.sha256((", ".join(parts) + "}").encode()).hexdigest()


def _content_sha256_slow(rfq: ParsedRfq) -> str:
    payload = {name: getattr(rfq, name) for name in _HASHED_TEXT_FIELDS}
    payload["attributes"] = rfq.attributes
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did."""

    seen: int
    inserted: int
    changed: int  # updated rows whose content differed (inserted rows not counted)


# Every upsert stages its rows and merges them with one statement. Below this many rows they are staged by one
# INSERT of arrays (one round trip with the merge: a mail or a listing page); from it on, by binary COPY.
BULK_UPSERT_MIN_ROWS = 200

STAGE_RFQS = """
INSERT INTO rfqs_staging (batch_token, seq, source, external_id, canonical_url, title, description, posted_at,
                          posted_text, quantity_text, buyer_name, buyer_company, country_raw, attributes,
                          content_sha256, raw_page_id, extraction)
SELECT %(token)s, s.seq, s.source, s.external_id, s.canonical_url, s.title, s.description, s.posted_at, s.posted_text,
       s.quantity_text, s.buyer_name, s.buyer_company, s.country_raw, s.attributes, s.content_sha256, s.raw_page_id,
       s.extraction
FROM unnest(%(seq)s::integer[], %(source)s::text[], %(external_id)s::text[], %(canonical_url)s::text[],
            %(title)s::text[], %(description)s::text[], %(posted_at)s::timestamptz[], %(posted_text)s::text[],
            %(quantity_text)s::text[], %(buyer_name)s::text[], %(buyer_company)s::text[], %(country_raw)s::text[],
            %(attributes)s::jsonb[], %(content_sha256)s::text[], %(raw_page_id)s::bigint[], %(extraction)s::text[])
     AS s(seq, source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text,
          buyer_name, buyer_company, country_raw, attributes, content_sha256, raw_page_id, extraction)
"""

COPY_RFQS_STAGING = """
COPY rfqs_staging (batch_token, seq, source, external_id, canonical_url, title, description, posted_at, posted_text,
                   quantity_text, buyer_name, buyer_company, country_raw, attributes, content_sha256, raw_page_id,
                   extraction)
FROM STDIN WITH (FORMAT BINARY)
"""

_STAGING_TYPES = [
    "uuid", "int4", "text", "text", "text", "text", "text", "timestamptz", "text",
    "text", "text", "text", "text", "jsonb", "text", "int8", "text",
]  # fmt: skip

# posted_at keeps its first value: relative dates ("3 hours before") are most precise when first seen, and an RFQ
# must not hop between partitions as "N days ago" is re-read on later days. What the generic extractor read after
# layout drift never overwrites what the source's selectors read. The batch holds each RFQ once.
# "Changed" means the page says something new: such a row, and only such a row, gets this statement's
# statement_timestamp() as updated_at, which RETURNING compares (no statement before this one can have stamped a row
# with it). That replaces a join against the table as it was, which cost a second index probe per row.
MERGE_RFQS_STAGING = """
WITH upserted AS (
    INSERT INTO rfqs (source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text,
                      buyer_name, buyer_company, country_raw, attributes, content_sha256, raw_page_id, extraction)
    SELECT source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text,
           buyer_name, buyer_company, country_raw, attributes, content_sha256, raw_page_id, extraction
    FROM rfqs_staging
    WHERE batch_token = %(token)s
    ORDER BY seq
    ON CONFLICT ON CONSTRAINT rfqs_source_external_id_key DO UPDATE SET
        canonical_url = EXCLUDED.canonical_url,
        title = EXCLUDED.title,
        description = EXCLUDED.description,
        posted_at = COALESCE(rfqs.posted_at, EXCLUDED.posted_at),
        posted_text = EXCLUDED.posted_text,
        quantity_text = EXCLUDED.quantity_text,
        buyer_name = EXCLUDED.buyer_name,
        buyer_company = EXCLUDED.buyer_company,
        country_raw = EXCLUDED.country_raw,
        attributes = EXCLUDED.attributes,
        content_sha256 = EXCLUDED.content_sha256,
        raw_page_id = EXCLUDED.raw_page_id,
        extraction = EXCLUDED.extraction,
        last_seen_at = now(),
        updated_at = CASE
            WHEN rfqs.content_sha256 = EXCLUDED.content_sha256 THEN rfqs.updated_at ELSE statement_timestamp()
        END,
        normalized_at = CASE WHEN rfqs.content_sha256 = EXCLUDED.content_sha256 THEN rfqs.normalized_at END
    WHERE NOT (rfqs.extraction = 'selectors' AND EXCLUDED.extraction = 'fallback')
    RETURNING (xmax = 0) AS inserted, updated_at = statement_timestamp() AS changed
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted AND changed) AS changed
FROM upserted
"""

CLEAR_RFQS_STAGING = "DELETE FROM rfqs_staging WHERE batch_token = %(token)s"


_STAGED_FIELDS = (
    "source", "external_id", "canonical_url", "title", "description", "posted_at", "posted_text", "quantity_text",
    "buyer_name", "buyer_company", "country_raw", "attributes", "content_sha256", "raw_page_id", "extraction",
)  # fmt: skip


def _staged_row(rfq: ParsedRfq, raw_page_id: int | None) -> tuple[Any, ...]:
    """The staging columns of one RFQ, in ``_STAGED_FIELDS`` order."""
    attributes = {**rfq.attributes, "country_code": rfq.country_code} if rfq.country_code else rfq.attributes
    return (
        rfq.source, rfq.external_id, rfq.canonical_url, rfq.title, rfq.description, rfq.posted_at, rfq.posted_text,
        rfq.quantity_text, rfq.buyer_name, rfq.buyer_company, rfq.country_raw, Jsonb(attributes),
        rfq_content_sha256(rfq), raw_page_id, rfq.extraction,
    )  # fmt: skip


def upsert_rfqs(conn: psycopg.Connection, rows: Iterable[tuple[ParsedRfq, int | None]]) -> UpsertCounts:
    """Insert new RFQs and refresh known ones, keyed by (source, external_id); returns what changed.

    The rows are staged (one INSERT of arrays for a small batch, binary COPY from ``BULK_UPSERT_MIN_ROWS`` rows on)
    and merged by one statement. An RFQ listed twice in the batch is taken once, at its last sighting (what
    upserting the rows one after another would leave behind: INSERT ... ON CONFLICT may not touch a row twice).
    """
    batch = list(rows)
    if not batch:
        return UpsertCounts(seen=0, inserted=0, changed=0)
    latest = {(rfq.source, rfq.external_id): (rfq, raw_page_id) for rfq, raw_page_id in batch}
    token = uuid.uuid4()
    with conn.cursor() as cur:
        if len(latest) >= BULK_UPSERT_MIN_ROWS:
            with cur.copy(COPY_RFQS_STAGING) as copy:
                copy.set_types(_STAGING_TYPES)
                write_row = copy.write_row
                for seq, (rfq, raw_page_id) in enumerate(latest.values()):
                    write_row((token, seq, *_staged_row(rfq, raw_page_id)))
            # The merge sorts and hashes the whole batch: in memory, not in temporary files.
            cur.execute("SELECT set_config('work_mem', '128MB', true)")
        else:
            staged = [_staged_row(rfq, raw_page_id) for rfq, raw_page_id in latest.values()]
            params: dict[str, Any] = {"token": token, "seq": list(range(len(staged)))}
            params |= {name: [row[i] for row in staged] for i, name in enumerate(_STAGED_FIELDS)}
            cur.execute(STAGE_RFQS, params)
        found = cur.execute(MERGE_RFQS_STAGING, {"token": token}).fetchone()
        cur.execute(CLEAR_RFQS_STAGING, {"token": token})
    inserted, changed = (int(found[0]), int(found[1])) if found else (0, 0)
    return UpsertCounts(seen=len(batch), inserted=inserted, changed=changed)


def record_crawl(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    """Record the outcome of one crawl of a source partition."""
    conn.execute(RECORD_CRAWL, row)


def listing_reach(conn: psycopg.Connection, source: str) -> dict[str, ListingReach]:
    """The recorded reach of each of ``source``'s listings, by listing template."""
    rows = conn.execute(SELECT_LISTING_REACH, {"source": source}).fetchall()
    return {str(r[0]): ListingReach(str(r[0]), r[1], str(r[2]), int(r[3])) for r in rows}


def record_listing_reach(conn: psycopg.Connection, source: str, run_id: str, reach: Iterable[ListingReach]) -> None:
    """Store (or move) the reach of the listings a crawl read to their end or cap."""
    for item in reach:
        conn.execute(
            RECORD_LISTING_REACH,
            {
                "source": source,
                "listing": item.listing,
                "oldest_day": item.oldest_day,
                "stopped_by": item.stopped_by,
                "pages_read": item.pages_read,
                "run_id": run_id,
            },
        )


def recent_crawls(conn: psycopg.Connection, source: str, run_id: str, limit: int = 10) -> list[tuple[int, dict]]:
    """(rows seen, field fill) of the source's latest crawls before this run, newest first."""
    rows = conn.execute(RECENT_CRAWL_BASELINE, {"source": source, "run_id": run_id, "limit": limit}).fetchall()
    return [(int(seen), dict(fill or {})) for seen, fill in rows]


def rfqs_posted_between(conn: psycopg.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """RFQs (all sources) whose posting time, or first sighting when undated, falls in ``[start, end)``."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(SELECT_RFQS_POSTED_BETWEEN, {"start": start, "end": end})
        return list(cur.fetchall())


def update_normalized(conn: psycopg.Connection, columns: dict[str, Sequence[Any]], version: str) -> int:
    """Write the normalization stage's columns for many RFQs in one statement; returns rows updated."""
    params = dict(columns)
    params["version"] = version
    cur = conn.execute(UPDATE_NORMALIZED, params)
    return cur.rowcount


def counts_for_day(
    conn: psycopg.Connection,
    day: date,
    start: datetime,
    end: datetime,
    model_version: str = "",
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per source: RFQs posted on ``day``; how many are new since ``since``, normalized, classified by
    ``model_version``, relevant and duplicates of an earlier request; and the all-time total."""
    with conn.cursor(row_factory=dict_row) as cur:
        params = {"day": day, "start": start, "end": end, "model_version": model_version, "since": since or end}
        cur.execute(COUNT_RFQS_BY_SOURCE_FOR_DAY, params)
        return list(cur.fetchall())


SELECT_RFQ_IDS_BETWEEN = """
SELECT id FROM rfqs
WHERE COALESCE(posted_at, first_seen_at) >= %(start)s AND COALESCE(posted_at, first_seen_at) < %(end)s
ORDER BY id
"""

SELECT_RFQ_ID = "SELECT id FROM rfqs WHERE source = %(source)s AND external_id = %(external_id)s"


def rfq_ids_between(conn: psycopg.Connection, start: datetime, end: datetime) -> list[int]:
    """Ids of the RFQs of a partition window (posting time, or first sighting when the page gave none)."""
    return [int(r[0]) for r in conn.execute(SELECT_RFQ_IDS_BETWEEN, {"start": start, "end": end}).fetchall()]


def rfq_id(conn: psycopg.Connection, source: str, external_id: str) -> int | None:
    """The id of one RFQ by its natural key, or ``None``."""
    row = conn.execute(SELECT_RFQ_ID, {"source": source, "external_id": external_id}).fetchone()
    return int(row[0]) if row else None
