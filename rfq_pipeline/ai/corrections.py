"""People's corrections of the classifier: stored in ``labels`` with who and when, applied to the RFQ's stored
classifications at once, and to every classification a later model version writes, so a corrected RFQ never flips
back. Plain functions over a psycopg connection; the CLI (and the desk) call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import psycopg

from rfq_pipeline.ai.labels import INDUSTRIES, Labels

HUMAN = "human"

INSERT_LABEL = """
INSERT INTO labels (rfq_id, source, actor, industry, relevant, note)
VALUES (%(rfq_id)s, %(source)s, %(actor)s, %(industry)s, %(relevant)s, %(note)s)
RETURNING id
"""

# Every human label of the RFQs, oldest first: a later label replaces what it says and keeps what it leaves out.
SELECT_HUMAN_LABELS = """
SELECT rfq_id, id, actor, industry, relevant
FROM labels
WHERE source = 'human' AND rfq_id = ANY(%(ids)s)
ORDER BY rfq_id, created_at, id
"""

# Every stored classification of the RFQ, whatever model version made it; the model's own call is kept once.
APPLY_TO_CLASSIFICATIONS = """
UPDATE classifications
SET industry = COALESCE(%(industry)s::text, industry),
    relevant = COALESCE(%(relevant)s::boolean, relevant),
    provider = 'human',
    details = details || jsonb_build_object(
        'label_id', %(label_id)s::bigint, 'labeled_by', %(actor)s::text,
        'model_said', COALESCE(details -> 'model_said', jsonb_build_object('industry', industry, 'relevant', relevant)))
WHERE rfq_id = %(rfq_id)s
"""


class LabelError(ValueError):
    """A label that cannot be recorded (unknown RFQ or industry, nothing said)."""


@dataclass(frozen=True)
class HumanLabel:
    """The label a person gave an RFQ (industry and relevance resolved)."""

    rfq_id: int
    label_id: int
    actor: str
    industry: str | None
    relevant: bool | None


def record_label(
    conn: psycopg.Connection,
    rfq_id: int,
    *,
    actor: str,
    industry: str | None = None,
    relevant: bool | None = None,
    note: str = "",
    targets: Sequence[str] = ("beauty_personal_care",),
) -> HumanLabel:
    """Record a person's label and apply it to the RFQ's stored classifications (in the caller's transaction).

    Only an industry given: relevance follows from it (an industry among ``targets`` is relevant). Only relevance
    given: the model's industry stays.
    """
    if industry is None and relevant is None:
        raise LabelError("say the industry, the relevance or both")
    if industry is not None and industry not in INDUSTRIES:
        raise LabelError(f"unknown industry {industry!r}; one of: {', '.join(INDUSTRIES)}")
    if conn.execute("SELECT 1 FROM rfqs WHERE id = %s", (rfq_id,)).fetchone() is None:
        raise LabelError(f"there is no RFQ {rfq_id}")
    if relevant is None and industry is not None:
        relevant = industry in targets
    params = {"rfq_id": rfq_id, "source": HUMAN, "actor": actor, "industry": industry, "relevant": relevant,
              "note": note}  # fmt: skip
    label_id = int(conn.execute(INSERT_LABEL, params).fetchone()[0])  # type: ignore[index]
    label = HumanLabel(rfq_id, label_id, actor, industry, relevant)
    conn.execute(APPLY_TO_CLASSIFICATIONS, {"rfq_id": rfq_id, "industry": industry, "relevant": relevant,
                                            "label_id": label_id, "actor": actor})  # fmt: skip
    return label


def human_labels(conn: psycopg.Connection, rfq_ids: Iterable[int]) -> dict[int, HumanLabel]:
    """What people said of each of ``rfq_ids``: the latest industry and the latest relevance any person gave (one
    label may say only one of them), with the newest label's id and actor."""
    ids = sorted({int(i) for i in rfq_ids})
    if not ids:
        return {}
    merged: dict[int, HumanLabel] = {}
    for rfq_id, label_id, actor, industry, relevant in conn.execute(SELECT_HUMAN_LABELS, {"ids": ids}).fetchall():
        before = merged.get(int(rfq_id))
        merged[int(rfq_id)] = HumanLabel(
            int(rfq_id), int(label_id), actor,
            industry if industry is not None else (before.industry if before else None),
            relevant if relevant is not None else (before.relevant if before else None),
        )  # fmt: skip
    return merged


def with_corrections(conn: psycopg.Connection, labels: Sequence[Labels]) -> list[Labels]:
    """``labels`` (a model's, ``id`` an ``rfqs.id``) with every person's correction put over the model's call."""
    corrections = human_labels(conn, (int(label.id) for label in labels))
    corrected = []
    for label in labels:
        human = corrections.get(int(label.id))
        if human is None:
            corrected.append(label)
            continue
        details = {**label.details, "label_id": human.label_id, "labeled_by": human.actor,
                   "model_said": {"industry": label.industry, "relevant": label.relevant}}  # fmt: skip
        corrected.append(replace(
            label, industry=human.industry or label.industry,
            relevant=label.relevant if human.relevant is None else human.relevant, provider=HUMAN, details=details,
        ))  # fmt: skip
    return corrected


__all__ = ["HUMAN", "HumanLabel", "LabelError", "human_labels", "record_label", "with_corrections"]
