"""A throw-away database on the configured server: created, migrated, handed out, dropped.

The dedup CLI, the evaluation and the benchmark must start from an empty store, never from the system of record, but
need the same schema and indexes; a fresh database on the same server gives both without a second server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from rfq_pipeline.db import migrations
from rfq_pipeline.db.database import resolve_database_url
from rfq_pipeline.settings import Settings


@contextmanager
def temporary_database(settings: Settings | None = None, *, prefix: str = "rfq_tmp") -> Iterator[str]:
    """Yield the URL of a new, migrated database next to the configured one; it is dropped on exit."""
    settings = settings or Settings.from_env()
    server_url = resolve_database_url(settings)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = psycopg.conninfo.conninfo_to_dict(server_url)
    parts["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**parts)
    try:
        migrations.migrate(url, settings.migrations_dir)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
