"""The quote tables: the loaded catalog, one draft per cluster, its versions, its state history, and its dispatches.

State changes go through :func:`rfq_pipeline.quotes.states.transition` under a row lock, so two reviewers acting on
one draft at once cannot both win, and every change leaves an event row (action ``state``). Actions that do not
change the state (an edit's content, a reply that came back) are events too, with their own action, the version they
concern and what they carried. ``quote_drafts.body`` is always the body of ``quote_drafts.version``; every version is
kept in ``quote_draft_versions``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from rfq_pipeline.quotes.catalog import Catalog, CatalogItem, PriceTier
from rfq_pipeline.quotes.draft import QuoteDraft
from rfq_pipeline.quotes.states import DraftState, InvalidTransition, due_actions, expire, transition

UPSERT_PRODUCT = """
INSERT INTO catalog_products (sku, name, aliases, category, unit, moq, tiers, currency, stock, max_discount_pct,
                              source_row, catalog_version, active, loaded_at)
VALUES (%(sku)s, %(name)s, %(aliases)s, %(category)s, %(unit)s, %(moq)s, %(tiers)s, %(currency)s, %(stock)s,
        %(max_discount_pct)s, %(source_row)s, %(catalog_version)s, true, now())
ON CONFLICT (sku) DO UPDATE SET
    name = EXCLUDED.name, aliases = EXCLUDED.aliases, category = EXCLUDED.category, unit = EXCLUDED.unit,
    moq = EXCLUDED.moq, tiers = EXCLUDED.tiers, currency = EXCLUDED.currency, stock = EXCLUDED.stock,
    max_discount_pct = EXCLUDED.max_discount_pct, source_row = EXCLUDED.source_row,
    catalog_version = EXCLUDED.catalog_version, active = true, loaded_at = now()
WHERE catalog_products.catalog_version IS DISTINCT FROM EXCLUDED.catalog_version OR NOT catalog_products.active
"""

RETIRE_PRODUCTS = """
UPDATE catalog_products SET active = false, loaded_at = now()
WHERE active AND NOT (sku = ANY(%(skus)s::text[]))
"""

SELECT_ACTIVE_PRODUCTS = """
SELECT sku, name, aliases, category, unit, moq, tiers, currency, stock, max_discount_pct, source_row, catalog_version
FROM catalog_products WHERE active ORDER BY source_row
"""

# Clusters of the day with a buyer whose canonical RFQ is relevant and that have no draft yet.
SELECT_TO_QUOTE = """
SELECT DISTINCT ON (b.cluster_id) b.cluster_id, b.id AS buyer_id, r.id AS rfq_id, r.title, r.description,
       r.quantity_text, COALESCE(r.country_name, r.country_raw) AS country, b.risk_level
FROM rfqs d
JOIN dedup_cluster_members m ON m.rfq_id = d.id
JOIN buyers b ON b.cluster_id = m.cluster_id
JOIN dedup_clusters k ON k.id = b.cluster_id AND k.merged_into IS NULL
JOIN rfqs r ON r.id = k.canonical_rfq_id
WHERE COALESCE(d.posted_at, d.first_seen_at) >= %(start)s AND COALESCE(d.posted_at, d.first_seen_at) < %(end)s
  AND NOT EXISTS (SELECT 1 FROM quote_drafts q WHERE q.cluster_id = b.cluster_id)
ORDER BY b.cluster_id
"""

INSERT_DRAFT = """
INSERT INTO quote_drafts (cluster_id, rfq_id, buyer_id, currency, incoterm, total, needs_review, guardrails_passed,
                          cover_source, catalog_version, fx_as_of, body, ready_at, state_changed_at, run_id)
VALUES (%(cluster_id)s, %(rfq_id)s, %(buyer_id)s, %(currency)s, %(incoterm)s, %(total)s, %(needs_review)s,
        %(guardrails_passed)s, %(cover_source)s, %(catalog_version)s, %(fx_as_of)s, %(body)s, %(now)s, %(now)s,
        %(run_id)s)
