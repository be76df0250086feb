"""Presigned POST uploads into the uploads bucket under ``uploads/``: ``rfq-pipeline uploads presign``.

The policy S3 enforces: the exact bucket and key, ``Content-Type`` equal to the given type, and a
``content-length-range`` of 1 byte to ``max_bytes``. S3 answers a POST that breaks a condition with 403; a stored
object then notifies the ``uploads`` queue (bootstrap's notification on ``uploads/``).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from rfq_pipeline.aws import naming
from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.settings import Settings, SettingsError

DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # 26214400
DEFAULT_EXPIRES_SECONDS = 3600
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # SigV4 limit


@dataclass(frozen=True)
class PresignedUpload:
    """What a client needs to upload: POST ``fields`` plus the file (form field ``file``, last) to ``url``."""

    url: str
    fields: dict[str, str]
    bucket: str
    key: str
    content_type: str
    max_bytes: int
    expires_at: datetime

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "url": self.url,
            "fields": self.fields,
            "bucket": self.bucket,
            "key": self.key,
            "content_type": self.content_type,
            "max_bytes": self.max_bytes,
            "expires_at": self.expires_at.isoformat(),
        }


def upload_key(key_or_filename: str) -> str:
    """The object key under ``uploads/`` (a key that already starts with it is kept)."""
    raw = key_or_filename.strip().lstrip("/")
    path = PurePosixPath(raw)
    if not raw or raw.endswith("/") or any(part in {"..", "."} for part in path.parts):
        raise SettingsError(f"invalid upload key {key_or_filename!r}: a relative file name without '..'")
    return raw if raw.startswith(naming.UPLOADS_PREFIX) else naming.UPLOADS_PREFIX + raw


def presign_upload(
    settings: Settings,
    key_or_filename: str,
    *,
    content_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    expires: int = DEFAULT_EXPIRES_SECONDS,
    client: Any | None = None,
) -> PresignedUpload:
    """A presigned POST for one object; the content type defaults to the one guessed from the name."""
    if max_bytes < 1:
        raise SettingsError(f"max bytes {max_bytes} must be at least 1")
    if not 1 <= expires <= MAX_EXPIRES_SECONDS:
        raise SettingsError(f"expiry {expires}s must be in 1..{MAX_EXPIRES_SECONDS}")
    key = upload_key(key_or_filename)
    ctype = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
    bucket = naming.bucket_name(settings, "uploads")
    s3 = client or boto3_client("s3", settings)
    response = s3.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": ctype},
        Conditions=[{"Content-Type": ctype}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires,
    )
    return PresignedUpload(
        url=response["url"],
        fields=dict(response["fields"]),
        bucket=bucket,
        key=key,
        content_type=ctype,
        max_bytes=max_bytes,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires),
    )
