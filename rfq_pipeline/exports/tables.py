"""The exported tables: one typed spec per table, with its SQL and its exact column list.

Analysts query Parquet files through DuckDB, never the production database. Each table is exported per day,
``exports/<table>/date=YYYY-MM-DD/data.parquet``, and a row belongs to the day of its RFQ's posting date
``COALESCE(posted_at, first_seen_at)`` (UTC): an RFQ, its labels, the cluster it founded, that cluster's buyer and
contacts, the draft quoting it and the draft's events all land in the same day, and each entity lands in exactly one
day (the posting time of an RFQ never changes once recorded), so the union of all days has no duplicates.
``source_health`` is the exception: one row per source for the day exported, holding that day's crawl totals and the
breaker state as of the export (``snapshot_at``). Rows that change after their day (a cluster gaining a repost, a
draft being won) are refreshed by exporting the day again, which replaces its files.

Schema versioning
-----------------
``SCHEMA_VERSION`` names the column lists below and is written into every Parquet file's metadata and into the
DuckDB ``export_meta`` table. The rule: a change is either *additive* (a new, nullable column appended to a table,
or a new table appended to ``TABLES``; the version stays, older files read as NULL in that column through
``union_by_name``, and a new table has rows for the days exported since it was added) or it *bumps the version*
(a column removed, renamed, retyped or re-meant). ``rfq_pipeline_tests/exports/test_tables.py`` pins every column
name and type, so a silent change fails the suite: update the pin together with the version (or as additive).

Personal data
-------------
E-mail addresses, phone numbers and person names of buyers and contacts are never exported in clear:

- e-mail addresses and phone numbers become a salted SHA-256 (``sha256(salt || value)`` as hex, the value
  normalized first: an e-mail stripped and lower-cased, a phone reduced to ``+`` and digits) in ``*_sha256``
  columns, so analysts can count and join distinct addresses without reading them. The salt is
  ``RFQ_EXPORT_PII_SALT`` (a secret, at least 16 characters); without it a random per-installation salt is created
  once under ``RFQ_DATA_DIR/secrets/`` (hashes are then comparable only between exports of that installation, so
  set the variable wherever several machines export);
- person names are omitted (``buyer_contacts.name``; a contact says only whether it had one), except
  ``rfqs.buyer_name``, which is hashed like an e-mail (case-folded) so reposts by one person can still be grouped;
  the actor of a draft event and the approver of a quote outcome are hashed too (alike, so they join), their
  kind (``cli``, a sensor, a run) kept;
- what analysts need is kept: the e-mail *domain* (``email_domain``) and the phone *country* (``phone_country``);
- free text that may quote a buyer (RFQ descriptions, the quantity as written, draft bodies and cover texts,
  contact evidence, event notes, risk evidence) is not exported; titles and errors are exported with e-mail
  addresses and international phone numbers replaced by ``[email]`` and ``[phone]``;
- contacts are exported only when ``RFQ_EXPORT_CONTACTS=true``; by default the ``contacts`` table is written with
  zero rows and the same columns.

Company names and domains are exported: they name businesses, not people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import polars as pl

SCHEMA_VERSION = 1

# How a column's value is treated before it is written. The SQL selects the stored value; the writer applies the
# treatment in this process, so neither clear values nor the salt travel anywhere but the export's memory.
Treatment = Literal["plain", "email", "phone", "name", "redact"]

SIGHTING = pl.Struct(
    {
        "rfq_id": pl.Int64,
        "source": pl.String,
        "external_id": pl.String,
        "url": pl.String,
        "matched_by": pl.String,
    }
)


@dataclass(frozen=True)
class Column:
    """One exported column: its name, its Parquet/polars type and how personal data in it is treated."""

    name: str
    dtype: pl.DataType
    treatment: Treatment = "plain"
    doc: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One exported table.

    ``sql`` is a whole SELECT over the window ``[%(start)s, %(end)s)`` (and ``%(day)s``, the day as a date) whose
    output columns are exactly ``columns`` in order. Booleans, numbers, dates and timestamps come as themselves;
    list and struct columns come as JSON text (``to_json``/``json_agg``) and are decoded into their type.
    """

    name: str
    description: str
    sql: str
    columns: tuple[Column, ...]
    day_rule: Literal["posting", "exported"] = "posting"
    opt_in: str | None = None  # the ExportOptions flag that must be true for rows to be read (else zero rows)

    @property
    def schema(self) -> pl.Schema:
        """The exported columns as a polars schema, in order."""
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


