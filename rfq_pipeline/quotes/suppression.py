"""Addresses never to mail again: SES bounce and complaint notifications in, ``email_suppressions`` rows out.

SES publishes a notification per bounce or complaint to the feedback SNS topic, which delivers it to the
``ses-feedback`` queue inside an SNS envelope (``{"Type": "Notification", "Message": "<the SES JSON>"}``).
:func:`parse_feedback` reads either that envelope or a bare SES notification (raw message delivery) and says what to
suppress: every recipient of a permanent bounce and every complainer. A transient bounce (a full mailbox, a
greylisting server) is not suppressed: SES already retried, and the mailbox usually recovers. Deliveries and the
other event types are ignored. Anything that is not an SES notification raises :class:`FeedbackParseError`, which the
sensor turns into a dead-lettered message carrying the reason.

:func:`drain_feedback` is the sensor's work as plain code: receive, record, delete, dead-letter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

__all__ = [
    "Feedback",
    "FeedbackParseError",
    "FeedbackReport",
    "Suppression",
    "drain_feedback",
    "is_suppressed",
    "parse_feedback",
    "record_suppressions",
]

MAX_MESSAGES_PER_DRAIN = 50
VISIBILITY_TIMEOUT_S = 120
# SES notification types (identity notifications) and event types (configuration-set event publishing).
KNOWN_TYPES = ("Bounce", "Complaint", "Delivery", "Send", "Reject", "Open", "Click", "DeliveryDelay",
               "RenderingFailure", "Subscription")  # fmt: skip
# Sent once when a topic is attached to an identity; nothing to suppress.
SUBSCRIPTION_SUCCEEDED = "AmazonSnsSubscriptionSucceeded"
REASON_SENTENCES = {
    "bounce": "suppressed after a bounce on {day}",
    "complaint": "suppressed after a complaint on {day}",
    "manual": "suppressed by hand on {day}",
}

INSERT_SUPPRESSION = """
INSERT INTO email_suppressions (address, reason, detail, feedback_id)
VALUES (%(address)s, %(reason)s, %(detail)s, %(feedback_id)s)
ON CONFLICT (address) DO NOTHING
RETURNING address
"""


class FeedbackParseError(ValueError):
    """An SQS body that is not an SES notification (dead-letter it with this message as the reason)."""


@dataclass(frozen=True)
class Suppression:
    """One address to suppress, why (``bounce`` or ``complaint``) and the evidence."""

    address: str  # lower-cased
    reason: str
    detail: dict[str, Any]
    feedback_id: str | None


@dataclass(frozen=True)
class Feedback:
    """What one notification says: its type, the addresses to suppress, and a note when it suppresses none."""

    kind: str
    suppressions: tuple[Suppression, ...] = ()
    note: str = ""


def _json(text: Any, what: str) -> Any:
    if not isinstance(text, str | bytes):
        return text
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FeedbackParseError(f"{what} is not JSON: {exc}") from None


def _notification(body: str) -> dict[str, Any] | str:
    """The SES notification inside the body, or the SNS message type when the envelope carries no notification."""
    payload = _json(body, "body")
    if not isinstance(payload, dict):
        raise FeedbackParseError("body is not a JSON object")
    kind = payload.get("Type")
    if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        return str(kind)
    if kind == "Notification":
        if "Message" not in payload:
            raise FeedbackParseError("SNS notification without a Message")
        # SNS sends the SES JSON as a string; moto hands it over as an object.
        payload = _json(payload["Message"], "SNS message")
        if not isinstance(payload, dict):
            raise FeedbackParseError("SNS message is not a JSON object")
    return payload


def _type(notification: dict[str, Any]) -> str:
    kind = notification.get("notificationType") or notification.get("eventType")
    if kind in KNOWN_TYPES or kind == SUBSCRIPTION_SUCCEEDED:
        return str(kind)
    # The payload object names the type as surely as the type field does (moto's notifications carry a placeholder
    # type): exactly one of them decides.
    present = [name for name in ("bounce", "complaint", "delivery") if isinstance(notification.get(name), dict)]
    if len(present) == 1:
        return present[0].capitalize()
    if kind is None:
        raise FeedbackParseError("no notificationType or eventType: not an SES notification")
    raise FeedbackParseError(f"unknown SES notification type {str(kind)[:80]!r}")


def _address(recipient: Any, where: str) -> str:
    raw = recipient.get("emailAddress") if isinstance(recipient, dict) else None
    if not isinstance(raw, str):
        raise FeedbackParseError(f"{where} entry without an emailAddress")
    address = parseaddr(raw)[1].strip().lower()
    if address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
        raise FeedbackParseError(f"{where} entry {raw[:120]!r} is not an e-mail address")
    return address


def _recipients(payload: dict[str, Any], key: str) -> list[Any]:
    recipients = payload.get(key)
    if not isinstance(recipients, list) or not recipients:
        raise FeedbackParseError(f"no {key} list")
    return recipients


def parse_feedback(body: str) -> Feedback:
    """What an SQS body from the feedback queue asks to suppress (raises :class:`FeedbackParseError`)."""
    notification = _notification(body)
    if isinstance(notification, str):
        return Feedback(notification, note=f"SNS {notification}: nothing to suppress")
    kind = _type(notification)
    mail = notification.get("mail") if isinstance(notification.get("mail"), dict) else {}
    ses_message_id = mail.get("messageId")
    if kind == "Bounce":
        bounce = notification.get("bounce")
        if not isinstance(bounce, dict):
            raise FeedbackParseError("Bounce notification without a bounce object")
        bounce_type, subtype = bounce.get("bounceType"), bounce.get("bounceSubType")
        recipients = _recipients(bounce, "bouncedRecipients")
        addresses = [_address(r, "bouncedRecipients") for r in recipients]
        if bounce_type != "Permanent":
            # Transient: SES gave up after retrying a temporary failure; Undetermined: SES could not tell why.
            # Neither says the mailbox is gone, so the address stays mailable.
            count = f"{len(addresses)} recipient{'s' if len(addresses) != 1 else ''}"
            return Feedback(kind, note=f"{bounce_type} bounce ({subtype}) of {count}: not suppressed")
        suppressions = tuple(
            Suppression(
                address,
                "bounce",
                {
                    "bounce_type": bounce_type,
                    "bounce_subtype": subtype,
                    "diagnostic_code": recipient.get("diagnosticCode"),
                    "status": recipient.get("status"),
                    "action": recipient.get("action"),
                    "timestamp": bounce.get("timestamp"),
                    "ses_message_id": ses_message_id,
                },
                bounce.get("feedbackId"),
            )
            for address, recipient in zip(addresses, recipients, strict=True)
        )
        return Feedback(kind, suppressions)
    if kind == "Complaint":
        complaint = notification.get("complaint")
        if not isinstance(complaint, dict):
            raise FeedbackParseError("Complaint notification without a complaint object")
        recipients = _recipients(complaint, "complainedRecipients")
        detail = {
            "complaint_feedback_type": complaint.get("complaintFeedbackType"),
            "complaint_subtype": complaint.get("complaintSubType"),
            "user_agent": complaint.get("userAgent"),
            "timestamp": complaint.get("timestamp"),
            "ses_message_id": ses_message_id,
        }
        return Feedback(
            kind,
            tuple(
                Suppression(_address(r, "complainedRecipients"), "complaint", detail, complaint.get("feedbackId"))
                for r in recipients
            ),
        )
    return Feedback(kind, note=f"{kind}: nothing to suppress")


def record_suppressions(conn: psycopg.Connection, suppressions: Iterable[Suppression]) -> int:
    """Store the addresses not yet suppressed; returns how many were new. An address keeps its first reason."""
    new = 0
    for suppression in suppressions:
        row = conn.execute(
            INSERT_SUPPRESSION,
            {
                "address": suppression.address.lower(),
                "reason": suppression.reason,
                "detail": Jsonb(suppression.detail),
                "feedback_id": suppression.feedback_id,
            },
        ).fetchone()
        new += row is not None
    return new


def is_suppressed(conn: psycopg.Connection, address: str) -> str | None:
    """Why ``address`` must not be mailed ("suppressed after a bounce on 2026-12-01"), or ``None``."""
    row = conn.execute(
        "SELECT reason, created_at FROM email_suppressions WHERE address = %s", (address.strip().lower(),)
    ).fetchone()
    if row is None:
        return None
    reason, created_at = row
    return REASON_SENTENCES.get(reason, "suppressed ({reason}) on {day}").format(
        reason=reason, day=created_at.date().isoformat()
    )


@dataclass
class FeedbackReport:
    """What one drain did."""

    received: int = 0
    suppressed: int = 0  # addresses new to the list
    already_suppressed: int = 0
    ignored: int = 0  # notifications that suppress nothing (deliveries, transient bounces)
    dead_lettered: int = 0
    left_for_retry: int = 0
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line."""
        return (
            f"received {self.received}, suppressed {self.suppressed} new addresses "
            f"({self.already_suppressed} already), ignored {self.ignored}, dead-lettered {self.dead_lettered}, "
            f"left for retry {self.left_for_retry}"
        )


