"""Classifications in PostgreSQL: one row per RFQ per model version, written once (idempotent)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from rfq_pipeline.ai.labels import Labels, is_uncertain, label_confidence

# Once per model version and text: a re-run (or a redelivered batch result) for the same version changes nothing;
# an RFQ whose text changed since it was labeled is labeled again.
INSERT_CLASSIFICATION = """
INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality, details,
                             text_sha256, confidence, uncertain)
VALUES (%(rfq_id)s, %(model_version)s, %(provider)s, %(industry)s, %(relevant)s, %(intent)s, %(quality)s,
        %(details)s, %(text_sha256)s, %(confidence)s, %(uncertain)s)
ON CONFLICT (rfq_id, model_version) DO UPDATE SET
    provider = EXCLUDED.provider,
    confidence = EXCLUDED.confidence,
    uncertain = EXCLUDED.uncertain,
    industry = EXCLUDED.industry,
    relevant = EXCLUDED.relevant,
    intent = EXCLUDED.intent,
    quality = EXCLUDED.quality,
    details = EXCLUDED.details,
    text_sha256 = EXCLUDED.text_sha256,
    classified_at = now()
WHERE classifications.text_sha256 IS DISTINCT FROM EXCLUDED.text_sha256
"""

# RFQs posted in the window that this model version has not classified yet, or whose content changed since
# (rfqs.updated_at moves only when the scraped content hash changes).
SELECT_UNCLASSIFIED = """
SELECT r.id, r.title, r.description, r.quantity_text, COALESCE(r.country_name, r.country_raw) AS country
FROM rfqs r
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
  AND NOT EXISTS (
      SELECT 1 FROM classifications c
      WHERE c.rfq_id = r.id AND c.model_version = %(model_version)s AND c.classified_at >= r.updated_at
  )
ORDER BY r.id
"""

# RFQs posted in the window whose label that counts is an uncertain local one and that ``model_version`` (Claude's)
# has not labeled: what the Claude batch settles when the local model is the classifier.
SELECT_UNCERTAIN = """
SELECT r.id, r.title, r.description, r.quantity_text, COALESCE(r.country_name, r.country_raw) AS country
FROM rfqs r
JOIN LATERAL effective_labels(ARRAY[r.id]) e ON e.uncertain
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
  AND NOT EXISTS (SELECT 1 FROM classifications c WHERE c.rfq_id = r.id AND c.model_version = %(model_version)s)
ORDER BY r.id
"""

SELECT_LABELS_BETWEEN = """
SELECT c.rfq_id, r.source, r.title, c.industry, c.relevant, c.intent, c.quality, c.provider, c.model_version,
       c.uncertain, c.confidence
FROM classifications c JOIN rfqs r ON r.id = c.rfq_id
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
  AND c.model_version = %(model_version)s
ORDER BY c.rfq_id
"""


def write_labels(
    conn: psycopg.Connection,
    labels: Sequence[Labels],
    text_hashes: Mapping[str, str],
    *,
    min_confidence: float | None = None,
) -> int:
    """Insert labels whose ``id`` is an ``rfqs.id``; returns how many were new for their model version.

    A person's correction of an RFQ (``labels`` table) is put over whatever the model said, so a new model version or
    a re-labeled text never flips a corrected RFQ back. With ``min_confidence``, a local label below it is stored as
    ``uncertain`` (see :func:`rfq_pipeline.ai.labels.is_uncertain`).
    """
    from rfq_pipeline.ai.corrections import with_corrections

    labels = with_corrections(conn, labels)
    rows = [
        {
            "rfq_id": int(label.id),
            "model_version": label.model_version,
            "provider": label.provider,
            "industry": label.industry,
            "relevant": label.relevant,
            "intent": label.intent,
            "quality": label.quality,
            "details": Jsonb(label.details),
            "text_sha256": text_hashes.get(label.id),
            "confidence": label_confidence(label),
            "uncertain": min_confidence is not None and is_uncertain(label, min_confidence),
        }
        for label in labels
    ]
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(INSERT_CLASSIFICATION, rows, returning=False)
        return cur.rowcount if cur.rowcount >= 0 else len(rows)


def _window_rows(
    conn: psycopg.Connection, query: str, start: datetime, end: datetime, model_version: str
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, {"start": start, "end": end, "model_version": model_version}).fetchall()


def unclassified_between(
    conn: psycopg.Connection, start: datetime, end: datetime, model_version: str
) -> list[dict[str, Any]]:
    """RFQs posted in ``[start, end)`` with no label from ``model_version``."""
    return _window_rows(conn, SELECT_UNCLASSIFIED, start, end, model_version)


def uncertain_between(
    conn: psycopg.Connection, start: datetime, end: datetime, model_version: str
) -> list[dict[str, Any]]:
    """RFQs posted in ``[start, end)`` left uncertain by the local model and not labeled by ``model_version``."""
    return _window_rows(conn, SELECT_UNCERTAIN, start, end, model_version)


def labels_between(
    conn: psycopg.Connection, start: datetime, end: datetime, model_version: str
) -> list[dict[str, Any]]:
    """The labels ``model_version`` gave RFQs posted in ``[start, end)``."""
    return _window_rows(conn, SELECT_LABELS_BETWEEN, start, end, model_version)