# Each statement spells out the posting-day window rather than sharing a fragment, so every statement stays one
# literal that the schema parity test prepares against the migrated schema.
SELECT_EXPORT_RFQS = """
SELECT r.id AS rfq_id, r.source, r.external_id, r.canonical_url, r.title, r.title_clean,
       NULLIF(r.buyer_name, '') AS buyer_name_sha256, NULLIF(r.buyer_company, '') AS buyer_company,
       r.quantity_value::double precision AS quantity_value, r.quantity_unit, r.country_code, r.country_name,
       r.posted_at, r.posted_date, COALESCE(r.posted_at, r.first_seen_at) AS posted_or_seen_at,
       r.first_seen_at, r.last_seen_at, r.normalized_at, r.normalizer_version,
       m.cluster_id, k.canonical_rfq_id, m.matched_by,
       CASE WHEN k.id IS NULL THEN NULL ELSE k.canonical_rfq_id <> r.id END AS is_duplicate
FROM rfqs r
LEFT JOIN dedup_cluster_members m ON m.rfq_id = r.id
LEFT JOIN dedup_clusters k ON k.id = m.cluster_id
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
ORDER BY r.id
"""

SELECT_EXPORT_CLASSIFICATIONS = """
SELECT c.rfq_id, c.model_version, c.provider, c.industry, c.relevant, c.intent, c.quality::double precision AS quality,
       c.classified_at, c.confidence::double precision AS confidence, c.uncertain,
       -- The label that counts, as effective_labels orders them: a person's, then Claude's, then the newest.
       row_number() OVER (PARTITION BY c.rfq_id ORDER BY (c.provider = 'human') DESC, (c.provider = 'anthropic') DESC,
                          c.classified_at DESC, c.model_version) = 1 AS is_latest
FROM classifications c
JOIN rfqs r ON r.id = c.rfq_id
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
ORDER BY c.rfq_id, c.model_version
"""

# Active clusters only: a cluster absorbed by a merge has no members left and points at its survivor. One grouped
# join rather than a subquery per cluster: a day can hold many clusters.
SELECT_EXPORT_CLUSTERS = """
WITH day_clusters AS (
    SELECT k.id, k.canonical_rfq_id, k.member_count, k.created_at, k.updated_at
    FROM dedup_clusters k
    JOIN rfqs r ON r.id = k.canonical_rfq_id
    WHERE k.merged_into IS NULL
      AND COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
)
SELECT d.id AS cluster_id, d.canonical_rfq_id, d.member_count, count(DISTINCT x.source) AS source_count,
       json_agg(json_build_object('rfq_id', x.id, 'source', x.source, 'external_id', x.external_id,
                                  'url', x.canonical_url, 'matched_by', m.matched_by,
                                  'product', a.attributes -> 'product', 'specs', a.attributes -> 'specs',
                                  'quantity', a.attributes -> 'quantity', 'why', m.evidence -> 'reason')
                ORDER BY x.first_seen_at, x.id) AS sightings,
       min(x.first_seen_at) AS first_seen_at, max(x.last_seen_at) AS last_seen_at, d.created_at, d.updated_at
FROM day_clusters d
JOIN dedup_cluster_members m ON m.cluster_id = d.id
JOIN rfqs x ON x.id = m.rfq_id
LEFT JOIN rfq_dedup_attributes a ON a.rfq_id = x.id
GROUP BY d.id, d.canonical_rfq_id, d.member_count, d.created_at, d.updated_at
ORDER BY d.id
"""

SELECT_EXPORT_BUYERS = """
SELECT b.id AS buyer_id, b.cluster_id, b.rfq_id, b.company, b.domain, b.country_code,
       b.email AS email_sha256, NULLIF(lower(split_part(b.email, '@', 2)), '') AS email_domain, b.email_status,
       b.risk_score, b.risk_level,
       to_json(ARRAY(SELECT e ->> 'code' FROM jsonb_array_elements(b.risk_reasons) AS e)) AS risk_reasons,
       b.method, b.enricher_version, b.enriched_at,
       (SELECT count(*) FROM buyer_contacts bc WHERE bc.buyer_id = b.id) AS contact_count
FROM buyers b
JOIN rfqs r ON r.id = b.rfq_id
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
ORDER BY b.id
"""

