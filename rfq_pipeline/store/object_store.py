"""The one object-store interface: bytes by key, in a local directory by default or in S3 when a bucket is set.

Keys always use ``/`` separators (``raw/<source>/<date>/<sha256>.html.gz``), so the same key addresses the same
object in both backends.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.settings import Settings

__all__ = ["LocalObjectStore", "ObjectStore", "ObjectStoreError", "S3ObjectStore", "boto3_client", "object_store_for"]


class ObjectStoreError(RuntimeError):
    """An object could not be read or written."""


class ObjectStore(Protocol):
    """Bytes addressed by key."""

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> str:
        """Store ``data`` under ``key`` (replacing any object there) and return the object's URI."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; raises ``KeyError`` when there is none."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys that start with ``prefix``, in lexical order."""
        ...

    def uri(self, key: str) -> str:
        """A URI naming the object (``file://`` or ``s3://``)."""
        ...


def _check_key(key: str) -> str:
    path = PurePosixPath(key)
    if not key or key.startswith("/") or ".." in path.parts or key.endswith("/"):
        raise ObjectStoreError(f"invalid object key {key!r}: keys are relative paths without '..'")
    return key


class LocalObjectStore:
    """Objects as files under ``root``; writes are atomic (temporary file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> str:
        """Write atomically so a reader never sees half an object."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.uri(key)

    def get(self, key: str) -> bytes:
        """Read the object's bytes."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        """True when the file exists."""
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Walk the directory tree, skipping temporary files of writes in progress."""
        if not self.root.exists():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def uri(self, key: str) -> str:
        """A ``file://`` URI."""
        return self._path(key).as_uri()


class S3ObjectStore:
    """Objects in one S3 bucket. The client honours ``AWS_ENDPOINT_URL`` (moto in tests, real S3 in production)."""

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._client = client

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> str:
        """PUT the object; S3 writes are atomic per object."""
        self._client.put_object(Bucket=self.bucket, Key=_check_key(key), Body=data, ContentType=content_type)
        return self.uri(key)

    def get(self, key: str) -> bytes:
        """GET the object's bytes."""
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=_check_key(key))
        except self._client.exceptions.NoSuchKey:
            raise KeyError(key) from None
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        """HEAD the object."""
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=_check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Page through ListObjectsV2."""
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def uri(self, key: str) -> str:
        """An ``s3://`` URI."""
        return f"s3://{self.bucket}/{key}"


def object_store_for(role: str, settings: Settings) -> ObjectStore:
    """The store for an object-store role: its S3 bucket when configured, else ``<data dir>/objects/<role>``."""
    bucket = settings.bucket_for(role)
    if bucket:
        return S3ObjectStore(bucket, boto3_client("s3", settings))
    return LocalObjectStore(settings.local_objects_dir / role)
