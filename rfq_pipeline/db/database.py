"""The one database access layer: a pooled psycopg 3 connection source for the configured PostgreSQL.

With ``DATABASE_URL`` set the URL is used exactly as given (host, port, ``sslmode`` and all): the predecessor broke
local development by forcing SSL in code. Without it, the embedded server under ``RFQ_DATA_DIR`` is started.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg_pool import ConnectionPool

from rfq_pipeline.db.embedded import ensure_embedded_server
from rfq_pipeline.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """The URL to connect to: ``DATABASE_URL`` unchanged, or the embedded server's (started on demand)."""
    if settings.database_url:
        return settings.database_url
    return ensure_embedded_server(settings.embedded_pgdata)


def _configure(conn: psycopg.Connection) -> None:
    # pgvector's adapters need the extension's types, which exist only after the first migration.
    from pgvector.psycopg import register_vector

    with suppress(psycopg.ProgrammingError):
        register_vector(conn)
    conn.commit()


class Database:
    """A connection pool over one PostgreSQL database.

    Use :meth:`connection` for a pooled connection inside a transaction that commits on success and rolls back on
    error.
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, configure=_configure, open=True, name="rfq-pipeline"
        )
        self._pool.wait(timeout=30)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: int) -> Database:
        """Open a pool on the database ``settings`` point at (starting the embedded server if needed)."""
        return cls(resolve_database_url(settings), **kwargs)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction: committed when the block exits cleanly, rolled back otherwise."""
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        """Close the pool and its connections."""
        self._pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