SELECT_EXPORT_CONTACTS = """
SELECT bc.buyer_id, bc.contact_key AS contact_key_sha256, bc.role, bc.name IS NOT NULL AS has_name,
       bc.email AS email_sha256, NULLIF(lower(split_part(bc.email, '@', 2)), '') AS email_domain,
       bc.phone AS phone_sha256, bc.phone_country,
       (bc.confidence ->> 'email')::double precision AS email_confidence,
       (bc.confidence ->> 'phone')::double precision AS phone_confidence,
       jsonb_array_length(bc.evidence) AS evidence_count
FROM buyer_contacts bc
JOIN buyers b ON b.id = bc.buyer_id
JOIN rfqs r ON r.id = b.rfq_id
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
ORDER BY bc.buyer_id, bc.contact_key
"""

SELECT_EXPORT_QUOTE_DRAFTS = """
SELECT q.id AS draft_id, q.cluster_id, q.rfq_id, q.buyer_id, q.state, q.currency, q.incoterm,
       q.total::double precision AS total, q.needs_review, q.guardrails_passed, q.cover_source, q.catalog_version,
       q.fx_as_of,
       CASE WHEN jsonb_typeof(q.body -> 'lines') = 'array' THEN jsonb_array_length(q.body -> 'lines') END AS line_count,
       CASE WHEN jsonb_typeof(q.body -> 'lines') = 'array' THEN
           (SELECT count(*) FROM jsonb_array_elements(q.body -> 'lines') AS l WHERE l ->> 'unit_price' IS NOT NULL)
       END AS priced_line_count,
       q.created_at, q.ready_at, q.state_changed_at, q.updated_at,
       COALESCE(r.posted_at, r.first_seen_at) AS rfq_posted_at
FROM quote_drafts q
JOIN rfqs r ON r.id = q.rfq_id
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
ORDER BY q.id
"""

SELECT_EXPORT_QUOTE_DRAFT_EVENTS = """
SELECT e.id AS event_id, e.draft_id, e.from_state, e.to_state, split_part(e.actor, ':', 1) AS actor_kind,
       NULLIF(e.actor, '') AS actor_sha256, e.at
FROM quote_draft_events e
JOIN quote_drafts q ON q.id = e.draft_id
JOIN rfqs r ON r.id = q.rfq_id
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
ORDER BY e.id
"""

# One row per draft with what became of it. A draft counts as sent from the earlier of ``first_sent_at`` (set when the
# quote mail leaves) and its first move to 'sent' (a quote marked sent by hand, e.g. answered on a marketplace);
# only state events (action 'state') are moves: other actions (an edit, a used link) repeat the state.
SELECT_EXPORT_QUOTE_OUTCOMES = """
SELECT q.id AS draft_id, q.rfq_id, r.source,
       (SELECT c.industry FROM classifications c WHERE c.rfq_id = q.rfq_id
        ORDER BY c.classified_at DESC, c.model_version LIMIT 1) AS industry,
       r.country_code, r.country_name, COALESCE(r.posted_at, r.first_seen_at) AS rfq_posted_at,
       q.created_at AS drafted_at, s.first_sent_at,
       EXTRACT(EPOCH FROM s.first_sent_at - COALESCE(r.posted_at, r.first_seen_at))::double precision / 3600
           AS time_to_first_quote_hours,
       q.state, q.version AS version_count, a.at IS NOT NULL AS approved, a.at AS approved_at,
       split_part(a.actor, ':', 1) AS approver_kind, NULLIF(a.actor, '') AS approver_sha256,
       s.first_sent_at IS NOT NULL AS sent,
       CASE WHEN q.state IN ('won', 'lost') THEN q.state END AS outcome,
       q.total::double precision AS total, q.currency,
       (SELECT count(*) FROM outbound_emails o
        WHERE o.draft_id = q.id AND o.kind = 'clarification' AND o.status = 'sent')
       + (SELECT count(*) FROM marketplace_reply_tasks t
          WHERE t.draft_id = q.id AND t.kind = 'clarification' AND t.status = 'done') AS clarifications_sent
FROM quote_drafts q
JOIN rfqs r ON r.id = q.rfq_id
LEFT JOIN LATERAL (
    SELECT e.actor, e.at FROM quote_draft_events e
    WHERE e.draft_id = q.id AND e.action = 'state' AND e.to_state = 'approved'
    ORDER BY e.at, e.id LIMIT 1
) a ON true
CROSS JOIN LATERAL (
    SELECT LEAST(q.first_sent_at, (SELECT min(e.at) FROM quote_draft_events e
                                   WHERE e.draft_id = q.id AND e.action = 'state' AND e.to_state = 'sent'))
           AS first_sent_at
) s
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
ORDER BY q.id
"""

