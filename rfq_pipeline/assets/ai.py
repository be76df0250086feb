"""The ``rfqs/classified`` and ``rfqs/embedded`` stages: thin wrappers over ``rfq_pipeline.ai``."""

from collections import Counter
from collections.abc import Iterator

import dagster as dg

from rfq_pipeline.assets.metadata import counts_table, markdown_table
from rfq_pipeline.assets.models import CLASSIFIER_MODEL_KEY, STATIC_EMBEDDER_KEY
from rfq_pipeline.automation import DOWNSTREAM_CONDITION
from rfq_pipeline.db import repository
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import ObjectStoreResource, PostgresResource
from rfq_pipeline.settings import Settings

NORMALIZED_KEY = dg.AssetKey(["rfqs", "normalized"])
CLASSIFIED_KEY = dg.AssetKey(["rfqs", "classified"])
EMBEDDED_KEY = dg.AssetKey(["rfqs", "embedded"])
LABELS_CHECK = "labels_in_taxonomy"
EMBEDDED_CHECK = "every_rfq_embedded"

COUNT_PARTITION_EMBEDDED = """
SELECT count(*) FILTER (WHERE e.rfq_id IS NOT NULL), count(*)
FROM rfqs r
LEFT JOIN rfq_embeddings e ON e.rfq_id = r.id AND e.model = %(model)s
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
"""


@dg.asset(
    key=CLASSIFIED_KEY,
    deps=[NORMALIZED_KEY, CLASSIFIER_MODEL_KEY],
    partitions_def=daily_partitions,
    automation_condition=DOWNSTREAM_CONDITION,
    # The local model classifies thousands of RFQs a second: a month's backfill is cheaper as one run.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="classification",
    kinds={"scikitlearn", "postgres"},
    owners=["team:data-science"],
    description="Industry, beauty relevance, intent and quotability of each RFQ, from the current version of the "
    "local model, with a calibrated confidence; below RFQ_CLASSIFY_MIN_CONFIDENCE a label is 'uncertain' and waits "
    "for Claude or a person. Once per RFQ per model version (a promoted version re-labels the recent days; older "
    "ones by a backfill).",
    check_specs=[
        dg.AssetCheckSpec(
            LABELS_CHECK,
            asset=CLASSIFIED_KEY,
            description="Every RFQ of the partition has labels from the current model version.",
        )
    ],
)
def rfqs_classified(
    context: dg.AssetExecutionContext, postgres: PostgresResource, models: ObjectStoreResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Classify the partition's RFQs that the current local model version has not labeled yet."""
    from rfq_pipeline.ai.classification_store import labels_between, unclassified_between, write_labels
    from rfq_pipeline.ai.embeddings import text_sha256
    from rfq_pipeline.ai.labels import RfqText
    from rfq_pipeline.ai.model_registry import current_classifier

    settings = Settings.from_env()
    window = context.partition_time_window
    with postgres.db.connection() as conn:
        classifier = current_classifier(conn, models.get_store(), settings.target_industries, settings.models_cache_dir)
        rows = unclassified_between(conn, window.start, window.end, classifier.model_version)
        items = [
            RfqText(
                id=str(r["id"]),
                title=r["title"] or "",
                description=r["description"] or "",
                quantity=r["quantity_text"] or "",
                country=r["country"] or "",
            )
            for r in rows
        ]
        labels = classifier.classify(items)
        written = write_labels(
            conn, labels, {i.id: text_sha256(i.text()) for i in items}, min_confidence=settings.classify_min_confidence
        )
        stored = labels_between(conn, window.start, window.end, classifier.model_version)
        total = len(repository.rfq_ids_between(conn, window.start, window.end))
    relevant = [r for r in stored if r["relevant"] and not r["uncertain"]]
    uncertain = [r for r in stored if r["uncertain"]]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(stored),
            "classified_this_run": written,
            "model_version": classifier.model_version,
            "target_industries": ", ".join(classifier.targets),
            "relevant": len(relevant),
            "relevant_share": round(len(relevant) / len(stored), 4) if stored else 0.0,
            # Left to Claude (with a key) or a person: the desk's review queue, `rfq-pipeline label`.
            "uncertain": len(uncertain),
            "min_confidence": settings.classify_min_confidence,
            "uncertain_preview": markdown_table(
                sorted(uncertain, key=lambda r: r["confidence"] or 0.0), ["source", "title", "industry", "confidence"]
            ),
            "industries": counts_table(Counter(r["industry"] for r in stored), "industry"),
            "intents": counts_table(Counter(r["intent"] for r in stored), "intent"),
            "mean_quality": round(sum(r["quality"] for r in stored) / len(stored), 3) if stored else 0.0,
            "relevant_preview": markdown_table(
                sorted(relevant, key=lambda r: -r["quality"]), ["source", "title", "industry", "intent", "quality"]
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name=LABELS_CHECK,
        passed=len(stored) == total,
        metadata={"rfqs": total, "labeled": len(stored)},
    )


@dg.asset(
    key=EMBEDDED_KEY,
    deps=[CLASSIFIED_KEY, STATIC_EMBEDDER_KEY],
    partitions_def=daily_partitions,
    automation_condition=DOWNSTREAM_CONDITION,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="dedup",
    kinds={"pgvector", "postgres"},
    owners=["team:data-science"],
    description="A halfvec embedding of each RFQ's title and description for the configured embedder (the distilled "
    "static MiniLM by default), written by binary COPY; only new or changed texts are embedded.",
    check_specs=[
        dg.AssetCheckSpec(
            EMBEDDED_CHECK, asset=EMBEDDED_KEY, description="Every RFQ of the partition has a current embedding."
        )
    ],
)
def rfqs_embedded(
    context: dg.AssetExecutionContext, postgres: PostgresResource, models: ObjectStoreResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Embed the partition's RFQs whose text has no vector under the configured model's current version yet."""
    import time

    from rfq_pipeline.ai.embedding_store import embed_rfqs
    from rfq_pipeline.ai.model_registry import current_embedder

    settings = Settings.from_env()
    window = context.partition_time_window
    started = time.perf_counter()
    with postgres.db.connection() as conn:
        embedder = current_embedder(conn, models.get_store(), settings.models_cache_dir, settings.embedder)
        params = {"start": window.start, "end": window.end, "model": embedder.name}
        ids = repository.rfq_ids_between(conn, window.start, window.end)
        written = embed_rfqs(conn, embedder, ids)
        embedded, total = conn.execute(COUNT_PARTITION_EMBEDDED, params).fetchone()
    seconds = time.perf_counter() - started
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(embedded),
            "embedded_this_run": written,
            "model": embedder.name,
            "dims": embedder.dims,
            "seconds": round(seconds, 3),
            "texts_per_second": round(written / seconds, 1) if written and seconds else 0.0,
        }
    )
    yield dg.AssetCheckResult(
        check_name=EMBEDDED_CHECK, passed=int(embedded) == int(total), metadata={"rfqs": total, "embedded": embedded}
    )


ai_assets = [rfqs_classified, rfqs_embedded]
