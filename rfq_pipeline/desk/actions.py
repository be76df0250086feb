"""What a desk user does to a draft: approve (and send), reject, edit, ask the buyer, mark sent / won / lost, and
close a marketplace reply task.

Each action either happens, with the signed-in user's address as the actor of every event it writes, or is refused
with :class:`Refused` before anything changed. The Flask views only parse forms and flash the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg

from rfq_pipeline.desk.auth import DeskUser
from rfq_pipeline.desk.queries import draft_risk
from rfq_pipeline.quotes import clarify, outbound, store, versions, workflow
from rfq_pipeline.quotes.states import TRANSITIONS, InvalidTransition
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import ObjectStore

MARKS = ("sent", "won", "lost")
# Mail outcomes after which the buyer has (or will have, through the rep) the message.
DELIVERED = ("sent", "already_sent", "marketplace_task")


class Refused(Exception):
    """An action that was not carried out; nothing changed. ``confirm_address`` is set when the only thing missing
    is the rep's confirmation that an unverified address belongs to the buyer."""

    def __init__(self, reasons: Sequence[str], *, confirm_address: str | None = None) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)
        self.confirm_address = confirm_address


@dataclass
class Outcome:
    """What an action did: ``notes`` for the record, ``problems`` for things that happened but went wrong (a mail
    that failed after the approval committed, a channel that did not take the dispatch)."""

    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _mail_text(kind: str, sent: Any) -> str:
    where = f" to {sent.to_address}" if getattr(sent, "to_address", None) else ""
    detail = f": {sent.detail}" if getattr(sent, "detail", "") else ""
    return f"{kind} mail {sent.status}{where}{detail}"


def _require_confirmed(conn: psycopg.Connection, draft_id: int, confirm_unknown: bool, doing: str) -> None:
    """Refuse while the quote's address is unverified and the rep has not confirmed it belongs to the buyer."""
    recipient = outbound.recipient_for(conn, draft_id)
    if recipient.status == "needs_confirmation" and not confirm_unknown:
        reason = f" ({recipient.reason})" if doing == "approving" and recipient.reason else ""
        raise Refused(
            [f"confirm that {recipient.address} belongs to the buyer before {doing}{reason}"],
            confirm_address=recipient.address,
        )


def _mail_quote(
    conn: psycopg.Connection,
    draft_id: int,
    outcome: Outcome,
    *,
    user: DeskUser,
    now: datetime,
    settings: Settings,
    pdf_store: ObjectStore,
    confirm_unknown: bool,
) -> None:
    """E-mail the approved quote (once per version) and add how it went to ``outcome``."""
    sent = outbound.send_draft_mail(conn, draft_id, kind="quote", actor=user.email, now=now, settings=settings,
                                    pdf_store=pdf_store, confirm_unknown=confirm_unknown)  # fmt: skip
    (outcome.notes if sent.status in DELIVERED else outcome.problems).append(_mail_text("quote", sent))


def check_approval(conn: psycopg.Connection, draft_id: int, user: DeskUser, *, confirm_unknown: bool) -> None:
    """Refuse an approval that must not happen: no such draft, a state that cannot be approved (already approved
    included), a high-risk buyer and a rep, or an unverified address the rep has not confirmed."""
    found = draft_risk(conn, draft_id)
    if found is None:
        raise Refused([f"there is no draft {draft_id}"])
    state, risk = found
    if state == "approved":
        raise Refused([f"draft {draft_id} is already approved; it was not approved again"])
    if "approved" not in TRANSITIONS[state]:
        raise Refused([f"draft {draft_id} is {state} and cannot be approved"])
    if risk == "high" and not user.is_lead:
        raise Refused(["only a sales lead may approve a draft for a high-risk buyer"])
    _require_confirmed(conn, draft_id, confirm_unknown, "approving")


def approve_draft(
    conn: psycopg.Connection,
    draft_id: int,
    *,
    user: DeskUser,
    now: datetime,
    settings: Settings,
    pdf_store: ObjectStore,
    confirm_unknown: bool,
    checked: bool = False,
) -> Outcome:
    """Approve a draft (approved PDF, dispatch to the configured channels) and send the quote to the buyer.

    ``checked`` says :func:`check_approval` already ran in this request (the link flow checks before it spends the
    link). A concurrent approval that wins the row lock turns into a refusal here, with nothing changed.
    """
    from rfq_pipeline.fetch.http_client import HttpClient
    from rfq_pipeline.quotes.dispatch import dispatchers_from_settings
    from rfq_pipeline.store.object_store import object_store_for

    if not checked:
        check_approval(conn, draft_id, user, confirm_unknown=confirm_unknown)
    client = HttpClient.from_settings(settings)
    try:
        dispatchers = dispatchers_from_settings(settings, client, object_store_for("exports", settings))
        try:
            approval = workflow.approve(
                conn, draft_id, actor=user.email, now=now, pdf_store=pdf_store, dispatchers=dispatchers
            )
        except InvalidTransition as error:
            conn.rollback()
            raise Refused([f"draft {draft_id} was not approved: {error}"]) from error
    finally:
        client.close()
    outcome = Outcome(notes=[f"draft {draft_id} approved"])
    for record in approval.dispatches:
        if not record["delivered"]:
            outcome.problems.append(f"{record['channel']} did not take the draft: {record['detail']}")
    _mail_quote(conn, draft_id, outcome, user=user, now=now, settings=settings, pdf_store=pdf_store,
                confirm_unknown=confirm_unknown)  # fmt: skip
    return outcome


