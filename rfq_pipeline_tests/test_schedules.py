from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from rfq_pipeline.db.database import Database
from rfq_pipeline.definitions import defs
from rfq_pipeline.fetch.breaker import CircuitBreaker
from rfq_pipeline.schedules import partition_days_for_tick
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.ingest import register_sources
from rfq_pipeline.sources.registry import SOURCES, resolve

FIRST = date(2025, 1, 1)


@pytest.mark.parametrize(
    ("cadence", "tick", "days"),
    [
        ("0 */3 * * *", datetime(2026, 11, 22, 0, 0, tzinfo=UTC), ["2026-11-21", "2026-11-22"]),
        ("0 */3 * * *", datetime(2026, 11, 22, 3, 0, tzinfo=UTC), ["2026-11-22"]),
        ("0 */12 * * *", datetime(2026, 11, 22, 12, 0, tzinfo=UTC), ["2026-11-22"]),
        ("0 4 * * *", datetime(2026, 11, 22, 4, 0, tzinfo=UTC), ["2026-11-21", "2026-11-22"]),
    ],
)
def test_partition_days_for_tick(cadence: str, tick: datetime, days: list[str]) -> None:
    assert [d.isoformat() for d in partition_days_for_tick(cadence, tick, FIRST)] == days


def test_a_monthly_tick_covers_the_month_and_respects_the_first_partition() -> None:
    days = partition_days_for_tick("0 3 1 * *", datetime(2026, 11, 1, 3, 0, tzinfo=UTC), FIRST)
    assert days[0] == date(2026, 10, 1) and days[-1] == date(2026, 11, 1) and len(days) == 32
    assert partition_days_for_tick("0 3 1 * *", datetime(2025, 1, 1, 3, 0, tzinfo=UTC), FIRST) == [FIRST]


def _evaluate(name: str, tick: datetime) -> dg.SkipReason | list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def(f"{name}_schedule")
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
        )
        return schedule.evaluate_tick(context)


def test_each_source_has_a_schedule_at_its_cadence(pipeline_env: Settings) -> None:
    for name, spec in SOURCES.items():
        schedule = defs.resolve_schedule_def(f"{name}_schedule")
        assert schedule.cron_schedule == spec.cadence
        assert schedule.execution_timezone == "UTC"
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # RFQ_SCHEDULES_RUNNING is off


def test_a_tick_over_several_days_requests_one_run_over_their_range(pipeline_env: Settings, simulator) -> None:
    tick = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    [request] = _evaluate("go4worldbusiness", tick).run_requests
    assert request.partition_key is None
    assert request.tags["rfq/source"] == "go4worldbusiness"
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-21"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-22"
    assert request.run_key == "go4worldbusiness:2026-11-21..2026-11-22:20261122T0000"
    # Launched as the daemon launches it, the run reads the source once and materializes each day.
    today = simulator.today
    yesterday = today - timedelta(days=1)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("go4worldbusiness_job").execute_in_process(
            instance=instance,
            tags={**request.tags, "dagster/asset_partition_range_start": yesterday.isoformat(),
                  "dagster/asset_partition_range_end": today.isoformat()},
        )  # fmt: skip
        assert result.success
        assert sorted(e.partition for e in result.get_asset_materialization_events()) == [
            yesterday.isoformat(), today.isoformat()
        ]  # fmt: skip


def test_a_tick_for_one_day_requests_that_partition(pipeline_env: Settings) -> None:
    [request] = _evaluate("go4worldbusiness", datetime(2026, 11, 22, 3, 0, tzinfo=UTC)).run_requests
    assert request.partition_key == "2026-11-22" and request.tags["rfq/source"] == "go4worldbusiness"


def test_an_open_breaker_skips_the_tick_with_the_reason(pipeline_env: Settings) -> None:
    with Database(pipeline_env.database_url, max_size=1) as db:
        register_sources(db, [resolve(SOURCES["alibaba_rfq"], pipeline_env)])
        breaker = CircuitBreaker(db, "alibaba_rfq", threshold=1, cooldown_s=600)
        breaker.record_failure("cloudflare challenge page (HTTP 403)")
    data = _evaluate("alibaba_rfq", datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    assert not data.run_requests
    assert "circuit breaker open" in data.skip_message and "cloudflare" in data.skip_message


def test_a_disabled_source_skips_its_ticks(pipeline_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFQ_SOURCE_ALIBABA_RFQ_ENABLED", "false")
    data = _evaluate("alibaba_rfq", datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    assert not data.run_requests and "disabled" in data.skip_message
