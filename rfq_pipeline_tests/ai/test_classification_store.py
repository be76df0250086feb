"""Classifications in the real database: once per model version and text, relabeled when the RFQ changes."""

from datetime import UTC, datetime, timedelta

import psycopg

from rfq_pipeline.ai.classification_store import unclassified_between, write_labels
from rfq_pipeline.ai.labels import Labels
from rfq_pipeline.db import repository

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, content_sha256, posted_at)
VALUES ('alibaba_rfq', %s, %s, %s, %s, now()) RETURNING id
"""


def _labels(rfq_id: int, industry: str, version: str = "v1") -> Labels:
    return Labels(
        id=str(rfq_id),
        industry=industry,
        relevant=industry == "beauty_personal_care",
        intent="buy_request",
        quality=0.5,
        provider="local",
        model_version=version,
    )


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=1), now + timedelta(days=1)


def test_each_rfq_is_labeled_once_per_version_and_again_when_its_text_changes(clean_db: str) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        repository.upsert_source(
            conn, name="alibaba_rfq", kind="marketplace", base_url="https://example.test", cadence="1h", enabled=True
        )
        rfq_id = int(conn.execute(INSERT_RFQ, ("1", "https://example.test/1", "lipstick", "h1")).fetchone()[0])
        start, end = _window()

        assert [r["id"] for r in unclassified_between(conn, start, end, "v1")] == [rfq_id]
        assert write_labels(conn, [_labels(rfq_id, "beauty_personal_care")], {str(rfq_id): "t1"}) == 1
        assert unclassified_between(conn, start, end, "v1") == []
        # A redelivered result for the same version and text changes nothing.
        assert write_labels(conn, [_labels(rfq_id, "other")], {str(rfq_id): "t1"}) == 0
        # A new version is backfilled beside the old one.
        assert [r["id"] for r in unclassified_between(conn, start, end, "v2")] == [rfq_id]

        # The marketplace changed the listing: the content hash moves rfqs.updated_at, so v1 labels it again.
        conn.execute("UPDATE rfqs SET title = 'car tyres', content_sha256 = 'h2', updated_at = now() WHERE id = %s",
                     (rfq_id,))
        assert [r["id"] for r in unclassified_between(conn, start, end, "v1")] == [rfq_id]
        assert write_labels(conn, [_labels(rfq_id, "vehicles_transport")], {str(rfq_id): "t2"}) == 1
        rows = conn.execute(
            "SELECT model_version, industry, text_sha256 FROM classifications WHERE rfq_id = %s", (rfq_id,)
        ).fetchall()
        assert rows == [("v1", "vehicles_transport", "t2")]
        assert unclassified_between(conn, start, end, "v1") == []
