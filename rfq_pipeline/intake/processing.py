"""Turn recorded intake requests into RFQs: fetch the object, parse it, store attachments, write the outcome.

Plain Python shared by the Dagster runs and ``make run``. Each function is idempotent: a request processed twice
(a retried run, a redelivered message) writes nothing the second time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from rfq_pipeline.db import repository
from rfq_pipeline.intake import store
from rfq_pipeline.sources.model import ParsedRfq
from rfq_pipeline.store.object_store import ObjectStore

MAX_UPLOAD_BYTES = 25 * 1024 * 1024

SELECT_UPLOAD_MESSAGE = """
SELECT id, status, rfq_id, error FROM intake_messages WHERE kind = 'upload' AND message_key = %(key)s
"""

INSERT_UPLOAD_MESSAGE = """
INSERT INTO intake_messages (kind, message_key, object_uri, status, error, subject, parsed, rfq_id, run_id)
VALUES ('upload', %(message_key)s, %(object_uri)s, %(status)s, %(error)s, %(subject)s, %(parsed)s, %(rfq_id)s,
        %(run_id)s)
ON CONFLICT ON CONSTRAINT intake_messages_kind_key DO NOTHING
"""



@dataclass(frozen=True)
class ObjectRef:
    """Where a request's object lives, from its S3 event or listing."""

    bucket: str
    key: str
    etag: str = ""
    size: int | None = None
    event_time: str | None = None

    @property
    def request_key(self) -> str:
        """The natural key: the same object version is one request however often it is announced."""
        return f"{self.bucket}/{self.key}@{self.etag.strip(chr(34))}" if self.etag else f"{self.bucket}/{self.key}"

    def as_payload(self) -> dict[str, Any]:
        """JSON for ``intake_requests.payload``."""
        return {"bucket": self.bucket, "key": self.key, "etag": self.etag, "size": self.size, "time": self.event_time}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ObjectRef:
        """Back from ``intake_requests.payload``."""
        return cls(
            bucket=str(payload["bucket"]),
            key=str(payload["key"]),
            etag=str(payload.get("etag") or ""),
            size=payload.get("size"),
            event_time=payload.get("time"),
        )

    def received_at(self) -> datetime:
        """When the object arrived (the event's time), never in the future."""
        now = datetime.now(UTC)
        if not self.event_time:
            return now
        try:
            parsed = datetime.fromisoformat(self.event_time.replace("Z", "+00:00"))
        except ValueError:
            return now
        return min(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), now)


def document_title(text: str, kind: str, filename: str) -> str:
    """A title for an uploaded document: its first line of content (a table's first data row, not its headers)."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if kind in ("xlsx", "csv") and len(lines) > 1:
        lines = lines[1:]  # the column names
    for line in lines:
        cells = [c.strip() for c in re.split(r"\t|\s*\|\s*", line) if c.strip()]
        candidate = " - ".join(cells[:2]) if cells else line
        if len(candidate) > 3:
            return candidate[:200]
    return PurePosixPath(filename).stem.replace("_", " ")[:200]


def text_of(document: Any) -> str:
    """The extracted text of a document, or ``""``."""
    return (document.text or "") if document is not None else ""


def _read(objects: ObjectStore, ref: ObjectRef) -> bytes:
    try:
        return objects.get(ref.key)
    except KeyError as exc:
        raise LookupError(
            f"object {ref.bucket}/{ref.key} is not in the object store at {objects.uri(ref.key)} (deleted since the "
            "event, or the store points elsewhere: set RFQ_S3_BUCKET_RAW_MIME / RFQ_S3_BUCKET_UPLOADS to the "
            "bucket the notifications come from)"
        ) from exc


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePosixPath(name or "attachment").name).strip("._")
    return cleaned[:120] or "attachment"


def process_email(
    conn: psycopg.Connection, objects: ObjectStore, ref: ObjectRef, *, run_id: str = ""
) -> store.IntakeOutcome:
    """Parse the raw MIME at ``ref`` and record it (a new RFQ, a thread update, or a recorded failure)."""
    from rfq_pipeline.intake.mime import parse_email

    raw = _read(objects, ref)
    parsed = parse_email(raw)
    message_digest = hashlib.sha256(raw).hexdigest()[:16]
    uris: list[str | None] = []
    for position, attachment in enumerate(parsed.attachments):
        if attachment.data:
            key = f"attachments/{message_digest}/{position:02d}-{_safe_name(attachment.name)}"
            uris.append(objects.put(key, attachment.data, content_type=attachment.content_type))
        else:
            uris.append(None)
    return store.record_email(
        conn, parsed, objects.uri(ref.key), uris, run_id=run_id, received_at=ref.received_at()
    )


def process_upload(
    conn: psycopg.Connection, objects: ObjectStore, ref: ObjectRef, *, run_id: str = ""
) -> store.IntakeOutcome:
    """Extract the text of the uploaded document at ``ref`` and record it as an RFQ (or a recorded failure)."""
    from rfq_pipeline.intake.documents import extract_text

    existing = conn.execute(SELECT_UPLOAD_MESSAGE, {"key": ref.request_key}).fetchone()
    if existing is not None:
        return store.IntakeOutcome(ref.request_key, "duplicate", existing[2], False, existing[3])
    if ref.size is not None and ref.size > MAX_UPLOAD_BYTES:
        document, error = None, f"too large: {ref.size} bytes (limit {MAX_UPLOAD_BYTES})"
    else:
        data = _read(objects, ref)
        document = extract_text(data, PurePosixPath(ref.key).name, None, max_bytes=MAX_UPLOAD_BYTES)
        error = document.error
    name = PurePosixPath(ref.key).name
    rfq_id = None
    if error is None and document is not None and (document.text or "").strip():
        store.ensure_intake_sources(conn)
        text = document.text or ""
        title = document_title(text, document.kind, name)
        rfq = ParsedRfq(
            source="upload",
            external_id=ref.request_key,
            canonical_url=objects.uri(ref.key),
            title=title,
            posted_at=ref.received_at(),
            description=text[:20_000],
            attributes={"file": name, "kind": document.kind, "bucket": ref.bucket, "key": ref.key},
        )
        repository.upsert_rfqs(conn, [(rfq, None)])
        rfq_id = repository.rfq_id(conn, "upload", ref.request_key)
    elif error is None:
        error = f"no text extracted ({document.kind if document else 'unknown'} document)"
    status = "parsed" if rfq_id is not None else "failed"
    conn.execute(
        INSERT_UPLOAD_MESSAGE,
        {
            "message_key": ref.request_key,
            "object_uri": objects.uri(ref.key),
            "status": status,
            "error": error,
            "subject": name,
            "parsed": Jsonb({"kind": document.kind if document else None, "chars": len(text_of(document))}),
            "rfq_id": rfq_id,
            "run_id": run_id,
        },
    )
    return store.IntakeOutcome(ref.request_key, status, rfq_id, False, error)
