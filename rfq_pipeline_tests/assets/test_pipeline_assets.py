"""The asset graph materialized for real: embedded Postgres, simulator over HTTP, local object store."""

import gzip
import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.assets.sources import PAGES_CHECK, source_asset_key
from rfq_pipeline.definitions import all_assets, defs, pipeline_assets, resources
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import object_store_for

SOURCES = ("go4worldbusiness", "alibaba_rfq")


def _today() -> date:
    return datetime.now(UTC).date()


def _materialize(day: date, selection: list[dg.AssetsDefinition] | None = None) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize(
            selection or pipeline_assets,
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )


def _ids_by_source(url: str, day: date) -> dict[str, set[str]]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            # An undated row (a directory's company) belongs to the day it was first seen, as normalization has it.
            "SELECT source, external_id FROM rfqs "
            "WHERE COALESCE(posted_at, first_seen_at) >= %s AND COALESCE(posted_at, first_seen_at) < %s",
            (start, start + timedelta(days=1)),
        ).fetchall()
    found: dict[str, set[str]] = {s: set() for s in SOURCES}
    for source, external_id in rows:
        found.setdefault(source, set()).add(external_id)
    return found


def test_today_partition_collects_exactly_what_the_marketplaces_show(pipeline_env: Settings, simulator) -> None:
    day = _today()
    result = _materialize(day)
    assert result.success
    found = _ids_by_source(pipeline_env.database_url, day)
    for source in SOURCES:
        expected = set(simulator.expected(source, day))
        assert expected, f"the simulator shows nothing for {source} today"
        assert found[source] == expected, source

    # Metadata tells the story in the UI.
    for source in SOURCES:
        materialization = result.asset_materializations_for_node(f"source__{source}")[0]
        assert materialization.metadata["dagster/row_count"].value == len(found[source])
        assert "preview" in materialization.metadata
    checks = {(e.asset_key, e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert all(checks.values()), checks

    # Normalized stage covered every RFQ of the day.
    with psycopg.connect(pipeline_env.database_url) as conn:
        total, normalized, with_country = conn.execute(
            "SELECT count(*), count(normalized_at), count(country_code) FROM rfqs WHERE posted_date = %s", (day,)
        ).fetchone()
    assert total == sum(len(v) for v in found.values())  # every source's rows of the day, not only these two
    assert normalized == total
    assert with_country >= 0.9 * total


def test_rematerializing_a_partition_is_idempotent(pipeline_env: Settings) -> None:
    day = _today()
    assert _materialize(day).success
    with psycopg.connect(pipeline_env.database_url) as conn:
        before = conn.execute("SELECT count(*), max(id) FROM rfqs").fetchone()
        pages_before = conn.execute("SELECT count(*) FROM raw_pages").fetchone()[0]
    second = _materialize(day)
    assert second.success
    with psycopg.connect(pipeline_env.database_url) as conn:
        after = conn.execute("SELECT count(*), max(id) FROM rfqs").fetchone()
        pages_after = conn.execute("SELECT count(*) FROM raw_pages").fetchone()[0]
    assert after == before
    assert pages_after == pages_before  # same bytes, same rows (fetch_count goes up instead)
    for source in SOURCES:
        meta = second.asset_materializations_for_node(f"source__{source}")[0].metadata
        assert meta["rfqs_new"].value == 0
        assert meta["rfqs_changed"].value == 0


def test_raw_pages_are_archived_gzipped_under_their_hash(pipeline_env: Settings) -> None:
    day = _today()
    assert _materialize(day, [a for a in all_assets if source_asset_key("tradekey") in a.keys]).success
    store = object_store_for("raw_pages", pipeline_env)
    with psycopg.connect(pipeline_env.database_url) as conn:
        rows = conn.execute(
            "SELECT page_kind, object_key, content_sha256, fetch_status, parse_status FROM raw_pages"
        ).fetchall()
    assert {kind for kind, *_ in rows} == {"list", "detail"}  # TradeKey's offer pages complete the list
    for _kind, key, sha, fetch_status, parse_status in rows:
        assert (fetch_status, parse_status) == ("ok", "ok")
        assert key == f"raw/tradekey/{day.isoformat()}/{sha}.html.gz"
        assert hashlib.sha256(gzip.decompress(store.get(key))).hexdigest() == sha


def test_backfilling_an_older_day_pages_deeper(pipeline_env: Settings, simulator) -> None:
    day = _today() - timedelta(days=6)
    result = _materialize(day)
    assert result.success
    found = _ids_by_source(pipeline_env.database_url, day)
    for source in SOURCES:
        assert found[source] == set(simulator.expected(source, day)), source
    meta = result.asset_materializations_for_node("source__alibaba_rfq")[0].metadata
    assert meta["pages_fetched"].value > 1


@pytest.mark.parametrize("fault", ["truncated", "drift"])
def test_malformed_page_is_a_failed_check_not_garbage(pipeline_env: Settings, simulator, fault: str) -> None:
    # Twice: a truncated page is fetched once more before it counts as malformed.
    simulator.set_fault("alibaba_rfq", fault, times=2)
    day = _today()
    result = _materialize(day, [a for a in all_assets if source_asset_key("alibaba_rfq") in a.keys])
    assert result.success  # the run survives; the check tells
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == PAGES_CHECK)
    assert not evaluation.passed
    with psycopg.connect(pipeline_env.database_url) as conn:
        failed = conn.execute(
            "SELECT fetch_count, error, object_key FROM raw_pages WHERE parse_status = 'failed'"
        ).fetchall()
        titles = [r[0] for r in conn.execute("SELECT title FROM rfqs")]
    assert len(failed) == 1
    # the same truncated bytes twice: one archived page fetched twice; a drifted page is not fetched again
    assert failed[0][0] == (2 if fault == "truncated" else 1)
    assert ("truncated" if fault == "truncated" else "layout_drift") in failed[0][1]
    assert failed[0][2] is not None  # the bad page is kept for inspection
    assert all(t and "PAGE_DATA" not in t and "<" not in t for t in titles)


def test_challenge_on_the_first_page_fails_the_run_with_the_reason(pipeline_env: Settings, simulator) -> None:
    simulator.set_fault("alibaba_rfq", "challenge_cloudflare", times=1)
    result = _materialize(_today(), [a for a in all_assets if source_asset_key("alibaba_rfq") in a.keys])
    assert not result.success
    failure = result.failure_data_for_node("source__alibaba_rfq")
    assert "challenge" in failure.user_failure_data.description
    with psycopg.connect(pipeline_env.database_url) as conn:
        assert conn.execute("SELECT fetch_status FROM raw_pages").fetchall() == [("challenge",)]
        assert conn.execute("SELECT count(*) FROM rfqs").fetchone()[0] == 0


def test_disabled_source_fetches_nothing(pipeline_env: Settings, simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFQ_SOURCE_ALIBABA_RFQ_ENABLED", "false")
    stats_before = len(simulator.request_log)
    result = _materialize(_today(), [a for a in all_assets if source_asset_key("alibaba_rfq") in a.keys])
    assert result.success
    assert not any(source == "alibaba_rfq" for source, *_ in simulator.request_log[stats_before:])


def test_definitions_shape() -> None:
    repo = defs.get_repository_def()
    keys = {key for a in all_assets for key in a.keys}
    assert {source_asset_key(s) for s in SOURCES} | {dg.AssetKey(["rfqs", "normalized"])} <= keys
    for source in SOURCES:
        spec = defs.get_assets_def(source_asset_key(source))
        assert spec.partitions_def is not None
        assert spec.tags_by_key[source_asset_key(source)]["rfq/source"] == source
        assert spec.op.pool == f"marketplace_{source}"
    for source in SOURCES:
        job = repo.get_job(f"{source}_job")
        assert job.tags["rfq/source"] == source
        assert repo.get_schedule_def(f"{source}_schedule").job_name == f"{source}_job"


def test_the_demo_run_ends_in_an_export_analysts_can_query(pipeline_env: Settings) -> None:
    import duckdb

    from rfq_pipeline.exports.writer import default_duckdb_path

    day = _today()
    result = _materialize(day)
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["duckdb_reads_the_export"] and checks["guardrails_passed"] and checks["pdf_matches_draft"]
    exported = result.asset_materializations_for_node("exports_daily")
    rows = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value for m in exported}
    with psycopg.connect(pipeline_env.database_url) as conn:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        in_day = conn.execute(
            "SELECT count(*) FROM rfqs WHERE COALESCE(posted_at, first_seen_at) >= %s "
            "AND COALESCE(posted_at, first_seen_at) < %s",
            (start, start + timedelta(days=1)),
        ).fetchone()[0]
        drafts = conn.execute("SELECT count(*) FROM quote_drafts").fetchone()[0]
    assert rows["rfqs"] == in_day > 0 and rows["quote_drafts"] == drafts > 0
    queries = sorted((Path(__file__).resolve().parents[2] / "sql" / "analyst").glob("*.sql"))
    assert len(queries) >= 4
    with duckdb.connect(str(default_duckdb_path(pipeline_env)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM rfqs").fetchone()[0] == in_day
        for query in queries:
            con.execute(query.read_text()).fetchall()  # every analyst query runs on a real export
        per_source = con.execute(
            (Path(__file__).resolve().parents[2] / "sql/analyst/new_relevant_rfqs_per_source_per_day.sql").read_text()
        ).fetchall()
    assert per_source, "the demo day has relevant RFQs"
