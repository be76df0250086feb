from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from rfq_pipeline.assets.imports import IMPORTS_KEY
from rfq_pipeline.assets.sources import source_asset_key
from rfq_pipeline.automation import (
    AUTOMATION_SENSOR,
    DOWNSTREAM_CONDITION,
    automation_sensors,
    build_automation_sensor,
    cadence_interval,
    downstream_condition,
    freshness_for,
)
from rfq_pipeline.definitions import defs
from rfq_pipeline.sources.registry import SOURCES

NORMALIZED = dg.AssetKey(["rfqs", "normalized"])
CLASSIFIED = dg.AssetKey(["rfqs", "classified"])
EMBEDDED = dg.AssetKey(["rfqs", "embedded"])
CLUSTERS = dg.AssetKey(["rfqs", "clusters"])
BUYERS = dg.AssetKey(["buyers", "enriched"])
DRAFTS = dg.AssetKey(["quotes", "drafts"])
CATALOG = dg.AssetKey(["catalog", "products"])
DOWNSTREAM = (NORMALIZED, CLASSIFIED, EMBEDDED, CLUSTERS, BUYERS, DRAFTS)


class Evaluator:
    """Successive ticks of the automation sensor against one instance, carrying the cursor like the daemon."""

    def __init__(self, instance: dg.DagsterInstance, now: datetime) -> None:
        self.instance = instance
        self.now = now
        self.cursor = None

    def tick(self) -> dict[dg.AssetKey, set[str]]:
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=self.instance, evaluation_time=self.now, cursor=self.cursor
        )
        self.cursor = result.cursor
        self.now += timedelta(seconds=30)
        requested: dict[dg.AssetKey, set[str]] = {}
        for r in result.results:
            if r.key in DOWNSTREAM and r.true_subset.size:
                requested[r.key] = set(r.true_subset.expensively_compute_partition_keys())
        return {k: v for k, v in requested.items() if k in DOWNSTREAM}


def _materialize(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=day))


def _start_source_run(instance: dg.DagsterInstance, source: str, day: str) -> dg.DagsterRun:
    """A queued run of the source's job for ``day``: its planned materialization makes the partition in progress."""
    job = defs.resolve_job_def(f"{source}_job")
    return instance.create_run_for_job(
        job_def=job,
        tags={"dagster/partition": day, "rfq/source": source},
        asset_selection={source_asset_key(source)},
    )


@pytest.fixture()
def instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture()
def today() -> datetime:
    return datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)


def test_every_downstream_stage_has_the_condition_and_sources_have_none() -> None:
    graph = defs.resolve_asset_graph()
    # rfqs/normalized has the same condition, except that an archive import does not trigger it.
    assert graph.get(NORMALIZED).automation_condition == downstream_condition(
        ignore=dg.AssetSelection.assets(IMPORTS_KEY)
    )
    for key in DOWNSTREAM[1:-1]:
        assert graph.get(key).automation_condition == DOWNSTREAM_CONDITION
    assert graph.get(DRAFTS).automation_condition is not None
    for name in SOURCES:
        assert graph.get(source_asset_key(name)).automation_condition is None  # the schedules drive them


def test_a_source_partition_requests_the_chain_for_that_day(instance, today) -> None:
    day = today.date().isoformat()
    ticks = Evaluator(instance, today)
    assert ticks.tick() == {}  # nothing has been materialized

    _materialize(instance, source_asset_key("alibaba_rfq"), day)
    # A dependency requested in the same tick counts as updated: one request runs the stages in order.
    assert ticks.tick() == {key: {day} for key in DOWNSTREAM}
    assert ticks.tick() == {}  # requested once, not on every tick
    for key in DOWNSTREAM:  # the requested run materializes them
        _materialize(instance, key, day)
    assert ticks.tick() == {}


def test_each_stage_follows_its_upstream_stage_only_downstream(instance, today) -> None:
    day = today.date().isoformat()
    ticks = Evaluator(instance, today)
    ticks.tick()
    _materialize(instance, NORMALIZED, day)  # e.g. normalized re-materialized by hand
    assert ticks.tick() == {key: {day} for key in DOWNSTREAM[1:]}
    for key in DOWNSTREAM[1:]:
        _materialize(instance, key, day)
    assert ticks.tick() == {}
    _materialize(instance, EMBEDDED, day)
    assert ticks.tick() == {CLUSTERS: {day}, BUYERS: {day}, DRAFTS: {day}}


def test_a_catalog_reload_does_not_redraft_the_days(instance, today) -> None:
    day = today.date().isoformat()
    ticks = Evaluator(instance, today)
    ticks.tick()
    _materialize(instance, BUYERS, day)
    assert ticks.tick() == {DRAFTS: {day}}
    _materialize(instance, DRAFTS, day)
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=CATALOG))
    assert ticks.tick() == {}


