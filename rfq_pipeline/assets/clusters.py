"""The ``rfqs/clusters`` stage: every RFQ of the day in a stable dedup cluster (a thin wrapper of ``dedup``)."""

from collections import Counter, defaultdict
from collections.abc import Iterator

import dagster as dg

from rfq_pipeline.assets.metadata import markdown_table
from rfq_pipeline.automation import DOWNSTREAM_CONDITION
from rfq_pipeline.db import repository
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import ObjectStoreResource, PostgresResource
from rfq_pipeline.settings import Settings

CLUSTERS_KEY = dg.AssetKey(["rfqs", "clusters"])
EMBEDDED_KEY = dg.AssetKey(["rfqs", "embedded"])
INVARIANTS_CHECK = "cluster_invariants"
_VIOLATIONS = ("wrong_member_count", "empty_clusters", "merged_with_members", "chained_merges", "canonical_not_member")
_EMBED_BATCH = 2000

SELECT_PARTITION_MEMBERS = """
SELECT r.id, r.source, r.title, m.cluster_id, m.matched_by, m.similarity,
       a.attributes ->> 'product', a.attributes -> 'quantity', a.attributes ->> 'country', m.evidence ->> 'reason'
FROM rfqs r
JOIN dedup_cluster_members m ON m.rfq_id = r.id
LEFT JOIN rfq_dedup_attributes a ON a.rfq_id = r.id
WHERE r.id = ANY(%(ids)s::bigint[])
ORDER BY r.id
"""


@dg.asset(
    key=CLUSTERS_KEY,
    deps=[EMBEDDED_KEY],
    partitions_def=daily_partitions,
    automation_condition=DOWNSTREAM_CONDITION,
    # Assignment is serialised by an advisory lock anyway; one run per backfill avoids queueing on it.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="dedup",
    kinds={"pgvector", "postgres"},
    owners=["team:data-acquisition"],
    description="Reposts and cross-marketplace copies of one request in one stable cluster (exact keys, then ANN "
    "candidates confirmed by title, quantity, country and buyer checks).",
    check_specs=[
        dg.AssetCheckSpec(
            INVARIANTS_CHECK,
            asset=CLUSTERS_KEY,
            description="Every active cluster has members and a member_count equal to them; merged clusters are empty.",
        )
    ],
)
def rfqs_clusters(
    context: dg.AssetExecutionContext, postgres: PostgresResource, models: ObjectStoreResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Assign the RFQs posted in the run's partitions to clusters (new RFQs join, bridge RFQs merge clusters)."""
    from rfq_pipeline.ai.model_registry import current_embedder
    from rfq_pipeline.dedup.clusters import assign_clusters, cluster_invariants, ensure_embeddings

    settings = Settings.from_env()
    window = context.partition_time_window
    with postgres.db.connection() as conn:
        # The same version rfqs/embedded wrote: the ANN lookups stay in one model's space.
        embedder = current_embedder(conn, models.get_store(), settings.models_cache_dir, settings.embedder)
        ids = repository.rfq_ids_between(conn, window.start, window.end)
        embedded_here = sum(
            ensure_embeddings(conn, embedder, ids[i : i + _EMBED_BATCH]) for i in range(0, len(ids), _EMBED_BATCH)
        )
    with postgres.db.connection() as conn:
        result = assign_clusters(
            conn,
            ids,
            model=embedder.name,
            min_similarity=settings.dedup_min_similarity,
            actor=context.run.run_id,
            settings=settings,
        )
    with postgres.db.connection() as conn:
        members = conn.execute(SELECT_PARTITION_MEMBERS, {"ids": ids}).fetchall()
        invariants = cluster_invariants(conn)

    per_source: dict[str, Counter[str]] = defaultdict(Counter)
    for _id, source, _title, _cluster, matched_by, _sim, *_facts in members:
        per_source[source]["rows"] += 1
        per_source[source]["duplicates"] += matched_by != "new"
    duplicate_rates = [
        {"source": s, "rows": c["rows"], "duplicates": c["duplicates"], "rate": f"{c['duplicates'] / c['rows']:.1%}"}
        for s, c in sorted(per_source.items())
    ]
    # What each joined RFQ was read as, and why it joined: the facts the decision compared.
    preview = [
        {
            "rfq_id": i,
            "source": s,
            "title": t,
            "cluster_id": c,
            "matched_by": mb,
            "product": product,
            "quantity": ", ".join(f"{q['value']:g} {q['unit']}" for q in quantity or []),
            "country": country,
            "why": reason,
        }
        for i, s, t, c, mb, _sim, product, quantity, country, reason in members
        if mb != "new"
    ]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(ids),
            "new_clusters": result.new_clusters,
            "joined": result.joined,
            "merged": result.merged,
            "already_assigned": result.already_assigned,
            "embedded_here": embedded_here,
            "without_embedding": result.without_embedding,
            "matched_by": dg.MetadataValue.json(dict(result.by_matched_by)),
            "min_similarity": settings.dedup_min_similarity,
            "min_probability": result.min_probability,
            "split": result.split,
            "claude_second_opinions": dg.MetadataValue.json(dict(result.second_opinions)),
            "embedder": embedder.name,
            "duplicate_rate_by_source": markdown_table(
                duplicate_rates, ["source", "rows", "duplicates", "rate"], limit=50
            ),
            "preview": markdown_table(
                preview,
                ["rfq_id", "source", "title", "cluster_id", "matched_by", "product", "quantity", "country", "why"],
            ),
        }
    )
    violations = {name: invariants[name] for name in _VIOLATIONS}
    yield dg.AssetCheckResult(
        check_name=INVARIANTS_CHECK,
        passed=not any(violations.values()),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            **violations,
            "active_clusters": invariants["active_clusters"],
            "merged": invariants["merged_clusters"],
        },
    )


cluster_assets = [rfqs_clusters]
