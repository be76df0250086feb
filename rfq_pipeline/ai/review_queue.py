"""RFQs waiting for a person: those whose label that counts (``effective_labels``) is an uncertain local one.

Without an Anthropic key nobody else settles them, so the sales desk's review page and ``rfq-pipeline label
--uncertain`` both list them from here; a person's label (:func:`rfq_pipeline.ai.corrections.record_label`) takes an
RFQ off the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

DEFAULT_LIMIT = 100

# Only an RFQ with an uncertain classification row can have an uncertain label that counts, so the candidates come
# from the partial index on `uncertain` instead of calling effective_labels for every RFQ there is. The model's
# guess of relevance is its own row's (effective_labels reports an uncertain label as not relevant).
SELECT_UNCERTAIN_RFQS = """
SELECT r.id, r.source, COALESCE(r.posted_at, r.first_seen_at) AS posted_at, r.title, r.description,
       COALESCE(NULLIF(r.country_name, ''), NULLIF(r.country_raw, '')) AS country, r.country_code,
       e.industry, c.relevant, e.confidence, e.model_version
FROM (SELECT DISTINCT rfq_id FROM classifications WHERE uncertain) u
JOIN rfqs r ON r.id = u.rfq_id
JOIN LATERAL effective_labels(ARRAY[r.id]) e ON e.uncertain
JOIN classifications c ON c.rfq_id = e.rfq_id AND c.model_version = e.model_version
WHERE %(source)s::text IS NULL OR r.source = %(source)s
ORDER BY COALESCE(r.posted_at, r.first_seen_at) DESC, r.id DESC
LIMIT %(limit)s
"""

COUNT_UNCERTAIN_RFQS = """
SELECT count(*)
FROM (SELECT DISTINCT rfq_id FROM classifications WHERE uncertain) u
JOIN rfqs r ON r.id = u.rfq_id
JOIN LATERAL effective_labels(ARRAY[r.id]) e ON e.uncertain
WHERE %(source)s::text IS NULL OR r.source = %(source)s
"""

# The RFQ row is locked so two people settling the same RFQ at once are served one after the other: the second one
# sees the first one's label instead of silently replacing it.
LOCK_LABEL_THAT_COUNTS = """
SELECT e.uncertain, e.provider, e.industry, e.relevant
FROM rfqs r
LEFT JOIN LATERAL effective_labels(ARRAY[r.id]) e ON true
WHERE r.id = %(rfq_id)s
FOR UPDATE OF r
"""


@dataclass(frozen=True)
class LabelThatCounts:
    """What counts for an RFQ now; ``provider`` is ``None`` when nothing has classified it yet."""

    uncertain: bool  # still waiting for a person
    provider: str | None
    industry: str | None
    relevant: bool | None


@dataclass(frozen=True)
class UncertainRfq:
    """One RFQ waiting for a person, with the local model's guess and how sure it was."""

    id: int
    source: str
    posted_at: datetime
    title: str
    description: str
    country: str | None
    country_code: str | None
    industry: str  # the model's guess
    relevant: bool  # the model's guess
    confidence: float | None
    model_version: str


def uncertain_rfqs(
    conn: psycopg.Connection, *, limit: int = DEFAULT_LIMIT, source: str | None = None
) -> list[UncertainRfq]:
    """The RFQs whose label that counts is an uncertain local one, newest first, at most ``limit``, optionally only
    from ``source``."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SELECT_UNCERTAIN_RFQS, {"source": source or None, "limit": max(0, limit)}).fetchall()
    return [
        UncertainRfq(
            id=int(row["id"]),
            source=row["source"],
            posted_at=row["posted_at"],
            title=row["title"],
            description=row["description"],
            country=row["country"],
            country_code=(row["country_code"] or "").strip() or None,
            industry=row["industry"],
            relevant=bool(row["relevant"]),
            confidence=None if row["confidence"] is None else float(row["confidence"]),
            model_version=row["model_version"],
        )
        for row in rows
    ]


def count_uncertain(conn: psycopg.Connection, *, source: str | None = None) -> int:
    """How many RFQs wait for a person (all of them, not only the listed ``limit``)."""
    row = conn.execute(COUNT_UNCERTAIN_RFQS, {"source": source or None}).fetchone()
    return int(row[0]) if row else 0


def lock_label_that_counts(conn: psycopg.Connection, rfq_id: int) -> LabelThatCounts | None:
    """The label that counts for ``rfq_id`` now, with the RFQ locked until the caller's transaction ends; ``None``
    when there is no such RFQ."""
    row = conn.execute(LOCK_LABEL_THAT_COUNTS, {"rfq_id": rfq_id}).fetchone()
    if row is None:
        return None
    uncertain, provider, industry, relevant = row
    return LabelThatCounts(bool(uncertain), provider, industry, relevant)


__all__ = [
    "DEFAULT_LIMIT",
    "LabelThatCounts",
    "UncertainRfq",
    "count_uncertain",
    "lock_label_that_counts",
    "uncertain_rfqs",
]
