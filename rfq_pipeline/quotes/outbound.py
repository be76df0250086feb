"""Quotes and clarifying questions leave by e-mail through SES (v2): to a checked address, threaded, exactly once.

:func:`recipient_for` decides who a draft's mail goes to and whether it may go at all; :func:`send_draft_mail` sends
one kind of mail (``quote`` or ``clarification``) for the draft's current version.

Exactly once per (draft, version, kind): before SES is called, a row of ``outbound_emails`` is claimed and committed
with the Message-ID the mail will carry. A claimed row is ``sending`` until SES answers, then ``sent`` or
``failed``. A ``failed`` row means SES refused the call, so nothing left and a retry reuses its Message-ID. A row
still ``sending`` means a crash between the claim and SES's answer: the mail may or may not have left, so it is
never sent again automatically; the operator checks SES's sending log and settles the row by hand (see
docs/operating.md, "Outbound mail and suppressions").

The buyer's words are data: RFQ titles and subjects reach the Subject header only without control characters,
message ids reach In-Reply-To/References only when they look like ``<id@domain>``, and addresses only when they are
plain ``local@domain``.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import psycopg
from psycopg.rows import dict_row

from rfq_pipeline.intake.store import INTAKE_SOURCES
from rfq_pipeline.quotes import store
from rfq_pipeline.quotes.dispatch import line_summaries
from rfq_pipeline.quotes.states import InvalidTransition
from rfq_pipeline.quotes.suppression import is_suppressed
from rfq_pipeline.quotes.workflow import pdf_key
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import ObjectStore

__all__ = ["KINDS", "Recipient", "SendOutcome", "recipient_for", "send_draft_mail"]

log = logging.getLogger(__name__)

KINDS = ("quote", "clarification")
REFUSED_STATUSES = {
    "invalid": "the address was verified invalid",
    "disposable": "the address is a disposable mailbox",
    "do_not_mail": "the address is marked do-not-mail",
}
MAX_SUBJECT_CHARS = 200
MAX_REFERENCES = 20  # RFC 5322 allows trimming; the first id (the thread's root) is always kept
MAX_DETAIL_CHARS = 300
# Plain local@domain, nothing a header parser could read as a second address or a new header.
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}")
_MESSAGE_ID = re.compile(r"<([!-;=?-~]{1,250})>")  # printable ASCII without '<' and '>'
# Access keys and signed-URL parameters that must never reach a stored detail.
_SECRET = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b|(X-Amz-(?:Credential|Signature|Security-Token)=)[^&\s]+")
# Long headers fold only at spaces: with the default 78 a long message id would become an RFC 2047 encoded word,
# which no mail client matches when threading.
_MIME_POLICY = email.policy.SMTP.clone(max_line_length=998)

SELECT_CONTEXT = """
SELECT q.id, q.state, q.version, q.body, q.pdf_uri, q.rfq_id,
       r.source, r.external_id, r.canonical_url, r.title, r.attributes,
       b.email AS buyer_email, b.email_status
FROM quote_drafts q
JOIN rfqs r ON r.id = q.rfq_id
LEFT JOIN buyers b ON b.id = q.buyer_id
WHERE q.id = %(id)s
"""
SELECT_OUTBOUND = """
SELECT id, status, message_id, to_address, detail, created_at
FROM outbound_emails WHERE draft_id = %(draft_id)s AND version = %(version)s AND kind = %(kind)s
"""
# The buyer's messages of the RFQ's thread (the request and the replies intake attached to it), oldest first.
SELECT_INBOUND = """
SELECT message_key, thread_keys, subject, received_at
FROM intake_messages
WHERE kind = 'email' AND rfq_id = %(rfq_id)s AND status = 'parsed'
ORDER BY received_at, id
"""
SELECT_EARLIER_OUTBOUND = """
SELECT message_id, subject, COALESCE(sent_at, created_at) AS at
FROM outbound_emails
WHERE draft_id = %(draft_id)s AND status = 'sent' AND NOT (version = %(version)s AND kind = %(kind)s)
ORDER BY COALESCE(sent_at, created_at), id
"""
CLAIM = """
INSERT INTO outbound_emails (draft_id, version, kind, to_address, from_address, reply_to, subject, message_id,
                             in_reply_to, references_header, actor)
VALUES (%(draft_id)s, %(version)s, %(kind)s, %(to_address)s, %(from_address)s, %(reply_to)s, %(subject)s,
        %(message_id)s, %(in_reply_to)s, %(references_header)s, %(actor)s)
