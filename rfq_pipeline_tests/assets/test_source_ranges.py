"""A backfill of a source asset as the daemon launches it with a single-run policy: one run, one crawl of the range,
a materialization per day read and an observation per day out of reach, which stays unmaterialized."""

from datetime import date, timedelta

import dagster as dg

from rfq_pipeline.assets.sources import FORCE_CRAWL_TAG, PAGES_CHECK, REACH_CHECK, ROWS_CHECK, source_asset_key
from rfq_pipeline.definitions import all_assets, resources
from rfq_pipeline.settings import Settings

KEY = source_asset_key("alibaba_rfq")


def _list_requests(simulator) -> int:
    return sum(1 for r in simulator.request_log if r.source == "alibaba_rfq" and "rfq_search_list" in r.path)


def _run(instance: dg.DagsterInstance, first: str, last: str, **tags: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [a for a in all_assets if KEY in a.keys],
        resources=resources,
        instance=instance,
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last, **tags},
    )


def test_a_30_day_range_is_one_crawl_with_each_day_materialized_or_reported_out_of_reach(
    pipeline_env: Settings, simulator
) -> None:
    today = simulator.today
    days = [(today - timedelta(days=n)).isoformat() for n in range(29, -1, -1)]
    with dg.instance_for_test() as instance:
        before = _list_requests(simulator)
        result = _run(instance, days[0], days[-1])
        assert result.success
        pages = _list_requests(simulator) - before
        assert 1 < pages <= 100  # the listing once, not once per day

        materialized = sorted(instance.get_materialized_partitions(KEY))
        out_of_reach = sorted(e.partition for e in result.get_asset_observation_events())
        assert materialized and out_of_reach and sorted(materialized + out_of_reach) == days
        assert max(out_of_reach) < min(materialized)  # the oldest days lie beyond the listing
        for event in result.get_asset_materialization_events():
            meta = event.materialization.metadata
            day = event.partition
            expected = simulator.expected("alibaba_rfq", date.fromisoformat(day))
            assert meta["dagster/row_count"].value == len(expected), day
            assert meta["stopped_by"].value in ("end_of_listing", "page_cap")
            assert meta["crawl_window"].value == f"{days[0]}..{days[-1]}"
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert checks[PAGES_CHECK].passed and checks[ROWS_CHECK].passed
        reach = checks[REACH_CHECK]
        assert not reach.passed and reach.severity == dg.AssetCheckSeverity.WARN
        assert f"{len(out_of_reach)} of 30 days out of reach" in reach.description

        # Later, the oldest day alone costs no request; tagged to force it, it is crawled.
        before = _list_requests(simulator)
        assert _run(instance, days[0], days[0]).success
        assert _list_requests(simulator) == before
        forced = _run(instance, days[0], days[0], **{FORCE_CRAWL_TAG: "true"})
        assert forced.success and _list_requests(simulator) > before
        assert days[0] not in instance.get_materialized_partitions(KEY)