def drain_feedback(
    queue: Any,  # rfq_pipeline.aws.sqs.SqsQueue
    connect: Callable[[], AbstractContextManager[psycopg.Connection]],
    *,
    max_messages: int = MAX_MESSAGES_PER_DRAIN,
) -> FeedbackReport:
    """Receive up to ``max_messages`` feedback messages, record their suppressions, delete each once recorded.

    ``connect`` yields a connection committed when its block exits cleanly. A body that is not an SES notification
    goes to the DLQ with the reason. A message whose recording fails is left for SQS to redeliver, and dead-lettered
    with the error on its last allowed receive.
    """
    from rfq_pipeline.aws.sqs import record_then_delete

    report = FeedbackReport()
    while report.received < max_messages:
        batch = min(10, max_messages - report.received)
        messages = queue.receive(max_messages=batch, wait_seconds=1, visibility_timeout=VISIBILITY_TIMEOUT_S)
        if not messages:
            break
        for message in messages:
            report.received += 1
            try:
                feedback = parse_feedback(message.body)
            except FeedbackParseError as exc:
                queue.send_to_dlq(message, f"not an SES notification: {exc}")
                report.dead_lettered += 1
                continue
            recorded: list[int] = []

            def record(feedback: Feedback = feedback, recorded: list[int] = recorded) -> None:
                with connect() as conn:
                    recorded.append(record_suppressions(conn, feedback.suppressions))

            outcome = record_then_delete(queue, message, record)
            report.dead_lettered += outcome == "dead_lettered"
            report.left_for_retry += outcome == "left_for_retry"
            if outcome != "recorded":
                continue
            report.suppressed += recorded[0]
            report.already_suppressed += len(feedback.suppressions) - recorded[0]
            if not feedback.suppressions:
                report.ignored += 1
                report.notes.append(feedback.note)
    return report
