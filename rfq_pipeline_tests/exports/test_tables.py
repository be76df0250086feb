"""The exported tables' contract: pinned column lists, specs that match their SQL, and the version rule."""

from __future__ import annotations

import psycopg
import pytest

from rfq_pipeline.exports.tables import ALL, SCHEMA_VERSION, TABLES, duckdb_type, object_key, resolve_tables

# The exported columns, pinned. A change here is a schema change: either additive (a new nullable column appended
# to a table, SCHEMA_VERSION unchanged) or a bump of SCHEMA_VERSION (removed, renamed or retyped columns). Update
# this pin and PINNED_VERSION together, deliberately.
PINNED_VERSION = 1
PINNED = {
    "rfqs": [
        ("rfq_id", "BIGINT"),
        ("source", "VARCHAR"),
        ("external_id", "VARCHAR"),
        ("canonical_url", "VARCHAR"),
        ("title", "VARCHAR"),
        ("title_clean", "VARCHAR"),
        ("buyer_name_sha256", "VARCHAR"),
        ("buyer_company", "VARCHAR"),
        ("quantity_value", "DOUBLE"),
        ("quantity_unit", "VARCHAR"),
        ("country_code", "VARCHAR"),
        ("country_name", "VARCHAR"),
        ("posted_at", "TIMESTAMP WITH TIME ZONE"),
        ("posted_date", "DATE"),
        ("posted_or_seen_at", "TIMESTAMP WITH TIME ZONE"),
        ("first_seen_at", "TIMESTAMP WITH TIME ZONE"),
        ("last_seen_at", "TIMESTAMP WITH TIME ZONE"),
        ("normalized_at", "TIMESTAMP WITH TIME ZONE"),
        ("normalizer_version", "VARCHAR"),
        ("cluster_id", "BIGINT"),
        ("canonical_rfq_id", "BIGINT"),
        ("matched_by", "VARCHAR"),
        ("is_duplicate", "BOOLEAN"),
    ],
    "classifications": [
        ("rfq_id", "BIGINT"),
        ("model_version", "VARCHAR"),
        ("provider", "VARCHAR"),
        ("industry", "VARCHAR"),
        ("relevant", "BOOLEAN"),
        ("intent", "VARCHAR"),
        ("quality", "DOUBLE"),
        ("classified_at", "TIMESTAMP WITH TIME ZONE"),
        ("confidence", "DOUBLE"),
        ("uncertain", "BOOLEAN"),
        ("is_latest", "BOOLEAN"),
    ],
    "clusters": [
        ("cluster_id", "BIGINT"),
        ("canonical_rfq_id", "BIGINT"),
        ("member_count", "BIGINT"),
        ("source_count", "BIGINT"),
        (
            "sightings",
            'STRUCT("rfq_id" BIGINT, "source" VARCHAR, "external_id" VARCHAR, "url" VARCHAR, "matched_by" VARCHAR)[]',
        ),
        ("first_seen_at", "TIMESTAMP WITH TIME ZONE"),
        ("last_seen_at", "TIMESTAMP WITH TIME ZONE"),
        ("created_at", "TIMESTAMP WITH TIME ZONE"),
        ("updated_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "buyers": [
        ("buyer_id", "BIGINT"),
        ("cluster_id", "BIGINT"),
        ("rfq_id", "BIGINT"),
        ("company", "VARCHAR"),
        ("domain", "VARCHAR"),
        ("country_code", "VARCHAR"),
        ("email_sha256", "VARCHAR"),
        ("email_domain", "VARCHAR"),
        ("email_status", "VARCHAR"),
        ("risk_score", "BIGINT"),
        ("risk_level", "VARCHAR"),
        ("risk_reasons", "VARCHAR[]"),
        ("method", "VARCHAR"),
        ("enricher_version", "VARCHAR"),
        ("enriched_at", "TIMESTAMP WITH TIME ZONE"),
        ("contact_count", "BIGINT"),
    ],
    "contacts": [
        ("buyer_id", "BIGINT"),
        ("contact_key_sha256", "VARCHAR"),
        ("role", "VARCHAR"),
        ("has_name", "BOOLEAN"),
        ("email_sha256", "VARCHAR"),
        ("email_domain", "VARCHAR"),
        ("phone_sha256", "VARCHAR"),
        ("phone_country", "VARCHAR"),
        ("email_confidence", "DOUBLE"),
        ("phone_confidence", "DOUBLE"),
        ("evidence_count", "BIGINT"),
    ],
    "quote_drafts": [
        ("draft_id", "BIGINT"),
        ("cluster_id", "BIGINT"),
        ("rfq_id", "BIGINT"),
        ("buyer_id", "BIGINT"),
        ("state", "VARCHAR"),
        ("currency", "VARCHAR"),
        ("incoterm", "VARCHAR"),
        ("total", "DOUBLE"),
        ("needs_review", "BOOLEAN"),
        ("guardrails_passed", "BOOLEAN"),
        ("cover_source", "VARCHAR"),
        ("catalog_version", "VARCHAR"),
        ("fx_as_of", "DATE"),
        ("line_count", "BIGINT"),
        ("priced_line_count", "BIGINT"),
        ("created_at", "TIMESTAMP WITH TIME ZONE"),
        ("ready_at", "TIMESTAMP WITH TIME ZONE"),
        ("state_changed_at", "TIMESTAMP WITH TIME ZONE"),
        ("updated_at", "TIMESTAMP WITH TIME ZONE"),
        ("rfq_posted_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "quote_draft_events": [
        ("event_id", "BIGINT"),
        ("draft_id", "BIGINT"),
        ("from_state", "VARCHAR"),
        ("to_state", "VARCHAR"),
        ("actor_kind", "VARCHAR"),
        ("actor_sha256", "VARCHAR"),
        ("at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "source_health": [
        ("source", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("enabled", "BOOLEAN"),
        ("breaker_state", "VARCHAR"),
        ("consecutive_failures", "BIGINT"),
        ("opened_count", "BIGINT"),
        ("open_until", "TIMESTAMP WITH TIME ZONE"),
        ("half_open_since", "TIMESTAMP WITH TIME ZONE"),
        ("paused_until", "TIMESTAMP WITH TIME ZONE"),
        ("slow_until", "TIMESTAMP WITH TIME ZONE"),
        ("last_success_at", "TIMESTAMP WITH TIME ZONE"),
        ("last_failure_at", "TIMESTAMP WITH TIME ZONE"),
        ("last_error", "VARCHAR"),
        ("crawls", "BIGINT"),
        ("failed_crawls", "BIGINT"),
        ("pages_fetched", "BIGINT"),
        ("pages_failed", "BIGINT"),
        ("rfqs_seen", "BIGINT"),
        ("rfqs_new", "BIGINT"),
        ("rfqs_changed", "BIGINT"),
        ("challenges", "BIGINT"),
        ("parse_failures", "BIGINT"),
        ("last_crawl_finished_at", "TIMESTAMP WITH TIME ZONE"),
        ("snapshot_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    # Added after version 1 as a new table: additive, the version stays.
    "quote_outcomes": [
        ("draft_id", "BIGINT"),
        ("rfq_id", "BIGINT"),
        ("source", "VARCHAR"),
        ("industry", "VARCHAR"),
        ("country_code", "VARCHAR"),
        ("country_name", "VARCHAR"),
        ("rfq_posted_at", "TIMESTAMP WITH TIME ZONE"),
        ("drafted_at", "TIMESTAMP WITH TIME ZONE"),
        ("first_sent_at", "TIMESTAMP WITH TIME ZONE"),
        ("time_to_first_quote_hours", "DOUBLE"),
        ("state", "VARCHAR"),
        ("version_count", "BIGINT"),
        ("approved", "BOOLEAN"),
        ("approved_at", "TIMESTAMP WITH TIME ZONE"),
        ("approver_kind", "VARCHAR"),
        ("approver_sha256", "VARCHAR"),
        ("sent", "BOOLEAN"),
        ("outcome", "VARCHAR"),
        ("total", "DOUBLE"),
        ("currency", "VARCHAR"),
        ("clarifications_sent", "BIGINT"),
    ],
}


def test_schema_version_and_columns_are_pinned() -> None:
    assert SCHEMA_VERSION == PINNED_VERSION
    actual = {name: [(c.name, duckdb_type(c.dtype)) for c in spec.columns] for name, spec in TABLES.items()}
    assert actual == PINNED


def test_every_table_is_exported_by_default_in_a_stable_order() -> None:
    assert tuple(PINNED) == ALL
    assert [spec.name for spec in resolve_tables(ALL)] == list(PINNED)
    with pytest.raises(KeyError, match="unknown export table 'nope'"):
        resolve_tables(["nope"])


@pytest.mark.parametrize("name", list(TABLES))
def test_the_sql_returns_exactly_the_spec_columns(pg_url: str, name: str) -> None:
    spec = TABLES[name]
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        # Describe without running: the statement's result columns as PostgreSQL resolves them.
        cur.execute(f"SELECT * FROM ({spec.sql}) AS t LIMIT 0", {"start": None, "end": None, "day": None})
        names = [d.name for d in cur.description]
    assert names == [c.name for c in spec.columns]


def test_personal_columns_are_marked_for_treatment() -> None:
    # Every column that can hold an address, a phone number or a person's name is hashed; names say so.
    for spec in TABLES.values():
        for column in spec.columns:
            if column.name.endswith("_sha256"):
                assert column.treatment in {"email", "phone", "name"}, (spec.name, column.name)
            if column.treatment in {"email", "phone", "name"}:
                assert column.name.endswith("_sha256"), (spec.name, column.name)
    assert TABLES["rfqs"].column("title").treatment == "redact"
    assert TABLES["contacts"].opt_in == "contacts"
    assert not any(c.name in {"name", "email", "phone", "description", "note", "body"} for s in TABLES.values()
                   for c in s.columns)  # fmt: skip


def test_object_keys_are_hive_partitioned() -> None:
    assert object_key("rfqs", "2025-07-13") == "exports/rfqs/date=2025-07-13/data.parquet"
