"""What people do with drafts: create them for enriched clusters, approve (PDF + dispatch), reject, move on.

Plain functions over a psycopg connection, an object store and dispatchers; the asset, the follow-up sensor and the
CLI are thin callers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.quotes import store
from rfq_pipeline.quotes.catalog import Catalog, FxRates
from rfq_pipeline.quotes.composer import Composer
from rfq_pipeline.quotes.draft import QuoteDraft, draft_quote
from rfq_pipeline.quotes.states import InvalidTransition
from rfq_pipeline.store.object_store import ObjectStore

if TYPE_CHECKING:
    from rfq_pipeline.quotes.clarify import QuestionComposer

log = logging.getLogger(__name__)
DEFAULT_VALIDITY = timedelta(days=14)


def pdf_key(draft_id: int, kind: str) -> str:
    """Where a draft's PDF lives in the ``quote_pdfs`` store: ``draft`` (preview of version 1), ``v2``, ``v3``, ...
    (preview of a later version) or ``approved``."""
    return f"quotes/{draft_id}/quote-{draft_id}-{kind}.pdf"


def configured_rates() -> FxRates:
    """The FX rates the ``quotes/drafts`` asset prices with: the table at ``RFQ_FX_RATES_PATH`` (or the bundled one)."""
    from rfq_pipeline.quotes.catalog import load_rates
    from rfq_pipeline.settings import Settings

    return load_rates(Settings.from_env().fx_rates_path)


def rfq_text(row: dict[str, Any]) -> RfqText:
    """The drafter's view of a canonical RFQ row (id, title, description, quantity_text, country)."""
    return RfqText(
        id=str(row["rfq_id"]),
        title=row["title"] or "",
        description=row["description"] or "",
        quantity=row["quantity_text"] or "",
        country=row["country"] or "",
    )


@dataclass
class DraftRun:
    """What drafting one partition did."""

    created: list[int] = field(default_factory=list)
    already_drafted: int = 0
    pdfs: dict[int, str] = field(default_factory=dict)  # draft id -> object-store key of its preview PDF
    drafts: dict[int, QuoteDraft] = field(default_factory=dict)


def render_pdf(draft_id: int, body: dict[str, Any], *, buyer: str | None, issued_at: datetime) -> bytes:
    """The PDF of a stored draft body."""
    from rfq_pipeline.quotes.pdf import render_quote_pdf

    return render_quote_pdf(body, draft_id=draft_id, buyer=buyer, issued_at=issued_at)


def draft_partition(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    *,
    rates: FxRates,
    pdf_store: ObjectStore,
    now: datetime,
    incoterm: str = "FOB",
    composer: Composer | None = None,
    run_id: str | None = None,
    catalog: tuple[Catalog, str] | None = None,
    question_composer: QuestionComposer | None = None,
) -> DraftRun:
    """Draft every enriched cluster of ``[start, end)`` without a draft, render each draft's preview PDF.

    A draft that cannot be priced as asked carries its clarifying question (``body["clarification"]``), worded by
    ``question_composer`` when given (its text is kept only when it passes the question guardrails).

    Each draft commits on its own (the connection must not be in autocommit mode), so a failure half-way keeps the
    drafts already made and a re-run picks up the rest (``quote_drafts`` is unique per cluster).
    """
    loaded, version = catalog or store.active_catalog(conn)
    result = DraftRun()
    for row in store.clusters_to_quote(conn, start, end):
        draft = draft_quote(
            rfq_text(row), loaded, rates, incoterm=incoterm, composer=composer, question_composer=question_composer
        )
        with conn.transaction():
            draft_id = store.save_draft(
                conn,
                draft,
                cluster_id=row["cluster_id"],
                rfq_id=row["rfq_id"],
                buyer_id=row["buyer_id"],
                catalog_version=version,
                now=now,
                run_id=run_id,
            )
            if draft_id is not None:
                stored = store.get_draft(conn, draft_id)
                buyer = stored["buyer_company"] if stored else None
                pdf = render_pdf(draft_id, draft.as_json(), buyer=buyer, issued_at=now)
                uri = pdf_store.put(pdf_key(draft_id, "draft"), pdf, content_type="application/pdf")
                store.set_pdf(conn, draft_id, uri)
        conn.commit()
        if draft_id is None:
            result.already_drafted += 1  # another run drafted the cluster between our read and our write
            continue
        result.created.append(draft_id)
        result.pdfs[draft_id] = pdf_key(draft_id, "draft")
        result.drafts[draft_id] = draft
    return result


@dataclass(frozen=True)
class Approval:
    """The outcome of approving a draft."""

    draft_id: int
    pdf_uri: str
    dispatches: list[dict[str, Any]]