# One row per registered source for the exported day: that day's crawls (by partition date) and the breaker as it
# stands at the export; now() is the start of the export's transaction, the same for every table of the day.
SELECT_EXPORT_SOURCE_HEALTH = """
SELECT s.name AS source, s.kind, s.enabled, h.breaker_state, h.consecutive_failures, h.opened_count,
       h.open_until, h.half_open_since, h.paused_until, h.slow_until, h.last_success_at, h.last_failure_at,
       h.last_error, COALESCE(c.crawls, 0) AS crawls, COALESCE(c.failed_crawls, 0) AS failed_crawls,
       COALESCE(c.pages_fetched, 0) AS pages_fetched, COALESCE(c.pages_failed, 0) AS pages_failed,
       COALESCE(c.rfqs_seen, 0) AS rfqs_seen, COALESCE(c.rfqs_new, 0) AS rfqs_new,
       COALESCE(c.rfqs_changed, 0) AS rfqs_changed, COALESCE(c.challenges, 0) AS challenges,
       COALESCE(c.parse_failures, 0) AS parse_failures, c.last_crawl_finished_at, now() AS snapshot_at
FROM sources s
LEFT JOIN source_health h ON h.source = s.name
LEFT JOIN (
    SELECT sc.source, count(*) AS crawls, count(*) FILTER (WHERE sc.status = 'failed') AS failed_crawls,
           sum(sc.pages_fetched) AS pages_fetched, sum(sc.pages_failed) AS pages_failed,
           sum(sc.rfqs_seen) AS rfqs_seen, sum(sc.rfqs_new) AS rfqs_new, sum(sc.rfqs_changed) AS rfqs_changed,
           sum(sc.challenges) AS challenges, sum(sc.parse_failures) AS parse_failures,
           max(sc.finished_at) AS last_crawl_finished_at
    FROM source_crawls sc
    WHERE sc.partition_date = %(day)s
    GROUP BY sc.source
) c ON c.source = s.name
ORDER BY s.name
"""

_UTC = pl.Datetime("us", "UTC")
I64, F64, STR, BOOL, DATE = pl.Int64, pl.Float64, pl.String, pl.Boolean, pl.Date


def _cols(*items: tuple[str, pl.DataType] | tuple[str, pl.DataType, Treatment]) -> tuple[Column, ...]:
    return tuple(Column(*item) for item in items)


RFQS = TableSpec(
    name="rfqs",
    description="One row per RFQ per marketplace listing, normalized, with its dedup cluster.",
    sql=SELECT_EXPORT_RFQS,
    columns=_cols(
        ("rfq_id", I64),
        ("source", STR),
        ("external_id", STR),
        ("canonical_url", STR),
        ("title", STR, "redact"),
        ("title_clean", STR, "redact"),
        ("buyer_name_sha256", STR, "name"),
        ("buyer_company", STR),
        ("quantity_value", F64),
        ("quantity_unit", STR),
        ("country_code", STR),
        ("country_name", STR),
        ("posted_at", _UTC),
        ("posted_date", DATE),
        ("posted_or_seen_at", _UTC),
        ("first_seen_at", _UTC),
        ("last_seen_at", _UTC),
        ("normalized_at", _UTC),
        ("normalizer_version", STR),
        ("cluster_id", I64),
        ("canonical_rfq_id", I64),
        ("matched_by", STR),
        ("is_duplicate", BOOL),  # not the request's first sighting (NULL until dedup assigned a cluster)
    ),
)