def send_quote(
    conn: psycopg.Connection,
    draft_id: int,
    *,
    user: DeskUser,
    now: datetime,
    settings: Settings,
    pdf_store: ObjectStore,
    confirm_unknown: bool,
) -> Outcome:
    """Send an approved draft's quote that did not go out at approval (SES refused it, mail was not configured yet,
    the address waited for a confirmation). Sending is once per version, so a quote that went out is not sent again.
    """
    found = draft_risk(conn, draft_id)
    if found is None:
        raise Refused([f"there is no draft {draft_id}"])
    if found[0] != "approved":
        raise Refused([f"draft {draft_id} is {found[0]}: only an approved quote is sent"])
    _require_confirmed(conn, draft_id, confirm_unknown, "sending")
    outcome = Outcome()
    _mail_quote(conn, draft_id, outcome, user=user, now=now, settings=settings, pdf_store=pdf_store,
                confirm_unknown=confirm_unknown)  # fmt: skip
    return outcome


def reject_draft(conn: psycopg.Connection, draft_id: int, *, user: DeskUser, now: datetime, reason: str) -> Outcome:
    """Reject a draft; the reason is required and kept as the event's note."""
    text = reason.strip()
    if not text:
        raise Refused(["say why the draft is rejected"])
    _move(conn, draft_id, "rejected", user=user, now=now, note=text)
    return Outcome(notes=[f"draft {draft_id} rejected"])


def _move(conn: psycopg.Connection, draft_id: int, target: str, *, user: DeskUser, now: datetime, note: str) -> str:
    try:
        return workflow.set_state(conn, draft_id, target, actor=user.email, now=now, note=note)
    except InvalidTransition as error:
        conn.rollback()
        raise Refused([f"draft {draft_id} was not marked {target}: {error}"]) from error
    except store.DraftNotFound as error:
        conn.rollback()
        raise Refused([f"there is no draft {draft_id}"]) from error


def mark_draft(
    conn: psycopg.Connection, draft_id: int, target: str, *, user: DeskUser, now: datetime, note: str = ""
) -> Outcome:
    """Mark a draft sent (the rep sent it by other means), won or lost."""
    if target not in MARKS:
        raise Refused([f"{target!r} is not one of {', '.join(MARKS)}"])
    _move(conn, draft_id, target, user=user, now=now, note=note)
    return Outcome(notes=[f"draft {draft_id} marked {target}"])


@dataclass(frozen=True)
class EditRequest:
    """A parsed edit form: line changes and the cover text (``None``: unchanged)."""

    lines: list[Any]
    cover_text: str | None

    @property
    def empty(self) -> bool:
        """Nothing to change."""
        return not self.lines and self.cover_text is None


def _number(raw: str) -> Decimal | None:
    text = raw.strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(raw) from None
    if not value.is_finite():
        raise ValueError(raw)
    return value


def parse_edit(body: Mapping[str, Any], form: Mapping[str, str]) -> EditRequest:
    """The changes an edit form asks for against the draft ``body``: a line is listed only when its quantity or unit
    price differs or it is to be removed, the cover text only when it differs. Raises :class:`Refused` for values
    that are not numbers, with every bad field named."""
    edits, problems = [], []
    for index, line in enumerate(body.get("lines") or []):
        prefix = f"line-{index}-"
        remove = form.get(prefix + "remove") in ("1", "on", "true")
        quantity = unit_price = None
        try:
            value = _number(form.get(prefix + "quantity", ""))
            if value is not None:
                if value != value.to_integral_value():
                    raise ValueError(form.get(prefix + "quantity", ""))
                quantity = int(value)
        except ValueError:
            problems.append(f"line {index + 1}: the quantity {form.get(prefix + 'quantity')!r} is not a whole number")
        try:
            unit_price = _number(form.get(prefix + "unit_price", ""))
        except ValueError:
            problems.append(f"line {index + 1}: the unit price {form.get(prefix + 'unit_price')!r} is not a number")
        if quantity is not None and quantity == line.get("quantity"):
            quantity = None
        current = line.get("unit_price")
        if unit_price is not None and current is not None and unit_price == Decimal(str(current)):
            unit_price = None
        if remove or quantity is not None or unit_price is not None:
            edits.append(versions.LineEdit(index, quantity=quantity, unit_price=unit_price, remove=remove))
    if problems:
        raise Refused(problems)
    cover = form.get("cover_text")
    cover_text = None
    if cover is not None:
        # Browsers submit textareas with CRLF line ends; the stored text has LF.
        normalized = cover.replace("\r\n", "\n").replace("\r", "\n")
        if normalized.strip() != str(body.get("cover_text") or "").replace("\r\n", "\n").strip():
            cover_text = normalized
    return EditRequest(edits, cover_text)


