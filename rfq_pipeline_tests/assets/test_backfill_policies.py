"""How a replay of N days is laid out in runs: set-based stages take the whole range in one run, and so do the
marketplace sources (one crawl reads a listing once for the range, under the marketplace's pool); stages that call a
rate-limited service per day (Claude's batches, the enrichment lookups) take one day per run under their pool."""

import dagster as dg

from rfq_pipeline.definitions import defs

SINGLE_RUN = [
    ["rfqs", "normalized"], ["rfqs", "classified"], ["rfqs", "embedded"], ["rfqs", "clusters"], ["quotes", "drafts"],
]  # fmt: skip
PER_DAY_UNDER_A_POOL = {("buyers", "enriched"): "enrichment", ("classify", "batch_submitted"): "anthropic"}


def test_set_based_stages_replay_a_range_in_one_run() -> None:
    graph = defs.resolve_asset_graph()
    for path in SINGLE_RUN:
        policy = graph.get(dg.AssetKey(path)).backfill_policy
        assert policy is not None and policy.max_partitions_per_run is None, path


def test_a_source_reads_a_range_in_one_run_under_its_marketplace_pool() -> None:
    graph = defs.resolve_asset_graph()
    sources = [key for key in graph.get_all_asset_keys() if key.path[0] == "source"]
    assert len(sources) >= 10
    for key in sources:
        node = graph.get(key)
        assert node.backfill_policy is not None and node.backfill_policy.max_partitions_per_run is None, key
        assert f"marketplace_{key.path[1]}" in (node.pools or set()), (key, node.pools)


def test_stages_that_call_rate_limited_services_replay_one_day_per_run_under_their_pool() -> None:
    graph = defs.resolve_asset_graph()
    for path, pool in PER_DAY_UNDER_A_POOL.items():
        node = graph.get(dg.AssetKey(list(path)))
        policy = node.backfill_policy
        assert policy is not None and policy.max_partitions_per_run == 1, path
        assert pool in (node.pools or set()), (path, node.pools)