CLASSIFICATIONS = TableSpec(
    name="classifications",
    description="Labels per RFQ and model version; is_latest marks the label that counts (a person's, then Claude's, "
    "then the newest); an uncertain local label (below the confidence threshold) is not counted as relevant.",
    sql=SELECT_EXPORT_CLASSIFICATIONS,
    columns=_cols(
        ("rfq_id", I64),
        ("model_version", STR),
        ("provider", STR),
        ("industry", STR),
        ("relevant", BOOL),
        ("intent", STR),
        ("quality", F64),
        ("classified_at", _UTC),
        ("confidence", F64),  # calibrated; NULL for people's and Claude's labels
        ("uncertain", BOOL),
        ("is_latest", BOOL),
    ),
)

CLUSTERS = TableSpec(
    name="clusters",
    description="One row per unique request (active dedup cluster) with every sighting of it.",
    sql=SELECT_EXPORT_CLUSTERS,
    columns=_cols(
        ("cluster_id", I64),
        ("canonical_rfq_id", I64),
        ("member_count", I64),
        ("source_count", I64),
        ("sightings", pl.List(SIGHTING)),
        ("first_seen_at", _UTC),
        ("last_seen_at", _UTC),
        ("created_at", _UTC),
        ("updated_at", _UTC),
    ),
)

BUYERS = TableSpec(
    name="buyers",
    description="One enriched buyer per cluster: company, domain, country, e-mail status and risk.",
    sql=SELECT_EXPORT_BUYERS,
    columns=_cols(
        ("buyer_id", I64),
        ("cluster_id", I64),
        ("rfq_id", I64),
        ("company", STR),
        ("domain", STR),
        ("country_code", STR),
        ("email_sha256", STR, "email"),
        ("email_domain", STR),
        ("email_status", STR),
        ("risk_score", I64),
        ("risk_level", STR),
        ("risk_reasons", pl.List(STR)),
        ("method", STR),
        ("enricher_version", STR),
        ("enriched_at", _UTC),
        ("contact_count", I64),
    ),
)

CONTACTS = TableSpec(
    name="contacts",
    description="Buyer contacts, pseudonymized; rows only with RFQ_EXPORT_CONTACTS=true.",
    sql=SELECT_EXPORT_CONTACTS,
    columns=_cols(
        ("buyer_id", I64),
        ("contact_key_sha256", STR, "email"),  # the key is the contact's e-mail, phone or name: hashed alike
        ("role", STR),
        ("has_name", BOOL),
        ("email_sha256", STR, "email"),
        ("email_domain", STR),
        ("phone_sha256", STR, "phone"),
        ("phone_country", STR),
        ("email_confidence", F64),
        ("phone_confidence", F64),
        ("evidence_count", I64),
    ),
    opt_in="contacts",
)

QUOTE_DRAFTS = TableSpec(
    name="quote_drafts",
    description="One quote draft per cluster: state, money, review flags and the times to measure speed by.",
    sql=SELECT_EXPORT_QUOTE_DRAFTS,
    columns=_cols(
        ("draft_id", I64),
        ("cluster_id", I64),
        ("rfq_id", I64),
        ("buyer_id", I64),
        ("state", STR),
        ("currency", STR),
        ("incoterm", STR),
        ("total", F64),
        ("needs_review", BOOL),
        ("guardrails_passed", BOOL),
        ("cover_source", STR),
        ("catalog_version", STR),
        ("fx_as_of", DATE),
        ("line_count", I64),
        ("priced_line_count", I64),
        ("created_at", _UTC),
        ("ready_at", _UTC),
        ("state_changed_at", _UTC),
        ("updated_at", _UTC),
        ("rfq_posted_at", _UTC),
    ),
)

QUOTE_DRAFT_EVENTS = TableSpec(
    name="quote_draft_events",
    description="Every state change of a draft; the actor is hashed (its kind kept), notes are not exported.",
    sql=SELECT_EXPORT_QUOTE_DRAFT_EVENTS,
    columns=_cols(
        ("event_id", I64),
        ("draft_id", I64),
        ("from_state", STR),
        ("to_state", STR),
        ("actor_kind", STR),
        ("actor_sha256", STR, "name"),
        ("at", _UTC),
    ),
)