def test_an_archive_import_does_not_rerun_the_recent_days(instance, today) -> None:
    """An archive spans years: import_stages_sensor runs the days it loaded, not the automation's whole window."""
    day = today.date().isoformat()
    ticks = Evaluator(instance, today)
    ticks.tick()
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=IMPORTS_KEY))
    assert ticks.tick() == {}
    _materialize(instance, source_asset_key("alibaba_rfq"), day)
    assert ticks.tick() == {key: {day} for key in DOWNSTREAM}


def test_yesterday_is_followed_too_but_not_a_day_beyond_the_lookback(instance, today) -> None:
    ticks = Evaluator(instance, today)
    ticks.tick()
    yesterday = (today - timedelta(days=1)).date().isoformat()
    old = (today - timedelta(days=40)).date().isoformat()
    _materialize(instance, source_asset_key("go4worldbusiness"), yesterday)
    _materialize(instance, source_asset_key("go4worldbusiness"), old)
    assert ticks.tick() == {key: {yesterday} for key in DOWNSTREAM}


def test_normalized_waits_while_a_source_run_for_the_day_is_in_progress(instance, today) -> None:
    day = today.date().isoformat()
    ticks = Evaluator(instance, today)
    ticks.tick()
    run = _start_source_run(instance, "tradekey", day)
    _materialize(instance, source_asset_key("alibaba_rfq"), day)
    assert ticks.tick() == {}  # tradekey is still collecting the day
    assert ticks.tick() == {}

    other_day = (today - timedelta(days=1)).date().isoformat()
    _materialize(instance, source_asset_key("alibaba_rfq"), other_day)
    assert ticks.tick() == {key: {other_day} for key in DOWNSTREAM}  # the run blocks its own day only

    instance.report_run_failed(run)  # the run ended (a failure ends it as well as a success)
    assert ticks.tick() == {key: {day} for key in DOWNSTREAM}


def test_a_stage_is_not_requested_again_while_it_is_in_progress(instance, today) -> None:
    day = today.date().isoformat()
    ticks = Evaluator(instance, today)
    ticks.tick()
    job = dg.define_asset_job("normalize", selection=[NORMALIZED]).resolve(asset_graph=defs.resolve_asset_graph())
    run = instance.create_run_for_job(job_def=job, tags={"dagster/partition": day}, asset_selection={NORMALIZED})
    _materialize(instance, source_asset_key("alibaba_rfq"), day)
    assert ticks.tick() == {}
    instance.report_run_failed(run)
    assert ticks.tick() == {key: {day} for key in DOWNSTREAM}


def test_the_sensor_targets_everything_and_runs_only_when_schedules_do() -> None:
    (sensor,) = automation_sensors
    assert sensor.name == AUTOMATION_SENSOR
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED  # RFQ_SCHEDULES_RUNNING is off in tests
    assert build_automation_sensor(True).default_status == dg.DefaultSensorStatus.RUNNING
    sensor_defs = dg.Definitions.merge(defs, dg.Definitions(sensors=automation_sensors))
    assert sensor_defs.resolve_sensor_def(AUTOMATION_SENSOR).asset_selection == dg.AssetSelection.all()


@pytest.mark.parametrize(
    ("cadence", "interval"),
    [
        ("0 */3 * * *", timedelta(hours=3)),
        ("0 */2 * * *", timedelta(hours=2)),
        ("0 4 * * *", timedelta(days=1)),
        ("0 3 1 * *", timedelta(days=31)),
    ],
)
def test_cadence_interval_is_the_longest_gap(cadence: str, interval: timedelta) -> None:
    assert cadence_interval(cadence) == interval


def test_freshness_windows_follow_the_cadence() -> None:
    three_hourly = freshness_for("0 */3 * * *")
    assert timedelta(hours=6) <= three_hourly.fail_window.to_timedelta() <= timedelta(hours=7)
    assert three_hourly.warn_window.to_timedelta() == timedelta(hours=4)
    monthly = freshness_for("0 3 1 * *")
    assert timedelta(days=62) <= monthly.fail_window.to_timedelta() <= timedelta(days=62, hours=1)
    assert monthly.warn_window.to_timedelta() < monthly.fail_window.to_timedelta()


def test_every_source_asset_has_the_freshness_of_its_cadence() -> None:
    graph = defs.resolve_asset_graph()
    for name, spec in SOURCES.items():
        policy = graph.get(source_asset_key(name)).freshness_policy
        assert policy == freshness_for(spec.cadence), name
