"""People's corrections of the classifier: stored in ``labels`` with who and when, applied to the RFQ's stored
classifications at once, and to every classification a later model version writes, so a corrected RFQ never flips
back. Plain functions over a psycopg connection; the CLI (and the desk) call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import psycopg
from psycopg.rows import dict_row

from rfq_pipeline.ai.labels import INDUSTRIES, Labels
from rfq_pipeline.ai.training_data import LabeledExample

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
    uncertain = false,
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


CLAUDE = "claude"

INSERT_CLAUDE_LABEL = """
INSERT INTO labels (rfq_id, source, actor, industry, relevant)
VALUES (%(rfq_id)s, 'claude', %(actor)s, %(industry)s, %(relevant)s)
ON CONFLICT (rfq_id, actor) WHERE source = 'claude' DO NOTHING
"""

# Every label people and Claude gave, with the RFQ's text and the label that counts for it now (for a label that
# says only the relevance).
SELECT_TRAINING_LABELS = """
SELECT l.id, l.rfq_id, l.source, l.actor, l.industry, l.relevant, l.created_at,
       r.title, r.description, r.quantity_text, COALESCE(r.country_name, r.country_raw) AS country,
       e.industry AS current_industry
FROM labels l
JOIN rfqs r ON r.id = l.rfq_id
LEFT JOIN LATERAL effective_labels(ARRAY[l.rfq_id]) e ON true
WHERE %(label_ids)s::bigint[] IS NULL OR l.id = ANY(%(label_ids)s::bigint[])
ORDER BY l.rfq_id, l.created_at, l.id
"""

COUNT_TRAINING_LABELS = (
    "SELECT count(*) FILTER (WHERE source = 'human'), count(*) FILTER (WHERE source = 'claude') FROM labels"
)


def record_claude_labels(conn: psycopg.Connection, labels: Sequence[Labels]) -> int:
    """Keep Claude's labels in ``labels`` (source ``claude``, actor its model version), once per RFQ and version;
    they become training data apart from people's and never override a person's."""
    rows = [
        {"rfq_id": int(label.id), "actor": label.model_version, "industry": label.industry, "relevant": label.relevant}
        for label in labels
        if label.provider == "anthropic"
    ]
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(INSERT_CLAUDE_LABEL, rows)
        return max(cur.rowcount, 0)


@dataclass
class PeopleTrainingSet:
    """Labels of stored RFQs as training examples, with their provenance and what was left out and why."""

    examples: list[LabeledExample]
    label_ids: list[int]  # the labels the examples came from (a version's training data, reproducible)
    by_source: dict[str, int]  # examples per source (human, claude)
    skipped: dict[str, int]  # labels not used, by reason


def training_set(
    conn: psycopg.Connection,
    *,
    targets: Sequence[str] = ("beauty_personal_care",),
    label_ids: Sequence[int] | None = None,
) -> PeopleTrainingSet:
    """One example per labeled RFQ: a person's latest word over Claude's; never an RFQ whose title is one of the
    held-out Alibaba rows. A label giving only the relevance is used when the RFQ's current industry agrees with it
    (a target industry exactly when relevant); otherwise the industry model has nothing to learn from it.

    ``label_ids`` rebuilds a recorded version's training set from the labels it used.
    """
    from rfq_pipeline.ai.labels import RfqText
    from rfq_pipeline.ai.training_data import held_out_title_keys, title_key

    params = {"label_ids": list(label_ids) if label_ids is not None else None}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SELECT_TRAINING_LABELS, params).fetchall()
    held_out = held_out_title_keys()
    merged: dict[int, dict] = {}
    used_ids: dict[int, list[int]] = {}
    skipped: dict[str, int] = {}
    for row in rows:  # oldest first: a later label of the same source replaces what it says
        rfq_id = int(row["rfq_id"])
        if title_key(row["title"] or "") in held_out:
            skipped["held-out evaluation text"] = skipped.get("held-out evaluation text", 0) + 1
            continue
        current = merged.get(rfq_id)
        if current is not None and current["source"] == HUMAN and row["source"] == CLAUDE:
            skipped["Claude under a person's label"] = skipped.get("Claude under a person's label", 0) + 1
            continue
        if current is None or current["source"] != row["source"]:
            current = {**row, "industry": None, "relevant": None}
            used_ids[rfq_id] = []
        current.update({k: row[k] for k in ("industry", "relevant") if row[k] is not None})
        current["source"] = row["source"]
        merged[rfq_id] = current
        used_ids[rfq_id].append(int(row["id"]))
    examples: list[LabeledExample] = []
    ids: list[int] = []
    by_source: dict[str, int] = {}
    for rfq_id, row in merged.items():
        industry = row["industry"]
        if industry is None:
            agrees = row["current_industry"] is not None and (row["current_industry"] in targets) == row["relevant"]
            if not agrees:
                skipped["relevance only, no agreeing industry"] = (
                    skipped.get("relevance only, no agreeing industry", 0) + 1
                )
                continue
            industry = row["current_industry"]
        relevant = row["relevant"] if row["relevant"] is not None else industry in targets
        item = RfqText(id=f"label:{rfq_id}", title=row["title"] or "", description=row["description"] or "",
                       quantity=row["quantity_text"] or "", country=row["country"] or "")  # fmt: skip
        examples.append(LabeledExample(item, industry, bool(relevant), True, "high", row["source"]))
        ids += used_ids[rfq_id]
        by_source[row["source"]] = by_source.get(row["source"], 0) + 1
    return PeopleTrainingSet(examples, sorted(ids), by_source, skipped)


def label_counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many labels people and Claude have given (every row, corrections of corrections included)."""
    human, claude = conn.execute(COUNT_TRAINING_LABELS).fetchone()  # type: ignore[misc]
    return {HUMAN: int(human), CLAUDE: int(claude)}


__all__ = [
    "CLAUDE",
    "HUMAN",
    "HumanLabel",
    "LabelError",
    "PeopleTrainingSet",
    "human_labels",
    "label_counts",
    "record_claude_labels",
    "record_label",
    "training_set",
    "with_corrections",
]