ON CONFLICT (cluster_id) DO NOTHING
RETURNING id
"""

SELECT_DRAFT = """
SELECT q.id, q.cluster_id, q.rfq_id, q.buyer_id, q.state, q.currency, q.incoterm, q.total, q.needs_review,
       q.guardrails_passed, q.cover_source, q.catalog_version, q.fx_as_of, q.body, q.pdf_uri, q.ready_at,
       q.state_changed_at, q.notified, q.created_at, q.updated_at, q.run_id, q.version, q.first_sent_at,
       b.company AS buyer_company, b.email AS buyer_email, b.risk_level, b.risk_score, r.title AS rfq_title
FROM quote_drafts q LEFT JOIN buyers b ON b.id = q.buyer_id JOIN rfqs r ON r.id = q.rfq_id
WHERE q.id = %(id)s
"""

SELECT_DRAFTS_BETWEEN = """
SELECT DISTINCT ON (q.id) q.id, q.rfq_id, q.state, q.currency, q.total, q.needs_review, q.guardrails_passed,
       q.cover_source, q.pdf_uri, r.title, b.company AS buyer_company, b.risk_level
FROM rfqs d
JOIN dedup_cluster_members m ON m.rfq_id = d.id
JOIN quote_drafts q ON q.cluster_id = m.cluster_id
JOIN rfqs r ON r.id = q.rfq_id
LEFT JOIN buyers b ON b.id = q.buyer_id
WHERE COALESCE(d.posted_at, d.first_seen_at) >= %(start)s AND COALESCE(d.posted_at, d.first_seen_at) < %(end)s
ORDER BY q.id
"""

LOCK_DRAFT = "SELECT id, state, ready_at, notified FROM quote_drafts WHERE id = %(id)s FOR UPDATE"
# The state history only: an action that left the state as it was is no move.
SELECT_EVENTS = """
SELECT from_state, to_state, at FROM quote_draft_events WHERE draft_id = %(id)s AND action = 'state' ORDER BY at, id
"""
UPDATE_STATE = """
UPDATE quote_drafts SET state = %(state)s, state_changed_at = %(at)s, updated_at = now() WHERE id = %(id)s
"""
INSERT_EVENT = """
INSERT INTO quote_draft_events (draft_id, from_state, to_state, actor, note, at)
VALUES (%(id)s, %(from_state)s, %(to_state)s, %(actor)s, %(note)s, %(at)s)
"""
# A draft someone moved since it became ready gets no follow-up; opening it from a link, or the move that queued it
# again after the buyer's answer (at ready_at), is not such a move.
SELECT_WAITING = """
SELECT q.id, q.state, q.ready_at, q.notified,
       EXISTS (SELECT 1 FROM quote_draft_events e WHERE e.draft_id = q.id AND e.action = 'state' AND e.at > q.ready_at)
FROM quote_drafts q
WHERE q.state = 'queued' AND q.ready_at <= %(now)s
ORDER BY q.id
"""
INSERT_ACTION = """
INSERT INTO quote_draft_events (draft_id, from_state, to_state, actor, note, at, action, version, detail)
SELECT id, state, state, %(actor)s, %(note)s, %(at)s, %(action)s, %(version)s, %(detail)s
FROM quote_drafts WHERE id = %(id)s
"""
INSERT_VERSION = """
INSERT INTO quote_draft_versions (draft_id, version, reason, body, total, needs_review, guardrails_passed, pdf_uri,
                                  actor, created_at)
VALUES (%(id)s, %(version)s, %(reason)s, %(body)s, %(total)s, %(needs_review)s, %(guardrails_passed)s, %(pdf_uri)s,
        %(actor)s, %(at)s)
"""
# The draft row follows its newest version; the PDF of the version before is no longer the draft's.
SET_CURRENT_VERSION = """
UPDATE quote_drafts
SET version = %(version)s, body = %(body)s, total = %(total)s, needs_review = %(needs_review)s,
    guardrails_passed = %(guardrails_passed)s, catalog_version = %(catalog_version)s, fx_as_of = %(fx_as_of)s,
    pdf_uri = %(pdf_uri)s, updated_at = %(at)s
WHERE id = %(id)s
"""
SELECT_VERSIONS = """
SELECT version, reason, actor, created_at, total, needs_review, guardrails_passed, pdf_uri, body
FROM quote_draft_versions WHERE draft_id = %(id)s ORDER BY version DESC
"""
SELECT_OPEN_DRAFTS = """
SELECT id FROM quote_drafts WHERE state IN ('queued', 'edited', 'approved', 'sent') ORDER BY id
"""


def catalog_version(text: str) -> str:
    """A catalog file's version: the first 16 hex digits of its sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class CatalogLoad:
    """What loading a catalog file changed."""

    version: str
    products: int
    changed: int
    retired: int


