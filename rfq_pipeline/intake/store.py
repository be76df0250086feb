"""Intake in PostgreSQL: requests recorded before their queue message is deleted, and what each message became.

- ``intake_requests``: one row per e-mail object, uploaded object or scrape request, keyed naturally (bucket/key@etag,
  or the SQS message id), with the run key its processing run is requested under. Recording is idempotent, so a
  redelivered queue message or a re-listed object records nothing new.
- ``intake_messages``: one row per distinct e-mail (Message-ID) or document (bucket/key@etag): parsed, or failed
  with the reason. A parsed e-mail either creates an RFQ (source ``email``) or, when it replies in an existing thread
  (In-Reply-To/References, or the same sender and subject), attaches to that thread's RFQ.

A reply to mail we sent (a quote or a clarifying question: its In-Reply-To/References name one of our
``outbound_emails``) joins the thread of that draft's RFQ, and the outcome names the draft and the reply's text, so
the caller can draft the next version once the message is recorded
(:func:`rfq_pipeline.quotes.versions.redraft_from_reply`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from rfq_pipeline.db import repository
from rfq_pipeline.sources.model import ParsedRfq

INTAKE_SOURCES = {
    "email": ("ses://inbound", "event: SES inbound mail via S3 and SQS"),
    "upload": ("s3://uploads", "event: documents uploaded to S3"),
}
THREAD_WINDOW = timedelta(days=120)

RECORD_REQUEST = """
INSERT INTO intake_requests (kind, request_key, run_key, payload)
VALUES (%(kind)s, %(request_key)s, %(run_key)s, %(payload)s)
ON CONFLICT ON CONSTRAINT intake_requests_kind_key DO NOTHING
RETURNING id
"""

SELECT_PENDING_REQUESTS = """
SELECT id, kind, request_key, run_key, payload, created_at
FROM intake_requests
WHERE kind = %(kind)s AND status = 'pending'
ORDER BY created_at, id
LIMIT %(limit)s
"""

SELECT_REQUESTS_BY_KEY = """
SELECT id, kind, request_key, run_key, payload, status, error, run_id
FROM intake_requests
WHERE kind = %(kind)s AND request_key = ANY(%(keys)s)
ORDER BY id
"""

FINISH_REQUEST = """
UPDATE intake_requests
SET status = %(status)s, error = %(error)s, run_id = %(run_id)s, attempts = attempts + 1, updated_at = now()
WHERE kind = %(kind)s AND request_key = %(request_key)s
"""

SELECT_MESSAGE = """
SELECT id, status, rfq_id, joined_thread, error FROM intake_messages WHERE kind = %(kind)s AND message_key = %(key)s
"""

# An earlier message of the thread that has an RFQ: referenced by Message-ID, or (for mail clients that drop the
# headers) the same sender writing under the same normalized subject recently.
SELECT_THREAD_BY_KEYS = """
SELECT rfq_id FROM intake_messages
WHERE kind = 'email' AND message_key = ANY(%(keys)s) AND rfq_id IS NOT NULL
ORDER BY received_at
LIMIT 1
"""

SELECT_THREAD_BY_SUBJECT = """
SELECT rfq_id FROM intake_messages
WHERE kind = 'email' AND from_address = %(from_address)s AND subject_key = %(subject_key)s
  AND subject_key <> '' AND rfq_id IS NOT NULL AND received_at >= %(since)s
ORDER BY received_at
LIMIT 1
"""

INSERT_MESSAGE = """
INSERT INTO intake_messages (kind, message_key, object_uri, status, error, from_address, subject, subject_key,
                             thread_keys, parsed, rfq_id, joined_thread, run_id)
VALUES (%(kind)s, %(message_key)s, %(object_uri)s, %(status)s, %(error)s, %(from_address)s, %(subject)s,
        %(subject_key)s, %(thread_keys)s, %(parsed)s, %(rfq_id)s, %(joined_thread)s, %(run_id)s)
ON CONFLICT ON CONSTRAINT intake_messages_kind_key DO NOTHING
RETURNING id
"""

INSERT_ATTACHMENT = """
INSERT INTO intake_attachments (message_id, position, name, content_type, byte_size, sha256, object_uri, text, error)
VALUES (%(message_id)s, %(position)s, %(name)s, %(content_type)s, %(byte_size)s, %(sha256)s, %(object_uri)s,
        %(text)s, %(error)s)
