"""How a replay of N days is laid out in runs: set-based stages take the whole range in one run, stages that call
a rate-limited service (a marketplace, Claude's batches, the enrichment lookups) one day per run under their pool."""

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


def test_stages_that_call_rate_limited_services_replay_one_day_per_run_under_their_pool() -> None:
    graph = defs.resolve_asset_graph()
    sources = [key for key in graph.get_all_asset_keys() if key.path[0] == "source"]
    assert len(sources) >= 10
    expected = {tuple(key.path): f"marketplace_{key.path[1]}" for key in sources}
    expected |= PER_DAY_UNDER_A_POOL
    for path, pool in expected.items():
        node = graph.get(dg.AssetKey(list(path)))
        policy = node.backfill_policy
        assert policy is not None and policy.max_partitions_per_run == 1, path
        assert pool in (node.pools or set()), (path, node.pools)
