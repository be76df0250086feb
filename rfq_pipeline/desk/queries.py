"""What the desk shows: the queue of drafts waiting for someone, its filters, and everything about one draft."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from rfq_pipeline.quotes import versions
from rfq_pipeline.quotes.states import ESCALATION_AFTER, REMINDER_AFTER

# Drafts someone still has to act on (or wait for); the queue shows these unless a state is picked.
OPEN_STATES = ("queued", "edited", "clarifying", "approved")
# States with a follow-up clock: a person owes the buyer a decision or a send.
DEADLINE_STATES = ("queued", "edited", "approved")
NEAR = timedelta(hours=6)
QUEUE_LIMIT = 500

# The classifier writes one row per RFQ per model version: each query joins the newest label (the lateral `cl`).
SELECT_QUEUE = """
SELECT q.id, q.state, q.version, q.currency, q.total, q.needs_review, q.guardrails_passed, q.ready_at,
       COALESCE(jsonb_typeof(q.body -> 'clarification'), 'null') <> 'null' AS has_clarification,
       r.title, r.source, COALESCE(r.country_code, b.country_code) AS country, b.company AS buyer,
       b.risk_level, cl.industry,
       EXISTS (SELECT 1 FROM outbound_emails o WHERE o.draft_id = q.id AND o.version = q.version
               AND o.kind = 'clarification' AND o.status = 'sent')
       OR EXISTS (SELECT 1 FROM marketplace_reply_tasks t WHERE t.draft_id = q.id AND t.version = q.version
                  AND t.kind = 'clarification') AS clarification_sent,
       (SELECT count(*) FROM marketplace_reply_tasks t WHERE t.draft_id = q.id AND t.status = 'open') AS open_tasks
FROM quote_drafts q
JOIN rfqs r ON r.id = q.rfq_id
LEFT JOIN buyers b ON b.id = q.buyer_id
LEFT JOIN LATERAL (
    SELECT c.industry FROM classifications c WHERE c.rfq_id = q.rfq_id
    ORDER BY c.classified_at DESC, c.model_version DESC LIMIT 1
) cl ON true
WHERE q.state = ANY(%(states)s)
  AND (%(source)s::text IS NULL OR r.source = %(source)s)
  AND (%(industry)s::text IS NULL OR cl.industry = %(industry)s)
  AND (%(country)s::text IS NULL OR %(country)s IN (r.country_code, b.country_code))
  AND (%(risk)s::text IS NULL OR b.risk_level = %(risk)s)
ORDER BY q.ready_at, q.id
LIMIT %(limit)s
"""

SELECT_OPTIONS = """
SELECT r.source, cl.industry, r.country_code AS rfq_country, b.country_code AS buyer_country, b.risk_level, q.state
FROM quote_drafts q
JOIN rfqs r ON r.id = q.rfq_id
LEFT JOIN buyers b ON b.id = q.buyer_id
LEFT JOIN LATERAL (
    SELECT c.industry FROM classifications c WHERE c.rfq_id = q.rfq_id
    ORDER BY c.classified_at DESC, c.model_version DESC LIMIT 1
) cl ON true
"""


@dataclass(frozen=True)
class QueueFilters:
    """The queue's GET filters; ``None`` means any."""

    source: str | None = None
    industry: str | None = None
    country: str | None = None
    risk: str | None = None
    state: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """Filters from query parameters; blank values mean any."""

        def value(name: str) -> str | None:
            text = (args.get(name) or "").strip()
            return text or None

        country = value("country")
        return cls(
            source=value("source"),
            industry=value("industry"),
            country=country.upper() if country else None,
            risk=value("risk"),
            state=value("state"),
        )

    def as_args(self) -> dict[str, str]:
        """The filters that are set, as query parameters."""
        return {k: v for k, v in vars(self).items() if v}