ON CONFLICT (message_id, position) DO NOTHING
"""

# Our own Message-IDs are stored without angle brackets; the reply's In-Reply-To comes first in its thread keys, so
# the mail it answers directly wins over older ones its References list.
SELECT_REPLIED_DRAFT = """
SELECT o.draft_id, q.rfq_id FROM outbound_emails o JOIN quote_drafts q ON q.id = o.draft_id
WHERE o.message_id = ANY(%(ids)s::text[])
ORDER BY array_position(%(ids)s::text[], o.message_id), o.id DESC
LIMIT 1
"""

# A reply adds to its RFQ's thread without touching the request's own text: the reply is evidence, not a new RFQ.
APPEND_THREAD_UPDATE = """
UPDATE rfqs
SET attributes = jsonb_set(attributes, '{thread}', COALESCE(attributes -> 'thread', '[]'::jsonb) || %(entry)s),
    last_seen_at = now()
WHERE id = %(rfq_id)s
"""


@dataclass(frozen=True)
class IntakeRequest:
    """A recorded request waiting for (or done by) its processing run."""

    id: int
    kind: str
    request_key: str
    run_key: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class IntakeOutcome:
    """What one message or document became."""

    message_key: str
    status: str  # "parsed" | "failed" | "duplicate"
    rfq_id: int | None = None
    joined_thread: bool = False
    error: str | None = None
    reply_to_draft: int | None = None  # the quote draft whose outbound mail this message answers
    reply_text: str = ""  # what the buyer wrote in that reply (new text and attachment text), for the redraft


def record_request(
    conn: psycopg.Connection, kind: str, request_key: str, run_key: str, payload: dict[str, Any]
) -> bool:
    """Record a request once; ``True`` when it is new (a redelivery returns ``False`` and changes nothing)."""
    params = {"kind": kind, "request_key": request_key, "run_key": run_key, "payload": Jsonb(payload)}
    return conn.execute(RECORD_REQUEST, params).fetchone() is not None


def pending_requests(conn: psycopg.Connection, kind: str, limit: int = 100) -> list[IntakeRequest]:
    """Requests of ``kind`` not yet done, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SELECT_PENDING_REQUESTS, {"kind": kind, "limit": limit}).fetchall()
    return [IntakeRequest(**row) for row in rows]


