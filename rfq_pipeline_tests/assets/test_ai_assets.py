"""``rfqs/classified``, ``rfqs/embedded`` and ``rfqs/clusters`` materialized with the whole pipeline for one day."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg

from rfq_pipeline.ai.classifier import local_classifier
from rfq_pipeline.ai.embeddings import STATIC_NAME
from rfq_pipeline.ai.labels import INDUSTRIES, INTENTS
from rfq_pipeline.assets.ai import CLASSIFIED_KEY, EMBEDDED_CHECK, EMBEDDED_KEY, LABELS_CHECK
from rfq_pipeline.assets.clusters import CLUSTERS_KEY
from rfq_pipeline.definitions import pipeline_assets, resources
from rfq_pipeline.settings import Settings

# "An RFQ of the day", exactly as the assets select their partition.
DAY_IDS = """
SELECT id FROM rfqs
WHERE COALESCE(posted_at, first_seen_at) >= %(start)s AND COALESCE(posted_at, first_seen_at) < %(end)s
ORDER BY id
"""

PER_RFQ = """
SELECT r.id,
       (SELECT count(*) FROM classifications c WHERE c.rfq_id = r.id AND c.model_version = %(version)s),
       (SELECT count(*) FROM rfq_embeddings e WHERE e.rfq_id = r.id AND e.model = %(model)s),
       (SELECT count(*) FROM dedup_cluster_members m WHERE m.rfq_id = r.id)
FROM rfqs r
WHERE r.id = ANY(%(ids)s::bigint[])
ORDER BY r.id
"""


def _materialize(day: date) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize(
            pipeline_assets, partition_key=day.isoformat(), resources=resources, instance=instance, raise_on_error=False
        )


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict[str, object]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[dg.AssetKey, str], bool]:
    return {(e.asset_key, e.check_name): e.passed for e in result.get_asset_check_evaluations()}


def test_the_day_is_classified_embedded_and_clustered_once(pipeline_env: Settings) -> None:
    day = datetime.now(UTC).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    window = {"start": start, "end": start + timedelta(days=1)}
    version = local_classifier(pipeline_env.target_industries).model_version

    first = _materialize(day)
    assert first.success
    checks = _checks(first)
    assert checks[(CLASSIFIED_KEY, LABELS_CHECK)] is True
    assert checks[(EMBEDDED_KEY, EMBEDDED_CHECK)] is True
    assert all(checks.values()), checks

    with psycopg.connect(pipeline_env.database_url) as conn:
        ids = [int(r[0]) for r in conn.execute(DAY_IDS, window).fetchall()]
        assert len(ids) > 10, "the simulator shows too few RFQs today for this test to mean anything"
        per_rfq = conn.execute(PER_RFQ, {"ids": ids, "version": version, "model": STATIC_NAME}).fetchall()
        labels = conn.execute(
            "SELECT industry, intent, quality, relevant, provider, text_sha256 FROM classifications "
            "WHERE rfq_id = ANY(%(ids)s::bigint[]) AND model_version = %(version)s",
            {"ids": ids, "version": version},
        ).fetchall()
        dims = conn.execute(
            "SELECT DISTINCT dims, vector_dims(embedding) FROM rfq_embeddings WHERE rfq_id = ANY(%(ids)s::bigint[])",
            {"ids": ids},
        ).fetchall()
        staging = conn.execute("SELECT count(*) FROM rfq_embeddings_staging").fetchone()[0]
    assert [tuple(r[1:]) for r in per_rfq] == [(1, 1, 1)] * len(ids)  # one label, one vector, one cluster each
    for industry, intent, quality, relevant, provider, text_hash in labels:
        assert industry in INDUSTRIES and intent in INTENTS
        assert 0.0 <= quality <= 1.0
        assert relevant == (industry in pipeline_env.target_industries)
        assert provider == "local" and text_hash
    assert dims == [(384, 384)]
    assert staging == 0

    classified = _metadata(first, CLASSIFIED_KEY)
    assert classified["dagster/row_count"] == len(ids)
    assert classified["classified_this_run"] == len(ids)
    assert classified["model_version"] == version
    assert classified["target_industries"] == "beauty_personal_care"
    embedded = _metadata(first, EMBEDDED_KEY)
    assert embedded["dagster/row_count"] == len(ids)
    assert embedded["embedded_this_run"] == len(ids)
    assert (embedded["model"], embedded["dims"]) == (STATIC_NAME, 384)
    clusters = _metadata(first, CLUSTERS_KEY)
    assert clusters["dagster/row_count"] == len(ids)
    assert clusters["embedded_here"] == 0  # rfqs/embedded already embedded every RFQ of the day

    # Re-materializing the day: nothing new to classify or embed, every check still passes.
    second = _materialize(day)
    assert second.success
    assert all(_checks(second).values()), _checks(second)
    again = _metadata(second, CLASSIFIED_KEY)
    assert again["classified_this_run"] == 0
    assert again["dagster/row_count"] == len(ids)
    assert again["model_version"] == version
    embedded_again = _metadata(second, EMBEDDED_KEY)
    assert embedded_again["embedded_this_run"] == 0
    assert embedded_again["dagster/row_count"] == len(ids)
    clusters_again = _metadata(second, CLUSTERS_KEY)
    assert clusters_again["already_assigned"] == len(ids) and clusters_again["new_clusters"] == 0

    with psycopg.connect(pipeline_env.database_url) as conn:
        ids_after = [int(r[0]) for r in conn.execute(DAY_IDS, window).fetchall()]
        per_rfq_after = conn.execute(PER_RFQ, {"ids": ids_after, "version": version, "model": STATIC_NAME}).fetchall()
        totals = conn.execute(
            "SELECT (SELECT count(*) FROM classifications), (SELECT count(*) FROM rfq_embeddings), "
            "(SELECT count(*) FROM dedup_cluster_members)"
        ).fetchone()
    assert ids_after == ids
    assert per_rfq_after == per_rfq
    assert totals[0] >= len(ids) and totals[1] >= len(ids) and totals[2] >= len(ids)