def span(delta: timedelta) -> str:
    """A short human duration: ``45 min``, ``3 h``, ``2 d 4 h``."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


@dataclass(frozen=True)
class Deadline:
    """The follow-up clock of a draft: the 24 h reminder until it passes, then the 48 h escalation."""

    hours: int  # 24 or 48
    due_at: datetime
    overdue: bool
    near: bool
    text: str  # "due in 3 h" | "overdue 5 h"

    @property
    def escalated(self) -> bool:
        """Past the 48 h mark: the sales lead has been paged."""
        return self.hours == 48 and self.overdue


def deadline(ready_at: datetime, now: datetime) -> Deadline:
    """Where a draft ready since ``ready_at`` stands against its 24 h and 48 h follow-ups at ``now``."""
    reminder, escalation = ready_at + REMINDER_AFTER, ready_at + ESCALATION_AFTER
    if now < reminder:
        hours, due_at = 24, reminder
    elif now >= escalation or escalation - now <= NEAR:
        hours, due_at = 48, escalation  # the escalation is what matters once it is close
    else:
        hours, due_at = 24, reminder
    if now < due_at:
        left = due_at - now
        # "due in" rounds up: 2 h 59 min left is "due in 3 h", never a reassuring "2 h".
        if left >= timedelta(hours=1):
            text = f"due in {math.ceil(left.total_seconds() / 3600)} h"
        else:
            text = f"due in {math.ceil(left.total_seconds() / 60)} min"
        return Deadline(hours, due_at, overdue=False, near=left <= NEAR, text=text)
    return Deadline(hours, due_at, overdue=True, near=True, text=f"overdue {span(now - due_at)}")


@dataclass(frozen=True)
class QueueRow:
    """One draft in the queue."""

    id: int
    title: str
    state: str
    version: int
    currency: str
    total: Decimal | None
    needs_review: bool
    ready_at: datetime
    age: str
    buyer: str | None
    risk_level: str | None
    source: str
    industry: str | None
    country: str | None
    tags: tuple[str, ...]
    deadline: Deadline | None

    @property
    def escalated(self) -> bool:
        """Past 48 h with nobody acting."""
        return self.deadline is not None and self.deadline.escalated


def _tags(row: Mapping[str, Any]) -> tuple[str, ...]:
    state, tags = row["state"], []
    if state == "queued":
        tags.append("needs review" if row["needs_review"] else "ready")
    if state == "edited":
        tags.append("edited")
        if row["needs_review"]:
            tags.append("needs review")
    if state == "clarifying":
        tags.append("awaiting buyer's answer")
    elif row["has_clarification"] and not row["clarification_sent"]:
        tags.append("clarification to send")
    if state == "approved":
        tags.append("approved, not sent")
    if row["open_tasks"]:
        tags.append("marketplace reply open")
    return tuple(tags)


def queue(
    conn: psycopg.Connection, filters: QueueFilters, *, now: datetime, lead: bool, limit: int = QUEUE_LIMIT
) -> list[QueueRow]:
    """Drafts waiting for someone, oldest first; a lead sees the escalated ones (past 48 h) first."""
    states = [filters.state] if filters.state else list(OPEN_STATES)
    params = {
        "states": states,
        "source": filters.source,
        "industry": filters.industry,
        "country": filters.country,
        "risk": filters.risk,
        "limit": limit,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SELECT_QUEUE, params).fetchall()
    result = [
        QueueRow(
            id=row["id"],
            title=row["title"],
            state=row["state"],
            version=row["version"],
            currency=row["currency"],
            total=row["total"],
            needs_review=row["needs_review"],
            ready_at=row["ready_at"],
            age=span(now - row["ready_at"]),
            buyer=row["buyer"],
            risk_level=row["risk_level"],
            source=row["source"],
            industry=row["industry"],
            country=row["country"],
            tags=_tags(row),
            deadline=deadline(row["ready_at"], now) if row["state"] in DEADLINE_STATES else None,
        )
        for row in rows
    ]
    if lead:
        # Stable sort: the escalated drafts move to the top and both groups keep their oldest-first order.
        result.sort(key=lambda r: not r.escalated)
    return result


def filter_options(conn: psycopg.Connection) -> dict[str, list[str]]:
    """The values each queue filter can take, from the drafts there are."""
    options: dict[str, set[str]] = {"source": set(), "industry": set(), "country": set(), "risk": set(), "state": set()}
    for source, industry, rfq_country, buyer_country, risk, state in conn.execute(SELECT_OPTIONS).fetchall():
        options["source"].add(source)
        options["state"].add(state)
        for key, value in (
            ("industry", industry),
            ("country", rfq_country),
            ("country", buyer_country),
            ("risk", risk),
        ):
            if value:
                options[key].add(value.strip())
    ordered = {key: sorted(values) for key, values in options.items()}
    ordered["risk"] = [level for level in ("low", "medium", "high") if level in options["risk"]]
    return ordered


# --- One draft -----------------------------------------------------------------------------------------------------

SELECT_DRAFT = """
SELECT q.id, q.cluster_id, q.rfq_id, q.buyer_id, q.state, q.version, q.currency, q.incoterm, q.total,
       q.needs_review, q.guardrails_passed, q.cover_source, q.catalog_version, q.fx_as_of, q.body, q.pdf_uri,
       q.ready_at, q.state_changed_at, q.notified, q.first_sent_at, q.created_at, q.updated_at, cl.industry
FROM quote_drafts q
LEFT JOIN LATERAL (
    SELECT c.industry FROM classifications c WHERE c.rfq_id = q.rfq_id
    ORDER BY c.classified_at DESC, c.model_version DESC LIMIT 1
) cl ON true
WHERE q.id = %(id)s
"""
SELECT_RFQ = """
SELECT id, source, external_id, canonical_url, title, description, quantity_text, buyer_name, buyer_company,
       country_raw, country_name, country_code, posted_at, posted_text, first_seen_at
