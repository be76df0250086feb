"""Dagster resources: thin wrappers that hand the plain modules their database, object store and HTTP client."""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import PrivateAttr

from rfq_pipeline.aws.sqs import SqsQueue
from rfq_pipeline.db import migrations
from rfq_pipeline.db.database import Database
from rfq_pipeline.fetch.http_client import HttpClient
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import ObjectStore, object_store_for


class PostgresResource(dg.ConfigurableResource):
    """Pooled psycopg connections to the system-of-record database.

    The connection comes from the environment (``DATABASE_URL``, or the embedded server under ``RFQ_DATA_DIR``), never
    from run config, so no password ever reaches the UI. On the embedded server pending migrations are applied at
    start-up for convenience; on an external database they must be applied by ``rfq-pipeline db migrate`` (a deploy
    step), and a run against an unmigrated database stops with that instruction.
    """

    max_connections: int = 4
    _db: Database | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings = Settings.from_env()
        self._db = Database.from_settings(settings, max_size=self.max_connections)
        pending = migrations.pending(self._db.url, settings.migrations_dir)
        if pending and settings.database_url is None:
            migrations.migrate(self._db.url, settings.migrations_dir)
        elif pending:
            names = ", ".join(m.path.name for m in pending)
            raise dg.Failure(f"database has unapplied migrations ({names}); run `rfq-pipeline db migrate` first")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> Database:
        """The open connection pool."""
        if self._db is None:
            raise RuntimeError("PostgresResource used outside of a run")
        return self._db


class ObjectStoreResource(dg.ConfigurableResource):
    """The object store for one role (``raw_pages``, ``raw_mime``, ``uploads``, ``exports``, ``quote_pdfs``).

    An S3 bucket when ``RFQ_S3_BUCKET_<ROLE>`` is set, otherwise a directory under ``RFQ_DATA_DIR``.
    """

    role: str = "raw_pages"

    def get_store(self) -> ObjectStore:
        """The configured store."""
        return object_store_for(self.role, Settings.from_env())


class HttpClientResource(dg.ConfigurableResource):
    """The shared curl_cffi client with the retry policy from the settings."""

    def get_client(self, impersonate: str) -> HttpClient:
        """A new client presenting as browser profile ``impersonate``; close it when the step is done."""
        return HttpClient.from_settings(Settings.from_env(), impersonate)


class SqsResource(ResourceWithBoto3Configuration):
    """SQS queues for the sensors: ``get_queue("inbound-mail")`` -> :class:`rfq_pipeline.aws.sqs.SqsQueue`.

    Resource key ``sqs``. Built on dagster-aws's boto3 configuration; ``region_name`` and ``endpoint_url`` default
    to the settings (``AWS_REGION``, ``AWS_ENDPOINT_URL``). Credentials come from boto3's chain (``profile_name``
    selects a profile); the base class's access-key fields are refused so no key ever sits in run config.
    """

    def get_client(self) -> Any:
        """A boto3 SQS client."""
        from rfq_pipeline.aws.clients import boto3_client

        if self.aws_access_key_id or self.aws_secret_access_key or self.aws_session_token:
            raise dg.Failure("SqsResource takes credentials from boto3's chain, not from resource config")
        return boto3_client(
            "sqs",
            Settings.from_env(),
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            profile_name=self.profile_name,
            max_attempts=self.max_attempts,
            use_ssl=self.use_ssl,
            verify=self.verify,
        )

    def get_queue(self, queue: str) -> SqsQueue:
        """A queue by logical name (``inbound-mail``, ``uploads``, ``scrape-requests``), SQS name or URL."""
        return SqsQueue.resolve(self.get_client(), Settings.from_env(), queue)