def requests_by_key(conn: psycopg.Connection, kind: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """The recorded requests of ``kind`` with these keys."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SELECT_REQUESTS_BY_KEY, {"kind": kind, "keys": list(keys)}).fetchall()


def finish_request(
    conn: psycopg.Connection, kind: str, request_key: str, status: str, error: str | None = None, run_id: str = ""
) -> None:
    """Mark a request ``done``, ``failed`` or ``dead_lettered``."""
    conn.execute(
        FINISH_REQUEST,
        {"kind": kind, "request_key": request_key, "status": status, "error": error, "run_id": run_id},
    )


def ensure_intake_sources(conn: psycopg.Connection) -> None:
    """The ``email`` and ``upload`` rows of ``sources`` (RFQs reference their source)."""
    for name, (base_url, cadence) in INTAKE_SOURCES.items():
        repository.upsert_source(conn, name=name, kind="intake", base_url=base_url, cadence=cadence, enabled=True)


def marketplace_source(conn: psycopg.Connection, *senders: str | None) -> str | None:
    """The marketplace whose notification domain sent the mail (see ``SourceSpec.mail_domains``), with its row."""
    from rfq_pipeline.sources.registry import SOURCES, marketplace_for_sender

    name = marketplace_for_sender(*senders)
    if name is not None:
        spec = SOURCES[name]
        repository.ensure_source(
            conn, name=name, kind=spec.kind, base_url=spec.site_url, cadence=spec.cadence, enabled=spec.enabled
        )
    return name


def _posted_at(value: str | None) -> datetime:
    now = datetime.now(UTC)
    if not value:
        return now
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return now
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    # A sender's clock in the future must not put the RFQ into a partition that does not exist yet.
    return min(parsed.astimezone(UTC), now)


def record_email(
    conn: psycopg.Connection,
    parsed: Any,  # rfq_pipeline.intake.mime.ParsedEmail
    object_uri: str,
    attachment_uris: Sequence[str | None] = (),
    run_id: str = "",
    received_at: datetime | None = None,
) -> IntakeOutcome:
    """Store one parsed e-mail: a failure with its reason, a new RFQ, or an update of an existing thread's RFQ."""
    from rfq_pipeline.intake.email_rfq import rfq_description, rfq_from_email, to_json
    from rfq_pipeline.intake.mime import thread_subject_key

    replied = _replied_draft(conn, parsed) if parsed.error is None else None
    reply = {"reply_to_draft": replied[0], "reply_text": rfq_description(parsed)} if replied else {}
    existing = conn.execute(SELECT_MESSAGE, {"kind": "email", "key": parsed.message_id}).fetchone()
    if existing is not None:
        # The reply is named again, so a redraft that failed after the message was recorded can be done on a retry;
        # the redraft itself reads each reply once.
        joined = replied is not None and existing[2] == replied[1]
        return IntakeOutcome(
            parsed.message_id, "duplicate", existing[2], bool(existing[3]), existing[4], **(reply if joined else {})
        )

    document = to_json(parsed)
    row = {
        "kind": "email",
        "message_key": parsed.message_id,
        "object_uri": object_uri,
        "status": "failed" if parsed.error else "parsed",
        "error": parsed.error,
        "from_address": (parsed.from_address or "").lower(),
        "subject": parsed.subject or "",
        "subject_key": thread_subject_key(parsed.subject),
        "thread_keys": list(parsed.thread_keys),
        "parsed": Jsonb(document),
        "rfq_id": None,
        "joined_thread": False,
        "run_id": run_id,
    }
    if parsed.error is None:
        rfq_id = replied[1] if replied else _thread_rfq(conn, parsed, row["subject_key"], row["from_address"])
        if rfq_id is not None:
            entry = {
                "message_id": parsed.message_id,
                "date": parsed.date,
                "from": row["from_address"],
                "new_text": (parsed.new_text or "")[:4000],
                "attachments": [a.name for a in parsed.attachments],
            }
            conn.execute(APPEND_THREAD_UPDATE, {"rfq_id": rfq_id, "entry": Jsonb([entry])})
            row.update(rfq_id=rfq_id, joined_thread=True)
        else:
            ensure_intake_sources(conn)
            item = rfq_from_email(parsed)
            # A marketplace's notification mail (forwarded by a supplier account, or sent straight to the inbound
            # address) is that marketplace's RFQ: analysts see it under the marketplace, not under "email".
            marketplace = marketplace_source(conn, parsed.forwarded_from, row["from_address"])
            sender_domain = row["from_address"].rpartition("@")[2]
            rfq = ParsedRfq(
                source=marketplace or "email",
                external_id=parsed.message_id,
                canonical_url=object_uri,
                title=item.title or "(no subject)",
                # Posted = received by us: the RFQ lands in the partition its intake run processes, whatever the
                # sender's clock said (the Date header is kept as posted_text).
                posted_at=received_at or _posted_at(parsed.date),
                posted_text=parsed.date or "",
                description=item.description,
                quantity_text=item.quantity,
                # The sender of a notification is the marketplace, not the buyer.
                buyer_name="" if marketplace else parsed.from_ or "",
                buyer_company="" if marketplace else sender_domain,
                country_raw=item.country,
                attributes={
                    "channel": "email",
                    "from": row["from_address"],
                    "to": list(parsed.to),
                    "subject": parsed.subject,
                    "forwarded_from": parsed.forwarded_from,
                    "attachments": [a.name for a in parsed.attachments],
                },
            )
            repository.upsert_rfqs(conn, [(rfq, None)])
            row["rfq_id"] = repository.rfq_id(conn, rfq.source, parsed.message_id)
    inserted = conn.execute(INSERT_MESSAGE, row).fetchone()
    if inserted is not None:
        for position, attachment in enumerate(parsed.attachments):
            conn.execute(
                INSERT_ATTACHMENT,
                {
                    "message_id": int(inserted[0]),
                    "position": position,
                    "name": attachment.name,
                    "content_type": attachment.content_type,
                    "byte_size": attachment.size,
                    "sha256": attachment.sha256,
                    "object_uri": attachment_uris[position] if position < len(attachment_uris) else None,
                    "text": attachment.text,
                    "error": attachment.error,
                },
            )
    return IntakeOutcome(parsed.message_id, row["status"], row["rfq_id"], row["joined_thread"], parsed.error, **reply)


def _replied_draft(conn: psycopg.Connection, parsed: Any) -> tuple[int, int] | None:
    """The draft (and its RFQ) whose outbound mail the message answers, or ``None``."""
    # Any status: a message still 'sending' may have left before the status was written, and only its recipient
    # can know its id. A 'failed' one never left, so nobody can quote it.
    ids = [key.strip().strip("<>") for key in parsed.thread_keys if key.strip().strip("<>")]
    if not ids:
        return None
    found = conn.execute(SELECT_REPLIED_DRAFT, {"ids": ids}).fetchone()
    return (int(found[0]), int(found[1])) if found else None


def _thread_rfq(conn: psycopg.Connection, parsed: Any, subject_key: str, from_address: str) -> int | None:
    if parsed.thread_keys:
        found = conn.execute(SELECT_THREAD_BY_KEYS, {"keys": list(parsed.thread_keys)}).fetchone()
        if found:
            return int(found[0])
    # Subject matching only for replies: a buyer's second request with the same subject line is a new request.
    subject = unicodedata.normalize("NFKC", " ".join((parsed.subject or "").split())).casefold()
    if from_address and subject_key and subject_key != subject:
        since = datetime.now(UTC) - THREAD_WINDOW
        params = {"from_address": from_address, "subject_key": subject_key, "since": since}
        found = conn.execute(SELECT_THREAD_BY_SUBJECT, params).fetchone()
        if found:
            return int(found[0])
    return None
