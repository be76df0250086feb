"""Dagster resources: thin wrappers that hand the plain modules their database, object store and HTTP client."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from rfq_pipeline.db import migrations
from rfq_pipeline.db.database import Database
from rfq_pipeline.fetch.http_client import HttpClient, RetryPolicy
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
        settings = Settings.from_env()
        return HttpClient(
            impersonate=impersonate,
            policy=RetryPolicy(timeouts_s=settings.http_timeouts, backoff_s=settings.http_backoff),
        )