def edit_draft(
    conn: psycopg.Connection,
    draft_id: int,
    request: EditRequest,
    *,
    user: DeskUser,
    now: datetime,
    pdf_store: ObjectStore,
) -> tuple[int, Outcome]:
    """Save an edit as a new version; returns the version and the outcome. :class:`Refused` with every reason the
    edit was refused (nothing changed)."""
    if request.empty:
        raise Refused(["nothing was changed"])
    try:
        version = versions.edit_draft(
            conn,
            draft_id,
            actor=user.email,
            now=now,
            pdf_store=pdf_store,
            lines=request.lines,
            cover_text=request.cover_text,
        )
    except versions.EditRefused as error:
        conn.rollback()
        raise Refused(list(error.reasons) or [str(error)]) from error
    except InvalidTransition as error:
        conn.rollback()
        raise Refused([f"draft {draft_id} cannot be edited: {error}"]) from error
    except LookupError as error:  # no such draft, or no catalog loaded to price the edit with
        conn.rollback()
        raise Refused([str(error)]) from error
    conn.commit()
    return version, Outcome(notes=[f"draft {draft_id} saved as version {version}"])


def clarification_text(conn: psycopg.Connection, draft_id: int) -> str:
    """The question to put to the buyer: the one prepared with the draft, else one made from the reasons the draft
    cannot be priced as asked."""
    row = store.get_draft(conn, draft_id)
    if row is None:
        return ""
    prepared = (row["body"].get("clarification") or {}).get("question")
    if prepared:
        return str(prepared)
    return clarify.clarifying_question(row, clarify.clarification_reasons(row["body"]))


def send_clarification(
    conn: psycopg.Connection,
    draft_id: int,
    text: str,
    *,
    user: DeskUser,
    now: datetime,
    settings: Settings,
    pdf_store: ObjectStore,
) -> Outcome:
    """Send the question to the buyer (or open a marketplace reply task); once it is out, the draft waits in
    ``clarifying`` for the answer."""
    question = text.replace("\r\n", "\n").strip()
    if not question:
        raise Refused(["the question is empty"])
    found = draft_risk(conn, draft_id)
    if found is None:
        raise Refused([f"there is no draft {draft_id}"])
    if "clarifying" not in TRANSITIONS[found[0]]:
        raise Refused([f"draft {draft_id} is {found[0]}; a question can only be sent before it is approved"])
    sent = outbound.send_draft_mail(
        conn,
        draft_id,
        kind="clarification",
        actor=user.email,
        now=now,
        settings=settings,
        pdf_store=pdf_store,
        body_text=question,
    )
    conn.commit()
    if sent.status not in DELIVERED:
        return Outcome(problems=[_mail_text("clarification", sent)])
    outcome = Outcome(notes=[_mail_text("clarification", sent)])
    try:
        workflow.set_state(conn, draft_id, "clarifying", actor=user.email, now=now, note="question sent to the buyer")
    except InvalidTransition as error:  # moved by someone else while the mail went out
        conn.rollback()
        outcome.problems.append(f"the question went out but the draft stays {error.current}")
    else:
        outcome.notes.append(f"draft {draft_id} waits for the buyer's answer")
    return outcome


def finish_marketplace_task(
    conn: psycopg.Connection, draft_id: int, version: int, kind: str, *, user: DeskUser, now: datetime
) -> Outcome:
    """Record that the rep posted the reply on the marketplace: the task is done and a quote reply marks the draft
    sent, in one transaction (a question leaves the draft in ``clarifying``)."""
    try:
        with conn.transaction():
            done = conn.execute(
                "UPDATE marketplace_reply_tasks SET status = 'done', done_at = %s, done_by = %s "
                "WHERE draft_id = %s AND version = %s AND kind = %s AND status = 'open' RETURNING source",
                (now, user.email, draft_id, version, kind),
            ).fetchone()
            if done is None:
                raise Refused([f"no open marketplace task for draft {draft_id} version {version} ({kind})"])
            if kind == "quote":
                store.change_state(conn, draft_id, "sent", actor=user.email, at=now, note=f"reply posted on {done[0]}")
    except InvalidTransition as error:
        raise Refused([f"the task stays open: {error}"]) from error
    conn.commit()
    notes = [f"marketplace {kind} reply for draft {draft_id} done"]
    if kind == "quote":
        notes.append(f"draft {draft_id} marked sent")
    return Outcome(notes=notes)


__all__ = [
    "MARKS",
    "EditRequest",
    "Outcome",
    "Refused",
    "approve_draft",
    "check_approval",
    "clarification_text",
    "edit_draft",
    "finish_marketplace_task",
    "mark_draft",
    "parse_edit",
    "reject_draft",
    "send_clarification",
]
