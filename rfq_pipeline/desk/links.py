"""Signed, single-use links to the desk for Slack messages: open a draft, or approve it after a confirmation page.

The signature (itsdangerous, keyed with the desk secret) proves the desk minted a link and for which draft and
action; the ``desk_link_tokens`` row makes it single-use and carries its expiry. Following a link always needs a
signed-in desk user: the link says what to do, never who does it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from rfq_pipeline.desk.auth import desk_secret
from rfq_pipeline.quotes import store
from rfq_pipeline.settings import Settings

LINK_SALT = "desk-link"
LINK_ACTIONS = ("approve", "open")
DEFAULT_TTL = timedelta(hours=72)
# The signature's own age limit: no link outlives this whatever its row says, so a leaked database row cannot
# extend a link indefinitely.
MAX_TTL = timedelta(days=14)
FORGED_OR_EXPIRED = "this link is forged or expired"
ALREADY_USED = "this link was already used"


class LinkError(ValueError):
    """A link that must not be followed; the message is what the person is told."""


@dataclass(frozen=True)
class Link:
    """A verified, unused link."""

    token_id: str
    draft_id: int
    action: str
    purpose: str
    expires_at: datetime


class _IssuedAtSigner(TimestampSigner):
    """A timestamp signer whose clock can be set, so a link minted for ``now`` carries ``now``."""

    def __init__(self, *args: Any, issued_at: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._issued_at = issued_at

    def get_timestamp(self) -> int:
        return int(self._issued_at.timestamp()) if self._issued_at is not None else super().get_timestamp()


def _serializer(secret: str, issued_at: datetime | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret, salt=LINK_SALT, signer=_IssuedAtSigner, signer_kwargs={"issued_at": issued_at}
    )


def mint_link(
    conn: psycopg.Connection,
    settings: Settings,
    draft_id: int,
    action: str,
    purpose: str,
    *,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """A desk URL that opens (``action="open"``) or offers to approve (``"approve"``) a draft, once, until
    ``now + ttl``. ``purpose`` says which message carried it (``new_draft``, ``reminder``, ``escalation``).

    The token row is written in the caller's transaction: commit before the link is posted.
    """
    if action not in LINK_ACTIONS:
        raise ValueError(f"link action {action!r} must be one of {', '.join(LINK_ACTIONS)}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"a link lives between 0 and {MAX_TTL.days} days, not {ttl}")
    token_id = secrets.token_urlsafe(16)
    conn.execute(
        "INSERT INTO desk_link_tokens (token_id, draft_id, action, purpose, issued_at, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (token_id, draft_id, action, purpose, now, now + ttl),
    )
    signed = _serializer(desk_secret(settings), issued_at=now).dumps({"t": token_id, "d": draft_id, "a": action})
    return f"{settings.desk_url}/l/{signed}"


def read_link(conn: psycopg.Connection, secret: str, signed: str, *, now: datetime) -> Link:
    """The link ``signed`` stands for, if its signature, age and token row allow following it; else
    :class:`LinkError` with :data:`FORGED_OR_EXPIRED` or :data:`ALREADY_USED`. Changes nothing."""
    try:
        data = _serializer(secret).loads(signed, max_age=int(MAX_TTL.total_seconds()))
    except BadSignature as error:  # SignatureExpired is a BadSignature
        raise LinkError(FORGED_OR_EXPIRED) from error
    if not isinstance(data, dict) or not isinstance(data.get("t"), str) or not isinstance(data.get("d"), int):
        raise LinkError(FORGED_OR_EXPIRED)
    row = conn.execute(
        "SELECT draft_id, action, purpose, expires_at, used_at FROM desk_link_tokens WHERE token_id = %s",
        (data["t"],),
    ).fetchone()
    if row is None or row[0] != data["d"] or row[1] != data.get("a"):
        raise LinkError(FORGED_OR_EXPIRED)
    if row[4] is not None:
        raise LinkError(ALREADY_USED)
    if row[3] <= now:
        raise LinkError(FORGED_OR_EXPIRED)
    return Link(data["t"], int(row[0]), row[1], row[2], row[3])


def consume_link(conn: psycopg.Connection, link: Link, *, actor: str, now: datetime) -> None:
    """Mark the link used by ``actor`` and record a ``link_used`` event, in the caller's transaction.

    The conditional update is the single-use guarantee: of two people following one link at once, exactly one
    gets the row back; the other gets :data:`ALREADY_USED`.
    """
    row = conn.execute(
        "UPDATE desk_link_tokens t SET used_at = %s, used_by = %s "
        "WHERE token_id = %s AND used_at IS NULL AND expires_at > %s "
        "RETURNING (SELECT q.version FROM quote_drafts q WHERE q.id = t.draft_id)",
        (now, actor, link.token_id, now),
    ).fetchone()
    if row is None:
        raise LinkError(ALREADY_USED)
    store.record_action(
        conn,
        link.draft_id,
        "link_used",
        actor=actor,
        at=now,
        version=row[0],
        detail={"link_action": link.action, "purpose": link.purpose},
        note=f"{link.purpose} link: {link.action}",
    )


__all__ = [
    "ALREADY_USED",
    "DEFAULT_TTL",
    "FORGED_OR_EXPIRED",
    "LINK_ACTIONS",
    "MAX_TTL",
    "Link",
    "LinkError",
    "consume_link",
    "mint_link",
    "read_link",
]