QUOTE_OUTCOMES = TableSpec(
    name="quote_outcomes",
    description="One row per draft with its outcome: when it was first sent (and how long after the posting), "
    "whether it was approved and by whom (hashed), versions, clarifications sent, and won or lost.",
    sql=SELECT_EXPORT_QUOTE_OUTCOMES,
    columns=_cols(
        ("draft_id", I64),
        ("rfq_id", I64),
        ("source", STR),
        ("industry", STR),  # the RFQ's current label
        ("country_code", STR),
        ("country_name", STR),
        ("rfq_posted_at", _UTC),
        ("drafted_at", _UTC),
        ("first_sent_at", _UTC),
        ("time_to_first_quote_hours", F64),  # first_sent_at - rfq_posted_at; NULL until sent
        ("state", STR),
        ("version_count", I64),
        ("approved", BOOL),  # ever approved, whatever happened next
        ("approved_at", _UTC),
        ("approver_kind", STR),
        ("approver_sha256", STR, "name"),
        ("sent", BOOL),
        ("outcome", STR),  # won | lost | NULL (not decided)
        ("total", F64),
        ("currency", STR),
        ("clarifications_sent", I64),  # questions mailed or answered on the marketplace
    ),
)

SOURCE_HEALTH = TableSpec(
    name="source_health",
    description="Per source and exported day: the day's crawl totals and the circuit breaker as of the export.",
    sql=SELECT_EXPORT_SOURCE_HEALTH,
    columns=_cols(
        ("source", STR),
        ("kind", STR),
        ("enabled", BOOL),
        ("breaker_state", STR),
        ("consecutive_failures", I64),
        ("opened_count", I64),
        ("open_until", _UTC),
        ("half_open_since", _UTC),
        ("paused_until", _UTC),
        ("slow_until", _UTC),
        ("last_success_at", _UTC),
        ("last_failure_at", _UTC),
        ("last_error", STR, "redact"),
        ("crawls", I64),
        ("failed_crawls", I64),
        ("pages_fetched", I64),
        ("pages_failed", I64),
        ("rfqs_seen", I64),
        ("rfqs_new", I64),
        ("rfqs_changed", I64),
        ("challenges", I64),
        ("parse_failures", I64),
        ("last_crawl_finished_at", _UTC),
        ("snapshot_at", _UTC),
    ),
    day_rule="exported",
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        RFQS,
        CLASSIFICATIONS,
        CLUSTERS,
        BUYERS,
        CONTACTS,
        QUOTE_DRAFTS,
        QUOTE_DRAFT_EVENTS,
        SOURCE_HEALTH,
        QUOTE_OUTCOMES,
    )
}
ALL: tuple[str, ...] = tuple(TABLES)


def resolve_tables(tables: Iterable[str | TableSpec]) -> list[TableSpec]:
    """Specs for table names (or specs passed through); an unknown name is an error naming the known ones."""
    resolved = []
    for item in tables:
        if isinstance(item, TableSpec):
            resolved.append(item)
        elif item in TABLES:
            resolved.append(TABLES[item])
        else:
            raise KeyError(f"unknown export table {item!r}; known: {', '.join(TABLES)}")
    return resolved


def object_key(table: str, day: str) -> str:
    """Where a table's file for a day lives in the exports store (``day`` as ``YYYY-MM-DD``)."""
    return f"exports/{table}/date={day}/data.parquet"


_DUCKDB_TYPES: dict[type[pl.DataType], str] = {
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.String: "VARCHAR",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
}


def duckdb_type(dtype: pl.DataType) -> str:
    """The DuckDB type a polars column type reads back as from Parquet."""
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP WITH TIME ZONE" if dtype.time_zone else "TIMESTAMP"
    if isinstance(dtype, pl.List):
        return f"{duckdb_type(dtype.inner)}[]"
    if isinstance(dtype, pl.Struct):
        fields = ", ".join(f'"{f.name}" {duckdb_type(f.dtype)}' for f in dtype.fields)
        return f"STRUCT({fields})"
    for base, name in _DUCKDB_TYPES.items():
        if dtype == base:
            return name
    raise TypeError(f"no DuckDB type for {dtype}")


__all__ = [
    "ALL",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "TableSpec",
    "duckdb_type",
    "object_key",
    "resolve_tables",
]