ON CONFLICT ON CONSTRAINT outbound_emails_once DO NOTHING
RETURNING id, message_id
"""
# A failed send left nothing with SES: claim it again, keeping its Message-ID. Conditional, so two retries at once
# cannot both win.
RECLAIM = """
UPDATE outbound_emails
SET status = 'sending', to_address = %(to_address)s, from_address = %(from_address)s, reply_to = %(reply_to)s,
    subject = %(subject)s, in_reply_to = %(in_reply_to)s, references_header = %(references_header)s,
    actor = %(actor)s, detail = ''
WHERE id = %(id)s AND status = 'failed'
RETURNING id, message_id
"""
FINISH = """
UPDATE outbound_emails
SET status = %(status)s, ses_message_id = %(ses_message_id)s, sent_at = %(sent_at)s, detail = %(detail)s
WHERE id = %(id)s
"""
INSERT_TASK = """
INSERT INTO marketplace_reply_tasks (draft_id, version, kind, source, url, body_text, pdf_uri)
VALUES (%(draft_id)s, %(version)s, %(kind)s, %(source)s, %(url)s, %(body_text)s, %(pdf_uri)s)
ON CONFLICT (draft_id, version, kind) DO NOTHING
RETURNING draft_id
"""


@dataclass(frozen=True)
class Recipient:
    """Where a draft's mail would go and whether it may: ``status`` is ``ok``, ``needs_confirmation`` (the address
    was never verified; a person must confirm it), ``refused`` (never mail it) or ``no_address``."""

    address: str | None  # lower-cased buyer e-mail, or None
    status: str
    reason: str  # a sentence for the rep: "the address was verified invalid"


@dataclass(frozen=True)
class SendOutcome:
    """What :func:`send_draft_mail` did. ``status``: ``sent``, ``already_sent``, ``marketplace_task``, ``refused``,
    ``needs_confirmation``, ``failed`` or ``not_configured``."""

    status: str
    detail: str
    to_address: str | None = None
    message_id: str | None = None  # our RFC 5322 Message-ID (no angle brackets)
    ses_message_id: str | None = None


@dataclass(frozen=True)
class _Draft:
    """The draft, its RFQ and its buyer, as the mail needs them."""

    id: int
    state: str
    version: int
    body: dict[str, Any]
    pdf_uri: str | None
    rfq_id: int
    source: str
    external_id: str
    url: str | None
    title: str
    attributes: dict[str, Any]
    buyer_email: str | None
    email_status: str | None

    @property
    def from_buyer_mail(self) -> bool:
        """The RFQ is the buyer's own e-mail. A marketplace's notification that came in by mail (channel ``email``
        under the marketplace's source) was sent by the marketplace, so its sender is not the buyer."""
        return self.source == "email"

    @property
    def marketplace(self) -> bool:
        """The RFQ came from a marketplace, where the rep can answer it by hand."""
        return self.source not in INTAKE_SOURCES


def _load(conn: psycopg.Connection, draft_id: int) -> _Draft:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(SELECT_CONTEXT, {"id": draft_id}).fetchone()
    if row is None:
        raise store.DraftNotFound(f"no quote draft {draft_id}")
    return _Draft(
        id=int(row["id"]),
        state=row["state"],
        version=int(row["version"]),
        body=row["body"] or {},
        pdf_uri=row["pdf_uri"],
        rfq_id=int(row["rfq_id"]),
        source=row["source"],
        external_id=row["external_id"] or "",
        url=row["canonical_url"] or None,
        title=row["title"] or "",
        attributes=row["attributes"] or {},
        buyer_email=row["buyer_email"],
        email_status=row["email_status"],
    )


def _mailable(address: str | None) -> str | None:
    """``address`` lower-cased when it is a plain ``local@domain``, else ``None``."""
    text = (address or "").strip().lower()
    return text if _ADDRESS.fullmatch(text) else None


def _recipient(conn: psycopg.Connection, draft: _Draft) -> Recipient:
    sender = _mailable(draft.attributes.get("from")) if draft.from_buyer_mail else None
    raw = (draft.buyer_email or "").strip() or None
    if raw is None and sender is None:
        where = f"; answer on {draft.source}" if draft.marketplace else ""
        return Recipient(None, "no_address", f"no e-mail address is known for the buyer{where}")
    address = _mailable(raw) if raw is not None else sender
    if address is None:
        return Recipient(raw.lower() if raw else None, "refused", "the buyer's address is not a mailable address")
    if raw is not None and draft.email_status in REFUSED_STATUSES:
        return Recipient(address, "refused", REFUSED_STATUSES[draft.email_status])
    suppressed = is_suppressed(conn, address)
    if suppressed is not None:
        return Recipient(address, "refused", suppressed)
    if address == sender:
        return Recipient(address, "ok", "the buyer e-mailed the request from this address")
    if draft.email_status == "valid":
        return Recipient(address, "ok", "the address was verified valid")
    if draft.email_status == "unknown":
        return Recipient(address, "needs_confirmation", "the address could not be verified")
    return Recipient(address, "needs_confirmation", "the address was never verified")


def recipient_for(conn: psycopg.Connection, draft_id: int) -> Recipient:
    """Who the draft's mail goes to, and whether it may go (raises ``DraftNotFound``).

    The buyer's e-mail (``buyers.email``), or for an RFQ the buyer e-mailed us, the sender when the buyer has none.
    ``refused``: the address was verified invalid, disposable or do-not-mail, or SES reported a bounce or complaint
    for it (``email_suppressions``). ``ok``: verified valid, or the sender of the e-mailed request (who evidently
    receives mail). ``needs_confirmation``: anything else (status ``unknown`` or never checked).
    """
    return _recipient(conn, _load(conn, draft_id))


# --- the mail --------------------------------------------------------------------------------------------------------


def _header_text(value: object, limit: int = MAX_SUBJECT_CHARS) -> str:
    """``value`` as one header line: control characters (CR and LF among them) become spaces, then spaces collapse."""
    text = "".join(" " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in str(value or ""))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _message_ids(values: str | Sequence[str] | None) -> list[str]:
    """The ``<id>`` tokens of ``values`` (a string or strings), well-formed only, without our derived ``.invalid``
    ids (intake makes those up for mail that had none: no client knows them)."""
    items = [values] if isinstance(values, str) else list(values or [])
    found = []
    for item in items:
        text = str(item or "")
        tokens = _MESSAGE_ID.findall(text) or ([text.strip()] if "@" in text and "<" not in text else [])
        for token in tokens:
            if _MESSAGE_ID.fullmatch(f"<{token}>") and not token.lower().endswith(".invalid"):
                found.append(f"<{token}>")
    return found


@dataclass(frozen=True)
class _Thread:
    subject: str
    in_reply_to: str | None
    references: list[str]


def _thread(conn: psycopg.Connection, draft: _Draft, kind: str) -> _Thread:
    """Subject, In-Reply-To and References: a reply in the buyer's thread when there is one, else in ours."""
    with conn.cursor(row_factory=dict_row) as cur:
        inbound = cur.execute(SELECT_INBOUND, {"rfq_id": draft.rfq_id}).fetchall() if draft.from_buyer_mail else []
        ours = cur.execute(
            SELECT_EARLIER_OUTBOUND, {"draft_id": draft.id, "version": draft.version, "kind": kind}
        ).fetchall()
    timeline: list[tuple[Any, str]] = [(m["received_at"], m["message_key"]) for m in inbound]
    timeline += [(m["at"], f"<{m['message_id']}>") for m in ours]
    timeline.sort(key=lambda entry: entry[0])
    references = _message_ids(inbound[0]["thread_keys"]) if inbound else []
    if draft.from_buyer_mail and not inbound:
        references += _message_ids(draft.external_id)  # the request's own id, when intake's rows are gone
    for _at, message_id in timeline:
        references += _message_ids(message_id)
    references = list(dict.fromkeys(references))
    if len(references) > MAX_REFERENCES:
        references = [references[0], *references[-(MAX_REFERENCES - 1) :]]

    buyer_ids = [i for m in inbound for i in _message_ids(m["message_key"])]
    if draft.from_buyer_mail and not buyer_ids:
        buyer_ids = _message_ids(draft.external_id)
    our_ids = [i for m in ours for i in _message_ids(f"<{m['message_id']}>")]
    in_reply_to = (buyer_ids or our_ids or [None])[-1]

    if draft.from_buyer_mail and buyer_ids:
        original = draft.attributes.get("subject") or (inbound[0]["subject"] if inbound else "") or draft.title
    elif our_ids:
        original = ours[-1]["subject"]
    else:
        original = ""
    if in_reply_to and original:
        subject = _header_text(original)
        subject = subject if subject.lower().startswith("re:") else _header_text(f"Re: {subject}")
    elif kind == "quote":
        subject = _header_text(f"Quotation Q-{draft.id} v{draft.version}: {draft.title}")
    else:
        subject = _header_text(f"Question about your request: {draft.title}")
    return _Thread(subject, in_reply_to, references)


def _quote_text(draft: _Draft) -> str:
    """The cover text, then the priced lines and the total in plain words."""
    body = draft.body
    parts = [str(body.get("cover_text") or "").strip()]
    lines = line_summaries(body)
    if lines:
        summary = [f"Quotation Q-{draft.id} v{draft.version}:", *(f"- {line}" for line in lines)]
        if body.get("total") is not None:
            summary.append(f"Total: {body.get('currency') or ''} {body['total']}".replace("  ", " "))
        parts.append("\n".join(summary))
    parts.append("The quotation is attached as a PDF.")
    return "\n\n".join(p for p in parts if p) + "\n"


def _attachment_name(draft: _Draft) -> str:
    return f"quotation-Q-{draft.id}-v{draft.version}.pdf"


def build_mime(
    *,
    from_address: str,
    to_address: str,
    reply_to: str,
    subject: str,
    message_id: str,
    in_reply_to: str | None,
    references: list[str],
    text: str,
    date: datetime,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    """The raw RFC 5322 message: a UTF-8 text part (quoted-printable), optionally a PDF attachment."""
    message = EmailMessage(policy=_MIME_POLICY)
    message["From"] = from_address
    message["To"] = to_address
    message["Reply-To"] = reply_to
    message["Subject"] = _header_text(subject)
    message["Date"] = email.utils.format_datetime(date)
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    message.set_content(text, cte="quoted-printable")
    if attachment is not None:
        name, data = attachment
        message.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return message.as_bytes()


# --- recording -------------------------------------------------------------------------------------------------------


def _event(
    conn: psycopg.Connection,
    draft: _Draft,
    action: str,
    *,
    actor: str,
    at: datetime,
    detail: dict[str, Any],
    note: str = "",
) -> None:
    """An event of the draft's current version that leaves the state as it is."""
    store.record_action(conn, draft.id, action, actor=actor, at=at, version=draft.version, detail=detail, note=note)


def _clean_detail(text: str) -> str:
    """Error text fit to store: no access keys or signatures, one line, cut short."""
    text = _SECRET.sub(lambda m: (m.group(1) or "") + "***", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def _unknown_outcome_detail(row: dict[str, Any]) -> str:
    return (
        f"a send of this mail to {row['to_address']} (Message-ID <{row['message_id']}>) was started at "
        f"{row['created_at']:%Y-%m-%d %H:%M %Z} and never finished: it may or may not have left. Check the SES sending "
        "log before settling outbound_emails row "
        f"{row['id']} by hand; it is not sent again automatically"
    )


def _refuse(conn: psycopg.Connection, draft: _Draft, reason: str, *, actor: str, now: datetime, kind: str,
            address: str | None) -> SendOutcome:  # fmt: skip
    with conn.transaction():
        _event(conn, draft, "send_refused", actor=actor, at=now, detail={"reason": reason, "kind": kind,
               "to": address}, note=reason)  # fmt: skip
    conn.commit()
    return SendOutcome("refused", reason, address)


def _marketplace_task(
    conn: psycopg.Connection, draft: _Draft, kind: str, text: str, *, actor: str, now: datetime
) -> SendOutcome:
    where = f"answer on {draft.source}" + (f": {draft.url}" if draft.url else "")
    with conn.transaction():
        created = conn.execute(
            INSERT_TASK,
            {"draft_id": draft.id, "version": draft.version, "kind": kind, "source": draft.source, "url": draft.url,
             "body_text": text, "pdf_uri": draft.pdf_uri if kind == "quote" else None},
        ).fetchone()  # fmt: skip
        if created is not None:
            _event(conn, draft, "marketplace_task", actor=actor, at=now,
                   detail={"kind": kind, "source": draft.source, "url": draft.url}, note=where)  # fmt: skip
    conn.commit()
    detail = f"no e-mail address: {where}" + ("" if created is not None else " (the task was already open)")
    return SendOutcome("marketplace_task", detail)


def _ses_failure_left_nothing(error: Exception) -> bool:
    """Whether SES certainly did not take the mail: it answered with an error, or no connection was made."""
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ParamValidationError

    return isinstance(error, ClientError | EndpointConnectionError | ConnectTimeoutError | ParamValidationError)


def send_draft_mail(
    conn: psycopg.Connection,
    draft_id: int,
    *,
    kind: str,
    actor: str,
    now: datetime,
    settings: Settings,
    pdf_store: ObjectStore,
    ses: Any | None = None,
    body_text: str | None = None,
    confirm_unknown: bool = False,
) -> SendOutcome:
    """E-mail the draft's current version once: ``kind`` ``quote`` (cover text, priced lines, the approved PDF) or
    ``clarification`` (``body_text``, no attachment). Commits on ``conn``; raises ``DraftNotFound``, and
    ``ValueError`` for an unknown kind or a clarification without text.

    From ``RFQ_QUOTE_FROM``, Reply-To ``RFQ_INTAKE_ADDRESS`` (the buyer's answer comes back through intake), in the
    buyer's thread when the RFQ was their e-mail. A refused address records a ``send_refused`` event; an unverified
    one needs ``confirm_unknown`` (recorded as ``confirm_address``); a marketplace RFQ without an address becomes a
    ``marketplace_reply_tasks`` row. A sent quote moves the draft from approved to sent. See the module docstring
    for the exactly-once claim and what a send interrupted by a crash leaves.
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} must be one of {', '.join(KINDS)}")
    text = (body_text or "").strip()
    if kind == "clarification" and not text:
        raise ValueError("a clarification needs body_text")
    draft = _load(conn, draft_id)
    key = {"draft_id": draft.id, "version": draft.version, "kind": kind}
    with conn.cursor(row_factory=dict_row) as cur:
        existing = cur.execute(SELECT_OUTBOUND, key).fetchone()
    if existing is not None and existing["status"] == "sent":
        return SendOutcome(
            "already_sent",
            f"the {kind} of version {draft.version} was e-mailed to {existing['to_address']} before",
            existing["to_address"],
            existing["message_id"],
        )

    attachment: tuple[str, bytes] | None = None
    if kind == "quote":
        if draft.state != "approved":
            return SendOutcome("failed", f"draft {draft.id} is {draft.state}: only an approved draft is sent")
        try:
            attachment = (_attachment_name(draft), pdf_store.get(pdf_key(draft.id, "approved")))
        except KeyError:
            return SendOutcome("failed", f"draft {draft.id} has no approved PDF; approve it again to render one")
        text = _quote_text(draft)
    else:
        text += "\n"

    recipient = _recipient(conn, draft)
    if recipient.status == "no_address":
        if draft.marketplace:
            return _marketplace_task(conn, draft, kind, text, actor=actor, now=now)
        return _refuse(conn, draft, recipient.reason, actor=actor, now=now, kind=kind, address=None)
    if recipient.status == "refused":
        return _refuse(conn, draft, recipient.reason, actor=actor, now=now, kind=kind, address=recipient.address)

    missing = [name for name, value in (("RFQ_QUOTE_FROM", settings.quote_from_address),
                                        ("RFQ_INTAKE_ADDRESS", settings.intake_address)) if not value]  # fmt: skip
    if missing:
        return SendOutcome("not_configured", f"outbound mail is off: set {' and '.join(missing)}", recipient.address)
    if recipient.status == "needs_confirmation" and not confirm_unknown:
        return SendOutcome("needs_confirmation", recipient.reason, recipient.address)

    assert recipient.address is not None and settings.quote_from_address and settings.intake_address
    from_address, reply_to, to_address = settings.quote_from_address, settings.intake_address, recipient.address
    thread = _thread(conn, draft, kind)
    domain = from_address.rpartition("@")[2]
    fields = {
        **key,
        "to_address": to_address,
        "from_address": from_address,
        "reply_to": reply_to,
        "subject": thread.subject,
        "message_id": f"q{draft.id}.v{draft.version}.{kind}.{uuid.uuid4().hex}@{domain}",
        "in_reply_to": thread.in_reply_to,
        "references_header": " ".join(thread.references) or None,
        "actor": actor,
    }
    with conn.transaction():
        claimed = conn.execute(CLAIM, fields).fetchone()
        if claimed is None:
            with conn.cursor(row_factory=dict_row) as cur:
                existing = cur.execute(SELECT_OUTBOUND, key).fetchone()
            assert existing is not None  # the conflict was on this key
            if existing["status"] == "failed":
                claimed = conn.execute(RECLAIM, {**fields, "id": existing["id"]}).fetchone()
                if claimed is None:  # another retry reclaimed it first: report what that one left
                    with conn.cursor(row_factory=dict_row) as cur:
                        existing = cur.execute(SELECT_OUTBOUND, key).fetchone()
        if claimed is not None and recipient.status == "needs_confirmation":
            _event(conn, draft, "confirm_address", actor=actor, at=now,
                   detail={"to": to_address, "reason": recipient.reason, "kind": kind})  # fmt: skip
    conn.commit()
    if claimed is None:
        assert existing is not None
        if existing["status"] == "sent":  # another send finished between our read and our claim
            return SendOutcome("already_sent", f"the {kind} was e-mailed to {existing['to_address']} before",
                               existing["to_address"], existing["message_id"])  # fmt: skip
        return SendOutcome("failed", _unknown_outcome_detail(existing), existing["to_address"], existing["message_id"])
    row_id, message_id = int(claimed[0]), str(claimed[1])

    raw = build_mime(
        from_address=from_address,
        to_address=to_address,
        reply_to=reply_to,
        subject=thread.subject,
        message_id=message_id,
        in_reply_to=thread.in_reply_to,
        references=thread.references,
        text=text,
        date=now,
        attachment=attachment,
    )
    client = ses if ses is not None else _ses_client(settings)
    try:
        answer = client.send_email(
            FromEmailAddress=from_address,
            Destination={"ToAddresses": [to_address]},
            ReplyToAddresses=[reply_to],
            Content={"Raw": {"Data": raw}},
        )
    except Exception as error:  # SES or the network: recorded on the row, never raised past the claim
        detail = _clean_detail(f"{type(error).__name__}: {error}")
        if not _ses_failure_left_nothing(error):
            # A timeout after the request went out: SES may have taken it. The row stays 'sending'.
            conn.execute("UPDATE outbound_emails SET detail = %s WHERE id = %s", (detail, row_id))
            conn.commit()
            log.error("quote draft %s: %s mail outcome unknown: %s", draft.id, kind, detail)
            row = {"id": row_id, "to_address": to_address, "message_id": message_id, "created_at": now}
            return SendOutcome("failed", f"{detail}; {_unknown_outcome_detail(row)}", to_address, message_id)
        conn.execute(FINISH, {"id": row_id, "status": "failed", "ses_message_id": None, "sent_at": None,
                              "detail": detail})  # fmt: skip
        conn.commit()
        log.warning("quote draft %s: %s mail not sent: %s", draft.id, kind, detail)
        return SendOutcome("failed", f"SES did not send it: {detail}", to_address, message_id)

    ses_message_id = str(answer.get("MessageId") or "") or None
    with conn.transaction():
        conn.execute(FINISH, {"id": row_id, "status": "sent", "ses_message_id": ses_message_id, "sent_at": now,
                              "detail": ""})  # fmt: skip
        detail = {"message_id": message_id, "to": to_address, "ses_message_id": ses_message_id}
        if kind == "quote":
            note = f"e-mailed to {to_address}"
            try:
                with conn.transaction():
                    store.change_state(conn, draft.id, "sent", actor=actor, at=now, note=note)
            except InvalidTransition as error:
                # The mail left; someone moved the draft meanwhile. The event keeps the fact, the state stays theirs.
                detail["state_not_changed"] = str(error)
            conn.execute(
                "UPDATE quote_drafts SET first_sent_at = COALESCE(first_sent_at, %s), updated_at = now() WHERE id = %s",
                (now, draft.id),
            )
            _event(conn, draft, "email_sent", actor=actor, at=now, detail=detail, note=note)
        else:
            _event(conn, draft, "clarification_sent", actor=actor, at=now, detail=detail,
                   note=f"question e-mailed to {to_address}")  # fmt: skip
    conn.commit()
    log.info("quote draft %s: %s e-mailed (SES message %s)", draft.id, kind, ses_message_id)
    return SendOutcome("sent", f"e-mailed to {to_address}", to_address, message_id, ses_message_id)


def _ses_client(settings: Settings) -> Any:
    # Building a botocore client reads its service model from disk (~170 ms, most of a desk approval); clients are
    # thread-safe, so one per region and endpoint serves every send of the process. Credentials still come from
    # boto3's chain, which refreshes role credentials inside the client.
    key = (settings.aws_region, settings.aws_endpoint_url)
    client = _SES_CLIENTS.get(key)
    if client is None:
        from rfq_pipeline.aws.clients import boto3_client

        client = _SES_CLIENTS.setdefault(key, boto3_client("sesv2", settings))
    return client


_SES_CLIENTS: dict[tuple[str | None, str | None], Any] = {}
