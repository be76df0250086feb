"""A small plain-Python SQS wrapper and the parser of S3 event notifications carried in SQS bodies.

Consumers (the sensors) do::

    queue = SqsQueue.resolve(client, settings, "inbound-mail")
    for message in queue.receive(max_messages=10, wait_seconds=2, visibility_timeout=120):
        try:
            notification = parse_s3_notification(message.body)
        except S3EventParseError as exc:
            queue.send_to_dlq(message, f"unparseable: {exc}")  # copies body + attributes, deletes the original
            continue
        for event in notification.records:  # empty for s3:TestEvent
            ...  # event.bucket, event.key (decoded)
        queue.delete(message)

A message that is received ``MAX_RECEIVE_COUNT`` (5) times without being deleted is moved to the queue's DLQ by SQS
itself (the redrive policy set by bootstrap). :meth:`SqsQueue.list_dlq` shows the DLQ without consuming it and
:meth:`SqsQueue.replay_dlq` moves messages back to the source queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from rfq_pipeline.aws import naming
from rfq_pipeline.settings import Settings

# Message attributes this module adds (names: letters, digits, '-', '_', '.'; the 'aws.'/'amazon.' prefixes are
# reserved).
REASON_ATTRIBUTE = "rfq-dlq-reason"
RECEIVE_COUNT_ATTRIBUTE = "rfq-dlq-receive-count"  # receives in the source queue before we dead-lettered it
ORIGINAL_MESSAGE_ID_ATTRIBUTE = "rfq-original-message-id"  # kept across DLQ round trips: consumers may dedupe on it
_OWN_DLQ_ATTRIBUTES = (REASON_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE)
MAX_MESSAGE_ATTRIBUTES = 10  # SQS limit per message
MAX_WAIT_SECONDS = 5  # long-poll bound: sensors must return quickly
MAX_BATCH = 10  # SQS limit per ReceiveMessage
REDRIVE_REASON = "exceeded maxReceiveCount (moved by the queue's redrive policy)"


class SqsError(RuntimeError):
    """A queue could not be resolved or a message could not be moved."""


@dataclass(frozen=True)
class SqsMessage:
    """One received message."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)  # system attributes (ApproximateReceiveCount, ...)
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_response(cls, raw: Mapping[str, Any]) -> SqsMessage:
        """Build from one entry of ``ReceiveMessage``'s ``Messages``."""
        return cls(
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw.get("Body", ""),
            attributes=dict(raw.get("Attributes", {})),
            message_attributes={k: dict(v) for k, v in raw.get("MessageAttributes", {}).items()},
        )

    def string_attribute(self, name: str) -> str | None:
        """The string (or number) value of a message attribute, ``None`` when absent."""
        value = self.message_attributes.get(name)
        return None if value is None else value.get("StringValue")

    @property
    def receive_count(self) -> int:
        """SQS's ``ApproximateReceiveCount`` in the queue it was received from (0 when not requested)."""
        return int(self.attributes.get("ApproximateReceiveCount", 0))

    @property
    def dlq_reason(self) -> str | None:
        """Why it was dead-lettered: our reason attribute, or ``None`` (SQS moved it after maxReceiveCount)."""
        return self.string_attribute(REASON_ATTRIBUTE)

    @property
    def original_message_id(self) -> str:
        """The id of the message as first sent (stable across DLQ round trips)."""
        return self.string_attribute(ORIGINAL_MESSAGE_ID_ATTRIBUTE) or self.message_id


@dataclass(frozen=True)
class DeadLetter:
    """A message seen in a DLQ by :meth:`SqsQueue.list_dlq`."""

    message_id: str
    original_message_id: str
    reason: str
    body: str
    receive_count: int  # receives in the source queue when known, else SQS's count (which includes DLQ peeks)
    message_attributes: Mapping[str, Mapping[str, Any]]

    def preview(self, length: int = 200) -> str:
        """The first ``length`` characters of the body."""
        return self.body[:length]


