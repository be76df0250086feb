"""The pure helpers of the backfill bench: the UI's launch parameters, the partition window, the simulator log's
per-source counts, and the backfill's partition counts. Nothing here starts dagster dev."""

from __future__ import annotations

import pytest

from rfq_pipeline.devtools.bench_backfill import (
    PathRules,
    backfill_params,
    last_partition_keys,
    page_kind,
    partition_counts,
    request_counts,
    run_partition_count,
    step_source,
)
from rfq_pipeline.sources.registry import SOURCES

RULES = {name: PathRules(spec.detail_regex, spec.detail_pattern) for name, spec in SOURCES.items()}


def test_backfill_params_are_the_asset_graph_dialogs() -> None:
    params = backfill_params(["go4worldbusiness", "alibaba_rfq"], ["2026-11-30", "2026-12-01"])
    assert params == {
        "tags": [{"key": "dagster/from_ui", "value": "true"}],
        "assetSelection": [{"path": ["source", "go4worldbusiness"]}, {"path": ["source", "alibaba_rfq"]}],
        "partitionNames": ["2026-11-30", "2026-12-01"],
        "fromFailure": False,
    }
    assert "selector" not in params  # the hidden asset job has no partition set to name


def test_last_partition_keys_takes_the_newest() -> None:
    keys = [f"2026-12-0{day}" for day in range(1, 8)]
    assert last_partition_keys(keys, 3) == ["2026-12-05", "2026-12-06", "2026-12-07"]
    assert last_partition_keys(keys, 30) == keys
    with pytest.raises(ValueError):
        last_partition_keys(keys, 0)


@pytest.mark.parametrize(
    ("source", "path", "kind"),
    [
        ("go4worldbusiness", "/robots.txt", "robots"),
        ("go4worldbusiness", "/buyers/cosmetics.html?pg=2", "listing"),
        ("go4worldbusiness", "/buylead/view/123456/wanted-:-argan-oil.html", "detail"),
        ("alibaba_rfq", "/rfq/rfq_search_list.htm?country=AE&recently=Y&page=3", "listing"),
        ("alibaba_rfq", "/rfq_detail.htm?p=abc", "detail"),
        ("tradekey", "/buyoffer/Argan-Oil-123.html", "detail"),
        ("made_in_china", "/request/AbCdEfGhIjKl/Face-Cream.html", "detail"),
        ("us_fda", "/drug/ndc.json?search=product_ndc:%2212345-678%22", "detail"),
        ("us_fda", "/drug/ndc.json?search=marketing_start_date:%5B20261201+TO+20261202%5D&skip=0", "listing"),
        ("bizmaps", "/item/AbCdE12345", "detail"),
        ("bizmaps", "/s/prefs/13?page=2", "listing"),
    ],
)
def test_page_kind(source: str, path: str, kind: str) -> None:
    rule = RULES[source]
    assert page_kind(path, rule.detail_regex, rule.detail_pattern) == kind


def test_request_counts_per_source() -> None:
    log = [
        ("tradekey", "/tradekey/robots.txt", 200),
        ("tradekey", "/tradekey/cosmetics-buyer/", 200),
        ("tradekey", "/tradekey/cosmetics-buyer/", 200),  # asked twice
        ("tradekey", "/tradekey/buyoffer/Argan-Oil-123.html", 200),
        ("tradekey", "/tradekey/buyoffer/Rose-Water-456.html", 429),
        ("tradekey", "/tradekey/robots.txt", 200),
        ("ec21", "/ec21/cosmetics.html", 200),
    ]
    counts = request_counts(log, RULES)
    tradekey = counts["tradekey"]
    assert (tradekey.requests, tradekey.listing, tradekey.detail, tradekey.robots) == (6, 2, 2, 2)
    assert tradekey.errors == 1
    assert tradekey.distinct_pages == 3  # robots.txt is not a page
    assert tradekey.ratio == pytest.approx(4 / 3)
    assert counts["ec21"].ratio == 1.0
    assert set(counts) == {"tradekey", "ec21"}


def test_partition_counts_split_what_did_not_materialize() -> None:
    statuses = [
        {
            "__typename": "AssetPartitionsStatusCounts",
            "assetKey": {"path": ["source", "globalsources"]},
            "numPartitionsTargeted": 30,
            "numPartitionsInProgress": 2,
            "numPartitionsMaterialized": 20,
            "numPartitionsFailed": 3,
        },
        {"__typename": "UnpartitionedAssetStatus", "assetKey": {"path": ["other"]}},
    ]
    assert partition_counts(statuses) == {
        "globalsources": {"targeted": 30, "materialized": 20, "failed": 3, "in_progress": 2, "not_materialized": 5}
    }


def test_run_partition_count_and_step_source() -> None:
    keys = ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]
    assert run_partition_count({"dagster/partition": "2026-12-02"}, keys) == 1
    ranged = {"dagster/asset_partition_range_start": "2026-12-02", "dagster/asset_partition_range_end": "2026-12-04"}
    assert run_partition_count(ranged, keys) == 3
    assert run_partition_count({}, keys) == 0
    assert step_source("source__ec21", SOURCES) == "ec21"
    assert step_source("normalized_rfqs", SOURCES) is None
