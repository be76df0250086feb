"""Every registered source through its asset, against the simulator over HTTP: the same promises for all.

A new source in the registry is covered here without writing a test: correct rows for a partition, paging back to
an older window, idempotent re-runs, and each fault a marketplace throws (429 and 5xx bursts, timeouts, challenge
pages, truncated HTML, layout drift) handled without losing rows or writing garbage.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.assets.sources import FIELDS_CHECK, PAGES_CHECK, ROWS_CHECK, source_asset_key
from rfq_pipeline.definitions import all_assets, resources
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.registry import SOURCES

NAMES = sorted(name for name, spec in SOURCES.items() if spec.enabled)


def _asset(name: str) -> dg.AssetsDefinition:
    return next(a for a in all_assets if a.key == source_asset_key(name))


def _run(name: str, day: date) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [_asset(name)], partition_key=day.isoformat(), resources=resources, instance=instance, raise_on_error=False
        )


def _recent_day(simulator, name: str, *, at_least_days_back: int = 0) -> date:
    """The most recent day, at least ``at_least_days_back`` ago, on which the simulator shows rows for ``name``."""
    day = simulator.today - timedelta(days=at_least_days_back)
    for _ in range(120):
        if simulator.expected(name, day):
            return day
        day -= timedelta(days=1)
    raise AssertionError(f"{name}: the simulator shows no rows in the last 120 days")


def _ids_on(url: str, name: str, day: date) -> set[str]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            # Undated entries (a directory's companies) belong to every window: every crawl collects them.
            "SELECT external_id FROM rfqs "
            "WHERE source = %s AND (posted_at IS NULL OR posted_at >= %s AND posted_at < %s)",
            (name, start, start + timedelta(days=1)),
        ).fetchall()
    return {r[0] for r in rows}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _no_garbage(url: str, name: str) -> None:
    with psycopg.connect(url) as conn:
        titles = [r[0] for r in conn.execute("SELECT title FROM rfqs WHERE source = %s", (name,))]
    assert all(t and "<" not in t and "PAGE_DATA" not in t and "{" not in t for t in titles), titles[:5]


@pytest.mark.parametrize("name", NAMES)
def test_partition_rows_and_idempotent_rerun(pipeline_env: Settings, simulator, name: str) -> None:
    day = _recent_day(simulator, name)
    first = _run(name, day)
    assert first.success, name
    assert _ids_on(pipeline_env.database_url, name, day) == set(simulator.expected(name, day))
    assert all(_checks(first).values()), _checks(first)
    meta = first.asset_materializations_for_node(f"source__{name}")[0].metadata
    assert meta["rfqs_new"].value == len(simulator.expected(name, day))
    second = _run(name, day)
    assert second.success
    again = second.asset_materializations_for_node(f"source__{name}")[0].metadata
    assert (again["rfqs_new"].value, again["rfqs_changed"].value) == (0, 0)
    assert again["rfqs_already_known"].value == meta["dagster/row_count"].value


@pytest.mark.parametrize("name", NAMES)
def test_an_older_window_pages_back_to_its_start(pipeline_env: Settings, simulator, name: str) -> None:
    day = _recent_day(simulator, name, at_least_days_back=10)
    result = _run(name, day)
    assert result.success
    assert _ids_on(pipeline_env.database_url, name, day) == set(simulator.expected(name, day))


@pytest.mark.parametrize("name", NAMES)
def test_a_429_burst_a_5xx_and_a_timeout_are_retried_without_losing_rows(
    pipeline_env: Settings, simulator, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("RFQ_HTTP_TIMEOUTS", "0.5,3,3")
    day = _recent_day(simulator, name)
    # Faults hit the source's next requests in this order: the first page is answered 429, 429, 503 and then
    # served on the fourth attempt; the next request times out once and is served on its retry.
    simulator.set_fault(name, "429", times=2, retry_after=0)
    simulator.set_fault(name, "503", times=1, retry_after=0)
    simulator.set_fault(name, "timeout", times=1, delay=1.0)
    result = _run(name, day)
    assert result.success
    assert _ids_on(pipeline_env.database_url, name, day) == set(simulator.expected(name, day))
    assert _checks(result)[PAGES_CHECK]
    statuses = [e.status for e in simulator.request_log if e.source == name][-40:]
    assert statuses.count(429) >= 2 and 503 in statuses


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("fault", "times", "reason"),
    [("challenge_cloudflare", 1, "challenge"), ("truncated", 2, "truncated")],
)
def test_bad_pages_are_recorded_not_parsed(
    pipeline_env: Settings, simulator, name: str, fault: str, times: int, reason: str
) -> None:
    day = _recent_day(simulator, name)
    simulator.set_fault(name, fault, times=times)
    result = _run(name, day)
    with psycopg.connect(pipeline_env.database_url) as conn:
        errors = [
            r[0]
            for r in conn.execute(
                "SELECT coalesce(error, '') || ' ' || fetch_status FROM raw_pages "
                "WHERE source = %s AND (fetch_status <> 'ok' OR parse_status = 'failed')",
                (name,),
            )
        ]
    assert errors and all(reason in e for e in errors), errors
    if result.success:
        assert not _checks(result)[PAGES_CHECK]
    else:  # the only listing's first page never arrived: the run says why
        assert reason in result.failure_data_for_node(f"source__{name}").user_failure_data.description
    _no_garbage(pipeline_env.database_url, name)


@pytest.mark.parametrize("name", NAMES)
def test_a_redesigned_site_is_read_by_the_fallback_or_recorded_as_drift(
    pipeline_env: Settings, simulator, name: str
) -> None:
    day = _recent_day(simulator, name)
    simulator.set_fault(name, "drift", times=500)  # the whole site redesigned for this crawl
    result = _run(name, day)
    simulator.clear_faults()
    with psycopg.connect(pipeline_env.database_url) as conn:
        pages = conn.execute(
            "SELECT parse_status, coalesce(error, '') FROM raw_pages WHERE source = %s AND page_kind = 'list'", (name,)
        ).fetchall()
        extraction = dict(
            conn.execute("SELECT extraction, count(*) FROM rfqs WHERE source = %s GROUP BY 1", (name,)).fetchall()
        )
    assert pages and all("layout_drift" in error for _, error in pages), pages
    if SOURCES[name].detail_regex:
        # Nothing is lost: every lead of the day is stored, marked as read by the fallback, and the check says so.
        assert all(status == "ok" for status, _ in pages)
        assert result.success
        assert extraction == {"fallback": len(simulator.expected(name, day))}
        assert _ids_on(pipeline_env.database_url, name, day) == set(simulator.expected(name, day))
        check = next(e for e in result.get_asset_check_evaluations() if e.check_name == PAGES_CHECK)
        assert not check.passed and check.description == f"layout drift: fallback extractor used on {len(pages)} pages"
    else:  # a JSON API, or a page without detail links: recorded as drift, never guessed at
        assert all(status == "failed" for status, _ in pages) and not extraction
    _no_garbage(pipeline_env.database_url, name)


@pytest.mark.parametrize("name", ["go4worldbusiness", "alibaba_rfq"])
def test_an_open_breaker_skips_the_run_with_the_reason(pipeline_env: Settings, simulator, name: str) -> None:
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.fetch.breaker import CircuitBreaker
    from rfq_pipeline.sources.ingest import register_sources
    from rfq_pipeline.sources.registry import resolve

    with Database(pipeline_env.database_url, max_size=1) as db:
        register_sources(db, [resolve(SOURCES[name], pipeline_env)])
        breaker = CircuitBreaker(db, name, threshold=5, cooldown_s=600)
        for _ in range(5):
            breaker.record_failure("HTTP 503")
    before = len(simulator.request_log)
    result = _run(name, simulator.today)
    assert result.success  # skipped, not crashed
    assert not result.asset_materializations_for_node(f"source__{name}")
    assert len(simulator.request_log) == before
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == PAGES_CHECK]
    assert "circuit breaker open" in checks[0].metadata["skipped"].value


def test_a_parser_that_suddenly_finds_nothing_fails_its_check(
    pipeline_env: Settings, simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "go4worldbusiness"
    for back in range(3):
        assert _run(name, simulator.today - timedelta(days=back)).success
    # Same site, but the only listing now yields nothing (as when a site renames its categories).
    monkeypatch.setenv("RFQ_SOURCE_GO4WORLDBUSINESS_LISTINGS", "/buyers/quantum-widgets.html")
    result = _run(name, simulator.today - timedelta(days=3))
    checks = _checks(result)
    assert not checks[ROWS_CHECK]
    assert checks[FIELDS_CHECK]


def test_a_source_whose_terms_forbid_crawling_stays_off_and_says_why(
    pipeline_env: Settings, simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RFQ_SOURCE_GLOBALSOURCES_ENABLED", "true")  # the terms win over the setting
    asset = _asset("globalsources")
    assert "not crawled" in (asset.descriptions_by_key[asset.key] or "")
    before = len(simulator.request_log)
    result = _run("globalsources", simulator.today)
    assert result.success and not result.asset_materializations_for_node("source__globalsources")
    assert len(simulator.request_log) == before
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == PAGES_CHECK)
    assert "terms of use forbid automated collection" in check.metadata["skipped"].value