def dispatch_item(draft_id: int, row: dict[str, Any], pdf_uri: str) -> Any:
    """The dispatch adapters' view of a stored draft (its body is ``QuoteDraft.as_json()``)."""
    from rfq_pipeline.quotes.dispatch import DispatchItem

    return DispatchItem.from_draft(
        row["body"],
        draft_id=draft_id,
        pdf_uri=pdf_uri,
        buyer_company=row.get("buyer_company"),
        buyer_email=row.get("buyer_email"),
    )


def dispatch(
    conn: psycopg.Connection,
    draft_id: int,
    row: dict[str, Any],
    pdf_uri: str,
    dispatchers: Sequence[Any],
    *,
    resend: bool = False,
) -> list[dict[str, Any]]:
    """Send an approved draft through the adapters and record one row per channel; returns the results.

    A channel that already delivered this draft is skipped unless ``resend``: a CRM deal or a Slack post made twice
    is worse than one made once, so a retry only goes to the channels that failed.
    """
    from rfq_pipeline.quotes.dispatch import dispatch_all

    delivered = {
        channel
        for (channel,) in conn.execute(
            "SELECT channel FROM quote_dispatches WHERE draft_id = %s AND delivered", (draft_id,)
        ).fetchall()
    }
    pending = [d for d in dispatchers if resend or d.name not in delivered]
    results = dispatch_all(dispatch_item(draft_id, row, pdf_uri), pending)
    records = [
        {"channel": r.channel, "delivered": r.delivered, "external_id": r.external_id, "detail": r.detail}
        for r in results
    ]
    store.record_dispatches(conn, draft_id, records)
    conn.commit()
    return records


def approve(
    conn: psycopg.Connection,
    draft_id: int,
    *,
    actor: str,
    now: datetime,
    pdf_store: ObjectStore,
    dispatchers: Sequence[Any] = (),
    note: str = "",
) -> Approval:
    """Approve a queued or edited draft: the state change and the approved PDF commit together, then the draft is
    dispatched (a failed channel is recorded and can be retried with ``rfq-pipeline quote dispatch ID``)."""
    with conn.transaction():
        store.change_state(conn, draft_id, "approved", actor=actor, at=now, note=note)
        row = store.get_draft(conn, draft_id)
        assert row is not None  # change_state raised DraftNotFound otherwise
        pdf = render_pdf(draft_id, row["body"], buyer=row["buyer_company"], issued_at=now)
        uri = pdf_store.put(pdf_key(draft_id, "approved"), pdf, content_type="application/pdf")
        store.set_pdf(conn, draft_id, uri)
    conn.commit()
    return Approval(draft_id, uri, dispatch(conn, draft_id, row, uri, dispatchers))


def set_state(
    conn: psycopg.Connection, draft_id: int, target: str, *, actor: str, now: datetime, note: str = ""
) -> str:
    """Any other allowed move (reject, sent, won, lost, edited); returns the state it left."""
    with conn.transaction():
        left = store.change_state(conn, draft_id, target, actor=actor, at=now, note=note)
    conn.commit()
    return left


Notifier = Callable[[store.FollowUp, dict[str, Any]], bool]


@dataclass(frozen=True)
class Sweep:
    """What one follow-up sweep did."""

    expired: list[int]
    notified: list[tuple[int, str]]
    failed: list[tuple[int, str]]


def sweep(
    conn: psycopg.Connection, now: datetime, notify: Notifier, *, validity: timedelta = DEFAULT_VALIDITY, actor: str
) -> Sweep:
    """Expire drafts past their validity, then send the 24 h reminders and 48 h escalations that are due.

    A follow-up is marked sent only after ``notify`` delivered it, so a failed one is retried on the next sweep;
    marking is conditional, so two sweeps at once send it at most twice and record it once.
    """
    with conn.transaction():
        expired = store.expire_stale(conn, now, validity, actor=actor)
    conn.commit()
    notified, failed = [], []
    for followup in store.due_followups(conn, now):
        row = store.get_draft(conn, followup.draft_id)
        if row is None:
            continue
        if notify(followup, row):
            store.mark_notified(conn, followup.draft_id, followup.kind)
            conn.commit()
            notified.append((followup.draft_id, followup.kind))
        else:
            failed.append((followup.draft_id, followup.kind))
    return Sweep(expired, notified, failed)


__all__ = [
    "DEFAULT_VALIDITY",
    "Approval",
    "DraftRun",
    "InvalidTransition",
    "Sweep",
    "approve",
    "dispatch",
    "draft_partition",
    "pdf_key",
    "set_state",
    "sweep",
]