def load_catalog_rows(conn: psycopg.Connection, catalog: Catalog, version: str) -> CatalogLoad:
    """Upsert every item of ``catalog`` and retire the active SKUs it no longer lists."""
    changed = 0
    for item in catalog.items:
        cur = conn.execute(
            UPSERT_PRODUCT,
            {
                "sku": item.sku,
                "name": item.name,
                "aliases": list(item.aliases),
                "category": item.category,
                "unit": item.unit,
                "moq": item.moq,
                "tiers": Jsonb([{"min_quantity": t.min_qty, "unit_price": str(t.unit_price)} for t in item.tiers]),
                "currency": item.currency,
                "stock": item.stock,
                "max_discount_pct": item.max_discount_pct,
                "source_row": item.row,
                "catalog_version": version,
            },
        )
        changed += cur.rowcount
    retired = conn.execute(RETIRE_PRODUCTS, {"skus": [item.sku for item in catalog.items]}).rowcount
    return CatalogLoad(version, len(catalog), changed, retired)


def active_catalog(conn: psycopg.Connection) -> tuple[Catalog, str]:
    """The catalog as the ``catalog/products`` asset last loaded it, and its version."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SELECT_ACTIVE_PRODUCTS).fetchall()
    if not rows:
        raise LookupError("no catalog loaded: materialize catalog/products first")
    items = tuple(
        CatalogItem(
            sku=r["sku"],
            name=r["name"],
            aliases=tuple(r["aliases"]),
            category=r["category"],
            unit=r["unit"],
            moq=r["moq"],
            tiers=tuple(PriceTier(int(t["min_quantity"]), Decimal(t["unit_price"])) for t in r["tiers"]),
            currency=r["currency"],
            stock=r["stock"],
            max_discount_pct=Decimal(r["max_discount_pct"]),
            row=r["source_row"],
        )
        for r in rows
    )
    versions = sorted({r["catalog_version"] for r in rows})
    return Catalog(items, "catalog_products"), "+".join(versions)


def clusters_to_quote(conn: psycopg.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Enriched clusters of RFQs posted in ``[start, end)`` without a draft, with their canonical RFQ."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SELECT_TO_QUOTE, {"start": start, "end": end}).fetchall()


def save_draft(
    conn: psycopg.Connection,
    draft: QuoteDraft,
    *,
    cluster_id: int,
    rfq_id: int,
    buyer_id: int | None,
    catalog_version: str,
    now: datetime,
    run_id: str | None = None,
) -> int | None:
    """Insert the cluster's draft and its version 1 (``drafted`` by ``drafter``); ``None`` when the cluster already
    has a draft (a person may be working on it). Runs in the caller's transaction."""
    body = draft.as_json()
    body["catalog_version"] = catalog_version
    row = conn.execute(
        INSERT_DRAFT,
        {
            "cluster_id": cluster_id,
            "rfq_id": rfq_id,
            "buyer_id": buyer_id,
            "currency": draft.currency,
            "incoterm": draft.incoterm,
            "total": draft.total,
            "needs_review": draft.needs_review,
            "guardrails_passed": draft.composed.passed,
            "cover_source": draft.composed.source,
            "catalog_version": catalog_version,
            "fx_as_of": draft.fx_as_of,
            "body": Jsonb(body),
            "now": now,
            "run_id": run_id,
        },
    ).fetchone()
    if row is None:
        return None
    draft_id = int(row[0])
    insert_version(
        conn,
        draft_id,
        1,
        reason="drafted",
        actor="drafter",
        body=body,
        total=draft.total,
        needs_review=draft.needs_review,
        guardrails_passed=draft.composed.passed,
        at=now,
    )
    return draft_id


