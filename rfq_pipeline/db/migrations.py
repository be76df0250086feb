"""Applies ``sql/NNN_name.sql`` migrations in order, once each.

Every migration runs in its own transaction and is recorded in ``schema_migrations`` with a checksum; a PostgreSQL
advisory lock serialises concurrent runners (several pods or processes starting at once), and re-running is a no-op.
An applied migration whose file has since changed is an error: schema drift is what cost the predecessor its DLQ.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

# An arbitrary constant shared by every runner of this project; the value only has to be stable.
MIGRATION_LOCK_KEY = 7_310_420_118

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """A migration file is malformed, failed to apply, or no longer matches what was applied."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path
    checksum: str

    @property
    def sql(self) -> str:
        """The statements of the migration."""
        return self.path.read_text(encoding="utf-8")


def discover(migrations_dir: Path) -> list[Migration]:
    """The migrations in ``migrations_dir`` sorted by version; rejects misnamed files and duplicate versions."""
    if not migrations_dir.is_dir():
        raise MigrationError(f"migrations directory {migrations_dir} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(migrations_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_snake.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is also used by {found[version].path.name}")
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        found[version] = Migration(version, match.group(2), path, checksum)
    return [found[v] for v in sorted(found)]


def applied_versions(conn: psycopg.Connection) -> dict[int, str]:
    """Version -> checksum of the migrations recorded as applied (empty before the first run)."""
    exists = conn.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(url: str, migrations_dir: Path) -> list[Migration]:
    """Apply every pending migration and return those applied by this call (empty when up to date)."""
    migrations = discover(migrations_dir)
    applied_now: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            done = applied_versions(conn)
            for migration in migrations:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"{migration.path.name} was changed after it was applied; add a new migration instead"
                        )
                    continue
                try:
                    with conn.transaction():
                        conn.execute(migration.sql)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(f"{migration.path.name} failed: {exc}") from exc
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now


def pending(url: str, migrations_dir: Path) -> list[Migration]:
    """Migrations present on disk but not yet applied."""
    with psycopg.connect(url) as conn:
        done = applied_versions(conn)
    return [m for m in discover(migrations_dir) if m.version not in done]