@dataclass
class ReplayReport:
    """What :meth:`SqsQueue.replay_dlq` did."""

    source_url: str
    dlq_url: str
    replayed: list[str] = field(default_factory=list)  # DLQ message ids moved back
    new_message_ids: list[str] = field(default_factory=list)


def _sendable_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Message attributes as ``SendMessage`` accepts them (received ones carry empty list values)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {"DataType": value["DataType"]}
        if "StringValue" in value:
            entry["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["BinaryValue"] = value["BinaryValue"]
        out[name] = entry
    return out


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class SqsQueue:
    """One SQS queue (and, through its redrive policy, its dead-letter queue)."""

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = url
        self._attributes: dict[str, str] | None = None

    @classmethod
    def resolve(cls, client: Any, settings: Settings, queue: str) -> SqsQueue:
        """A queue by logical name (``inbound-mail``, ``uploads``, ``scrape-requests``), SQS name or URL."""
        value = naming.queue_setting(settings, queue) if queue in naming.LOGICAL_QUEUES else queue
        if naming.is_queue_url(value):
            return cls(client, value)
        try:
            return cls(client, client.get_queue_url(QueueName=value)["QueueUrl"])
        except client.exceptions.QueueDoesNotExist:
            raise SqsError(f"queue {value!r} does not exist; run `rfq-pipeline aws bootstrap`") from None

    def __repr__(self) -> str:
        return f"SqsQueue({self.url!r})"

    @property
    def name(self) -> str:
        """The queue name (last segment of the URL)."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def fifo(self) -> bool:
        """Whether this is a FIFO queue."""
        return self.name.endswith(".fifo")

    def attributes(self, refresh: bool = False) -> dict[str, str]:
        """The queue's attributes (``QueueArn``, ``RedrivePolicy``, ...)."""
        if self._attributes is None or refresh:
            response = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])
            self._attributes = dict(response.get("Attributes", {}))
        return self._attributes

    @property
    def arn(self) -> str:
        """The queue ARN."""
        return self.attributes()["QueueArn"]

    # --- consuming -------------------------------------------------------------------------------------------------

    def receive(
        self, *, max_messages: int = MAX_BATCH, wait_seconds: int = 2, visibility_timeout: int = 60
    ) -> list[SqsMessage]:
        """At most ``max_messages`` (1-10) messages, long-polling at most ``wait_seconds`` (0-5).

        Each received message stays invisible to other consumers for ``visibility_timeout`` seconds; delete it when
        handled, or let it come back (and, after 5 receives, go to the DLQ).
        """
        if not 1 <= max_messages <= MAX_BATCH:
            raise ValueError(f"max_messages={max_messages} must be in 1..{MAX_BATCH}")
        if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError(f"wait_seconds={wait_seconds} must be in 0..{MAX_WAIT_SECONDS}")
        if not 0 <= visibility_timeout <= 43200:
            raise ValueError(f"visibility_timeout={visibility_timeout} must be in 0..43200")
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [SqsMessage.from_response(m) for m in response.get("Messages", [])]

    def delete(self, message: SqsMessage | str) -> None:
        """Delete a received message (by message or receipt handle)."""
        handle = message if isinstance(message, str) else message.receipt_handle
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=handle)

    def change_visibility(self, message: SqsMessage | str, timeout: int) -> None:
        """Make a received message visible again after ``timeout`` seconds (0: now)."""
        handle = message if isinstance(message, str) else message.receipt_handle
        self.client.change_message_visibility(QueueUrl=self.url, ReceiptHandle=handle, VisibilityTimeout=timeout)

    # --- producing -------------------------------------------------------------------------------------------------

    def send(
        self,
        body: str,
        *,
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
        string_attributes: Mapping[str, str] | None = None,
        delay_seconds: int = 0,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> str:
        """Send a message and return its id. ``string_attributes`` is a shorthand for String attributes."""
        message_attributes = _sendable_attributes(attributes or {})
        for name, value in (string_attributes or {}).items():
            message_attributes[name] = _string(value)
        if len(message_attributes) > MAX_MESSAGE_ATTRIBUTES:
            raise SqsError(f"{len(message_attributes)} message attributes; SQS allows {MAX_MESSAGE_ATTRIBUTES}")
        kwargs: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": body}
        if message_attributes:
            kwargs["MessageAttributes"] = message_attributes
        if self.fifo:
            kwargs["MessageGroupId"] = group_id or "default"
            if deduplication_id:
                kwargs["MessageDeduplicationId"] = deduplication_id
        elif delay_seconds:
            kwargs["DelaySeconds"] = delay_seconds
        return self.client.send_message(**kwargs)["MessageId"]

    # --- dead letters ----------------------------------------------------------------------------------------------

    def dead_letter_queue(self) -> SqsQueue | None:
        """The DLQ named by this queue's redrive policy, ``None`` when it has none."""
        policy = self.attributes().get("RedrivePolicy")
        if not policy:
            return None
        arn = json.loads(policy)["deadLetterTargetArn"]
        _, _, _, _, account, name = arn.split(":", 5)
        response = self.client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
        return SqsQueue(self.client, response["QueueUrl"])

    def source_queues(self) -> list[SqsQueue]:
        """The queues whose redrive policy points at this queue (when this is a DLQ)."""
        response = self.client.list_dead_letter_source_queues(QueueUrl=self.url)
        return [SqsQueue(self.client, url) for url in response.get("queueUrls", [])]

    def _require_dlq(self) -> SqsQueue:
        dlq = self.dead_letter_queue()
        if dlq is None:
            raise SqsError(f"queue {self.name} has no redrive policy (no dead-letter queue)")
        return dlq

    def send_to_dlq(self, message: SqsMessage, reason: str, *, delete: bool = True) -> str:
        """Copy ``message`` (body and message attributes) to the DLQ with ``reason``; delete the original.

        Returns the DLQ message id. The reason goes in the ``rfq-dlq-reason`` attribute (truncated to 1000
        characters), the source receive count in ``rfq-dlq-receive-count``, the first message id in
        ``rfq-original-message-id``.
        """
        dlq = self._require_dlq()
        original = {k: v for k, v in message.message_attributes.items() if k not in _OWN_DLQ_ATTRIBUTES}
        extra = {
            REASON_ATTRIBUTE: reason[:1000] or "unspecified",
            RECEIVE_COUNT_ATTRIBUTE: str(message.receive_count),
            ORIGINAL_MESSAGE_ID_ATTRIBUTE: message.original_message_id,
        }
        original.pop(ORIGINAL_MESSAGE_ID_ATTRIBUTE, None)
        if len(original) + len(extra) > MAX_MESSAGE_ATTRIBUTES:
            raise SqsError(
                f"message {message.message_id} has {len(original)} attributes; dead-lettering it needs "
                f"{len(extra)} more and SQS allows {MAX_MESSAGE_ATTRIBUTES}"
            )
        dlq_id = dlq.send(
            message.body,
            attributes=original,
            string_attributes=extra,
            group_id=message.attributes.get("MessageGroupId"),
            deduplication_id=message.original_message_id,
        )
        if delete:
            self.delete(message)
        return dlq_id

    def _drain_dlq(self, dlq: SqsQueue, limit: int | None, visibility_timeout: int) -> list[SqsMessage]:
        """Receive distinct DLQ messages until the DLQ looks empty or ``limit`` is reached (they stay hidden)."""
        seen: dict[str, SqsMessage] = {}
        while limit is None or len(seen) < limit:
            batch_size = MAX_BATCH if limit is None else min(MAX_BATCH, limit - len(seen))
            batch = dlq.receive(max_messages=batch_size, wait_seconds=1, visibility_timeout=visibility_timeout)
            fresh = [m for m in batch if m.message_id not in seen]
            if not fresh:
                # A repeat can only come back after its visibility timeout: hand back its new handle and stop.
                for message in batch:
                    dlq.change_visibility(message, 0)
                break
            for message in fresh:
                seen[message.message_id] = message
        return list(seen.values())

    def list_dlq(self, max_messages: int = 100, *, peek_timeout: int = 30) -> list[DeadLetter]:
        """The messages in this queue's DLQ, oldest receives first, without consuming them.

        Each is received (hidden for ``peek_timeout`` seconds) and then made visible again at once. This raises the
        DLQ's ``ApproximateReceiveCount`` (the DLQ has no redrive policy, so nothing moves).
        """
        dlq = self._require_dlq()
        messages = self._drain_dlq(dlq, max_messages, peek_timeout)
        for message in messages:
            dlq.change_visibility(message, 0)
        letters = []
        for message in messages:
            own_count = message.string_attribute(RECEIVE_COUNT_ATTRIBUTE)
            letters.append(
                DeadLetter(
                    message_id=message.message_id,
                    original_message_id=message.original_message_id,
                    reason=message.dlq_reason or REDRIVE_REASON,
                    body=message.body,
                    receive_count=int(own_count) if own_count else message.receive_count,
                    message_attributes=message.message_attributes,
                )
            )
        return letters

    def replay_dlq(self, max_messages: int | None = None, *, visibility_timeout: int = 120) -> ReplayReport:
        """Move DLQ messages back to this queue: send (body and attributes, minus our DLQ reason) then delete.

        Idempotent per message: each DLQ message is sent at most once per call (repeats are skipped), it is deleted
        from the DLQ only after the send succeeded, the replayed copy carries ``rfq-original-message-id`` (stable
        across round trips) for consumers to dedupe on, and FIFO queues get it as their deduplication id. A crash
        between send and delete leaves the DLQ copy to be replayed again: consumers see an at-least-once delivery,
        as everywhere in SQS.

        StartMessageMoveTask would do this server-side, but moto does not implement it and it cannot be bounded to
        ``max_messages``; this client-side move works against both.
        """
        dlq = self._require_dlq()
        report = ReplayReport(source_url=self.url, dlq_url=dlq.url)
        for message in self._drain_dlq(dlq, max_messages, visibility_timeout):
            attributes = {
                k: v
                for k, v in message.message_attributes.items()
                if k not in _OWN_DLQ_ATTRIBUTES and k != ORIGINAL_MESSAGE_ID_ATTRIBUTE
            }
            new_id = self.send(
                message.body,
                attributes=attributes,
                string_attributes={ORIGINAL_MESSAGE_ID_ATTRIBUTE: message.original_message_id},
                group_id=message.attributes.get("MessageGroupId"),
                deduplication_id=message.original_message_id,
            )
            dlq.delete(message)
            report.replayed.append(message.message_id)
            report.new_message_ids.append(new_id)
        return report


def resolve_source_queue(client: Any, settings: Settings, queue: str) -> SqsQueue:
    """The source queue for DLQ commands: ``queue`` itself, or its source when ``queue`` names a DLQ."""
    resolved = SqsQueue.resolve(client, settings, queue)
    if resolved.dead_letter_queue() is not None:
        return resolved
    sources = resolved.source_queues()
    if len(sources) == 1:
        return sources[0]
    raise SqsError(f"queue {resolved.name} has no dead-letter queue and is not the DLQ of exactly one queue")


# --- S3 event notifications --------------------------------------------------------------------------------------


class S3EventParseError(ValueError):
    """An SQS body that is not an S3 event notification (send it to the DLQ with this message as the reason)."""


@dataclass(frozen=True)
class S3ObjectEvent:
    """One record of an S3 event notification, with the object key URL-decoded."""

    event_name: str  # "ObjectCreated:Put", "ObjectCreated:Post", "ObjectRemoved:Delete", ...
    bucket: str
    key: str  # decoded: '+' -> ' ', '%2B' -> '+'
    size: int | None
    etag: str | None
    version_id: str | None
    sequencer: str | None
    event_time: str | None
    region: str | None
    configuration_id: str | None

    @property
    def created(self) -> bool:
        """Whether this is an ObjectCreated event."""
        return self.event_name.startswith("ObjectCreated:")

    @property
    def uri(self) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class S3Notification:
    """The parsed body: its records, or a test event (sent by S3 when notifications are configured)."""

    records: tuple[S3ObjectEvent, ...] = ()
    test_event: bool = False
    test_bucket: str | None = None


def _unwrap(body: str) -> Any:
    try:
        payload = json.loads(body)
    except (TypeError, json.JSONDecodeError) as exc:
        raise S3EventParseError(f"body is not JSON: {exc}") from None
    # SNS -> SQS without raw message delivery wraps the S3 event in an SNS envelope.
    if isinstance(payload, dict) and payload.get("Type") == "Notification" and "Message" in payload:
        message = payload["Message"]
        try:
            payload = json.loads(message) if isinstance(message, str) else message
        except json.JSONDecodeError as exc:
            raise S3EventParseError(f"SNS message is not JSON: {exc}") from None
    return payload


def _record(raw: Any) -> S3ObjectEvent:
    try:
        s3 = raw["s3"]
        obj = s3["object"]
        size = obj.get("size")
        return S3ObjectEvent(
            event_name=str(raw["eventName"]),
            bucket=str(s3["bucket"]["name"]),
            key=unquote_plus(str(obj["key"])),
            size=None if size is None else int(size),
            etag=obj.get("eTag"),
            version_id=obj.get("versionId"),
            sequencer=obj.get("sequencer"),
            event_time=raw.get("eventTime"),
            region=raw.get("awsRegion"),
            configuration_id=s3.get("configurationId"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise S3EventParseError(f"malformed S3 event record: missing or bad {exc}") from None


def parse_s3_notification(body: str) -> S3Notification:
    """Parse an SQS body holding an S3 event notification (direct or SNS-wrapped, or the ``s3:TestEvent``)."""
    payload = _unwrap(body)
    if not isinstance(payload, dict):
        raise S3EventParseError("body is not a JSON object")
    if payload.get("Event") == "s3:TestEvent":
        return S3Notification(test_event=True, test_bucket=payload.get("Bucket"))
    records = payload.get("Records")
    if not isinstance(records, list):
        raise S3EventParseError("no 'Records' list: not an S3 event notification")
    return S3Notification(records=tuple(_record(r) for r in records))


def created_objects(notification: S3Notification, buckets: Iterable[str] | None = None) -> list[S3ObjectEvent]:
    """The ObjectCreated records, optionally only those in ``buckets``."""
    allowed = None if buckets is None else set(buckets)
    return [r for r in notification.records if r.created and (allowed is None or r.bucket in allowed)]


def record_then_delete(queue: SqsQueue, message: SqsMessage, record: Callable[[], object]) -> str:
    """Run ``record`` (the message's durable effect), then delete the message; returns what happened.

    ``"recorded"``: done and deleted. ``"left_for_retry"``: ``record`` raised, so the message stays and SQS delivers it
    again. ``"dead_lettered"``: it raised on the message's last allowed receive, so the message goes to the DLQ with
    the error now, rather than silently by the redrive policy.
    """
    try:
        record()
    except Exception as exc:
        if message.receive_count >= naming.MAX_RECEIVE_COUNT - 1:
            queue.send_to_dlq(message, f"could not be recorded: {type(exc).__name__}: {exc}")
            return "dead_lettered"
        return "left_for_retry"
    queue.delete(message)  # only now: its work is durably recorded
    return "recorded"