def insert_version(
    conn: psycopg.Connection,
    draft_id: int,
    version: int,
    *,
    reason: str,
    actor: str,
    body: Mapping[str, Any],
    total: Decimal | None,
    needs_review: bool,
    guardrails_passed: bool,
    at: datetime,
    pdf_uri: str | None = None,
) -> None:
    """Keep one version of a draft's body (``drafted``, ``edited`` or ``buyer_reply``)."""
    conn.execute(
        INSERT_VERSION,
        {
            "id": draft_id,
            "version": version,
            "reason": reason,
            "body": Jsonb(dict(body)),
            "total": total,
            "needs_review": needs_review,
            "guardrails_passed": guardrails_passed,
            "pdf_uri": pdf_uri,
            "actor": actor,
            "at": at,
        },
    )


def set_current_version(
    conn: psycopg.Connection,
    draft_id: int,
    version: int,
    *,
    body: Mapping[str, Any],
    total: Decimal | None,
    needs_review: bool,
    guardrails_passed: bool,
    catalog_version: str,
    fx_as_of: str,
    pdf_uri: str | None,
    at: datetime,
) -> None:
    """Make ``version`` the draft's current one: its body and the columns read from it."""
    conn.execute(
        SET_CURRENT_VERSION,
        {
            "id": draft_id,
            "version": version,
            "body": Jsonb(dict(body)),
            "total": total,
            "needs_review": needs_review,
            "guardrails_passed": guardrails_passed,
            "catalog_version": catalog_version,
            "fx_as_of": fx_as_of,
            "pdf_uri": pdf_uri,
            "at": at,
        },
    )


def draft_versions(conn: psycopg.Connection, draft_id: int) -> list[dict[str, Any]]:
    """Every version of a draft, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SELECT_VERSIONS, {"id": draft_id}).fetchall()


def set_pdf(conn: psycopg.Connection, draft_id: int, uri: str) -> None:
    """Record where the draft's PDF is, on the draft and on its current version."""
    conn.execute("UPDATE quote_drafts SET pdf_uri = %s, updated_at = now() WHERE id = %s", (uri, draft_id))
    conn.execute(
        "UPDATE quote_draft_versions v SET pdf_uri = %s FROM quote_drafts q "
        "WHERE q.id = %s AND v.draft_id = q.id AND v.version = q.version",
        (uri, draft_id),
    )


def get_draft(conn: psycopg.Connection, draft_id: int) -> dict[str, Any] | None:
    """One draft with its buyer's name, e-mail and risk, or ``None``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SELECT_DRAFT, {"id": draft_id}).fetchone()


def drafts_between(conn: psycopg.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Drafts of clusters with an RFQ posted in ``[start, end)``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SELECT_DRAFTS_BETWEEN, {"start": start, "end": end}).fetchall()


def draft_events(conn: psycopg.Connection, draft_id: int) -> list[dict[str, Any]]:
    """The history of a draft, oldest first: state changes (action ``state``) and other actions, each with the
    version it concerns and what it carried (``detail``)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT from_state, to_state, actor, note, at, action, version, detail FROM quote_draft_events "
            "WHERE draft_id = %s ORDER BY at, id",
            (draft_id,),
        ).fetchall()


def record_action(
    conn: psycopg.Connection,
    draft_id: int,
    action: str,
    *,
    actor: str,
    at: datetime,
    version: int | None,
    detail: Mapping[str, Any] | None = None,
    note: str = "",
) -> None:
    """Record an action on a draft that is not a state change (from and to state are the current state). Runs in
    the caller's transaction; raises :class:`DraftNotFound` for an unknown draft."""
    if action == "state":
        raise ValueError("state changes are recorded by change_state")
    cur = conn.execute(
        INSERT_ACTION,
        {"id": draft_id, "actor": actor, "note": note, "at": at, "action": action, "version": version,
         "detail": Jsonb(dict(detail or {}))},
    )  # fmt: skip
    if cur.rowcount != 1:
        raise DraftNotFound(f"no quote draft {draft_id}")


class DraftNotFound(LookupError):
    """No draft has this id."""


def _locked_state(conn: psycopg.Connection, draft_id: int) -> DraftState:
    row = conn.execute(LOCK_DRAFT, {"id": draft_id}).fetchone()
    if row is None:
        raise DraftNotFound(f"no quote draft {draft_id}")
    history = tuple((f, t, at) for f, t, at in conn.execute(SELECT_EVENTS, {"id": draft_id}).fetchall())
    return DraftState(str(row[0]), row[2], row[1], history, frozenset(row[3] or ()))