FROM rfqs WHERE id = %(id)s
"""
SELECT_BUYER = """
SELECT id, company, domain, country_code, email, email_status, email_detail, confidence, risk_score, risk_level,
       risk_reasons, method, enricher_version, enriched_at
FROM buyers WHERE id = %(id)s
"""
SELECT_CONTACTS = """
SELECT name, role, email, phone, phone_country, confidence, evidence
FROM buyer_contacts WHERE buyer_id = %(id)s ORDER BY contact_key
"""
SELECT_SIGHTINGS = """
SELECT r.id, r.source, r.canonical_url, r.title, COALESCE(r.posted_at, r.first_seen_at) AS posted_at,
       m.matched_by, m.similarity
FROM dedup_cluster_members m JOIN rfqs r ON r.id = m.rfq_id
WHERE m.cluster_id = %(cluster)s AND m.rfq_id <> %(rfq)s
ORDER BY COALESCE(r.posted_at, r.first_seen_at), r.id
"""
SELECT_EVENTS = """
SELECT action, from_state, to_state, version, actor, note, detail, at
FROM quote_draft_events WHERE draft_id = %(id)s ORDER BY at, id
"""
SELECT_OUTBOUND = """
SELECT id, version, kind, to_address, from_address, reply_to, subject, message_id, in_reply_to, ses_message_id,
       status, detail, actor, created_at, sent_at
FROM outbound_emails WHERE draft_id = %(id)s ORDER BY created_at, id
"""
SELECT_TASKS = """
SELECT version, kind, source, url, body_text, pdf_uri, status, created_at, done_at, done_by
FROM marketplace_reply_tasks WHERE draft_id = %(id)s ORDER BY created_at, version
"""
SELECT_DISPATCHES = """
SELECT channel, delivered, external_id, detail, attempts, dispatched_at
FROM quote_dispatches WHERE draft_id = %(id)s ORDER BY channel
"""


def draft_view(conn: psycopg.Connection, draft_id: int) -> dict[str, Any] | None:
    """Everything the draft page shows, or ``None`` when there is no such draft: ``draft``, ``rfq``, ``buyer``,
    ``contacts``, ``sightings``, ``versions``, ``events``, ``outbound``, ``tasks``, ``dispatches``."""
    with conn.cursor(row_factory=dict_row) as cur:
        draft = cur.execute(SELECT_DRAFT, {"id": draft_id}).fetchone()
        if draft is None:
            return None
        buyer = None
        contacts: list[dict[str, Any]] = []
        if draft["buyer_id"] is not None:
            buyer = cur.execute(SELECT_BUYER, {"id": draft["buyer_id"]}).fetchone()
            contacts = cur.execute(SELECT_CONTACTS, {"id": draft["buyer_id"]}).fetchall()
        view = {
            "draft": draft,
            "rfq": cur.execute(SELECT_RFQ, {"id": draft["rfq_id"]}).fetchone(),
            "buyer": buyer,
            "contacts": contacts,
            "sightings": cur.execute(
                SELECT_SIGHTINGS, {"cluster": draft["cluster_id"], "rfq": draft["rfq_id"]}
            ).fetchall(),
            "events": cur.execute(SELECT_EVENTS, {"id": draft_id}).fetchall(),
            "outbound": cur.execute(SELECT_OUTBOUND, {"id": draft_id}).fetchall(),
            "tasks": cur.execute(SELECT_TASKS, {"id": draft_id}).fetchall(),
            "dispatches": cur.execute(SELECT_DISPATCHES, {"id": draft_id}).fetchall(),
        }
    view["versions"] = versions.versions(conn, draft_id)
    return view


SELECT_SOURCE_NAMES = """
SELECT name FROM sources ORDER BY name
"""


def source_names(conn: psycopg.Connection) -> list[str]:
    """Every configured source, for a source filter that also offers sources with nothing waiting right now."""
    return [row[0] for row in conn.execute(SELECT_SOURCE_NAMES).fetchall()]


def draft_risk(conn: psycopg.Connection, draft_id: int) -> tuple[str, str | None] | None:
    """A draft's state and its buyer's risk level, or ``None`` when there is no such draft."""
    row = conn.execute(
        "SELECT q.state, b.risk_level FROM quote_drafts q LEFT JOIN buyers b ON b.id = q.buyer_id WHERE q.id = %s",
        (draft_id,),
    ).fetchone()
    return None if row is None else (row[0], row[1])


__all__ = [
    "OPEN_STATES",
    "Deadline",
    "QueueFilters",
    "QueueRow",
    "deadline",
    "draft_risk",
    "draft_view",
    "filter_options",
    "queue",
    "source_names",
    "span",
]