def _write_change(
    conn: psycopg.Connection, draft_id: int, before: DraftState, after: DraftState, actor: str, note: str
) -> None:
    _from, to, at = after.history[-1]
    conn.execute(UPDATE_STATE, {"state": to, "at": at, "id": draft_id})
    conn.execute(
        INSERT_EVENT, {"id": draft_id, "from_state": before.state, "to_state": to, "actor": actor, "note": note,
                       "at": at},
    )  # fmt: skip


def change_state(
    conn: psycopg.Connection, draft_id: int, target: str, *, actor: str, at: datetime, note: str = ""
) -> str:
    """Move a draft to ``target`` (raises :class:`InvalidTransition` or :class:`DraftNotFound`); returns the state
    it left. Runs in the caller's transaction: commit to keep the change."""
    state = _locked_state(conn, draft_id)
    after = transition(state, target, at)
    _write_change(conn, draft_id, state, after, actor, note)
    return state.state


def expire_stale(conn: psycopg.Connection, now: datetime, validity: timedelta, *, actor: str) -> list[int]:
    """Expire open drafts older than ``validity``; a won, lost, rejected or expired draft is never touched."""
    expired = []
    for (draft_id,) in conn.execute(SELECT_OPEN_DRAFTS).fetchall():
        state = _locked_state(conn, draft_id)
        if now - state.ready_at < validity:
            continue
        after = expire(state, now)
        if after is not state:
            _write_change(conn, draft_id, state, after, actor, f"no decision within {validity.days} days")
            expired.append(draft_id)
    return expired


@dataclass(frozen=True)
class FollowUp:
    """A reminder or escalation due for a draft nobody acted on."""

    draft_id: int
    kind: str
    due_at: datetime


def due_followups(conn: psycopg.Connection, now: datetime) -> list[FollowUp]:
    """Reminders (24 h) and escalations (48 h) due for queued drafts and not yet sent."""
    followups = []
    for draft_id, state, ready_at, notified, moved in conn.execute(SELECT_WAITING, {"now": now}).fetchall():
        # A draft someone moved has a history; ``due_actions`` sends nothing for it, as for any non-queued draft.
        history = (("queued", "queued", ready_at),) if moved else ()
        draft = DraftState(str(draft_id), ready_at, state, history, frozenset(notified or ()))
        followups += [FollowUp(draft_id, a.kind, a.due_at) for a in due_actions(draft, now)]
    return followups


def mark_notified(conn: psycopg.Connection, draft_id: int, kind: str) -> bool:
    """Record a sent follow-up; ``False`` when it was already recorded (another sensor tick sent it)."""
    cur = conn.execute(
        "UPDATE quote_drafts SET notified = array_append(notified, %(kind)s), updated_at = now() "
        "WHERE id = %(id)s AND NOT (%(kind)s = ANY(notified))",
        {"id": draft_id, "kind": kind},
    )
    return cur.rowcount == 1


def record_dispatches(conn: psycopg.Connection, draft_id: int, results: Iterable[Mapping[str, Any]]) -> None:
    """Upsert one row per channel (``channel``, ``delivered``, ``external_id``, ``detail``)."""
    for result in results:
        conn.execute(
            """
            INSERT INTO quote_dispatches (draft_id, channel, delivered, external_id, detail)
            VALUES (%(draft_id)s, %(channel)s, %(delivered)s, %(external_id)s, %(detail)s)
            ON CONFLICT (draft_id, channel) DO UPDATE SET
                delivered = EXCLUDED.delivered, external_id = COALESCE(EXCLUDED.external_id,
                quote_dispatches.external_id), detail = EXCLUDED.detail,
                attempts = quote_dispatches.attempts + 1, dispatched_at = now()
            """,
            {"draft_id": draft_id, **result},
        )


__all__ = [
    "CatalogLoad",
    "DraftNotFound",
    "FollowUp",
    "InvalidTransition",
    "active_catalog",
    "catalog_version",
    "change_state",
    "clusters_to_quote",
    "draft_events",
    "draft_versions",
    "drafts_between",
    "due_followups",
    "expire_stale",
    "get_draft",
    "insert_version",
    "load_catalog_rows",
    "mark_notified",
    "record_action",
    "record_dispatches",
    "save_draft",
    "set_current_version",
    "set_pdf",
]
